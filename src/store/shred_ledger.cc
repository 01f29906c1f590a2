#include "store/shred_ledger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string_view>

#include "common/log.h"
#include "common/unique_fd.h"

namespace custvault::store {
namespace {

constexpr size_t kIdBytesMax = 128;

Status Errno(std::string_view what, const std::string& path) {
  return Internal(std::string(what) + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write shred ledger", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status ValidateEntry(const ShredEntry& entry) {
  if (entry.customer_id.empty() || entry.customer_id.size() > kIdBytesMax ||
      entry.customer_id.find_first_of(" \n\r\t") != std::string::npos) {
    return InvalidArgument("shred ledger: bad customer id");
  }
  return Status::Ok();
}

bool ParseLine(std::string_view line, ShredEntry* entry) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space > kIdBytesMax) return false;
  const std::string_view id = line.substr(0, space);
  const std::string_view time = line.substr(space + 1);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(time.data(), time.data() + time.size(), value);
  if (error != std::errc() || end != time.data() + time.size() || time.empty()) return false;
  entry->customer_id.assign(id);
  entry->deleted_at_us = value;
  return true;
}

}  // namespace

Status AppendShredLedger(const std::string& path, std::span<const ShredEntry> entries,
                         int64_t as_of_us) {
  if (entries.empty() && as_of_us <= 0) return Status::Ok();
  for (const ShredEntry& entry : entries) RETURN_IF_ERROR(ValidateEntry(entry));
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot open shred ledger", path);
  const UniqueFd closer(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return Errno("cannot stat shred ledger", path);
  std::string text;
  if (info.st_size == 0) {
    text = std::string(kShredLedgerHeader) + "\n";
  } else {
    // End a line torn by a crash, so the next entry starts a line of its
    // own, and spoil it: "C2 2" cut from "C2 20" must not read as a valid
    // entry with the wrong time. (The full entry is still in the database's
    // table and is appended again by the next sync.)
    char last = '\n';
    if (::pread(fd, &last, 1, info.st_size - 1) != 1) return Errno("cannot read shred ledger", path);
    if (last != '\n') text = "!torn\n";
  }
  for (const ShredEntry& entry : entries) {
    text += entry.customer_id;
    text += ' ';
    text += std::to_string(entry.deleted_at_us);
    text += '\n';
  }
  if (as_of_us > 0) {
    text += kShredLedgerAsOfPrefix;
    text += std::to_string(as_of_us);
    text += '\n';
  }
  RETURN_IF_ERROR(WriteAll(fd, text, path));
  if (::fsync(fd) != 0) return Errno("cannot fsync shred ledger", path);
  return Status::Ok();
}

Result<ShredLedgerContents> ReadShredLedger(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("no shred ledger at " + path);
    return Errno("cannot open shred ledger", path);
  }
  const UniqueFd closer(fd);
  std::string text;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot read shred ledger", path);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kShredLedgerBytesMax) return TooLarge("shred ledger over 1 GiB: " + path);
  }
  ShredLedgerContents contents;
  std::string_view rest(text);
  const size_t header_end = rest.find('\n');
  if (header_end == std::string_view::npos || rest.substr(0, header_end) != kShredLedgerHeader) {
    if (text.empty()) return contents;  // created, header never written: empty
    return DataLoss("not a custvault shred ledger (bad first line): " + path);
  }
  rest.remove_prefix(header_end + 1);
  while (!rest.empty()) {
    const size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) {  // torn last line
      ++contents.bad_lines;
      break;
    }
    ShredEntry entry;
    const std::string_view line = rest.substr(0, newline);
    if (line.starts_with(kShredLedgerAsOfPrefix)) {
      const std::string_view time = line.substr(sizeof kShredLedgerAsOfPrefix - 1);
      int64_t value = 0;
      const auto [end, error] = std::from_chars(time.data(), time.data() + time.size(), value);
      if (error == std::errc() && end == time.data() + time.size() && !time.empty()) {
        contents.as_of_us = std::max(contents.as_of_us, value);
      } else {
        ++contents.bad_lines;
      }
    } else if (ParseLine(line, &entry)) {
      contents.entries.push_back(std::move(entry));
    } else if (newline != 0) {
      ++contents.bad_lines;
    }
    rest.remove_prefix(newline + 1);
  }
  return contents;
}

Status MergeShredLedger(const std::string& path, std::span<const ShredEntry> entries,
                        int64_t as_of_us) {
  std::set<ShredEntry> known;
  int64_t known_as_of = 0;
  Result<ShredLedgerContents> existing = ReadShredLedger(path);
  if (existing.ok()) {
    known.insert(existing->entries.begin(), existing->entries.end());
    known_as_of = existing->as_of_us;
  } else if (existing.status().code() != ErrorCode::kNotFound) {
    return existing.status();
  }
  std::vector<ShredEntry> missing;
  for (const ShredEntry& entry : entries) {
    if (known.insert(entry).second) missing.push_back(entry);
  }
  return AppendShredLedger(path, missing, as_of_us > known_as_of ? as_of_us : 0);
}

ShredLedgerSet::ShredLedgerSet(std::vector<Copy> copies)
    : copies_(std::move(copies)), behind_(copies_.size(), false) {}

bool ShredLedgerSet::behind() const {
  return std::find(behind_.begin(), behind_.end(), true) != behind_.end();
}

Status ShredLedgerSet::Write(size_t copy, std::span<const ShredEntry> entries, int64_t as_of_us,
                             bool merge) {
  const std::string& path = copies_[copy].path;
  const size_t slash = path.find_last_of('/');
  if (copies_[copy].create_directory && slash != std::string::npos && slash > 0) {
    std::error_code ignored;  // a failure shows as the open's error below
    std::filesystem::create_directories(path.substr(0, slash), ignored);
  }
  return merge ? MergeShredLedger(path, entries, as_of_us)
               : AppendShredLedger(path, entries, as_of_us);
}

Status ShredLedgerSet::Append(std::span<const ShredEntry> entries, int64_t as_of_us,
                              const std::function<Result<std::vector<ShredEntry>>()>& all) {
  std::optional<std::vector<ShredEntry>> everything;
  std::string failed;
  for (size_t i = 0; i < copies_.size(); ++i) {
    Status written;
    if (behind_[i]) {
      if (!everything) {
        Result<std::vector<ShredEntry>> read = all();
        if (!read.ok()) return read.status();
        everything = std::move(*read);
      }
      written = Write(i, *everything, as_of_us, /*merge=*/true);
    } else {
      written = Write(i, entries, as_of_us, /*merge=*/false);
    }
    behind_[i] = !written.ok();
    if (!written.ok()) {
      spdlog::error("shred ledger copy in the {} is behind: {}", copies_[i].place,
                    written.ToString());
      failed += (failed.empty() ? "" : ", ") + copies_[i].place;
    }
  }
  if (!failed.empty()) {
    return Unavailable(std::string(kShredLedgerBehindMessage) + " (" + failed +
                       "); retried at the next delete, backup or start");
  }
  return Status::Ok();
}

Status ShredLedgerSet::Sync(std::span<const ShredEntry> all, int64_t as_of_us) {
  std::string failed;
  for (size_t i = 0; i < copies_.size(); ++i) {
    const Status written = Write(i, all, as_of_us, /*merge=*/true);
    behind_[i] = !written.ok();
    if (!written.ok()) {
      spdlog::error("shred ledger copy in the {} is behind: {}", copies_[i].place,
                    written.ToString());
      failed += (failed.empty() ? "" : ", ") + copies_[i].place;
    }
  }
  if (!failed.empty()) return Unavailable("shred ledger copies behind: " + failed);
  return Status::Ok();
}

bool IsShredLedgerBehind(const Status& status) {
  return status.code() == ErrorCode::kUnavailable &&
         status.message().starts_with(kShredLedgerBehindMessage);
}

}  // namespace custvault::store
