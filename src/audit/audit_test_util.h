// Shared by the audit tests: a temporary data directory with a keyring that
// holds an audit key, and an audit log on audit.db inside it.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "audit/audit_log.h"
#include "common/fake_env.h"
#include "crypto/keyring.h"
#include "store/sqlite/sqlite_audit_store.h"

namespace custvault::audit::testing {

class AuditFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "cv_audit_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto keyring =
        crypto::Keyring::Open(&env_, dir_ + "/master.key", crypto::CryptoProfile::kDefault, true);
    ASSERT_TRUE(keyring.ok()) << keyring.status().ToString();
    keyring_ = std::move(keyring).value();
    ASSERT_TRUE(keyring_->CreateDomainKey("audit", 1).ok());
    options_.config.checkpoint_every_entries = 1000;
    options_.utc_offset_seconds = 8 * 3600;
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string DbPath() const { return dir_ + "/audit.db"; }

  Result<std::unique_ptr<AuditLog>> OpenLog() {
    auto store = store::sqlite::SqliteAuditStore::Open({.path = DbPath()});
    if (!store.ok()) return store.status();
    return AuditLog::Open(&env_, std::move(store).value(), keyring_.get(), options_);
  }

  void OpenOrDie() {
    auto log = OpenLog();
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  static AuditEvent Event(std::string actor, std::string_view operation = op::kCustomerView,
                          std::string customer = "C20261130000001", std::string ip = "10.0.0.8") {
    AuditEvent event;
    event.actor_id = std::move(actor);
    event.actor_role = "info_manager";
    event.source_ip = std::move(ip);
    event.operation = std::string(operation);
    event.customer_id = std::move(customer);
    event.result = std::string(result::kOk);
    return event;
  }

  // Raw SQL on audit.db with the protective triggers dropped, as an
  // attacker with file access would do it. Returns SQLite's result code.
  int Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    const std::string script =
        "DROP TRIGGER IF EXISTS audit_entries_append_only;"
        "DROP TRIGGER IF EXISTS audit_entries_retention;"
        "DROP TRIGGER IF EXISTS audit_checkpoints_append_only;"
        "DROP TRIGGER IF EXISTS audit_checkpoints_kept;" +
        sql;
    char* error = nullptr;
    const int rc = sqlite3_exec(db, script.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
    return rc;
  }

  FakeEnv env_;
  std::string dir_;
  std::unique_ptr<crypto::Keyring> keyring_;
  AuditLogOptions options_;
  std::unique_ptr<AuditLog> log_;
};

}  // namespace custvault::audit::testing
