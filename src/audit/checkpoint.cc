#include "audit/checkpoint.h"

#include <openssl/crypto.h>

namespace custvault::audit {
namespace {

constexpr std::string_view kCheckpointLabel = "custvault-audit-checkpoint";
constexpr std::string_view kHeadLabel = "custvault-audit-head";

void AppendU64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

bool SameMac(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string CheckpointMacInput(int64_t seq, std::string_view hash, int64_t time_us,
                               std::string_view kind) {
  std::string input(kCheckpointLabel);
  AppendU64(&input, static_cast<uint64_t>(seq));
  input.append(hash);
  AppendU64(&input, static_cast<uint64_t>(time_us));
  const uint32_t size = static_cast<uint32_t>(kind.size());
  for (int shift = 24; shift >= 0; shift -= 8) input.push_back(static_cast<char>(size >> shift));
  input.append(kind);
  return input;
}

std::string HeadMacInput(int64_t seq, std::string_view hash, int64_t time_us) {
  std::string input(kHeadLabel);
  AppendU64(&input, static_cast<uint64_t>(seq));
  input.append(hash);
  AppendU64(&input, static_cast<uint64_t>(time_us));
  return input;
}

Result<store::AuditCheckpointRow> MakeCheckpoint(const crypto::Keyring& keyring, int64_t seq,
                                                 std::string_view hash, int64_t time_us,
                                                 std::string_view kind) {
  store::AuditCheckpointRow row;
  row.seq = seq;
  row.hash = std::string(hash);
  row.time_us = time_us;
  row.kind = std::string(kind);
  ASSIGN_OR_RETURN(row.mac,
                   keyring.DomainMac(kAuditKeyPurpose, CheckpointMacInput(seq, hash, time_us, kind),
                                     &row.key_version));
  return row;
}

Result<store::AuditHeadRow> MakeHead(const crypto::Keyring& keyring, int64_t seq,
                                     std::string_view hash, int64_t time_us) {
  store::AuditHeadRow row;
  row.seq = seq;
  row.hash = std::string(hash);
  row.time_us = time_us;
  ASSIGN_OR_RETURN(row.mac, keyring.DomainMac(kAuditKeyPurpose, HeadMacInput(seq, hash, time_us),
                                              &row.key_version));
  return row;
}

Result<bool> CheckpointMacValid(const crypto::Keyring& keyring,
                                const store::AuditCheckpointRow& checkpoint) {
  ASSIGN_OR_RETURN(
      const std::string expected,
      keyring.DomainMacWithVersion(kAuditKeyPurpose, checkpoint.key_version,
                                   CheckpointMacInput(checkpoint.seq, checkpoint.hash,
                                                      checkpoint.time_us, checkpoint.kind)));
  return SameMac(expected, checkpoint.mac);
}

Result<bool> HeadMacValid(const crypto::Keyring& keyring, const store::AuditHeadRow& head) {
  ASSIGN_OR_RETURN(const std::string expected,
                   keyring.DomainMacWithVersion(kAuditKeyPurpose, head.key_version,
                                                HeadMacInput(head.seq, head.hash, head.time_us)));
  return SameMac(expected, head.mac);
}

}  // namespace custvault::audit
