#include "service/customer_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "service/test_vault.h"

namespace custvault::service {
namespace {

const std::map<std::string, std::string> kZhangSan = {
    {"name", "张三"},
    {"id_number", "11010519491231002X"},
    {"phone", "13812345678"},
    {"address", "北京市朝阳区建国路88号"},
    {"bank_account", "6222021234567890128"},
    {"credit_rating", "AA"},
    {"email", "zhangsan@example.com"},
};

class CustomerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenVault({}); }

  void OpenVault(const std::map<std::string, std::string>& extra) {
    staff_.reset();
    vault_.reset();
    const std::map<std::string, std::string> environment = FastAuthEnvironment(extra);
    dir_ = std::make_unique<TestDataDir>(environment);
    Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), dir_->path(), environment);
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    staff_ = std::make_unique<TestStaff>(vault_->accounts(), *dir_);
    Result<Actor> manager = staff_->ActorFor(Role::kInfoManager);
    ASSERT_TRUE(manager.ok()) << manager.status().ToString();
    manager_ = *manager;
  }

  // An information manager: sees every field class masked, may reveal.
  const Actor& TestActor() const { return manager_; }
  Actor ActorWith(Role role) {
    Result<Actor> actor = staff_->ActorFor(role);
    EXPECT_TRUE(actor.ok()) << actor.status().ToString();
    return actor.ok() ? *actor : Actor{};
  }

  CustomerService& customers() { return vault_->customers(); }

  // Audit entries with this operation, newest first.
  std::vector<store::AuditEntryRow> AuditEntries(std::string_view operation) {
    AuditSearch search;
    search.operation = std::string(operation);
    search.limit = 500;
    Result<AuditEntryPage> page = vault_->audit().Search(ActorWith(Role::kAuditor), search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEntryRow>{};
  }

  CustomerView CreateOk(const std::map<std::string, std::string>& input) {
    Result<CustomerView> view = customers().Create(TestActor(), input);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? *view : CustomerView{};
  }

  // Every byte of the database files, after the store has been closed.
  std::string RawDatabaseBytes() {
    staff_.reset();
    vault_.reset();
    std::string all;
    for (const auto& entry : std::filesystem::directory_iterator(dir_->path())) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("custvault.db", 0) != 0) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }

  std::unique_ptr<TestDataDir> dir_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
  Actor manager_;
};

TEST_F(CustomerServiceTest, CreateReturnsEveryMaskOfTheCatalog) {  // R-MASK-1, R-CAT-2
  const CustomerView view = CreateOk(kZhangSan);
  EXPECT_EQ(view.fields.at("name"), "张某");
  EXPECT_EQ(view.fields.at("id_number"), "110105******31002X");
  EXPECT_EQ(view.fields.at("phone"), "138****5678");
  EXPECT_EQ(view.fields.at("address"), "北京市朝阳区****");
  EXPECT_EQ(view.fields.at("credit_rating"), "***");
  const std::string& bank = view.fields.at("bank_account");
  EXPECT_EQ(bank.substr(0, 3), "622");
  EXPECT_EQ(bank.substr(bank.size() - 4), "0128");
  EXPECT_EQ(bank.find("2021234567890"), std::string::npos);
  EXPECT_EQ(view.channel, "staff:" + TestActor().id);
}

TEST_F(CustomerServiceTest, CustomerIdIsCDateAndSixDigits) {  // R-CAT-2 customer id
  const CustomerView view = CreateOk({{"name", "李四"}});
  ASSERT_EQ(view.id.size(), 15u);
  EXPECT_EQ(view.id[0], 'C');
  EXPECT_EQ(view.id.substr(1, 8),
            FormatYyyymmdd(Env::Default()->NowMicros(), vault_->config().utc_offset_seconds));
  EXPECT_TRUE(std::all_of(view.id.begin() + 1, view.id.end(), ::isdigit));
}

TEST_F(CustomerServiceTest, GetShowsTheSameMaskedRecord) {
  const CustomerView created = CreateOk(kZhangSan);
  Result<CustomerView> got = customers().Get(TestActor(), created.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->fields, created.fields);
  EXPECT_EQ(customers().Get(TestActor(), "C20000101000000").status().code(), ErrorCode::kNotFound);
}

TEST_F(CustomerServiceTest, AnInvalidRecordIsRefusedWholeWithEveryFieldNamed) {  // R-CAT-4
  std::map<std::string, std::string> bad = kZhangSan;
  bad["id_number"] = "110105194912310021";  // wrong check digit
  bad["phone"] = "12345";
  bad["bank_account"] = "6222021234567890123";  // fails Luhn
  bad["favourite_colour"] = "blue";
  Result<CustomerView> view = customers().Create(TestActor(), bad);
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), ErrorCode::kValidationFailed);
  std::set<std::string> named;
  for (const FieldError& e : view.status().details()) named.insert(e.field);
  EXPECT_EQ(named,
            (std::set<std::string>{"id_number", "phone", "bank_account", "favourite_colour"}));
  // No value appears in the error.
  const std::string text = view.status().ToString();
  EXPECT_EQ(text.find("110105194912310021"), std::string::npos);
  EXPECT_EQ(text.find("12345"), std::string::npos);
  EXPECT_EQ(vault_->store().CountCustomers().value(), 0);
}

TEST_F(CustomerServiceTest, AMissingNameIsRequired) {
  Result<CustomerView> view = customers().Create(TestActor(), {{"phone", "13812345678"}});
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().details().at(0), (FieldError{"name", "required"}));
}

TEST_F(CustomerServiceTest, ExactSearchFindsByEveryIndexedFieldInAnyInputForm) {  // R-CRY-3
  const CustomerView zhang = CreateOk(kZhangSan);
  CreateOk({{"name", "王五"}, {"phone", "13900001111"}});
  const std::vector<std::pair<std::string, std::string>> probes = {
      {"phone", "+86 138-1234-5678"},
      {"id_number", "11010519491231002x"},
      {"name", "张三"},
      {"bank_account", "6222021234567890128"},
      {"email", "zhangsan@example.com"},
  };
  for (const auto& [field, value] : probes) {
    Result<CustomerListPage> page = customers().Search(TestActor(), field, value, {}, {});
    ASSERT_TRUE(page.ok()) << field << ": " << page.status().ToString();
    ASSERT_EQ(page->items.size(), 1u) << field;
    EXPECT_EQ(page->items[0].id, zhang.id) << field;
  }
  Result<CustomerListPage> none = customers().Search(TestActor(), "phone", "13700000000", {}, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
}

TEST_F(CustomerServiceTest, SearchRefusesFieldsWithoutABlindIndex) {
  Result<CustomerListPage> page = customers().Search(TestActor(), "address", "北京", {}, {});
  EXPECT_EQ(page.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(CustomerServiceTest, ListPagesThroughEveryCustomerOnce) {
  std::set<std::string> created;
  for (int i = 0; i < 7; ++i) created.insert(CreateOk({{"name", "赵六"}}).id);
  std::set<std::string> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    Result<CustomerListPage> page = customers().List(TestActor(), "", cursor, 3);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const CustomerView& v : page->items) EXPECT_TRUE(seen.insert(v.id).second);
    cursor = page->next_cursor;
    ++pages;
  } while (cursor && pages < 10);
  EXPECT_EQ(seen, created);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(customers().List(TestActor(), "", {}, 100000).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(customers().List(TestActor(), "nocolon", {}, {}).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(CustomerServiceTest, UpdateRevalidatesReencryptsAndMovesTheIndex) {
  const CustomerView zhang = CreateOk(kZhangSan);
  Result<CustomerView> updated = customers().Update(
      TestActor(), zhang.id, {{"phone", "13987654321"}, {"email", std::nullopt}});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->fields.at("phone"), "139****4321");
  EXPECT_EQ(updated->fields.count("email"), 0u);
  EXPECT_TRUE(customers().Search(TestActor(), "phone", "13812345678", {}, {})->items.empty());
  EXPECT_EQ(customers().Search(TestActor(), "phone", "13987654321", {}, {})->items.size(), 1u);
  EXPECT_TRUE(
      customers().Search(TestActor(), "email", "zhangsan@example.com", {}, {})->items.empty());
}

TEST_F(CustomerServiceTest, AnInvalidUpdateChangesNothing) {  // R-CAT-4
  const CustomerView zhang = CreateOk(kZhangSan);
  Result<CustomerView> updated = customers().Update(
      TestActor(), zhang.id, {{"phone", "999"}, {"name", std::nullopt}, {"address", "上海市"}});
  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.status().code(), ErrorCode::kValidationFailed);
  EXPECT_EQ(updated.status().details().size(), 2u);  // phone format, name required
  EXPECT_EQ(customers().Get(TestActor(), zhang.id)->fields, zhang.fields);
}

TEST_F(CustomerServiceTest, DeleteShredsTheCustomer) {  // R-CRY-5
  const CustomerView zhang = CreateOk(kZhangSan);
  ASSERT_TRUE(customers().Delete(TestActor(), zhang.id).ok());
  EXPECT_EQ(customers().Get(TestActor(), zhang.id).status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(customers().Search(TestActor(), "phone", "13812345678", {}, {})->items.empty());
  EXPECT_EQ(customers().Delete(TestActor(), zhang.id).code(), ErrorCode::kNotFound);
}

TEST_F(CustomerServiceTest, TheDatabaseHoldsNoPlaintext) {  // R-CRY-1
  CreateOk(kZhangSan);
  CreateOk(
      {{"name", "欧阳娜娜"}, {"phone", "13700001234"}, {"address", "上海市浦东新区世纪大道100号"}});
  const std::string raw = RawDatabaseBytes();
  ASSERT_GT(raw.size(), 4096u);
  for (const char* plain :
       {"张三", "11010519491231002X", "13812345678", "建国路88号", "6222021234567890128",
        "zhangsan@example.com", "欧阳娜娜", "13700001234", "世纪大道"}) {
    EXPECT_EQ(raw.find(plain), std::string::npos) << "plaintext found in the database";
  }
}

TEST_F(CustomerServiceTest, CiphertextMovedToAnotherCustomerOrFieldDoesNotDecrypt) {  // R-CRY-1
  const CustomerView a = CreateOk(kZhangSan);
  const CustomerView b = CreateOk({{"name", "李四"}, {"phone", "13900001111"}});
  store::Store& store = vault_->store();
  const store::CustomerRecord record_a = store.GetCustomer(a.id).value();
  // A's phone ciphertext copied into B's phone.
  store::CustomerUpdate moved;
  moved.id = b.id;
  moved.set_fields["phone"] = record_a.fields.at("phone");
  ASSERT_TRUE(store.UpdateCustomer(moved).ok());
  EXPECT_EQ(customers().Get(TestActor(), b.id).status().code(), ErrorCode::kDataLoss);
  // A's phone ciphertext copied into A's email.
  store::CustomerUpdate swapped;
  swapped.id = a.id;
  swapped.set_fields["email"] = record_a.fields.at("phone");
  ASSERT_TRUE(store.UpdateCustomer(swapped).ok());
  EXPECT_EQ(customers().Get(TestActor(), a.id).status().code(), ErrorCode::kDataLoss);
}

TEST_F(CustomerServiceTest, ImportWritesValidRowsAndNamesEveryBadOne) {  // R-PIPL-4
  std::vector<std::map<std::string, std::string>> rows;
  for (int i = 0; i < 25; ++i) rows.push_back({{"name", "孙七"}, {"phone", "13800000000"}});
  rows[3]["phone"] = "1";
  rows[17]["id_number"] = "11010519491331002X";
  Result<ImportOutcome> outcome =
      customers().Import(TestActor(), rows, ImportOptions{.batch_size = 10});
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->imported, 23);
  ASSERT_EQ(outcome->refused.size(), 2u);
  EXPECT_EQ(outcome->refused.at(3).details().at(0).field, "phone");
  EXPECT_EQ(outcome->refused.at(17).details().at(0).field, "id_number");
  EXPECT_EQ(vault_->store().CountCustomers().value(), 23);
}

TEST_F(CustomerServiceTest, AnEcommerceDeploymentRefusesHealthRecords) {  // R-CAT-3
  OpenVault({{"CUSTVAULT_CATALOG_INDUSTRY", "ecommerce"}});
  Result<CustomerView> view =
      customers().Create(TestActor(), {{"name", "张三"}, {"health_record", "高血压"}});
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().details().at(0),
            (FieldError{"health_record", "not_collected_in_industry"}));
}

TEST_F(CustomerServiceTest, AMedicalDeploymentStoresHealthRecordsButNeverShowsThem) {
  OpenVault({{"CUSTVAULT_CATALOG_INDUSTRY", "medical"}});
  const CustomerView view = CreateOk({{"name", "张三"}, {"health_record", "高血压"}});
  EXPECT_EQ(view.fields.count("health_record"), 0u);
  EXPECT_EQ(vault_->store().GetCustomer(view.id)->fields.count("health_record"), 1u);
}

TEST_F(CustomerServiceTest, TheGmProfileRoundTripsWithSm4Everywhere) {  // R-CRY-1a
  OpenVault({{"CUSTVAULT_CRYPTO_PROFILE", "gm"}});
  const CustomerView view = CreateOk(kZhangSan);
  EXPECT_EQ(view.fields.at("name"), "张某");
  const store::CustomerRecord record = vault_->store().GetCustomer(view.id).value();
  for (const auto& [field, stored] : record.fields) {
    ASSERT_GT(stored.size(), 2u) << field;
    EXPECT_EQ(static_cast<uint8_t>(stored[1]), 2) << field << " is not SM4-GCM";
  }
}

TEST_F(CustomerServiceTest, AnEntryClerkSeesOnlyBasicFieldsMasked) {  // R-ACC-1, R-MASK-1
  const CustomerView created = CreateOk(kZhangSan);
  Result<CustomerView> seen = customers().Get(ActorWith(Role::kEntryClerk), created.id);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->fields.at("name"), "张某");
  EXPECT_EQ(seen->fields.at("phone"), "138****5678");
  EXPECT_EQ(seen->fields.count("bank_account"), 0u);
  EXPECT_EQ(seen->fields.count("credit_rating"), 0u);
}

TEST_F(CustomerServiceTest, AnEntryClerkMayNotSupplySensitiveFields) {  // R-ACC-1
  Result<CustomerView> view = customers().Create(
      ActorWith(Role::kEntryClerk), {{"name", "张三"}, {"bank_account", "6222021234567890128"}});
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(view.status().details().at(0), (FieldError{"bank_account", "not_allowed"}));
  EXPECT_EQ(vault_->store().CountCustomers().value(), 0);
  EXPECT_FALSE(AuditEntries("access.denied").empty());
}

TEST_F(CustomerServiceTest, RolesWithoutCustomerAccessAreRefusedAndAudited) {  // R-ACC-2
  const CustomerView created = CreateOk(kZhangSan);
  for (Role role : {Role::kAuditor, Role::kSysAdmin, Role::kSecurityOfficer}) {
    Result<CustomerView> seen = customers().Get(ActorWith(role), created.id);
    ASSERT_FALSE(seen.ok()) << RoleName(role);
    EXPECT_EQ(seen.status().code(), ErrorCode::kPermissionDenied) << RoleName(role);
  }
  EXPECT_GE(AuditEntries("access.denied").size(), 3u);
}

// R-ACC-1, R-APR-1: an information manager's sensitive edit is filed for a
// department head's approval (202 at the API), not applied; it applies once
// approved. (Before approvals existed it was refused as approval_required.)
TEST_F(CustomerServiceTest, SensitiveEditsByAnInformationManagerNeedApproval) {
  const CustomerView created = CreateOk(kZhangSan);
  Result<CustomerView> updated =
      customers().Update(TestActor(), created.id, {{"bank_account", "6228480012345671"}});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  ASSERT_FALSE(updated->pending_approval_id.empty());
  EXPECT_EQ(updated->fields, created.fields);  // the customer as it still is
  EXPECT_EQ(customers().Get(TestActor(), created.id)->fields, created.fields);
  Result<ApprovalView> approved = vault_->approvals().Decide(
      ActorWith(Role::kDeptHead), updated->pending_approval_id, {true, {}, "checked"});
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->status, "approved");
  const CustomerView after = customers().Get(TestActor(), created.id).value();
  EXPECT_NE(after.fields.at("bank_account"), created.fields.at("bank_account"));
  EXPECT_EQ(after.fields.at("phone"), created.fields.at("phone"));
}

TEST_F(CustomerServiceTest, RevealNeedsAReasonAndShowsPlaintextOnce) {  // R-MASK-1
  const CustomerView created = CreateOk(kZhangSan);
  Result<RevealedFields> no_reason = customers().Reveal(TestActor(), created.id, {"phone"}, "  ");
  ASSERT_FALSE(no_reason.ok());
  EXPECT_EQ(no_reason.status().details().at(0), (FieldError{"reason", "required"}));
  Result<RevealedFields> revealed = customers().Reveal(
      TestActor(), created.id, {"phone", "id_number"}, "customer called to confirm identity");
  ASSERT_TRUE(revealed.ok()) << revealed.status().ToString();
  EXPECT_EQ(revealed->fields.at("phone").view(), "13812345678");
  EXPECT_EQ(revealed->fields.at("id_number").view(), "11010519491231002X");
  const std::vector<store::AuditEntryRow> entries = AuditEntries("customer.reveal");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].customer_id, created.id);
  EXPECT_NE(entries[0].details.find("customer called"), std::string::npos);
  EXPECT_EQ(entries[0].details.find("13812345678"), std::string::npos);
  Result<RevealedFields> clerk =
      customers().Reveal(ActorWith(Role::kEntryClerk), created.id, {"phone"}, "curious");
  EXPECT_EQ(clerk.status().code(), ErrorCode::kPermissionDenied);
}

TEST_F(CustomerServiceTest, RevealsAreRateLimitedPerAccount) {  // R-ACC-4 (issue 3 item 5)
  OpenVault({{"CUSTVAULT_AUTH_REVEAL_PER_HOUR_MAX", "2"}});
  const CustomerView created = CreateOk(kZhangSan);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(customers().Reveal(TestActor(), created.id, {"phone"}, "call back").ok());
  }
  EXPECT_EQ(customers().Reveal(TestActor(), created.id, {"phone"}, "call back").status().code(),
            ErrorCode::kRateLimited);
}

TEST_F(CustomerServiceTest, EveryCustomerOperationLeavesAMaskedAuditEntry) {  // R-AUD-1
  const CustomerView created = CreateOk(kZhangSan);
  ASSERT_TRUE(customers().Get(TestActor(), created.id).ok());
  ASSERT_TRUE(customers().Search(TestActor(), "phone", "13812345678", {}, {}).ok());
  ASSERT_TRUE(customers().List(TestActor(), "", {}, {}).ok());
  ASSERT_TRUE(customers().Update(TestActor(), created.id, {{"phone", "13987654321"}}).ok());
  ASSERT_TRUE(customers().Delete(TestActor(), created.id).ok());
  for (const char* op : {"customer.create", "customer.view", "customer.search", "customer.list",
                         "customer.update", "customer.delete"}) {
    const std::vector<store::AuditEntryRow> entries = AuditEntries(op);
    ASSERT_FALSE(entries.empty()) << op;
    EXPECT_EQ(entries[0].actor_id, TestActor().id) << op;
    EXPECT_EQ(entries[0].actor_role, "info_manager") << op;
    for (const char* plain : {"13812345678", "13987654321", "11010519491231002X", "张三"}) {
      EXPECT_EQ(entries[0].details.find(plain), std::string::npos) << op;
    }
  }
  const std::string update = AuditEntries("customer.update")[0].details;
  EXPECT_NE(update.find("138****5678"), std::string::npos) << update;
  EXPECT_NE(update.find("139****4321"), std::string::npos) << update;
  Result<audit::VerifyReport> report = vault_->audit().Verify(ActorWith(Role::kAuditor));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->intact()) << report->detail;
  EXPECT_GE(report->entries_checked, 6);
}

}  // namespace
}  // namespace custvault::service
