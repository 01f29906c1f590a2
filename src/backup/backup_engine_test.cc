// Service-level tests of backups and restores on a real data directory:
// R-BAK-1 (full and incremental backups), R-BAK-2 (restore to a point in
// time), R-BAK-3 (damage refused, named), R-CRY-5 (deleted customers stay
// deleted). Records are compared after decryption with each vault's own
// keyring.
#include "backup/backup_engine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "backup/files.h"
#include "backup/restore.h"
#include "common/fake_env.h"
#include "service/test_vault.h"
#include "store/shred_ledger.h"

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;
using service::Actor;
using service::Role;
using service::Vault;

constexpr int64_t kMs = 1000;
constexpr int64_t kSecond = 1'000'000;

// name -> plaintext, per customer id.
using Plain = std::map<std::string, std::map<std::string, std::string>>;

class BackupTest : public ::testing::Test {
 protected:
  // The vault's clock starts an hour after the real one (init used the
  // real clock), so journal times are the test's to choose.
  BackupTest() : env_(Env::Default()->NowMicros() + 3600 * kSecond) {}

  void SetUp() override {
    environment_ = service::FastAuthEnvironment();
    dir_ = std::make_unique<service::TestDataDir>(environment_);
    location_ = dir_->path() + "-backups";
    Result<std::unique_ptr<Vault>> vault = Vault::Open(&env_, dir_->path(), environment_);
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    staff_ = std::make_unique<service::TestStaff>(vault_->accounts(), *dir_);
    Result<Actor> manager = staff_->ActorFor(Role::kInfoManager);
    ASSERT_TRUE(manager.ok()) << manager.status().ToString();
    manager_ = *manager;
  }
  void TearDown() override {
    staff_.reset();
    vault_.reset();
    fs::remove_all(location_);
    for (const std::string& path : cleanup_) fs::remove_all(path);
  }

  BackupEngine Engine() {
    EngineOptions options = EngineOptionsFromConfig(vault_->config(), location_);
    options.piece.chunk_bytes = 64 << 10;  // several chunks even for a small vault
    Result<crypto::WrappedKey> key = CurrentBackupKey(vault_->store());
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return BackupEngine(&env_, options, vault_->keyring(), key.ok() ? *key : crypto::WrappedKey{});
  }

  Manifest Full() {
    Result<BackupResult> result = Engine().RunFull();
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    env_.AdvanceMicros(kSecond);  // backup ids are per second
    return result.ok() ? result->manifest : Manifest{};
  }
  Manifest Incremental() {
    Result<BackupResult> result = Engine().RunIncremental();
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    env_.AdvanceMicros(kSecond);
    return result.ok() ? result->manifest : Manifest{};
  }

  std::string Create(const std::string& name, const std::string& phone) {
    Result<service::CustomerView> view = vault_->customers().Create(
        manager_, {{"name", name}, {"phone", phone}, {"email", "x" + phone + "@example.com"}});
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? view->id : "";
  }
  void Update(const std::string& id, const std::string& phone) {
    Result<service::CustomerView> view =
        vault_->customers().Update(manager_, id, {{"phone", phone}});
    EXPECT_TRUE(view.ok()) << view.status().ToString();
  }
  void Delete(const std::string& id) {
    Status status = vault_->customers().Delete(Admin(), id);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  Actor Admin() {
    // Whoever may delete customers under the policy.
    for (Role role : {Role::kInfoManager, Role::kDeptHead, Role::kSysAdmin}) {
      if (policy::Allows(role, policy::Operation::kCustomerDelete)) {
        Result<Actor> actor = staff_->ActorFor(role);
        if (actor.ok()) return *actor;
      }
    }
    ADD_FAILURE() << "no role may delete customers";
    return manager_;
  }

  Result<RestoreReport> RestoreTo(const std::string& target, std::optional<int64_t> at = {},
                                  const std::string& full_id = "") {
    cleanup_.push_back(target);
    RestoreOptions options;
    options.from = location_;
    options.to = target;
    options.at_us = at;
    options.full_id = full_id;
    options.master_key_path = vault_->config().DataPath(vault_->config().crypto.master_key_file);
    return Restore(&env_, options);
  }
  std::string NewTarget() {
    static int counter = 0;
    return dir_->path() + "-restored-" + std::to_string(counter++);
  }

  // Every customer of a vault, decrypted with its own keyring.
  static Plain Decrypt(Vault& vault) {
    Plain plain;
    std::optional<std::string> cursor;
    while (true) {
      Result<store::CustomerPage> page = vault.store().ListCustomers(std::nullopt, cursor, 500);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) return plain;
      for (const store::CustomerRecord& listed : page->items) {
        Result<store::CustomerRecord> record = vault.store().GetCustomer(listed.id);
        EXPECT_TRUE(record.ok());
        Result<crypto::SecretBytes> key = vault.keyring().UnwrapCustomerKey(
            record->id, record->kek_version, record->wrapped_key);
        EXPECT_TRUE(key.ok()) << record->id << ": " << key.status().ToString();
        if (!key.ok()) continue;
        for (const auto& [field, stored] : record->fields) {
          const catalog::FieldDef* def = vault.catalog().Find(field);
          if (def != nullptr && def->protection == catalog::Protection::kPlain) {
            plain[record->id][field] = stored;
            continue;
          }
          Result<crypto::SecretBytes> value =
              vault.keyring().DecryptField(*key, record->id, field, stored);
          EXPECT_TRUE(value.ok()) << record->id << "/" << field;
          if (value.ok()) plain[record->id][field] = std::string(value->view());
        }
        plain[record->id]["@tags"] = std::to_string(record->tags.size());
        plain[record->id]["@indexes"] = std::to_string(record->blind_indexes.size());
      }
      if (!page->next_cursor) break;
      cursor = page->next_cursor;
    }
    return plain;
  }

  std::unique_ptr<Vault> OpenRestored(const std::string& path) {
    Result<std::unique_ptr<Vault>> vault = Vault::Open(&env_, path, environment_);
    EXPECT_TRUE(vault.ok()) << vault.status().ToString();
    return vault.ok() ? std::move(*vault) : nullptr;
  }

  std::string Dir(const Manifest& m) const { return location_ + "/" + m.id; }

  FakeEnv env_;
  std::map<std::string, std::string> environment_;
  std::unique_ptr<service::TestDataDir> dir_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<service::TestStaff> staff_;
  Actor manager_;
  std::string location_;
  std::vector<std::string> cleanup_;
};

TEST_F(BackupTest, R_BAK_1_FullAndThreeIncrementalsRestoreEqualToTheSource) {
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(Create("张三", "1380000" + std::to_string(1000 + i)));
  const Manifest full = Full();
  EXPECT_EQ(full.customers, 30);
  EXPECT_GT(full.journal_to_seq, 0);

  for (int i = 0; i < 5; ++i) ids.push_back(Create("李四", "1390000" + std::to_string(1000 + i)));
  Update(ids[0], "13700001111");
  const Manifest first = Incremental();
  Delete(ids[1]);
  Update(ids[2], "13700002222");
  const Manifest second = Incremental();
  for (int i = 0; i < 3; ++i) ids.push_back(Create("王五", "1360000" + std::to_string(1000 + i)));
  Update(ids[31], "13700003333");
  const Manifest third = Incremental();
  EXPECT_EQ(first.previous_id, full.id);
  EXPECT_EQ(second.previous_id, first.id);
  EXPECT_EQ(third.previous_id, second.id);
  EXPECT_EQ(third.base_id, full.id);
  EXPECT_GT(third.journal_rows, 0);
  EXPECT_GT(third.audit_entries, 0);

  const Plain source = Decrypt(*vault_);
  ASSERT_EQ(source.size(), 37u);
  EXPECT_EQ(source.at(ids[0]).at("phone"), "13700001111");

  const std::string target = NewTarget();
  Result<RestoreReport> report = RestoreTo(target);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->chain, (std::vector<std::string>{full.id, first.id, second.id, third.id}));
  EXPECT_EQ(report->customers, 37);
  EXPECT_EQ(report->restored_to_us, third.point_us);

  std::unique_ptr<Vault> restored = OpenRestored(target);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(Decrypt(*restored), source);
  // The restored vault works: its audit log opened (verified at open) and
  // it takes writes from the same accounts.
  Result<service::CustomerView> created =
      restored->customers().Create(manager_, {{"name", "赵六"}, {"phone", "13500001234"}});
  EXPECT_TRUE(created.ok()) << created.status().ToString();
}

// Backups taken within one second (a CLI incremental right after the
// job's; here within one microsecond, the clock frozen) still chain in the
// order they were taken: ids name only the second.
TEST_F(BackupTest, BackupsWithinOneSecondChainInTheOrderTaken) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Create("张三", "1380000" + std::to_string(2000 + i)));
  std::vector<Manifest> taken;
  auto take = [&](bool full) {
    Result<BackupResult> result = full ? Engine().RunFull() : Engine().RunIncremental();
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    taken.push_back(result->manifest);
  };
  take(true);
  for (int round = 0; round < 6; ++round) {
    Update(ids[round % 5], "1370000" + std::to_string(3000 + round));
    take(round == 3);  // a second full in the middle starts a new chain
  }
  for (size_t i = 1; i < taken.size(); ++i) {
    EXPECT_GT(taken[i].created_at_us, taken[i - 1].created_at_us) << i;
    if (taken[i].kind == BackupKind::kIncremental) {
      EXPECT_EQ(taken[i].previous_id, taken[i - 1].id) << i;
    }
  }
  Result<std::vector<BackupListing>> listed = ListBackups(location_);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), taken.size());
  for (size_t i = 0; i < taken.size(); ++i) EXPECT_EQ((*listed)[i].id, taken[i].id) << i;

  const Plain source = Decrypt(*vault_);
  const std::string target = NewTarget();
  Result<RestoreReport> report = RestoreTo(target);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->chain, (std::vector<std::string>{taken[4].id, taken[5].id, taken[6].id}));
  std::unique_ptr<Vault> restored = OpenRestored(target);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(Decrypt(*restored), source);
}

TEST_F(BackupTest, R_BAK_2_PointInTimeRestoreLandsExactlyAtTheMoment) {
  const std::string a = Create("张三", "13800001000");
  Full();
  env_.AdvanceMicros(10 * kSecond);
  const int64_t t = env_.NowMicros();
  Update(a, "13700000001");  // committed at T
  env_.AdvanceMicros(1 * kMs);
  const std::string b = Create("李四", "13800002000");  // committed at T + 1 ms
  env_.AdvanceMicros(5 * kSecond);
  Incremental();

  {
    Result<RestoreReport> report = RestoreTo(NewTarget(), t);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->restored_to_us, t);
    EXPECT_GT(report->journal_rows_after_point, 0);
    std::unique_ptr<Vault> restored = OpenRestored(cleanup_.back());
    ASSERT_NE(restored, nullptr);
    const Plain plain = Decrypt(*restored);
    EXPECT_EQ(plain.at(a).at("phone"), "13700000001");  // the change at T is there
    EXPECT_EQ(plain.count(b), 0u);                       // the one 1 ms later is not
  }
  {
    Result<RestoreReport> report = RestoreTo(NewTarget(), t - 1);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    std::unique_ptr<Vault> restored = OpenRestored(cleanup_.back());
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(Decrypt(*restored).at(a).at("phone"), "13800001000");  // 1 us before T: not yet
  }
  {
    Result<RestoreReport> report = RestoreTo(NewTarget(), t + kMs);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    std::unique_ptr<Vault> restored = OpenRestored(cleanup_.back());
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(Decrypt(*restored).count(b), 1u);
  }
}

TEST_F(BackupTest, R_CRY_5_ACustomerDeletedAfterTheBackupComesBackNeitherReadableNorListed) {
  const std::string kept = Create("张三", "13800001000");
  const std::string gone = Create("李四", "13800002000");
  const Manifest full = Full();
  const int64_t before_delete = env_.NowMicros();
  env_.AdvanceMicros(kSecond);
  Delete(gone);
  Incremental();

  // Restore the full backup alone, and the chain to a moment before the
  // deletion: the customer was alive at both points, and stays gone.
  for (std::optional<int64_t> at : {std::optional<int64_t>(full.point_us),
                                    std::optional<int64_t>(before_delete),
                                    std::optional<int64_t>()}) {
    Result<RestoreReport> report = RestoreTo(NewTarget(), at);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_GE(report->shred_entries, 1);
    std::unique_ptr<Vault> restored = OpenRestored(cleanup_.back());
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(restored->store().GetCustomer(gone).status().code(), ErrorCode::kNotFound);
    const Plain plain = Decrypt(*restored);
    EXPECT_EQ(plain.count(gone), 0u);  // not listed
    EXPECT_EQ(plain.count(kept), 1u);
    Result<service::CustomerView> view = restored->customers().Get(manager_, gone);
    EXPECT_FALSE(view.ok());
  }
}

TEST_F(BackupTest, R_CRY_5_TheLedgerOfTheLocationAloneIsEnough) {
  // The deletion is in no backup at all (no incremental after it): only the
  // shred ledger copy at the backup location knows. A later backup copied
  // it there.
  const std::string gone = Create("李四", "13800002000");
  const Manifest full = Full();
  Delete(gone);
  env_.AdvanceMicros(kSecond);
  Full();  // copies the ledger to the location; the older full is restored below
  Result<RestoreReport> report = RestoreTo(NewTarget(), std::nullopt, full.id);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->shredded, 1);
  std::unique_ptr<Vault> restored = OpenRestored(cleanup_.back());
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->store().GetCustomer(gone).status().code(), ErrorCode::kNotFound);
}

TEST_F(BackupTest, R_CRY_5_AReusedIdIsNotShreddedWithTheOldCustomer) {
  const std::string gone = Create("李四", "13800002000");
  Delete(gone);
  const std::string alive = Create("王五", "13800003000");
  // ...a customer created later under another id; pretend it had the old one.
  // ...a customer created later, with an entry as if its id had been
  // shredded before it existed (an id drawn again after a deletion).
  const std::vector<store::ShredEntry> fake = {{alive, env_.NowMicros() - 10 * kSecond}};
  const std::string extra_ledger = location_ + "-extra-ledger";
  cleanup_.push_back(extra_ledger);
  ASSERT_TRUE(store::AppendShredLedger(extra_ledger, fake).ok());
  Full();
  RestoreOptions options;
  options.from = location_;
  options.to = NewTarget();
  cleanup_.push_back(options.to);
  options.master_key_path = vault_->config().DataPath(vault_->config().crypto.master_key_file);
  options.shred_ledgers = {extra_ledger};
  Result<RestoreReport> report = Restore(&env_, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::unique_ptr<Vault> restored = OpenRestored(options.to);
  ASSERT_NE(restored, nullptr);
  EXPECT_TRUE(restored->store().GetCustomer(alive).ok());  // created after that "deletion"
  EXPECT_EQ(restored->store().GetCustomer(gone).status().code(), ErrorCode::kNotFound);
}

// Issue 10.2: a delete is acknowledged only once the ledger of the backup
// location holds it, so the README's restore (no --source-data-dir, no
// --shred-ledger, no backup after the delete) keeps the customer deleted.
TEST_F(BackupTest, Issue10_2_ADeleteReachesTheBackupLocationsLedgerBeforeItIsAcknowledged) {
  const std::string kept = Create("张三", "13800001000");
  const std::string gone = Create("李四", "13800002000");
  const std::string local = vault_->config().DataPath(vault_->config().backup.local_dir);
  EngineOptions options = EngineOptionsFromConfig(vault_->config(), "");
  ASSERT_EQ(options.location, local);
  Result<crypto::WrappedKey> key = CurrentBackupKey(vault_->store());
  ASSERT_TRUE(key.ok());
  Result<BackupResult> full = BackupEngine(&env_, options, vault_->keyring(), *key).RunFull();
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  env_.AdvanceMicros(kSecond);
  Delete(gone);
  Result<store::ShredLedgerContents> ledger =
      store::ReadShredLedger(local + "/" + store::kShredLedgerFileName);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  ASSERT_EQ(ledger->entries.size(), 1u);
  EXPECT_EQ(ledger->entries[0].customer_id, gone);
  EXPECT_GE(ledger->as_of_us, full->manifest.created_at_us);

  RestoreOptions restore;
  restore.from = local;
  restore.to = NewTarget();
  cleanup_.push_back(restore.to);
  restore.master_key_path = vault_->config().DataPath(vault_->config().crypto.master_key_file);
  Result<RestoreReport> report = Restore(&env_, restore);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->shredded, 1);
  EXPECT_FALSE(report->stale_ledger_accepted);
  std::unique_ptr<Vault> restored = OpenRestored(restore.to);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->store().GetCustomer(gone).status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(restored->store().GetCustomer(kept).ok());
}

// Issue 10.2: a restore that cannot show that its ledgers hold every
// deletion up to the newest backup refuses, unless told explicitly.
TEST_F(BackupTest, Issue10_2_ALedgerOlderThanTheNewestBackupRefusesTheRestoreUnlessAccepted) {
  Create("张三", "13800001000");
  const Manifest full = Full();
  const std::string ledger = location_ + "/" + store::kShredLedgerFileName;
  for (const std::string& text : {std::string(), std::string(store::kShredLedgerHeader) + "\n",
                                  std::string(store::kShredLedgerHeader) + "\n@as-of " +
                                      std::to_string(full.created_at_us - 1) + "\n"}) {
    fs::remove(ledger);
    if (!text.empty()) {
      std::ofstream out(ledger, std::ios::binary);
      out << text;
    }
    const std::string target = NewTarget();
    Result<RestoreReport> refused = RestoreTo(target);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), ErrorCode::kConflict);
    EXPECT_NE(refused.status().message().find("as new as backup " + full.id), std::string::npos)
        << refused.status().message();
    EXPECT_FALSE(PathExists(target));
  }
  // A newer ledger given by the caller proves it.
  const std::string newer = location_ + "-newer-ledger";
  cleanup_.push_back(newer);
  ASSERT_TRUE(store::AppendShredLedger(newer, {}, full.created_at_us).ok());
  RestoreOptions options;
  options.from = location_;
  options.to = NewTarget();
  cleanup_.push_back(options.to);
  options.master_key_path = vault_->config().DataPath(vault_->config().crypto.master_key_file);
  options.shred_ledgers = {newer};
  Result<RestoreReport> proved = Restore(&env_, options);
  ASSERT_TRUE(proved.ok()) << proved.status().ToString();
  EXPECT_FALSE(proved->stale_ledger_accepted);
  // Or the explicit acceptance, which the report says.
  options.to = NewTarget();
  cleanup_.push_back(options.to);
  options.shred_ledgers.clear();
  options.accept_stale_ledger = true;
  Result<RestoreReport> accepted = Restore(&env_, options);
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_TRUE(accepted->stale_ledger_accepted);
}

// Issue 11.11: a second backup into a location is refused with 409 naming
// the running backup, never the location's path.
TEST_F(BackupTest, Issue11_11_ASecondBackupIsRefusedWithTheRunningIdAndNoPath) {
  Result<std::unique_ptr<LocationLock>> held = LocationLock::Acquire(location_, kLockFileName);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  const std::string running = "20261207T120000Z-full-0123abcd";
  ASSERT_TRUE((*held)->SetHolder(running).ok());
  Result<BackupResult> second = Engine().RunFull();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kConflict);
  EXPECT_NE(second.status().message().find(running), std::string::npos) << second.status().message();
  EXPECT_EQ(second.status().message().find(location_), std::string::npos) << second.status().message();
  EXPECT_EQ(second.status().message().find('/'), std::string::npos) << second.status().message();
  held->reset();
  EXPECT_TRUE(Engine().RunFull().ok());  // released: the next one runs
}

class BackupDamageTest : public BackupTest {
 protected:
  void SetUp() override {
    BackupTest::SetUp();
    for (int i = 0; i < 20; ++i) ids_.push_back(Create("张三", "1380000" + std::to_string(1000 + i)));
    full_ = Full();
    for (int i = 0; i < 3; ++i) {
      Update(ids_[i], "1370000" + std::to_string(2000 + i));
      incrementals_.push_back(Incremental());
    }
  }
  // A restore that must fail without leaving anything at the target.
  std::string RefusedWith(ErrorCode code) {
    const std::string target = NewTarget();
    Result<RestoreReport> report = RestoreTo(target);
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), code) << report.status().ToString();
    EXPECT_FALSE(PathExists(target)) << "the target was written to";
    // This restore's staging sibling, ".<name>.restoring-<random>" (other
    // tests running at the same time restore into the same parent).
    const std::string staging_prefix = "." + fs::path(target).filename().string() + ".restoring-";
    for (const auto& entry : fs::directory_iterator(fs::path(target).parent_path())) {
      EXPECT_NE(entry.path().filename().string().rfind(staging_prefix, 0), 0u)
          << "a staging directory was left behind: " << entry.path();
    }
    return report.status().message();
  }
  std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  void WriteFile(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  std::vector<std::string> ids_;
  Manifest full_;
  std::vector<Manifest> incrementals_;
};

TEST_F(BackupDamageTest, R_BAK_3_AFlippedBitInAnyPieceIsRefusedNamingIt) {
  for (const Manifest* m : {&full_, &incrementals_[1]}) {
    for (const PieceInfo& piece : m->pieces) {
      const std::string path = Dir(*m) + "/" + piece.file;
      const std::string original = ReadFile(path);
      std::string damaged = original;
      damaged[damaged.size() - 20] ^= 0x04;  // inside the last chunk
      WriteFile(path, damaged);
      const std::string message = RefusedWith(ErrorCode::kDataLoss);
      EXPECT_NE(message.find("backup " + m->id + ": piece " + piece.name + " chunk"),
                std::string::npos)
          << message;
      WriteFile(path, original);
    }
  }
  // Undamaged again: the restore goes through.
  Result<RestoreReport> report = RestoreTo(NewTarget());
  EXPECT_TRUE(report.ok()) << report.status().ToString();
}

TEST_F(BackupDamageTest, R_BAK_3_ATruncatedPieceIsRefused) {
  const std::string path = Dir(incrementals_[0]) + "/journal.cvb";
  std::string bytes = ReadFile(path);
  bytes.resize(bytes.size() / 2);
  WriteFile(path, bytes);
  const std::string message = RefusedWith(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("backup " + incrementals_[0].id + ": piece journal"), std::string::npos)
      << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST_F(BackupDamageTest, R_BAK_3_AMissingIncrementalIsRefusedNamingTheGap) {
  fs::remove_all(Dir(incrementals_[1]));
  const std::string message = RefusedWith(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("backup " + incrementals_[2].id), std::string::npos) << message;
  EXPECT_NE(message.find(incrementals_[1].id + " is missing"), std::string::npos) << message;
}

TEST_F(BackupDamageTest, R_BAK_3_SwappedBackupsAreRefused) {
  // Two incrementals' directories swapped (names no longer match contents).
  const std::string a = Dir(incrementals_[0]), b = Dir(incrementals_[1]);
  fs::rename(a, a + ".tmp");
  fs::rename(b, a);
  fs::rename(a + ".tmp", b);
  std::string message = RefusedWith(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("does not match"), std::string::npos) << message;
  fs::rename(a, a + ".tmp");
  fs::rename(b, a);
  fs::rename(a + ".tmp", b);
  // Two incrementals' journal pieces swapped (each directory keeps its name).
  const std::string ja = a + "/journal.cvb", jb = b + "/journal.cvb";
  fs::rename(ja, ja + ".tmp");
  fs::rename(jb, ja);
  fs::rename(ja + ".tmp", jb);
  message = RefusedWith(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("piece journal"), std::string::npos) << message;
}

TEST_F(BackupDamageTest, R_BAK_3_AnEditedManifestIsRefused) {
  const std::string path = Dir(incrementals_[2]) + "/manifest.json";
  std::string manifest = ReadFile(path);
  const size_t at = manifest.find("\"entries\":");
  ASSERT_NE(at, std::string::npos);
  manifest.insert(at + 10, "1");
  WriteFile(path, manifest);
  const std::string message = RefusedWith(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("backup " + incrementals_[2].id), std::string::npos) << message;
  EXPECT_NE(message.find("MAC"), std::string::npos) << message;
}

TEST_F(BackupDamageTest, R_BAK_3_AReplacedPredecessorIsRefused) {
  // A backup replaced by another one with the same name: its manifest SM3
  // is not the one its successor recorded.
  const std::string path = Dir(incrementals_[0]) + "/manifest.json";
  const std::string original = ReadFile(path);
  // Re-seal the same manifest with a changed figure: a valid MAC, another SM3.
  Result<Manifest> parsed = ParseManifest(original);
  ASSERT_TRUE(parsed.ok());
  parsed->audit_entries += 1;
  Result<std::string> resealed = SealManifest(*parsed, vault_->keyring());
  ASSERT_TRUE(resealed.ok());
  WriteFile(path, *resealed);
  const std::string message = RefusedWith(ErrorCode::kDataLoss);
  EXPECT_NE(message.find("predecessor " + incrementals_[0].id), std::string::npos) << message;
}

TEST_F(BackupDamageTest, VerifyChecksEveryChunkAndNamesTheDamage) {
  Result<VerifyResult> fine = Engine().Verify(incrementals_[1].id);
  ASSERT_TRUE(fine.ok()) << fine.status().ToString();
  EXPECT_GT(fine->records, 0);
  Result<VerifyResult> full = Engine().Verify(full_.id);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_GT(full->chunks_checked, 2);
  const std::string path = Dir(full_) + "/custvault.db.cvb";
  std::string bytes = ReadFile(path);
  bytes[kStreamHeaderBytes + 100] ^= 1;
  WriteFile(path, bytes);
  Result<VerifyResult> broken = Engine().Verify(full_.id);
  ASSERT_EQ(broken.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(broken.status().message().find("piece custvault.db chunk 0"), std::string::npos)
      << broken.status().message();
}

TEST_F(BackupDamageTest, ANonEmptyTargetIsRefused) {
  const std::string target = NewTarget();
  ASSERT_TRUE(EnsureDirectory(target).ok());
  WriteFile(target + "/something", "x");
  Result<RestoreReport> report = RestoreTo(target);
  ASSERT_EQ(report.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("not empty"), std::string::npos);
}

TEST_F(BackupDamageTest, APartialBackupLeftByACrashIsNeverListedAndIsCleanedUp) {
  // What a backup killed mid-way leaves: a hidden staging directory with
  // some piece files and no manifest.
  const std::string partial = location_ + "/.partial-20991231T000000Z-incr-deadbeef";
  ASSERT_TRUE(CreateNewDirectory(partial).ok());
  WriteFile(partial + "/journal.cvb", "half a piece");
  Result<std::vector<BackupListing>> listed = ListBackups(location_);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 4u);
  for (const BackupListing& listing : *listed) EXPECT_TRUE(listing.problem.empty()) << listing.id;
  Result<RestoreReport> report = RestoreTo(NewTarget());
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  Update(ids_[5], "13700005555");
  const Manifest next = Incremental();
  EXPECT_EQ(next.previous_id, incrementals_[2].id);
  EXPECT_FALSE(PathExists(partial));
  EXPECT_TRUE(RestoreTo(NewTarget()).ok());
}

TEST_F(BackupDamageTest, OnlyBackupShapedNamesAreListedAndAManifestlessOneIsDamaged) {
  // The online restores' directory and an operator's notes are not backups.
  ASSERT_TRUE(CreateNewDirectory(location_ + "/restores").ok());
  WriteFile(location_ + "/README.txt", "off-site mount checked 2026-12-01");
  // A directory with a backup's name but no manifest is a damaged backup.
  const std::string lost = location_ + "/20991231T000000Z-incr-0badf00d";
  ASSERT_TRUE(CreateNewDirectory(lost).ok());
  Result<std::vector<BackupListing>> listed = ListBackups(location_);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 5u);
  int damaged = 0;
  for (const BackupListing& listing : *listed) {
    EXPECT_NE(listing.id, "restores");
    if (!listing.problem.empty()) {
      ++damaged;
      EXPECT_EQ(listing.id, "20991231T000000Z-incr-0badf00d");
      EXPECT_NE(listing.problem.find("no manifest"), std::string::npos) << listing.problem;
    }
  }
  EXPECT_EQ(damaged, 1);
}

TEST_F(BackupDamageTest, TheJournalIsPrunedBehindTheNewestBackupOnly) {
  // After each backup the journal keeps only its newest row below the
  // backup's position; the next incremental still finds every row it needs.
  Result<int64_t> pruned = Engine().PruneJournal();
  ASSERT_TRUE(pruned.ok());
  Update(ids_[7], "13700007777");
  const Manifest next = Incremental();
  EXPECT_EQ(next.journal_after_seq, incrementals_[2].journal_to_seq);
  EXPECT_GT(next.journal_rows, 0);
  Result<RestoreReport> report = RestoreTo(NewTarget());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::unique_ptr<Vault> restored = OpenRestored(cleanup_.back());
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(Decrypt(*restored), Decrypt(*vault_));
}


// Issue 11.10: an incremental never extends a chain whose full backup (or
// any link) is damaged; it is refused naming the damaged backup.
TEST_F(BackupDamageTest, Issue11_10_AnIncrementalOnADamagedFullBackupIsRefused) {
  const std::string path = Dir(full_) + "/" + full_.pieces[0].file;
  std::string damaged = ReadFile(path);
  damaged[damaged.size() / 2] ^= 0x01;
  WriteFile(path, damaged);
  Update(ids_[5], "13700009999");
  Result<BackupResult> refused = Engine().RunIncremental();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(refused.status().message().find("backup " + full_.id), std::string::npos)
      << refused.status().message();
  Result<std::vector<BackupListing>> listed = ListBackups(location_);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1 + incrementals_.size());  // nothing added
  // A new full backup starts a sound chain that an incremental follows.
  Full();
  EXPECT_TRUE(Engine().RunIncremental().ok());
}

}  // namespace
}  // namespace custvault::backup
