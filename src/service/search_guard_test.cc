#include "service/search_guard.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <functional>
#include <set>

#include "audit/alerts.h"
#include "audit/entry.h"
#include "common/fake_env.h"
#include "service/test_vault.h"

namespace custvault::service {
namespace {

constexpr int64_t kMinuteUs = 60'000'000;
constexpr int64_t kStartUs = 1'796'000'000'000'000;

SearchConfig Budget(int searches, int misses, int lock_after) {
  SearchConfig config;
  config.window_minutes = 60;
  config.searches_max = searches;
  config.misses_max = misses;
  config.lock_after_refused = lock_after;
  return config;
}

// ------------------------------------------------------------ pure budget

// Issue 10.1: misses are the tighter budget; a spent budget says when the
// window ends.
TEST(SearchBudgetTest, MissesBeyondTheirBudgetAreRefusedUntilTheWindowEnds) {
  const SearchConfig config = Budget(60, 20, 10);
  store::SearchBudgetRow row;
  row.account_id = "u_1";
  for (int i = 0; i < 20; ++i) {
    const SearchCharge charge = ChargeSearchAttempt(row, kStartUs + i * 1'000'000, config);
    ASSERT_EQ(charge.admission, SearchAdmission::kAllowed) << i;
  }
  const SearchCharge refused = ChargeSearchAttempt(row, kStartUs + 10 * kMinuteUs, config);
  EXPECT_EQ(refused.admission, SearchAdmission::kExhausted);
  EXPECT_EQ(refused.retry_after_seconds, 50 * 60);
  EXPECT_EQ(row.refused, 1);
  // A new window starts with a fresh budget.
  const SearchCharge next = ChargeSearchAttempt(row, kStartUs + 60 * kMinuteUs, config);
  EXPECT_EQ(next.admission, SearchAdmission::kAllowed);
  EXPECT_EQ(row.searches, 1);
  EXPECT_EQ(row.refused, 0);
}

// Issue 10.1: searches that find someone are bounded too, by searches_max.
TEST(SearchBudgetTest, HitsAreBoundedBySearchesMax) {
  const SearchConfig config = Budget(5, 2, 10);
  store::SearchBudgetRow row;
  row.account_id = "u_1";
  for (int i = 0; i < 5; ++i) {
    const SearchCharge charge = ChargeSearchAttempt(row, kStartUs, config);
    ASSERT_EQ(charge.admission, SearchAdmission::kAllowed) << i;
    --row.misses;  // each one found someone (the refund)
  }
  EXPECT_EQ(ChargeSearchAttempt(row, kStartUs, config).admission, SearchAdmission::kExhausted);
}

// Issue 10.1: hammering past the budget locks, and the lock does not end
// with the window.
TEST(SearchBudgetTest, RefusalsPastTheThresholdLockUntilCleared) {
  const SearchConfig config = Budget(60, 3, 4);
  store::SearchBudgetRow row;
  row.account_id = "u_1";
  for (int i = 0; i < 3; ++i) ChargeSearchAttempt(row, kStartUs, config);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ChargeSearchAttempt(row, kStartUs, config).admission, SearchAdmission::kExhausted);
  }
  const SearchCharge locking = ChargeSearchAttempt(row, kStartUs, config);
  EXPECT_EQ(locking.admission, SearchAdmission::kLocked);
  EXPECT_TRUE(locking.newly_locked);
  EXPECT_EQ(row.lock_reason, kSearchLockBudgetRefusals);
  const SearchCharge later = ChargeSearchAttempt(row, kStartUs + 24 * 60 * kMinuteUs, config);
  EXPECT_EQ(later.admission, SearchAdmission::kLocked);
  EXPECT_FALSE(later.newly_locked);
}

// Issue 10.1: the residual risk per mask follows the configured budget.
TEST(SearchBudgetTest, ResidualRiskFollowsTheBudget) {
  const std::vector<MaskGuessRisk> risks = SearchResidualRisks(Budget(60, 20, 10), "first6_last6");
  ASSERT_EQ(risks.size(), 4u);
  const MaskGuessRisk& phone = risks[0];
  EXPECT_EQ(phone.field, "phone");
  EXPECT_DOUBLE_EQ(phone.candidates, 10'000);
  EXPECT_EQ(phone.guesses_per_window, 20);
  EXPECT_EQ(phone.guesses_per_day, 480);
  EXPECT_NEAR(phone.confirm_probability_per_window, 21.0 / 10'000, 1e-12);
  EXPECT_NEAR(phone.confirm_probability_per_day, 481.0 / 10'000, 1e-12);
  EXPECT_EQ(risks[1].field, "id_number");
  EXPECT_NEAR(risks[1].candidates, 1200.0 / 11, 1e-9);
  EXPECT_EQ(risks[1].confirm_probability_per_day, 1.0);  // within a day: certain
  EXPECT_EQ(risks[2].field, "name");
  // The stricter ID mask hides the whole birth date.
  const std::vector<MaskGuessRisk> strict = SearchResidualRisks(Budget(60, 20, 10), "first6_last4");
  EXPECT_NEAR(strict[1].candidates, 36'525.0 / 11, 1e-9);
  // A smaller budget allows fewer guesses.
  const std::vector<MaskGuessRisk> tight = SearchResidualRisks(Budget(10, 5, 3), "first6_last6");
  EXPECT_LT(tight[0].confirm_probability_per_window, phone.confirm_probability_per_window);
}

// ---------------------------------------------- through the customer service

class SearchGuardVaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::map<std::string, std::string> overrides = {
        {"CUSTVAULT_SEARCH_SEARCHES_MAX", "60"},
        {"CUSTVAULT_SEARCH_MISSES_MAX", "20"},
        {"CUSTVAULT_SEARCH_LOCK_AFTER_REFUSED", "10"},
        {"CUSTVAULT_SEARCH_WINDOW_MINUTES", "60"}};
    dir_ = std::make_unique<TestDataDir>(FastAuthEnvironment());
    environment_ = FastAuthEnvironment(overrides);
    Reopen();
  }
  void TearDown() override {
    staff_.reset();
    vault_.reset();
  }
  // A restart: the staff accounts' sessions stay valid (they are in the
  // database), so tests keep their tokens and authenticate them again.
  void Reopen() {
    staff_.reset();
    vault_.reset();
    Result<std::unique_ptr<Vault>> vault = Vault::Open(&env_, dir_->path(), environment_);
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    if (!staff_created_) {
      staff_ = std::make_unique<TestStaff>(vault_->accounts(), *dir_);
      staff_created_ = true;
    }
  }
  Actor Again(const std::string& token) {
    Result<Actor> actor = vault_->accounts().Authenticate(token, "127.0.0.1");
    EXPECT_TRUE(actor.ok()) << actor.status().ToString();
    return actor.ok() ? *actor : Actor();
  }

  std::vector<store::AuditEntryRow> Entries(std::string_view operation) {
    Actor local;
    local.kind = ActorKind::kLocalOperator;
    local.id = "cli:test";
    local.ip = "local";
    AuditSearch search;
    search.operation = std::string(operation);
    search.limit = 1000;
    Result<AuditEntryPage> page = vault_->audit().Search(local, search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEntryRow>();
  }

  FakeEnv env_{kStartUs};
  std::unique_ptr<TestDataDir> dir_;
  std::map<std::string, std::string> environment_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
  bool staff_created_ = false;
};

// Issue 10.1: the reported attack (loop the phone's hidden digits) is
// stopped long before it can succeed, for each role that may search and
// each protected searchable field, and every search is audited with the
// field name and hit count, never the value.
TEST_F(SearchGuardVaultTest, R_MASK_Issue10_1_GuessingAMaskedValueIsStoppedAndLocked) {
  Result<Actor> manager = staff_->ActorFor(Role::kInfoManager);
  ASSERT_TRUE(manager.ok());
  Result<CustomerView> created = vault_->customers().Create(
      *manager,
      {{"name", "诸葛亮"}, {"id_number", "11010519491231002X"}, {"phone", "13912345678"}});
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  struct Case {
    Role role;
    std::string field;
    std::function<std::string(int)> guess;
  };
  const std::vector<Case> cases = {
      {Role::kEntryClerk, "phone",
       [](int i) {
         char buf[16];
         std::snprintf(buf, sizeof buf, "139%04d5678", i);
         return std::string(buf);
       }},
      // 诸葛 + one CJK ideograph from U+4E00 on (three UTF-8 bytes).
      {Role::kDeptHead, "name",
       [](int i) {
         const char32_t c = U'\u4E00' + static_cast<char32_t>(i);
         std::string given;
         given += static_cast<char>(0xE0 | (c >> 12));
         given += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
         given += static_cast<char>(0x80 | (c & 0x3F));
         return "诸葛" + given;
       }},
  };
  for (const Case& c : cases) {
    Result<Actor> actor = staff_->ActorFor(c.role);
    ASSERT_TRUE(actor.ok());
    int answered = 0, found = 0, limited = 0, locked = 0, other = 0;
    for (int i = 0; i < 1235 && locked == 0; ++i) {
      ++answered;
      int retry_after = 0;
      Result<CustomerListPage> page = vault_->customers().Search(
          *actor, c.field, c.guess(i), std::nullopt, std::nullopt, &retry_after);
      if (page.ok()) {
        found += page->items.empty() ? 0 : 1;
      } else if (page.status().code() == ErrorCode::kRateLimited) {
        ++limited;
        EXPECT_GT(retry_after, 0);
      } else if (page.status().code() == ErrorCode::kLocked) {
        ++locked;
      } else {
        ++other;  // a name guess the validator refuses costs nothing
      }
    }
    EXPECT_EQ(found, 0) << c.field;
    EXPECT_EQ(limited, 9) << c.field;  // refusals 1..9; the 10th locks
    EXPECT_EQ(locked, 1) << c.field;
    EXPECT_LE(answered - other, 20 + 10) << c.field;
    // Locked now: the right value is refused as well.
    Result<CustomerListPage> right = vault_->customers().Search(
        *actor, c.field, c.field == "phone" ? "13912345678" : "诸葛亮", std::nullopt, std::nullopt);
    EXPECT_EQ(right.status().code(), ErrorCode::kLocked);
  }

  // Audited: searches with field and count, refusals with a reason, the
  // lock; never a searched value.
  const std::vector<store::AuditEntryRow> searches = Entries(audit::op::kCustomerSearch);
  int ok_entries = 0, denied_entries = 0;
  for (const store::AuditEntryRow& entry : searches) {
    EXPECT_EQ(entry.details.find("5678"), std::string::npos) << entry.details;
    EXPECT_EQ(entry.details.find("诸葛"), std::string::npos) << entry.details;
    const boost::json::object details = boost::json::parse(entry.details).as_object();
    EXPECT_TRUE(details.contains("field")) << entry.details;
    if (entry.result == "ok") {
      ++ok_entries;
      EXPECT_EQ(details.at("count").as_int64(), 0);
    } else {
      ++denied_entries;
      EXPECT_TRUE(details.contains("reason")) << entry.details;
    }
  }
  EXPECT_EQ(ok_entries, 40);
  EXPECT_EQ(denied_entries, 2 * (9 + 1) + 2);
  EXPECT_EQ(Entries(audit::op::kSearchLock).size(), 2u);

  // The lock is in the database: it holds after a restart.
  const std::string clerk_token = *staff_->Token(Role::kEntryClerk);
  const std::string security_token = *staff_->Token(Role::kSecurityOfficer);
  const std::string manager_token = *staff_->Token(Role::kInfoManager);
  const std::string clerk_id = Again(clerk_token).id;
  Reopen();
  const Actor clerk_again = Again(clerk_token);
  EXPECT_EQ(vault_->customers()
                .Search(clerk_again, "phone", "13912345678", std::nullopt, std::nullopt)
                .status()
                .code(),
            ErrorCode::kLocked);

  // Only a security officer clears it, with a reason; then a fresh budget.
  const Actor security = Again(security_token);
  EXPECT_EQ(vault_->customers().ClearSearchLock(Again(manager_token), clerk_id, "mine").code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(vault_->customers().ClearSearchLock(security, clerk_id, " ").code(),
            ErrorCode::kValidationFailed);
  Result<std::vector<store::SearchBudgetRow>> locks = vault_->customers().SearchLocks(security);
  ASSERT_TRUE(locks.ok());
  EXPECT_EQ(locks->size(), 2u);
  ASSERT_TRUE(vault_->customers().ClearSearchLock(security, clerk_id, "talked to the clerk").ok());
  EXPECT_EQ(vault_->customers().ClearSearchLock(security, clerk_id, "again").code(),
            ErrorCode::kNotFound);
  Result<CustomerListPage> after = vault_->customers().Search(clerk_again, "phone", "13912345678",
                                                              std::nullopt, std::nullopt);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->items.size(), 1u);
  const std::vector<store::AuditEntryRow> unlocks = Entries(audit::op::kSearchUnlock);
  ASSERT_EQ(unlocks.size(), 2u);  // the cleared one and the one not locked
  EXPECT_NE(unlocks[0].details.find(clerk_id), std::string::npos);
  EXPECT_NE(unlocks[0].details.find("talked to the clerk"), std::string::npos);
}

// Issue 10.1: a search that finds someone gives its miss back, so honest
// work is bounded by searches_max, not by the tighter miss budget.
TEST_F(SearchGuardVaultTest, R_MASK_Issue10_1_HitsDoNotSpendTheMissBudget) {
  Result<Actor> manager = staff_->ActorFor(Role::kInfoManager);
  ASSERT_TRUE(manager.ok());
  ASSERT_TRUE(vault_->customers().Create(*manager, {{"name", "张三"}, {"phone", "13812345678"}}).ok());
  for (int i = 0; i < 60; ++i) {
    Result<CustomerListPage> page =
        vault_->customers().Search(*manager, "phone", "13812345678", std::nullopt, std::nullopt);
    ASSERT_TRUE(page.ok()) << i << " " << page.status().ToString();
    ASSERT_EQ(page->items.size(), 1u);
  }
  int retry_after = 0;
  EXPECT_EQ(vault_->customers()
                .Search(*manager, "phone", "13812345678", std::nullopt, std::nullopt, &retry_after)
                .status()
                .code(),
            ErrorCode::kRateLimited);
  EXPECT_EQ(retry_after, 3600);  // the frozen clock has not moved
  env_.AdvanceMicros(60 * kMinuteUs);
  EXPECT_TRUE(
      vault_->customers().Search(*manager, "phone", "13812345678", std::nullopt, std::nullopt).ok());
}

// Issue 10.1 (R-AUD-4): guessing raises the search alerts, visible to the
// auditor; the lock raises its own.
TEST_F(SearchGuardVaultTest, R_AUD_4_Issue10_1_GuessingRaisesSearchAlerts) {
  Result<Actor> clerk = staff_->ActorFor(Role::kEntryClerk);
  ASSERT_TRUE(clerk.ok());
  for (int i = 0; i < 40; ++i) {
    char guess[16];
    std::snprintf(guess, sizeof guess, "139%04d5678", i);
    vault_->customers().Search(*clerk, "phone", guess, std::nullopt, std::nullopt).status().IgnoreError();
  }
  Result<Actor> auditor = staff_->ActorFor(Role::kAuditor);
  ASSERT_TRUE(auditor.ok());
  // The writer raises a batch's alerts after answering it and before it
  // writes the next batch: once one more entry is durable, every alert of
  // the searches above is stored.
  Result<Actor> manager = staff_->ActorFor(Role::kInfoManager);
  ASSERT_TRUE(manager.ok());
  ASSERT_TRUE(vault_->customers().List(*manager, "", std::nullopt, 1).ok());
  Result<AlertPage> alerts = vault_->audit().Alerts(*auditor, false, std::nullopt, 100);
  ASSERT_TRUE(alerts.ok()) << alerts.status().ToString();
  std::set<std::string> rules;
  for (const store::AlertRow& alert : alerts->items) {
    if (alert.actor_id == clerk->id) rules.insert(alert.rule);
  }
  EXPECT_TRUE(rules.count(std::string(audit::rule::kSearchBurst))) << rules.size();
  EXPECT_TRUE(rules.count(std::string(audit::rule::kSearchMisses))) << rules.size();
  EXPECT_TRUE(rules.count(std::string(audit::rule::kSearchLocked))) << rules.size();
}

}  // namespace
}  // namespace custvault::service
