#include "policy/policy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "policy/policy_markdown.h"

namespace custvault::policy {
namespace {

bool IsCustomerOperation(Operation operation) {
  return OperationName(operation).substr(0, 9) == "customer.";
}

// R-ACC-2: the table is complete, so no (role, operation) falls through to
// an accidental default.
TEST(PolicyTest, EveryRoleHasExactlyOneRuleForEveryOperationAndFieldClass) {
  std::set<std::pair<Role, Operation>> seen;
  for (const OperationRule& rule : OperationRules()) {
    EXPECT_TRUE(seen.emplace(rule.role, rule.operation).second);
    EXPECT_EQ(rule.allowed, Allows(rule.role, rule.operation));
  }
  EXPECT_EQ(seen.size(), AllRoles().size() * AllOperations().size());
  std::set<std::pair<Role, FieldClass>> fields;
  for (const FieldRule& rule : FieldRules()) {
    EXPECT_TRUE(fields.emplace(rule.role, rule.field_class).second);
    EXPECT_EQ(rule.read, ReadAccess(rule.role, rule.field_class));
    EXPECT_EQ(rule.edit, EditAccess(rule.role, rule.field_class));
  }
  EXPECT_EQ(fields.size(), AllRoles().size() * AllFieldClasses().size());
}

TEST(PolicyTest, OperationNamesRoundTrip) {
  for (Operation operation : AllOperations()) {
    EXPECT_EQ(ParseOperation(OperationName(operation)), operation);
  }
  EXPECT_FALSE(ParseOperation("customer.everything").has_value());
}

// R-ACC-1: entry clerk creates and edits basic fields, sees them masked,
// nothing else.
TEST(PolicyTest, EntryClerkCreatesAndEditsBasicFieldsAndSeesThemMaskedOnly) {
  const Role clerk = Role::kEntryClerk;
  EXPECT_TRUE(Allows(clerk, Operation::kCustomerCreate));
  EXPECT_TRUE(Allows(clerk, Operation::kCustomerUpdate));
  EXPECT_FALSE(Allows(clerk, Operation::kCustomerReveal));
  EXPECT_FALSE(Allows(clerk, Operation::kCustomerExport));
  EXPECT_FALSE(Allows(clerk, Operation::kCustomerDelete));
  EXPECT_EQ(ReadAccess(clerk, FieldClass::kBasic), FieldRead::kMasked);
  EXPECT_EQ(EditAccess(clerk, FieldClass::kBasic), FieldEdit::kEdit);
  for (FieldClass other : {FieldClass::kSensitive, FieldClass::kBusiness}) {
    EXPECT_EQ(ReadAccess(clerk, other), FieldRead::kNone);
    EXPECT_EQ(EditAccess(clerk, other), FieldEdit::kNone);
  }
  for (Operation operation : AllOperations()) {
    if (!IsCustomerOperation(operation) && operation != Operation::kCatalogRead &&
        operation != Operation::kSessionSelf) {
      EXPECT_FALSE(Allows(clerk, operation)) << OperationName(operation);
    }
  }
}

// R-ACC-1: the information manager sees everything masked, may reveal, and
// edits sensitive fields only through an approval.
TEST(PolicyTest, InformationManagerRevealsAndEditsSensitiveFieldsOnlyWithApproval) {
  const Role manager = Role::kInfoManager;
  EXPECT_TRUE(Allows(manager, Operation::kCustomerReveal));
  for (FieldClass field_class : AllFieldClasses()) {
    EXPECT_EQ(ReadAccess(manager, field_class), FieldRead::kReveal);
  }
  EXPECT_EQ(EditAccess(manager, FieldClass::kBasic), FieldEdit::kEdit);
  EXPECT_EQ(EditAccess(manager, FieldClass::kSensitive), FieldEdit::kEditWithApproval);
  EXPECT_FALSE(Allows(manager, Operation::kApprovalDecide));  // maker, not checker
}

TEST(PolicyTest, DepartmentHeadApprovesAndSeesEveryClassMaskedWithoutEditing) {
  EXPECT_TRUE(Allows(Role::kDeptHead, Operation::kApprovalDecide));
  EXPECT_FALSE(Allows(Role::kDeptHead, Operation::kCustomerReveal));
  for (FieldClass field_class : AllFieldClasses()) {
    EXPECT_EQ(ReadAccess(Role::kDeptHead, field_class), FieldRead::kMasked);
    EXPECT_EQ(EditAccess(Role::kDeptHead, field_class), FieldEdit::kNone);
  }
}

// R-ACC-1: auditor, security officer and system administrator never see
// or change customer data.
TEST(PolicyTest, AdministratorDutiesNeverReachCustomerData) {
  for (Role role : {Role::kAuditor, Role::kSecurityOfficer, Role::kSysAdmin}) {
    EXPECT_TRUE(IsAdminDuty(role));
    for (Operation operation : AllOperations()) {
      if (IsCustomerOperation(operation)) {
        EXPECT_FALSE(Allows(role, operation)) << service::RoleName(role) << " "
                                              << OperationName(operation);
      }
    }
    for (FieldClass field_class : AllFieldClasses()) {
      EXPECT_EQ(ReadAccess(role, field_class), FieldRead::kNone);
      EXPECT_EQ(EditAccess(role, field_class), FieldEdit::kNone);
    }
  }
  for (Role role : {Role::kEntryClerk, Role::kInfoManager, Role::kDeptHead, Role::kChannel}) {
    EXPECT_FALSE(IsAdminDuty(role));
  }
}

TEST(PolicyTest, AuditDataIsForTheAuditorOnly) {
  for (Operation operation : {Operation::kAuditRead, Operation::kAuditExport,
                              Operation::kAuditVerify}) {
    for (Role role : AllRoles()) {
      EXPECT_EQ(Allows(role, operation), role == Role::kAuditor) << service::RoleName(role);
    }
  }
}

// R-ACC-3: grants are requested by the system administrator and approved
// by the security officer, never by the same role.
TEST(PolicyTest, RoleGrantsAreMakerCheckerBetweenSysAdminAndSecurityOfficer) {
  for (Role role : AllRoles()) {
    EXPECT_EQ(Allows(role, Operation::kRoleRequest), role == Role::kSysAdmin);
    EXPECT_EQ(Allows(role, Operation::kRoleApprove), role == Role::kSecurityOfficer);
    EXPECT_FALSE(Allows(role, Operation::kRoleRequest) && Allows(role, Operation::kRoleApprove));
    EXPECT_EQ(Allows(role, Operation::kAccountManage), role == Role::kSysAdmin);
    EXPECT_EQ(Allows(role, Operation::kChannelManage), role == Role::kSysAdmin);
    EXPECT_EQ(Allows(role, Operation::kKeyManage), role == Role::kSecurityOfficer);
  }
}

// A channel system sends customers and their business records (a shop's
// till sends transactions) and reads nothing back.
TEST(PolicyTest, ChannelMayOnlyCreateCustomersAndBusinessRecordsAndReadsNothing) {
  for (Operation operation : AllOperations()) {
    EXPECT_EQ(Allows(Role::kChannel, operation), operation == Operation::kCustomerCreate ||
                                                     operation == Operation::kBusinessWrite)
        << OperationName(operation);
  }
  for (FieldClass field_class : AllFieldClasses()) {
    EXPECT_EQ(ReadAccess(Role::kChannel, field_class), FieldRead::kNone);
  }
  EXPECT_EQ(EditAccess(Role::kChannel, FieldClass::kBasic), FieldEdit::kEdit);
  EXPECT_EQ(EditAccess(Role::kChannel, FieldClass::kSensitive), FieldEdit::kNone);
}

// R-APR-1: every kind of approval has one deciding role, and that role is
// never the one that may ask for it, so no single role both asks and decides.
TEST(PolicyTest, EveryApprovalKindIsDecidedByARoleThatCannotRequestIt) {
  ASSERT_EQ(ApprovalKindRules().size(), 6u);
  for (const ApprovalKindRule& rule : ApprovalKindRules()) {
    EXPECT_TRUE(Allows(rule.approver, Operation::kApprovalDecide)) << rule.name;
    EXPECT_FALSE(Allows(rule.approver, rule.requested_with)) << rule.name;
    EXPECT_EQ(ParseApprovalKind(rule.name), rule.kind);
    EXPECT_EQ(ApprovalKindName(rule.kind), rule.name);
  }
  EXPECT_EQ(ApproverRole(ApprovalKind::kTagBatch), Role::kDeptHead);
  EXPECT_EQ(ApproverRole(ApprovalKind::kSensitiveEdit), Role::kDeptHead);
  EXPECT_EQ(ApproverRole(ApprovalKind::kRoleGrant), Role::kSecurityOfficer);
  EXPECT_EQ(ApproverRole(ApprovalKind::kRestore), Role::kSecurityOfficer);
  EXPECT_FALSE(ParseApprovalKind("restore ").has_value());
}

TEST(PolicyTest, EveryStaffRoleManagesItsOwnSession) {
  for (Role role : AllRoles()) {
    EXPECT_EQ(Allows(role, Operation::kSessionSelf), role != Role::kChannel);
  }
}

// docs/access-control.md is true to the code: its table is the generated one.
TEST(PolicyDocTest, AccessControlDocumentHoldsTheGeneratedTable) {
  const std::string path = std::string(CUSTVAULT_TEST_DATA_DIR) + "/../../docs/access-control.md";
  std::ifstream file(path);
  ASSERT_TRUE(file.good()) << "cannot read " << path;
  std::stringstream text;
  text << file.rdbuf();
  const std::string documented = ExtractGeneratedTable(text.str());
  ASSERT_FALSE(documented.empty()) << "markers missing in " << path;
  EXPECT_EQ(documented, PolicyMarkdownTables())
      << "docs/access-control.md is out of date: paste the output of policy_doc_tool";
}

TEST(PolicyDocTest, ExtractFindsTheTextBetweenTheMarkers) {
  const std::string doc = "intro\n" + std::string(kDocTableBegin) + "\n| a |\n\n" +
                          std::string(kDocTableEnd) + "\nafter\n";
  EXPECT_EQ(ExtractGeneratedTable(doc), "| a |\n");
  EXPECT_EQ(ExtractGeneratedTable("no markers"), "");
}

}  // namespace
}  // namespace custvault::policy
