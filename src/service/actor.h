// Actor: who is making a request, as established by authentication.
// Built by http/ (bearer token) or cli/ (local session) and passed to every
// service call; services decide on it, never on anything the client claims.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace custvault::service {

// The six staff roles of R-ACC-1, and the role of a registered channel
// system. Every account holds exactly one.
enum class Role {
  kEntryClerk,       // entry_clerk: creates customers, edits basic fields
  kInfoManager,      // info_manager: sees everything masked, may reveal
  kDeptHead,         // dept_head: approves tag and sensitive changes
  kAuditor,          // auditor: audit data only
  kSecurityOfficer,  // security_officer: approves grants; keys; incidents
  kSysAdmin,         // sys_admin: accounts, backups; no customer data
  kChannel,          // a registered collection channel (API key)
};

std::string_view RoleName(Role role);  // "entry_clerk", ...
std::optional<Role> ParseRole(std::string_view name);

enum class ActorKind {
  kBootstrap,      // the random token `custvault init` creates, until accounts exist
  kStaff,          // a logged-in person
  kChannel,        // a channel system with an API key
  kLocalOperator,  // the CLI run by someone who can read the data directory
  // A customer at a web page or kiosk who proved who they are with a
  // one-time SMS code (R-SELF-1). Id "self-service:<challenge id>". The
  // policy grants this kind nothing (AccountService::Authorize refuses
  // every operation); only CustomerService::UpdateContactBySelfService
  // accepts it, and only for the contact fields.
  kSelfService,
};

struct Actor {
  ActorKind kind = ActorKind::kBootstrap;
  // account id, channel name, "bootstrap", "cli:<os user>",
  // "self-service:<challenge id>"; never personal data
  std::string id;
  Role role = Role::kInfoManager;
  std::string ip;          // source address; "local" for the CLI
  std::string session_id;  // opaque id of the session (not the token), if any

  // "staff:<id>" / "channel:<name>": recorded on the customers this actor creates.
  std::string ChannelName() const;
};

}  // namespace custvault::service
