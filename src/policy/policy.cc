#include "policy/policy.h"

#include <array>
#include <vector>

namespace custvault::policy {
namespace {

constexpr std::array kRoles = {Role::kEntryClerk,      Role::kInfoManager, Role::kDeptHead,
                               Role::kAuditor,         Role::kSecurityOfficer,
                               Role::kSysAdmin,        Role::kChannel};
constexpr size_t kRoleCount = kRoles.size();
constexpr std::array kFieldClasses = {FieldClass::kBasic, FieldClass::kSensitive,
                                      FieldClass::kBusiness};

constexpr size_t RoleIndex(Role role) { return static_cast<size_t>(role); }
static_assert(RoleIndex(Role::kChannel) == kRoleCount - 1, "kRoles must follow the enum order");

struct OperationRow {
  Operation operation;
  std::string_view name;
  std::array<bool, kRoleCount> allowed;  // indexed by Role, in kRoles order
};

struct FieldAccess {
  FieldRead read;
  FieldEdit edit;
};
struct FieldRow {
  FieldClass field_class;
  std::array<FieldAccess, kRoleCount> access;
};

constexpr bool Y = true;
constexpr bool n = false;
constexpr FieldAccess kNothing{FieldRead::kNone, FieldEdit::kNone};
constexpr FieldAccess kMaskedEdit{FieldRead::kMasked, FieldEdit::kEdit};
constexpr FieldAccess kMaskedOnly{FieldRead::kMasked, FieldEdit::kNone};
constexpr FieldAccess kRevealEdit{FieldRead::kReveal, FieldEdit::kEdit};
constexpr FieldAccess kRevealApproval{FieldRead::kReveal, FieldEdit::kEditWithApproval};
constexpr FieldAccess kWriteOnly{FieldRead::kNone, FieldEdit::kEdit};

// ============================ THE POLICY TABLE ============================
// The one place that says who may do what. docs/access-control.md shows it
// (generated; PolicyDocTest fails when the two differ). Reasons for each
// choice are in that document.
//
//                                             entry  info   dept   audi-  secu-  sys    chan-
//                                             clerk  mgr    head   tor    rity   admin  nel
constexpr std::array kOperationTable = {
    OperationRow{Operation::kCustomerCreate, "customer.create", {Y, Y, n, n, n, n, Y}},
    OperationRow{Operation::kCustomerRead, "customer.read", {Y, Y, Y, n, n, n, n}},
    OperationRow{Operation::kCustomerSearch, "customer.search", {Y, Y, Y, n, n, n, n}},
    OperationRow{Operation::kCustomerList, "customer.list", {n, Y, Y, n, n, n, n}},
    OperationRow{Operation::kCustomerUpdate, "customer.update", {Y, Y, n, n, n, n, n}},
    OperationRow{Operation::kCustomerDelete, "customer.delete", {n, Y, n, n, n, n, n}},
    OperationRow{Operation::kCustomerReveal, "customer.reveal", {n, Y, n, n, n, n, n}},
    OperationRow{Operation::kCustomerImport, "customer.import", {n, Y, n, n, n, n, n}},
    OperationRow{Operation::kCustomerExport, "customer.export", {n, Y, n, n, n, n, n}},
    OperationRow{Operation::kAuditRead, "audit.read", {n, n, n, Y, n, n, n}},
    OperationRow{Operation::kAuditExport, "audit.export", {n, n, n, Y, n, n, n}},
    OperationRow{Operation::kAuditVerify, "audit.verify", {n, n, n, Y, n, n, n}},
    OperationRow{Operation::kAlertsRead, "alerts.read", {n, n, n, Y, Y, n, n}},
    OperationRow{Operation::kAlertsAck, "alerts.ack", {n, n, n, Y, Y, n, n}},
    OperationRow{Operation::kAccountManage, "account.manage", {n, n, n, n, n, Y, n}},
    OperationRow{Operation::kAccountReview, "account.review", {n, n, n, n, Y, Y, n}},
    OperationRow{Operation::kRoleRequest, "role.request", {n, n, n, n, n, Y, n}},
    OperationRow{Operation::kRoleApprove, "role.approve", {n, n, n, n, Y, n, n}},
    OperationRow{Operation::kChannelManage, "channel.manage", {n, n, n, n, n, Y, n}},
    OperationRow{Operation::kApprovalDecide, "approval.decide", {n, n, Y, n, Y, n, n}},
    OperationRow{Operation::kBackupRun, "backup.run", {n, n, n, n, n, Y, n}},
    OperationRow{Operation::kKeyManage, "key.manage", {n, n, n, n, Y, n, n}},
    OperationRow{Operation::kIncidentManage, "incident.manage", {n, n, n, n, Y, n, n}},
    OperationRow{Operation::kCatalogRead, "catalog.read", {Y, Y, Y, Y, Y, Y, n}},
    OperationRow{Operation::kSessionSelf, "session.self", {Y, Y, Y, Y, Y, Y, n}},
    OperationRow{Operation::kBusinessRead, "business.read", {n, Y, Y, n, n, n, n}},
    OperationRow{Operation::kBusinessWrite, "business.write", {n, Y, n, n, n, n, Y}},
    OperationRow{Operation::kTagRequest, "tag.request", {n, Y, n, n, n, n, n}},
    OperationRow{Operation::kTagReclassify, "tag.reclassify", {n, Y, n, n, n, n, n}},
    OperationRow{Operation::kRulesRead, "rules.read", {n, Y, Y, Y, n, n, n}},
    OperationRow{Operation::kRulesChange, "rules.change", {n, Y, n, n, n, n, n}},
    OperationRow{Operation::kApprovalRead, "approval.read", {n, Y, Y, Y, Y, Y, n}},
    OperationRow{Operation::kBackupRead, "backup.read", {n, n, n, Y, Y, Y, n}},
    OperationRow{Operation::kBackupRestore, "backup.restore", {n, n, n, n, n, Y, n}},
    OperationRow{Operation::kJobsRead, "jobs.read", {n, n, n, Y, Y, Y, n}},
    OperationRow{Operation::kSearchUnlock, "search.unlock", {n, n, n, n, Y, n, n}},
};

// Who asks and who decides, per kind of approval.
constexpr std::array kApprovalKindTable = {
    ApprovalKindRule{ApprovalKind::kTagBatch, "tag_batch", Operation::kTagReclassify,
                     Role::kDeptHead},
    ApprovalKindRule{ApprovalKind::kTagChange, "tag_change", Operation::kTagRequest,
                     Role::kDeptHead},
    ApprovalKindRule{ApprovalKind::kSensitiveEdit, "sensitive_edit", Operation::kCustomerUpdate,
                     Role::kDeptHead},
    ApprovalKindRule{ApprovalKind::kRulesChange, "rules_change", Operation::kRulesChange,
                     Role::kDeptHead},
    ApprovalKindRule{ApprovalKind::kRoleGrant, "role_grant", Operation::kRoleRequest,
                     Role::kSecurityOfficer},
    ApprovalKindRule{ApprovalKind::kRestore, "restore", Operation::kBackupRestore,
                     Role::kSecurityOfficer},
};
constexpr bool ApprovalKindsInEnumOrder() {
  for (size_t i = 0; i < kApprovalKindTable.size(); ++i) {
    if (static_cast<size_t>(kApprovalKindTable[i].kind) != i) return false;
  }
  return static_cast<size_t>(ApprovalKind::kRestore) + 1 == kApprovalKindTable.size();
}
static_assert(ApprovalKindsInEnumOrder(), "kApprovalKindTable rows must follow enum ApprovalKind");

//                 entry clerk  info manager     dept head    auditor   security  sys admin channel
constexpr std::array kFieldTable = {
    FieldRow{FieldClass::kBasic,
             {kMaskedEdit, kRevealEdit, kMaskedOnly, kNothing, kNothing, kNothing, kWriteOnly}},
    FieldRow{FieldClass::kSensitive,
             {kNothing, kRevealApproval, kMaskedOnly, kNothing, kNothing, kNothing, kNothing}},
    FieldRow{FieldClass::kBusiness,
             {kNothing, kRevealEdit, kMaskedOnly, kNothing, kNothing, kNothing, kNothing}},
};
// ==========================================================================

// The rows must follow the enum order, so a row is found by index.
constexpr bool OperationRowsInEnumOrder() {
  for (size_t i = 0; i < kOperationTable.size(); ++i) {
    if (static_cast<size_t>(kOperationTable[i].operation) != i) return false;
  }
  return static_cast<size_t>(Operation::kSearchUnlock) + 1 == kOperationTable.size();
}
static_assert(OperationRowsInEnumOrder(), "kOperationTable rows must follow enum Operation");
constexpr bool FieldRowsInEnumOrder() {
  for (size_t i = 0; i < kFieldTable.size(); ++i) {
    if (static_cast<size_t>(kFieldTable[i].field_class) != i) return false;
  }
  return true;
}
static_assert(FieldRowsInEnumOrder() && kFieldTable.size() == kFieldClasses.size(),
              "kFieldTable rows must follow enum FieldClass");

constexpr std::array<Operation, kOperationTable.size()> MakeAllOperations() {
  std::array<Operation, kOperationTable.size()> all{};
  for (size_t i = 0; i < all.size(); ++i) all[i] = kOperationTable[i].operation;
  return all;
}
constexpr std::array kAllOperations = MakeAllOperations();

}  // namespace

std::string_view OperationName(Operation operation) {
  const size_t index = static_cast<size_t>(operation);
  return index < kOperationTable.size() ? kOperationTable[index].name : "unknown";
}

std::optional<Operation> ParseOperation(std::string_view name) {
  for (const OperationRow& row : kOperationTable) {
    if (row.name == name) return row.operation;
  }
  return std::nullopt;
}

std::string_view FieldReadName(FieldRead read) {
  switch (read) {
    case FieldRead::kNone: return "none";
    case FieldRead::kMasked: return "masked";
    case FieldRead::kReveal: return "reveal";
  }
  return "none";
}

std::string_view FieldEditName(FieldEdit edit) {
  switch (edit) {
    case FieldEdit::kNone: return "none";
    case FieldEdit::kEdit: return "edit";
    case FieldEdit::kEditWithApproval: return "edit_with_approval";
  }
  return "none";
}

std::span<const Role> AllRoles() { return kRoles; }
std::span<const Operation> AllOperations() { return kAllOperations; }
std::span<const FieldClass> AllFieldClasses() { return kFieldClasses; }

bool Allows(Role role, Operation operation) {
  const size_t row = static_cast<size_t>(operation);
  const size_t column = RoleIndex(role);
  if (row >= kOperationTable.size() || column >= kRoleCount) return false;  // deny the unknown
  return kOperationTable[row].allowed[column];
}

FieldRead ReadAccess(Role role, FieldClass field_class) {
  const size_t row = static_cast<size_t>(field_class);
  const size_t column = RoleIndex(role);
  if (row >= kFieldTable.size() || column >= kRoleCount) return FieldRead::kNone;
  return kFieldTable[row].access[column].read;
}

FieldEdit EditAccess(Role role, FieldClass field_class) {
  const size_t row = static_cast<size_t>(field_class);
  const size_t column = RoleIndex(role);
  if (row >= kFieldTable.size() || column >= kRoleCount) return FieldEdit::kNone;
  return kFieldTable[row].access[column].edit;
}

std::span<const ApprovalKindRule> ApprovalKindRules() { return kApprovalKindTable; }

std::string_view ApprovalKindName(ApprovalKind kind) {
  const size_t index = static_cast<size_t>(kind);
  return index < kApprovalKindTable.size() ? kApprovalKindTable[index].name : "unknown";
}

std::optional<ApprovalKind> ParseApprovalKind(std::string_view name) {
  for (const ApprovalKindRule& rule : kApprovalKindTable) {
    if (rule.name == name) return rule.kind;
  }
  return std::nullopt;
}

Role ApproverRole(ApprovalKind kind) {
  const size_t index = static_cast<size_t>(kind);
  // An unknown kind gets a role that decides nothing else.
  return index < kApprovalKindTable.size() ? kApprovalKindTable[index].approver : Role::kChannel;
}

bool IsAdminDuty(Role role) {
  return role == Role::kSysAdmin || role == Role::kSecurityOfficer || role == Role::kAuditor;
}

std::span<const OperationRule> OperationRules() {
  static const std::vector<OperationRule> rules = [] {
    std::vector<OperationRule> all;
    for (const OperationRow& row : kOperationTable) {
      for (Role role : kRoles) all.push_back({role, row.operation, row.allowed[RoleIndex(role)]});
    }
    return all;
  }();
  return rules;
}

std::span<const FieldRule> FieldRules() {
  static const std::vector<FieldRule> rules = [] {
    std::vector<FieldRule> all;
    for (const FieldRow& row : kFieldTable) {
      for (Role role : kRoles) {
        const FieldAccess access = row.access[RoleIndex(role)];
        all.push_back({role, row.field_class, access.read, access.edit});
      }
    }
    return all;
  }();
  return rules;
}

}  // namespace custvault::policy
