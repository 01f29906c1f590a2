// Actor: who is making a request, as established by authentication.
// Built by http/ (bearer token) or cli/ (local operator) and passed to every
// service call; services decide on it, never on anything the client claims.
#pragma once

#include <string>

namespace custvault::service {

enum class ActorKind {
  kBootstrap,  // the random token `custvault init` creates, until accounts exist
  kLocalOperator,  // the CLI run by someone who can read the data directory
};

struct Actor {
  ActorKind kind = ActorKind::kBootstrap;
  std::string id;  // "bootstrap", "cli:<os user>"; never personal data
  std::string ip;  // source address; "local" for the CLI

  // "staff:<id>" style channel recorded on the customers this actor creates.
  std::string ChannelName() const;
};

}  // namespace custvault::service
