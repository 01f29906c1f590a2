// Logging. Log lines carry ids, field keys, error codes and counts only:
// never a personal value, plain or masked (plaintext stays in crypto::Secret
// inside service/). Use spdlog's functions after InitLogging.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "common/status.h"

namespace custvault {

// level: trace | debug | info | warn | error (already validated by Config).
void InitLogging(const std::string& level);

}  // namespace custvault
