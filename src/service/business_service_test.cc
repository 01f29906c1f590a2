// BusinessService (R-TAG-2): the policy per role, validation all at once,
// summaries sealed at rest and shown per role, complaint closing, the
// records-changed hook, and the audit entries.
#include "service/business_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>

#include "service/test_vault.h"

namespace custvault::service {
namespace {

constexpr int64_t kMinute = 60'000'000;
// A summary with personal data in it, to look for in the database files.
const std::string kSecretSummary = "王五来电投诉：快递地址被泄露给第三方，电话13900001234";

std::string Rfc3339(int64_t us) { return FormatRfc3339(us); }

std::set<std::string> FieldsOf(const Status& status) {
  std::set<std::string> fields;
  for (const FieldError& e : status.details()) fields.insert(e.field + ":" + e.reason);
  return fields;
}

class BusinessServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::map<std::string, std::string> environment = FastAuthEnvironment();
    dir_ = std::make_unique<TestDataDir>(environment);
    Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), dir_->path(), environment);
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    staff_ = std::make_unique<TestStaff>(vault_->accounts(), *dir_);
    manager_ = ActorWith(Role::kInfoManager);
    Result<CustomerView> customer = vault_->customers().Create(manager_, {{"name", "张三"}});
    ASSERT_TRUE(customer.ok()) << customer.status().ToString();
    customer_id_ = customer->id;
  }

  Actor ActorWith(Role role) {
    Result<Actor> actor = staff_->ActorFor(role);
    EXPECT_TRUE(actor.ok()) << actor.status().ToString();
    return actor.ok() ? *actor : Actor{};
  }

  Actor ChannelActor() {
    Result<RegisteredChannel> registered =
        vault_->accounts().RegisterChannel(ActorWith(Role::kSysAdmin), "pos-system");
    EXPECT_TRUE(registered.ok()) << registered.status().ToString();
    Result<Actor> actor = vault_->accounts().AuthenticateChannel(registered->api_key, "10.1.2.3");
    EXPECT_TRUE(actor.ok()) << actor.status().ToString();
    return actor.ok() ? *actor : Actor{};
  }

  BusinessService& business() { return vault_->business(); }
  int64_t Now() const { return Env::Default()->NowMicros(); }

  NewTransaction Purchase(int64_t amount_fen, std::string reference = "") {
    NewTransaction t;
    t.amount_fen = amount_fen;
    t.occurred_at = Rfc3339(Now() - 10 * kMinute);
    t.channel = "store:SH-001";
    t.reference = std::move(reference);
    return t;
  }
  NewComplaint OpenComplaint(const std::string& summary = kSecretSummary) {
    NewComplaint c;
    c.opened_at = Rfc3339(Now() - 60 * kMinute);
    c.summary = summary;
    return c;
  }
  NewCooperation Distributor() {
    NewCooperation c;
    c.started_at = "2025-03-01T00:00:00+08:00";
    c.ended_at = "2027-02-28T00:00:00+08:00";  // a planned end may lie ahead
    c.kind = "distributor";
    c.summary = "华东区经销协议，联系人李四";
    return c;
  }

  // Audit entries with this operation, oldest first.
  std::vector<store::AuditEntryRow> AuditEntries(std::string_view operation) {
    AuditSearch search;
    search.operation = std::string(operation);
    search.limit = 500;
    Result<AuditEntryPage> page = vault_->audit().Search(ActorWith(Role::kAuditor), search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEntryRow>{};
  }

  // Every byte of the data directory's files, after everything is closed.
  std::string RawDataDirectoryBytes() {
    staff_.reset();
    vault_.reset();
    std::string all;
    for (const auto& entry : std::filesystem::directory_iterator(dir_->path())) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }

  std::unique_ptr<TestDataDir> dir_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
  Actor manager_;
  std::string customer_id_;
};

TEST_F(BusinessServiceTest, AnInformationManagerAddsAndListsEachKind) {  // R-TAG-2
  Result<TransactionView> purchase =
      business().AddTransaction(manager_, customer_id_, Purchase(1'999'900, "R-1001"));
  ASSERT_TRUE(purchase.ok()) << purchase.status().ToString();
  EXPECT_TRUE(ParseTransactionId(purchase->id).has_value()) << purchase->id;
  EXPECT_EQ(purchase->amount_fen, 1'999'900);
  EXPECT_EQ(purchase->created_by, "staff:" + manager_.id);
  NewTransaction refund = Purchase(-500);
  refund.occurred_at = Rfc3339(Now() - kMinute);
  ASSERT_TRUE(business().AddTransaction(manager_, customer_id_, refund).ok());

  Result<ComplaintView> complaint =
      business().AddComplaint(manager_, customer_id_, OpenComplaint());
  ASSERT_TRUE(complaint.ok()) << complaint.status().ToString();
  EXPECT_EQ(complaint->status, "open");
  EXPECT_EQ(complaint->summary, kSecretSummary);
  EXPECT_EQ(complaint->summary_shown, SummaryShown::kFull);
  EXPECT_EQ(complaint->id.substr(0, 2), "CM");
  EXPECT_EQ(complaint->id.size(), 18u);

  Result<CooperationView> cooperation =
      business().AddCooperation(manager_, customer_id_, Distributor());
  ASSERT_TRUE(cooperation.ok()) << cooperation.status().ToString();
  EXPECT_EQ(cooperation->kind, "distributor");
  EXPECT_EQ(cooperation->started_at_us, 1'740'758'400'000'000);  // 2025-02-28T16:00:00Z

  Result<BusinessListPage<TransactionView>> transactions =
      business().ListTransactions(manager_, customer_id_, std::nullopt, std::nullopt);
  ASSERT_TRUE(transactions.ok()) << transactions.status().ToString();
  ASSERT_EQ(transactions->items.size(), 2u);
  EXPECT_EQ(transactions->items[0].amount_fen, -500);  // newest first
  EXPECT_EQ(transactions->items[1].reference, "R-1001");

  Result<BusinessListPage<ComplaintView>> complaints =
      business().ListComplaints(manager_, customer_id_, std::nullopt, std::nullopt);
  ASSERT_TRUE(complaints.ok());
  ASSERT_EQ(complaints->items.size(), 1u);
  EXPECT_EQ(complaints->items[0].summary, kSecretSummary);

  Result<BusinessListPage<CooperationView>> cooperations =
      business().ListCooperation(manager_, customer_id_, std::nullopt, 1);
  ASSERT_TRUE(cooperations.ok());
  ASSERT_EQ(cooperations->items.size(), 1u);
  EXPECT_EQ(cooperations->items[0].summary, "华东区经销协议，联系人李四");
  EXPECT_FALSE(cooperations->next_cursor);

  // What the tag rules will read.
  Result<store::BusinessTotals> totals = vault_->business_store().TotalsFor(customer_id_, 0);
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(*totals, (store::BusinessTotals{1'999'400, 1, 1, 1}));
}

TEST_F(BusinessServiceTest, ADepartmentHeadListsWithMaskedSummariesButMayNotAdd) {  // R-ACC-2
  ASSERT_TRUE(business().AddComplaint(manager_, customer_id_, OpenComplaint()).ok());
  ASSERT_TRUE(business().AddComplaint(manager_, customer_id_, OpenComplaint("王五投诉")).ok());
  const Actor head = ActorWith(Role::kDeptHead);
  Result<BusinessListPage<ComplaintView>> complaints =
      business().ListComplaints(head, customer_id_, std::nullopt, std::nullopt);
  ASSERT_TRUE(complaints.ok()) << complaints.status().ToString();
  ASSERT_EQ(complaints->items.size(), 2u);
  std::set<std::string> shown;
  for (const ComplaintView& c : complaints->items) {
    EXPECT_EQ(c.summary_shown, SummaryShown::kMasked);
    ASSERT_TRUE(c.summary.has_value());
    shown.insert(*c.summary);
  }
  EXPECT_EQ(shown, (std::set<std::string>{"王五…", "…"}));
  EXPECT_EQ(business().AddTransaction(head, customer_id_, Purchase(100)).status().code(),
            ErrorCode::kPermissionDenied);
  const std::vector<store::AuditEntryRow> lists = AuditEntries(audit::op::kBusinessList);
  ASSERT_FALSE(lists.empty());
  EXPECT_NE(lists.back().details.find("\"summaries\":\"masked\""), std::string::npos)
      << lists.back().details;
}

TEST_F(BusinessServiceTest, RolesWithoutBusinessAccessAreRefusedAndAudited) {  // R-ACC-2
  for (Role role : {Role::kEntryClerk, Role::kAuditor, Role::kSysAdmin, Role::kSecurityOfficer}) {
    const Actor actor = ActorWith(role);
    const size_t denied_before = AuditEntries(audit::op::kAccessDenied).size();
    EXPECT_EQ(business().AddTransaction(actor, customer_id_, Purchase(100)).status().code(),
              ErrorCode::kPermissionDenied);
    EXPECT_EQ(business().AddComplaint(actor, customer_id_, OpenComplaint()).status().code(),
              ErrorCode::kPermissionDenied);
    EXPECT_EQ(business().AddCooperation(actor, customer_id_, Distributor()).status().code(),
              ErrorCode::kPermissionDenied);
    EXPECT_EQ(
        business().CloseComplaint(actor, customer_id_, "CM0000000000000000", "").status().code(),
        ErrorCode::kPermissionDenied);
    EXPECT_EQ(business()
                  .ListTransactions(actor, customer_id_, std::nullopt, std::nullopt)
                  .status()
                  .code(),
              ErrorCode::kPermissionDenied);
    EXPECT_EQ(
        business().ListComplaints(actor, customer_id_, std::nullopt, std::nullopt).status().code(),
        ErrorCode::kPermissionDenied);
    EXPECT_EQ(
        business().ListCooperation(actor, customer_id_, std::nullopt, std::nullopt).status().code(),
        ErrorCode::kPermissionDenied);
    const std::vector<store::AuditEntryRow> denied = AuditEntries(audit::op::kAccessDenied);
    ASSERT_EQ(denied.size(), denied_before + 7) << RoleName(role);
    EXPECT_EQ(denied.back().actor_id, actor.id);
    EXPECT_NE(denied.back().details.find("business.read"), std::string::npos)
        << denied.back().details;
    EXPECT_NE(denied[denied_before].details.find("business.write"), std::string::npos)
        << denied[denied_before].details;
  }
  EXPECT_EQ(vault_->business_store().TotalsFor(customer_id_, 0)->order_count, 0);
}

TEST_F(BusinessServiceTest, AChannelMayAddButNotListAndNeverSeesSummaries) {  // R-ACC-2
  const Actor channel = ChannelActor();
  // Issue 11.4: only for a customer the channel created itself.
  Result<CustomerView> own = vault_->customers().Create(channel, {{"name", "王五"}});
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  customer_id_ = own->id;
  Result<TransactionView> added = business().AddTransaction(channel, customer_id_, Purchase(100));
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->created_by, "channel:pos-system");
  Result<ComplaintView> complaint = business().AddComplaint(channel, customer_id_, OpenComplaint());
  ASSERT_TRUE(complaint.ok()) << complaint.status().ToString();
  EXPECT_FALSE(complaint->summary.has_value());
  EXPECT_EQ(complaint->summary_shown, SummaryShown::kHidden);
  EXPECT_EQ(business()
                .ListTransactions(channel, customer_id_, std::nullopt, std::nullopt)
                .status()
                .code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(
      business().ListComplaints(channel, customer_id_, std::nullopt, std::nullopt).status().code(),
      ErrorCode::kPermissionDenied);
  // The manager sees what the channel wrote.
  Result<BusinessListPage<ComplaintView>> complaints =
      business().ListComplaints(manager_, customer_id_, std::nullopt, std::nullopt);
  ASSERT_TRUE(complaints.ok());
  ASSERT_EQ(complaints->items.size(), 1u);
  EXPECT_EQ(complaints->items[0].summary, kSecretSummary);
}

// Issue 11.4: a channel writes business records (transactions, complaints,
// cooperation, closing a complaint) only for customers it created; for a
// staff-created customer or another channel's, the answer is exactly the
// one for an id that does not exist.
TEST_F(BusinessServiceTest, R_ACC_2_AChannelWritesOnlyForItsOwnCustomersAndCannotProbeOthers) {
  const Actor channel = ChannelActor();
  Result<RegisteredChannel> other_key =
      vault_->accounts().RegisterChannel(ActorWith(Role::kSysAdmin), "web-form");
  ASSERT_TRUE(other_key.ok());
  const Actor other = *vault_->accounts().AuthenticateChannel(other_key->api_key, "10.1.2.4");
  Result<CustomerView> own = vault_->customers().Create(channel, {{"name", "王五"}});
  Result<CustomerView> others = vault_->customers().Create(other, {{"name", "赵六"}});
  ASSERT_TRUE(own.ok() && others.ok());
  Result<ComplaintView> staff_complaint =
      business().AddComplaint(manager_, customer_id_, OpenComplaint());
  Result<ComplaintView> own_complaint = business().AddComplaint(channel, own->id, OpenComplaint());
  ASSERT_TRUE(staff_complaint.ok() && own_complaint.ok());

  const std::string missing = "c_does_not_exist_0000000000";
  for (const std::string& id : {customer_id_, others->id, missing}) {
    const Status transaction = business().AddTransaction(channel, id, Purchase(100)).status();
    const Status complaint = business().AddComplaint(channel, id, OpenComplaint()).status();
    const Status cooperation = business().AddCooperation(channel, id, Distributor()).status();
    const std::string complaint_id = id == customer_id_ ? staff_complaint->id : "x_1";
    const Status close = business().CloseComplaint(channel, id, complaint_id, "").status();
    for (const Status& s : {transaction, complaint, cooperation, close}) {
      EXPECT_EQ(s.code(), ErrorCode::kNotFound) << id << " " << s.ToString();
      EXPECT_EQ(s.message(), "customer does not exist") << id;
    }
  }
  // Its own customer: every write, closing its complaint included.
  EXPECT_TRUE(business().AddTransaction(channel, own->id, Purchase(100)).ok());
  EXPECT_TRUE(business().AddCooperation(channel, own->id, Distributor()).ok());
  EXPECT_TRUE(business().CloseComplaint(channel, own->id, own_complaint->id, "").ok());
  // Staff are not limited by who created the customer.
  EXPECT_TRUE(business().AddTransaction(manager_, own->id, Purchase(100)).ok());
}

TEST_F(BusinessServiceTest, EveryInvalidFieldIsNamedAtOnce) {  // R-TAG-2, R-CAT-4
  NewTransaction bad;
  bad.amount_fen = 0;
  bad.occurred_at = Rfc3339(Now() + 6 * kMinute);
  bad.channel = "store SH 001";  // a space
  bad.reference = std::string(65, 'r');
  Result<TransactionView> refused = business().AddTransaction(manager_, customer_id_, bad);
  ASSERT_EQ(refused.status().code(), ErrorCode::kValidationFailed);
  EXPECT_EQ(FieldsOf(refused.status()),
            (std::set<std::string>{"amount_fen:zero", "occurred_at:in_future", "channel:format",
                                   "reference:too_long"}));

  NewTransaction missing;
  missing.decode_errors = {{"amount_fen", "type"}};
  refused = business().AddTransaction(manager_, customer_id_, missing);
  EXPECT_EQ(FieldsOf(refused.status()),
            (std::set<std::string>{"amount_fen:type", "occurred_at:required", "channel:required"}));
  NewTransaction huge = Purchase(10'000'000'000'001);
  huge.occurred_at = "1969-12-31T23:59:59Z";
  EXPECT_EQ(FieldsOf(business().AddTransaction(manager_, customer_id_, huge).status()),
            (std::set<std::string>{"amount_fen:out_of_range", "occurred_at:before_1970"}));
  NewTransaction not_a_time = Purchase(1);
  not_a_time.occurred_at = "2026-02-30T00:00:00Z";
  EXPECT_EQ(FieldsOf(business().AddTransaction(manager_, customer_id_, not_a_time).status()),
            (std::set<std::string>{"occurred_at:format"}));
  // Four minutes ahead is clock skew, accepted; the largest amounts are too.
  NewTransaction skewed = Purchase(-10'000'000'000'000);
  skewed.occurred_at = Rfc3339(Now() + 4 * kMinute);
  EXPECT_TRUE(business().AddTransaction(manager_, customer_id_, skewed).ok());

  NewComplaint complaint;
  complaint.status = "closed";
  complaint.summary = "  ";
  EXPECT_EQ(
      FieldsOf(business().AddComplaint(manager_, customer_id_, complaint).status()),
      (std::set<std::string>{"opened_at:required", "closed_at:required", "summary:required"}));
  complaint = OpenComplaint(std::string(2001, 'x'));
  complaint.closed_at = Rfc3339(Now() - 2 * 60 * kMinute);  // before it was opened
  complaint.status = "open";
  EXPECT_EQ(FieldsOf(business().AddComplaint(manager_, customer_id_, complaint).status()),
            (std::set<std::string>{"closed_at:before_opened_at", "status:conflicts_with_closed_at",
                                   "summary:too_long"}));
  complaint = OpenComplaint(std::string("\xff\xfe", 2));
  EXPECT_EQ(FieldsOf(business().AddComplaint(manager_, customer_id_, complaint).status()),
            (std::set<std::string>{"summary:encoding"}));

  NewCooperation cooperation = Distributor();
  cooperation.ended_at = "2024-01-01T00:00:00Z";
  cooperation.kind = "经销";  // kinds are ASCII codes
  EXPECT_EQ(FieldsOf(business().AddCooperation(manager_, customer_id_, cooperation).status()),
            (std::set<std::string>{"ended_at:before_started_at", "kind:format"}));

  // Nothing was written, and no error message carries a value.
  EXPECT_EQ(*vault_->business_store().TotalsFor(customer_id_, 0),
            (store::BusinessTotals{-10'000'000'000'000, 0, 0, 0}));
  EXPECT_EQ(refused.status().ToString().find("13900001234"), std::string::npos);
}

TEST_F(BusinessServiceTest, AnUnknownCustomerIsNotFoundAndTheProbeIsAudited) {
  const std::string missing = "C20000101000000";
  EXPECT_EQ(business().AddTransaction(manager_, missing, Purchase(1)).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(business().AddComplaint(manager_, missing, OpenComplaint()).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(
      business().ListCooperation(manager_, missing, std::nullopt, std::nullopt).status().code(),
      ErrorCode::kNotFound);
  const std::vector<store::AuditEntryRow> adds = AuditEntries(audit::op::kBusinessAdd);
  ASSERT_EQ(adds.size(), 2u);
  EXPECT_EQ(adds[0].result, audit::result::kFailed);
  EXPECT_EQ(adds[0].customer_id, missing);
}

TEST_F(BusinessServiceTest, AComplaintIsClosedOnceNotBeforeItWasOpened) {
  Result<ComplaintView> complaint =
      business().AddComplaint(manager_, customer_id_, OpenComplaint());
  ASSERT_TRUE(complaint.ok());
  const std::string too_early = Rfc3339(complaint->opened_at_us - 1);
  EXPECT_EQ(
      FieldsOf(
          business().CloseComplaint(manager_, customer_id_, complaint->id, too_early).status()),
      (std::set<std::string>{"closed_at:before_opened_at"}));
  EXPECT_EQ(
      business().CloseComplaint(manager_, "C20000101000000", complaint->id, "").status().code(),
      ErrorCode::kNotFound);
  Result<CustomerView> other = vault_->customers().Create(manager_, {{"name", "李四"}});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(business().CloseComplaint(manager_, other->id, complaint->id, "").status().code(),
            ErrorCode::kNotFound);

  Result<ComplaintView> closed =
      business().CloseComplaint(manager_, customer_id_, complaint->id, "");
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_EQ(closed->status, "closed");
  ASSERT_TRUE(closed->closed_at_us.has_value());
  EXPECT_LE(*closed->closed_at_us, Now());
  EXPECT_EQ(closed->closed_by, "staff:" + manager_.id);
  EXPECT_EQ(closed->summary, kSecretSummary);
  EXPECT_EQ(business().CloseComplaint(manager_, customer_id_, complaint->id, "").status().code(),
            ErrorCode::kConflict);
  EXPECT_EQ(*vault_->business_store().TotalsFor(customer_id_, 0),
            (store::BusinessTotals{0, 0, 0, 1}));

  // Added already closed.
  NewComplaint settled = OpenComplaint();
  settled.closed_at = Rfc3339(Now() - kMinute);
  Result<ComplaintView> added = business().AddComplaint(manager_, customer_id_, settled);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->status, "closed");
  EXPECT_EQ(added->closed_by, "staff:" + manager_.id);
}

TEST_F(BusinessServiceTest, TheHookHearsOfEveryChangeAndCannotFailTheCall) {
  std::vector<std::string> heard;
  business().SetRecordsChangedHook([&heard](const std::string& id) { heard.push_back(id); });
  ASSERT_TRUE(business().AddTransaction(manager_, customer_id_, Purchase(100)).ok());
  Result<ComplaintView> complaint =
      business().AddComplaint(manager_, customer_id_, OpenComplaint());
  ASSERT_TRUE(complaint.ok());
  ASSERT_TRUE(business().CloseComplaint(manager_, customer_id_, complaint->id, "").ok());
  ASSERT_TRUE(business().AddCooperation(manager_, customer_id_, Distributor()).ok());
  // Refusals and reads are not changes.
  EXPECT_FALSE(business().AddTransaction(manager_, customer_id_, Purchase(0)).ok());
  ASSERT_TRUE(business().ListTransactions(manager_, customer_id_, std::nullopt, std::nullopt).ok());
  EXPECT_EQ(heard, std::vector<std::string>(4, customer_id_));

  business().SetRecordsChangedHook(
      [](const std::string&) { throw std::runtime_error("tag recomputation failed"); });
  EXPECT_TRUE(business().AddTransaction(manager_, customer_id_, Purchase(200)).ok());
  business().SetRecordsChangedHook(nullptr);
  EXPECT_TRUE(business().AddTransaction(manager_, customer_id_, Purchase(300)).ok());
}

TEST_F(BusinessServiceTest, AuditEntriesNameKindAndIdButNeverAmountsOrSummaries) {  // R-AUD-1
  Result<TransactionView> purchase =
      business().AddTransaction(manager_, customer_id_, Purchase(7'654'321));
  ASSERT_TRUE(purchase.ok());
  Result<ComplaintView> complaint =
      business().AddComplaint(manager_, customer_id_, OpenComplaint());
  ASSERT_TRUE(complaint.ok());
  ASSERT_TRUE(business().ListComplaints(manager_, customer_id_, std::nullopt, std::nullopt).ok());
  const std::vector<store::AuditEntryRow> adds = AuditEntries(audit::op::kBusinessAdd);
  ASSERT_EQ(adds.size(), 2u);
  EXPECT_EQ(adds[0].customer_id, customer_id_);
  EXPECT_NE(adds[0].details.find("\"kind\":\"transaction\""), std::string::npos);
  EXPECT_NE(adds[0].details.find(purchase->id), std::string::npos);
  EXPECT_EQ(adds[0].details.find("7654321"), std::string::npos);
  EXPECT_NE(adds[1].details.find(complaint->id), std::string::npos);
  const std::vector<store::AuditEntryRow> lists = AuditEntries(audit::op::kBusinessList);
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_NE(lists[0].details.find("\"records\":1"), std::string::npos) << lists[0].details;
  EXPECT_NE(lists[0].details.find("\"summaries\":\"full\""), std::string::npos);
  for (const auto& entry : adds) EXPECT_EQ(entry.details.find("投诉"), std::string::npos);
  for (const auto& entry : lists) EXPECT_EQ(entry.details.find("投诉"), std::string::npos);
}

// The summary is sealed with the customer's key: neither the database, nor
// its WAL, nor the audit log holds its plaintext.
TEST_F(BusinessServiceTest, SummariesAreEncryptedAtRest) {  // R-CRY-1, R-TAG-2
  ASSERT_TRUE(business().AddComplaint(manager_, customer_id_, OpenComplaint()).ok());
  NewCooperation cooperation = Distributor();
  cooperation.summary = kSecretSummary;
  ASSERT_TRUE(business().AddCooperation(manager_, customer_id_, cooperation).ok());
  const std::string bytes = RawDataDirectoryBytes();
  ASSERT_GT(bytes.size(), 10'000u);
  EXPECT_EQ(bytes.find(kSecretSummary), std::string::npos);
  EXPECT_EQ(bytes.find("13900001234"), std::string::npos);
  EXPECT_EQ(bytes.find("快递地址"), std::string::npos);
  // The plain columns are there (they are meant to be aggregated in SQL).
  EXPECT_NE(bytes.find("distributor"), std::string::npos);
}

TEST_F(BusinessServiceTest, DeletingTheCustomerShredsItsBusinessRecords) {  // R-CRY-4
  ASSERT_TRUE(business().AddTransaction(manager_, customer_id_, Purchase(100)).ok());
  ASSERT_TRUE(business().AddComplaint(manager_, customer_id_, OpenComplaint()).ok());
  ASSERT_TRUE(vault_->customers().Delete(manager_, customer_id_).ok());
  EXPECT_EQ(*vault_->business_store().TotalsFor(customer_id_, 0), store::BusinessTotals{});
  EXPECT_EQ(
      business().ListComplaints(manager_, customer_id_, std::nullopt, std::nullopt).status().code(),
      ErrorCode::kNotFound);
}

TEST_F(BusinessServiceTest, ListsPageWithCursors) {
  for (int i = 0; i < 5; ++i) {
    NewTransaction t = Purchase(100 + i);
    t.occurred_at = Rfc3339(Now() - (10 + i) * kMinute);
    ASSERT_TRUE(business().AddTransaction(manager_, customer_id_, t).ok());
  }
  std::vector<int64_t> amounts;
  std::optional<std::string> cursor;
  for (int page = 0; page < 5; ++page) {
    Result<BusinessListPage<TransactionView>> got =
        business().ListTransactions(manager_, customer_id_, cursor, 2);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const TransactionView& t : got->items) amounts.push_back(t.amount_fen);
    cursor = got->next_cursor;
    if (!cursor) break;
  }
  EXPECT_EQ(amounts, (std::vector<int64_t>{100, 101, 102, 103, 104}));
  EXPECT_EQ(business().ListTransactions(manager_, customer_id_, std::nullopt, 0).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(business()
                .ListTransactions(manager_, customer_id_, std::string("garbage"), 2)
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
}

TEST(MaskSummaryTest, ShowsTwoCharactersOfALongSummaryAndNothingOfAShortOne) {
  EXPECT_EQ(MaskSummary("客户反映收到的货物破损"), "客户…");
  EXPECT_EQ(MaskSummary("Customer says the parcel was opened"), "Cu…");
  EXPECT_EQ(MaskSummary("张三丰投诉"), "…");  // five characters: nothing shown
  EXPECT_EQ(MaskSummary("abcdef"), "…");
  EXPECT_EQ(MaskSummary("abcdefg"), "ab…");
  EXPECT_EQ(MaskSummary(std::string("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", 8)), "…");
}

TEST(TransactionIdTest, RoundTripsAndRefusesTheRest) {
  EXPECT_EQ(TransactionIdText(42), "TX42");
  EXPECT_EQ(ParseTransactionId("TX42"), 42);
  for (const char* bad :
       {"", "TX", "TX0", "TX042", "TX-1", "tx42", "TX4x", "TX99999999999999999999"}) {
    EXPECT_FALSE(ParseTransactionId(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace custvault::service
