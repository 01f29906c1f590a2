// Schedules of the job scheduler (R-TAG-3 quarterly re-classification,
// R-BAK timed backups): parsing, and the latest/next due time across day,
// week, quarter and year boundaries and time zones. The C library's
// timegm/gmtime_r is the independent oracle for the calendar.
#include <gtest/gtest.h>
#include <time.h>

#include <random>

#include "jobs/scheduler.h"

namespace custvault::jobs {
namespace {

constexpr int kChina = 8 * 3600;  // UTC+8
constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kDay = 86'400 * kSecond;

// Microseconds since the epoch of a UTC civil time.
int64_t Utc(int year, int month, int day, int hour, int minute, int second = 0) {
  tm t{};
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_min = minute;
  t.tm_sec = second;
  return static_cast<int64_t>(timegm(&t)) * kSecond;
}

Schedule Parse(std::string_view text) {
  Result<Schedule> schedule = ParseSchedule(text);
  EXPECT_TRUE(schedule.ok()) << text << ": " << schedule.status().ToString();
  return schedule.ok() ? *schedule : Schedule{};
}

std::string ErrorOf(std::string_view text) {
  Result<Schedule> schedule = ParseSchedule(text);
  EXPECT_FALSE(schedule.ok()) << "accepted: " << text;
  if (schedule.ok()) return "";
  EXPECT_EQ(schedule.status().code(), ErrorCode::kInvalidArgument);
  return schedule.status().message();
}

TEST(ParseSchedule, EveryKind) {
  const Schedule daily = Parse("daily 23:00");
  EXPECT_EQ(daily.kind, Schedule::Kind::kDaily);
  EXPECT_EQ(daily.minute_of_day, 23 * 60);
  EXPECT_EQ(daily.text, "daily 23:00");

  const Schedule weekly = Parse("weekly sun 03:00");
  EXPECT_EQ(weekly.kind, Schedule::Kind::kWeekly);
  EXPECT_EQ(weekly.weekday, 6);
  EXPECT_EQ(weekly.minute_of_day, 3 * 60);
  EXPECT_EQ(Parse("weekly mon 00:00").weekday, 0);

  const Schedule quarterly = Parse("quarterly 02:00");
  EXPECT_EQ(quarterly.kind, Schedule::Kind::kQuarterly);
  EXPECT_EQ(quarterly.minute_of_day, 120);

  EXPECT_EQ(Parse("off").kind, Schedule::Kind::kOff);
  EXPECT_EQ(Parse("daily 00:00").minute_of_day, 0);
  EXPECT_EQ(Parse("daily 23:59").minute_of_day, 23 * 60 + 59);
}

TEST(ParseSchedule, ExtraSpacesAreTolerated) {
  const Schedule schedule = Parse("  weekly \tfri   18:30 ");
  EXPECT_EQ(schedule.weekday, 4);
  EXPECT_EQ(schedule.minute_of_day, 18 * 60 + 30);
  EXPECT_EQ(schedule.text, "weekly fri 18:30");
}

TEST(ParseSchedule, ErrorsNameTheProblem) {
  EXPECT_NE(ErrorOf("").find("empty"), std::string::npos);
  EXPECT_NE(ErrorOf("   ").find("empty"), std::string::npos);
  EXPECT_NE(ErrorOf("hourly 10:00").find("unknown kind"), std::string::npos);
  EXPECT_NE(ErrorOf("Daily 10:00").find("unknown kind"), std::string::npos);
  EXPECT_NE(ErrorOf("daily").find("needs a time"), std::string::npos);
  EXPECT_NE(ErrorOf("daily 24:00").find("HH:MM"), std::string::npos);
  EXPECT_NE(ErrorOf("daily 23:60").find("HH:MM"), std::string::npos);
  EXPECT_NE(ErrorOf("daily 3:00").find("HH:MM"), std::string::npos);
  EXPECT_NE(ErrorOf("daily 03-00").find("HH:MM"), std::string::npos);
  EXPECT_NE(ErrorOf("daily 03:00 utc").find("unexpected text after the time"), std::string::npos);
  EXPECT_NE(ErrorOf("weekly").find("needs a day"), std::string::npos);
  EXPECT_NE(ErrorOf("weekly sunday 03:00").find("unknown day"), std::string::npos);
  EXPECT_NE(ErrorOf("weekly 03:00").find("unknown day"), std::string::npos);
  EXPECT_NE(ErrorOf("weekly sun").find("needs a time"), std::string::npos);
  EXPECT_NE(ErrorOf("quarterly").find("needs a time"), std::string::npos);
  EXPECT_NE(ErrorOf("off 10:00").find("nothing after"), std::string::npos);
  EXPECT_NE(ErrorOf(std::string(65, ' ')).find("longer than 64"), std::string::npos);
}

TEST(DueTimes, OffIsNeverDue) {
  const Schedule off = Parse("off");
  EXPECT_EQ(LastDueAt(off, Utc(2026, 11, 29, 0, 0), kChina), std::nullopt);
  EXPECT_EQ(NextDueAt(off, Utc(2026, 11, 29, 0, 0), kChina), std::nullopt);
}

// UTC+8 local 23:00 is 15:00 UTC.
TEST(DueTimes, DailyInChinaStandardTime) {
  const Schedule s = Parse("daily 23:00");
  const int64_t due = Utc(2026, 11, 29, 15, 0);
  EXPECT_EQ(LastDueAt(s, due, kChina), due);         // latest due is <= now
  EXPECT_EQ(NextDueAt(s, due, kChina), due + kDay);  // next is > now
  EXPECT_EQ(LastDueAt(s, due - 1, kChina), due - kDay);
  EXPECT_EQ(NextDueAt(s, due - 1, kChina), due);
  EXPECT_EQ(LastDueAt(s, due + 1, kChina), due);
}

TEST(DueTimes, DailyAcrossTheLocalDateBoundary) {
  // 00:30 local on Nov 30 is 16:30 UTC on Nov 29.
  const Schedule s = Parse("daily 00:30");
  const int64_t local_midnight = Utc(2026, 11, 29, 16, 0);  // Nov 30 00:00 local
  EXPECT_EQ(LastDueAt(s, local_midnight, kChina), Utc(2026, 11, 28, 16, 30));
  EXPECT_EQ(NextDueAt(s, local_midnight, kChina), Utc(2026, 11, 29, 16, 30));
  // In UTC the same text means 00:30 UTC.
  EXPECT_EQ(LastDueAt(s, local_midnight, 0), Utc(2026, 11, 29, 0, 30));
}

TEST(DueTimes, DailyWestOfGreenwich) {
  // UTC-5: local 23:00 is 04:00 UTC the next day.
  const Schedule s = Parse("daily 23:00");
  EXPECT_EQ(LastDueAt(s, Utc(2026, 11, 30, 12, 0), -5 * 3600), Utc(2026, 11, 30, 4, 0));
  EXPECT_EQ(NextDueAt(s, Utc(2026, 11, 30, 12, 0), -5 * 3600), Utc(2026, 12, 1, 4, 0));
}

TEST(DueTimes, WeeklyAcrossTheWeekBoundary) {
  // Sunday 03:00 in UTC+8 is Saturday 19:00 UTC. 2026-11-29 is a Sunday.
  const Schedule s = Parse("weekly sun 03:00");
  const int64_t due = Utc(2026, 11, 28, 19, 0);
  EXPECT_EQ(LastDueAt(s, due, kChina), due);
  EXPECT_EQ(NextDueAt(s, due, kChina), due + 7 * kDay);
  EXPECT_EQ(LastDueAt(s, due - 1, kChina), due - 7 * kDay);
  EXPECT_EQ(NextDueAt(s, due - 1, kChina), due);
  // Monday morning local: the Sunday just gone.
  EXPECT_EQ(LastDueAt(s, Utc(2026, 11, 30, 1, 0), kChina), due);
  // Saturday night local (Saturday 15:00 UTC): still the previous Sunday.
  EXPECT_EQ(LastDueAt(s, Utc(2026, 11, 28, 15, 0), kChina), due - 7 * kDay);
  // Monday 00:00 due, as seen on a Monday after and a Sunday before.
  const Schedule monday = Parse("weekly mon 00:00");
  EXPECT_EQ(LastDueAt(monday, Utc(2026, 11, 30, 0, 0), 0), Utc(2026, 11, 30, 0, 0));
  EXPECT_EQ(NextDueAt(monday, Utc(2026, 11, 29, 23, 59), 0), Utc(2026, 11, 30, 0, 0));
}

TEST(DueTimes, QuarterlyAcrossQuarterAndYearBoundaries) {
  // Jan/Apr/Jul/Oct 1 at 02:00 local (UTC+8) is 18:00 UTC the day before.
  const Schedule s = Parse("quarterly 02:00");
  const int64_t now = Utc(2026, 11, 29, 8, 0);
  EXPECT_EQ(LastDueAt(s, now, kChina), Utc(2026, 9, 30, 18, 0));   // Oct 1 02:00 local
  EXPECT_EQ(NextDueAt(s, now, kChina), Utc(2026, 12, 31, 18, 0));  // Jan 1 2027 02:00 local
  // Exactly at the due time, and a moment before.
  const int64_t april = Utc(2026, 3, 31, 18, 0);
  EXPECT_EQ(LastDueAt(s, april, kChina), april);
  EXPECT_EQ(LastDueAt(s, april - 1, kChina), Utc(2025, 12, 31, 18, 0));
  EXPECT_EQ(NextDueAt(s, april - 1, kChina), april);
  // Jan 1 local before 02:00 (Dec 31 UTC): the latest is Oct 1 of the old year.
  EXPECT_EQ(LastDueAt(s, Utc(2026, 12, 31, 17, 0), kChina), Utc(2026, 9, 30, 18, 0));
  // With offset 0 the same instant is Dec 31 local: next is Jan 1 02:00 UTC.
  EXPECT_EQ(NextDueAt(s, Utc(2026, 12, 31, 17, 0), 0), Utc(2027, 1, 1, 2, 0));
  // Leap day: in Q1 of 2028.
  EXPECT_EQ(LastDueAt(s, Utc(2028, 2, 29, 12, 0), 0), Utc(2028, 1, 1, 2, 0));
  EXPECT_EQ(NextDueAt(s, Utc(2028, 2, 29, 12, 0), 0), Utc(2028, 4, 1, 2, 0));
  // July and the quarter before it.
  EXPECT_EQ(LastDueAt(s, Utc(2026, 8, 15, 0, 0), 0), Utc(2026, 7, 1, 2, 0));
  EXPECT_EQ(NextDueAt(s, Utc(2026, 6, 30, 23, 0), 0), Utc(2026, 7, 1, 2, 0));
}

TEST(DueTimes, OutOfRangeInputsAreNeverDue) {
  const Schedule s = Parse("daily 01:00");
  EXPECT_EQ(LastDueAt(s, Utc(2026, 1, 1, 0, 0), 19 * 3600), std::nullopt);
  EXPECT_EQ(NextDueAt(s, INT64_MAX, 0), std::nullopt);
  EXPECT_EQ(LastDueAt(s, INT64_MIN, 0), std::nullopt);
  Schedule broken = s;
  broken.minute_of_day = 24 * 60;
  EXPECT_EQ(LastDueAt(broken, Utc(2026, 1, 1, 0, 0), 0), std::nullopt);
  // Before 1970 works like any other time.
  EXPECT_EQ(LastDueAt(s, Utc(1969, 12, 31, 12, 0), 0), Utc(1969, 12, 31, 1, 0));
}

// For random instants, offsets and schedules: last <= now < next, nothing
// due strictly between them, and the due instants fall on the right local
// minute, weekday or quarter day according to gmtime_r.
TEST(DueTimes, RandomInstantsAgreeWithTheCLibrary) {
  std::mt19937_64 rng(20261129);
  const char* kinds[] = {"daily", "weekly", "quarterly"};
  const char* days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (int i = 0; i < 20000; ++i) {
    const int kind = static_cast<int>(rng() % 3);
    const int weekday = static_cast<int>(rng() % 7);
    const int minute = static_cast<int>(rng() % 1440);
    char clock[16];
    std::snprintf(clock, sizeof clock, "%02d:%02d", minute / 60, minute % 60);
    const std::string text = std::string(kinds[kind]) + " " +
                             (kind == 1 ? std::string(days[weekday]) + " " : "") + clock;
    const Schedule s = Parse(text);
    const int offset = static_cast<int>(rng() % (2 * 14 * 3600 + 1)) - 14 * 3600;
    const int64_t now = Utc(1971, 1, 1, 0, 0) +
                        static_cast<int64_t>(rng() % (uint64_t{200} * 365 * 86'400)) * kSecond +
                        static_cast<int64_t>(rng() % kSecond);
    const std::optional<int64_t> last = LastDueAt(s, now, offset);
    const std::optional<int64_t> next = NextDueAt(s, now, offset);
    ASSERT_TRUE(last && next) << text;
    ASSERT_LE(*last, now) << text;
    ASSERT_GT(*next, now) << text;
    // Consecutive: the due time after `last` is `next`.
    ASSERT_EQ(NextDueAt(s, *last, offset), *next) << text << " at " << now;
    ASSERT_EQ(LastDueAt(s, *next - 1, offset), *last) << text << " at " << now;
    for (const int64_t due : {*last, *next}) {
      ASSERT_EQ((due + int64_t{offset} * kSecond) % (60 * kSecond), 0);
      const time_t local_seconds = static_cast<time_t>(due / kSecond + offset);
      tm local{};
      gmtime_r(&local_seconds, &local);
      ASSERT_EQ(local.tm_hour * 60 + local.tm_min, minute) << text;
      if (kind == 1) {
        ASSERT_EQ((local.tm_wday + 6) % 7, weekday) << text;
      }
      if (kind == 2) {
        ASSERT_EQ(local.tm_mday, 1) << text;
        ASSERT_EQ(local.tm_mon % 3, 0) << text;
      }
    }
    const int64_t gap_days = (*next - *last) / kDay;
    if (kind == 0) {
      ASSERT_EQ(*next - *last, kDay);
    }
    if (kind == 1) {
      ASSERT_EQ(*next - *last, 7 * kDay);
    }
    if (kind == 2) {
      ASSERT_GE(gap_days, 90) << text;
      ASSERT_LE(gap_days, 92) << text;
    }
  }
}

}  // namespace
}  // namespace custvault::jobs
