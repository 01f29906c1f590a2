// R-AUD-2: `custvault audit verify` exits 1 naming the first bad entry;
// R-AUD-4: search, export and checkpoints from the command line.
#include "cli/audit_commands.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <sstream>

#include "common/fake_env.h"

namespace custvault::cli {
namespace {

class AuditCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "cv_audit_cli_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    keyring_ = std::move(
        crypto::Keyring::Open(&env_, dir_ + "/master.key", crypto::CryptoProfile::kDefault, true)
            .value());
    ASSERT_TRUE(keyring_->CreateDomainKey("audit", 1).ok());
    env_.SetNowMicros((int64_t{1'795'968'000} + 10 * 3600) * 1'000'000);
    // What main.cc does with the vault: open, run, close.
    runner_ = [this](const std::string& data_dir, const AuditBody& body) -> Status {
      Config config = ParseConfig("[audit]\ncheckpoint_every_entries = 4\n", data_dir, {}).value();
      ASSIGN_OR_RETURN(auto audit, service::AuditService::Open(&env_, config, keyring_.get()));
      service::Actor actor;
      actor.kind = service::ActorKind::kLocalOperator;
      actor.id = "cli:tester";
      actor.ip = "local";
      return body(*audit, actor);
    };
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    CLI::App app{"test"};
    app.require_subcommand(1);
    auto commands = AddAuditCommands(app, runner_, out_, err_);
    args.insert(args.begin(), "custvault");
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& error) {
      return app.exit(error);
    }
    return commands->RunIfParsed().value_or(-1);
  }

  void RecordViews(int count) {
    ASSERT_TRUE(runner_(dir_, [count](service::AuditService& audit, const service::Actor&) {
                  service::Actor clerk;
                  clerk.kind = service::ActorKind::kStaff;
                  clerk.id = "clerk1";
                  clerk.role = service::Role::kEntryClerk;
                  clerk.ip = "10.0.0.5";
                  for (int i = 0; i < count; ++i) {
                    RETURN_IF_ERROR(
                        audit.Record(clerk, "customer.view", "C20261130000001", "ok").status());
                  }
                  return Status::Ok();
                }).ok());
  }

  FakeEnv env_;
  std::string dir_;
  std::unique_ptr<crypto::Keyring> keyring_;
  AuditSessionRunner runner_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(AuditCommandsTest, RAud2VerifyExitsZeroOnAnIntactChain) {
  RecordViews(10);
  EXPECT_EQ(Run({"audit", "verify", "--data-dir", dir_}), 0) << err_.str();
  EXPECT_NE(out_.str().find("audit chain intact: 10 entries"), std::string::npos) << out_.str();
}

TEST_F(AuditCommandsTest, RAud2VerifyExitsOneNamingTheFirstBadEntry) {
  RecordViews(10);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/audit.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TRIGGER audit_entries_append_only;"
                         "UPDATE audit_entries SET customer_id = 'C20261130999999' WHERE seq = 6;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(Run({"audit", "verify", "--data-dir", dir_}), 1);
  EXPECT_NE(out_.str().find("first bad entry seq 6 (edited)"), std::string::npos) << out_.str();
}

TEST_F(AuditCommandsTest, RAud4SearchPrintsJsonLinesAndTheNextCursor) {
  RecordViews(3);
  EXPECT_EQ(Run({"audit", "search", "-d", dir_, "--actor", "clerk1", "--limit", "2"}), 0);
  const std::string out = out_.str();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  EXPECT_NE(out.find("\"operation\":\"customer.view\""), std::string::npos);
  EXPECT_NE(err_.str().find("next_cursor: "), std::string::npos);
  EXPECT_EQ(Run({"audit", "search", "-d", dir_, "--from", "tomorrow"}), 2);
}

TEST_F(AuditCommandsTest, RAud4ExportWritesCsvAndIsAudited) {
  RecordViews(2);
  const std::string file = dir_ + "/export.csv";
  EXPECT_EQ(Run({"audit", "export", "-d", dir_, "-o", file}), 0) << err_.str();
  std::ifstream in(file);
  std::stringstream csv;
  csv << in.rdbuf();
  EXPECT_EQ(csv.str().rfind("seq,time,", 0), 0u);
  EXPECT_NE(err_.str().find("2 entries exported"), std::string::npos);
  EXPECT_EQ(Run({"audit", "search", "-d", dir_, "--operation", "audit.export"}), 0);
  EXPECT_NE(out_.str().find("cli:tester"), std::string::npos);
}

TEST_F(AuditCommandsTest, CheckpointsAreJsonLinesWithTheHeadLast) {
  RecordViews(5);  // a checkpoint at 4, a shutdown one at 5
  EXPECT_EQ(Run({"audit", "checkpoints", "-d", dir_}), 0);
  const std::string out = out_.str();
  EXPECT_NE(out.find("\"type\":\"checkpoint\",\"seq\":4"), std::string::npos) << out;
  EXPECT_NE(out.find("\"kind\":\"shutdown\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"type\":\"head\""), std::string::npos) << out;
}

TEST_F(AuditCommandsTest, AlertsAreListedAndAcknowledged) {
  env_.AdvanceMicros(int64_t{12} * 3'600'000'000);  // 22:00 local
  RecordViews(1);
  EXPECT_EQ(Run({"audit", "alerts", "-d", dir_, "--open"}), 0);
  EXPECT_NE(out_.str().find("\"rule\":\"off_hours\""), std::string::npos) << out_.str();
  EXPECT_EQ(Run({"audit", "alerts", "-d", dir_, "--ack", "1"}), 0) << err_.str();
  EXPECT_EQ(Run({"audit", "alerts", "-d", dir_, "--ack", "1"}), 2);  // already acknowledged
  EXPECT_EQ(Run({"audit", "alerts", "-d", dir_, "--open"}), 0);
  EXPECT_EQ(out_.str(), "");
}

}  // namespace
}  // namespace custvault::cli
