#include "service/actor.h"

namespace custvault::service {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kEntryClerk:
      return "entry_clerk";
    case Role::kInfoManager:
      return "info_manager";
    case Role::kDeptHead:
      return "dept_head";
    case Role::kAuditor:
      return "auditor";
    case Role::kSecurityOfficer:
      return "security_officer";
    case Role::kSysAdmin:
      return "sys_admin";
    case Role::kChannel:
      return "channel";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role role : {Role::kEntryClerk, Role::kInfoManager, Role::kDeptHead, Role::kAuditor,
                    Role::kSecurityOfficer, Role::kSysAdmin, Role::kChannel}) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

std::string Actor::ChannelName() const {
  switch (kind) {
    case ActorKind::kBootstrap:
      return "staff:bootstrap";
    case ActorKind::kStaff:
      return "staff:" + id;
    case ActorKind::kChannel:
      return "channel:" + id;
    case ActorKind::kLocalOperator:
      return "staff:" + id;
    case ActorKind::kSelfService:
      return id;  // already "self-service:<challenge id>"
  }
  return "unknown";
}

}  // namespace custvault::service
