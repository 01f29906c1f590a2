#include "policy/policy_markdown.h"

#include "policy/policy.h"

namespace custvault::policy {

std::string PolicyMarkdownTables() {
  std::string out = "| operation |";
  std::string rule = "|---|";
  for (Role role : AllRoles()) {
    out += " " + std::string(service::RoleName(role)) + " |";
    rule += ":---:|";
  }
  out += "\n" + rule + "\n";
  for (Operation operation : AllOperations()) {
    out += "| `" + std::string(OperationName(operation)) + "` |";
    for (Role role : AllRoles()) out += Allows(role, operation) ? " yes |" : " - |";
    out += "\n";
  }
  out += "\nField classes (read / edit):\n\n| field class |";
  for (Role role : AllRoles()) out += " " + std::string(service::RoleName(role)) + " |";
  out += "\n" + rule + "\n";
  for (FieldClass field_class : AllFieldClasses()) {
    out += "| " + std::string(catalog::FieldClassName(field_class)) + " |";
    for (Role role : AllRoles()) {
      out += " " + std::string(FieldReadName(ReadAccess(role, field_class))) + " / " +
             std::string(FieldEditName(EditAccess(role, field_class))) + " |";
    }
    out += "\n";
  }
  out += "\nApprovals (maker-checker, R-APR-1): who asks and who decides. The requester\n"
         "never decides their own request.\n\n| approval kind | requested with | decided by |\n"
         "|---|---|---|\n";
  for (const ApprovalKindRule& rule : ApprovalKindRules()) {
    out += "| `" + std::string(rule.name) + "` | `" +
           std::string(OperationName(rule.requested_with)) + "` | " +
           std::string(service::RoleName(rule.approver)) + " |\n";
  }
  return out;
}

std::string ExtractGeneratedTable(std::string_view document) {
  const size_t begin = document.find(kDocTableBegin);
  if (begin == std::string_view::npos) return {};
  const size_t content = document.find('\n', begin);
  const size_t end = document.find(kDocTableEnd, begin);
  if (content == std::string_view::npos || end == std::string_view::npos || end < content) {
    return {};
  }
  std::string table(document.substr(content + 1, end - content - 1));
  // The document keeps one blank line before the end marker for readability.
  while (table.size() >= 2 && table.substr(table.size() - 2) == "\n\n") table.pop_back();
  return table;
}

}  // namespace custvault::policy
