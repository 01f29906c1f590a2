// MACs of checkpoints and of the head (R-AUD-2), with the audit domain key
// (keyring purpose "audit"). The hash chain alone proves order, but anyone
// with file access could recompute it after an edit; the MACs, made with a
// key that never leaves the keyring, pin the chain at points an attacker
// cannot move. Layout in docs/formats/audit-chain.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/keyring.h"
#include "store/audit_store.h"

namespace custvault::audit {

inline constexpr std::string_view kAuditKeyPurpose = "audit";
inline constexpr std::string_view kCheckpointPeriodic = "periodic";
inline constexpr std::string_view kCheckpointPurge = "purge";
inline constexpr std::string_view kCheckpointShutdown = "shutdown";

// "custvault-audit-checkpoint" || u64 seq || hash || i64 time_us || u32 len || kind
std::string CheckpointMacInput(int64_t seq, std::string_view hash, int64_t time_us,
                               std::string_view kind);
// "custvault-audit-head" || u64 seq || hash || i64 time_us
std::string HeadMacInput(int64_t seq, std::string_view hash, int64_t time_us);

// A checkpoint of the entry (seq, hash), MACed with the current audit key.
// kNotFound if no audit key is loaded.
Result<store::AuditCheckpointRow> MakeCheckpoint(const crypto::Keyring& keyring, int64_t seq,
                                                 std::string_view hash, int64_t time_us,
                                                 std::string_view kind);
Result<store::AuditHeadRow> MakeHead(const crypto::Keyring& keyring, int64_t seq,
                                     std::string_view hash, int64_t time_us);

// true when the MAC is right (constant-time comparison); kNotFound if the
// key version it names is not loaded.
Result<bool> CheckpointMacValid(const crypto::Keyring& keyring,
                                const store::AuditCheckpointRow& checkpoint);
Result<bool> HeadMacValid(const crypto::Keyring& keyring, const store::AuditHeadRow& head);

}  // namespace custvault::audit
