#include "audit/verify.h"

#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/entry.h"

namespace custvault::audit {
namespace {

// Used to stop the scan once the first damage is classified; never leaves
// this file.
constexpr std::string_view kStopScan = "verify: stop scan";
// How many renumbered deletions the classifier tries to recognise.
constexpr int kRenumberedGapMax = 16;

using Hash = crypto::Digest32;

bool Equal(const Hash& a, std::string_view b) {
  return b.size() == kHashBytes && std::memcmp(a.data(), b.data(), kHashBytes) == 0;
}

Hash ToHash(std::string_view bytes) {
  Hash hash{};
  if (bytes.size() == kHashBytes) std::memcpy(hash.data(), bytes.data(), kHashBytes);
  return hash;
}

struct CheckpointState {
  const store::AuditCheckpointRow* row;
  bool mac_valid;
};

class Verifier {
 public:
  Verifier(const crypto::Keyring& keyring, const VerifyProgress& progress)
      : keyring_(keyring), progress_(progress) {}

  store::AuditChainSnapshot* snapshot() { return &snapshot_; }

  Status OnEntry(const store::AuditEntryView& entry) {
    if (!started_) RETURN_IF_ERROR(Start(entry.seq));
    if (Damaged()) return Stop();
    if (suspect_) {
      Classify(&entry);
      return Stop();
    }
    if (entry.seq == expected_seq_ && Equal(expected_prev_, entry.prev_hash)) {
      const crypto::Digest32 hash = hasher_.Hash(entry.prev_hash, entry);
      if (Equal(hash, entry.hash)) {
        Accept(entry);
        if (Damaged()) return Stop();
        return Status::Ok();
      }
    }
    if (entry.seq > expected_seq_) {
      Report(Damage::kMissing, expected_seq_,
             "entries " + std::to_string(expected_seq_) + ".." + std::to_string(entry.seq - 1) +
                 " are missing");
      return Stop();
    }
    suspect_ = Copy(entry);  // decided when the next entry (or the end) is seen
    return Status::Ok();
  }

  Result<VerifyReport> Finish() {
    if (!started_) RETURN_IF_ERROR(Start(0));
    if (!Damaged() && suspect_) Classify(nullptr);
    if (!Damaged()) CheckEnd();
    // A forged checkpoint before the first chain damage is the first damage.
    if (first_forged_ && (!Damaged() || first_forged_->row->seq <= report_.first_bad_seq)) {
      report_.damage = Damage::kForgedCheckpoint;
      report_.first_bad_seq = first_forged_->row->seq;
      report_.detail = "the " + first_forged_->row->kind + " checkpoint at seq " +
                       std::to_string(first_forged_->row->seq) + " has a MAC that does not verify";
    }
    report_.head_seq = snapshot_.head ? snapshot_.head->seq : 0;
    return report_;
  }

  static bool IsStop(const Status& status) {
    return status.code() == ErrorCode::kConflict && status.message() == kStopScan;
  }

 private:
  bool Damaged() const { return report_.damage != Damage::kNone; }
  static Status Stop() { return Conflict(std::string(kStopScan)); }

  void Report(Damage damage, int64_t seq, std::string detail) {
    if (Damaged()) return;
    report_.damage = damage;
    report_.first_bad_seq = seq;
    report_.detail = std::move(detail);
  }

  // Checks every checkpoint MAC and finds where the chain starts.
  Status Start(int64_t first_seq) {
    started_ = true;
    checkpoints_.reserve(snapshot_.checkpoints.size());
    for (const store::AuditCheckpointRow& row : snapshot_.checkpoints) {
      Result<bool> valid = CheckpointMacValid(keyring_, row);
      // A key version that is not loaded cannot have made the MAC.
      if (!valid.ok() && valid.status().code() != ErrorCode::kNotFound) return valid.status();
      checkpoints_.push_back({&row, valid.ok() && *valid});
      ++report_.checkpoints_checked;
      if (!checkpoints_.back().mac_valid && !first_forged_) first_forged_ = checkpoints_.back();
    }
    expected_seq_ = 1;
    expected_prev_ = ToHash(GenesisHash());
    // The latest purge checkpoint below the first entry (or, with no entry
    // left, the latest of all) is where the chain starts.
    const CheckpointState* anchor = nullptr;
    for (const CheckpointState& checkpoint : checkpoints_) {
      if (checkpoint.mac_valid && checkpoint.row->kind == kCheckpointPurge &&
          (first_seq == 0 || checkpoint.row->seq < first_seq)) {
        anchor = &checkpoint;
      }
    }
    if (first_seq == 0 && anchor != nullptr) {
      expected_seq_ = anchor->row->seq + 1;
      expected_prev_ = ToHash(anchor->row->hash);
      report_.anchor_seq = anchor->row->seq;
      last_good_checkpoint_seq_ = anchor->row->seq;
    } else if (first_seq > 1) {
      // Purged: the chain must go on from a purge checkpoint.
      if (anchor == nullptr || anchor->row->seq != first_seq - 1) {
        const int64_t from = anchor == nullptr ? 1 : anchor->row->seq + 1;
        Report(Damage::kMissing, from,
               "entries " + std::to_string(from) + ".." + std::to_string(first_seq - 1) +
                   " are missing and no purge checkpoint accounts for them");
      } else {
        expected_seq_ = first_seq;
        expected_prev_ = ToHash(anchor->row->hash);
        report_.anchor_seq = anchor->row->seq;
        last_good_checkpoint_seq_ = anchor->row->seq;
      }
    }
    // Checkpoints below the start sign purged entries: only their MACs count.
    while (next_checkpoint_ < checkpoints_.size() &&
           checkpoints_[next_checkpoint_].row->seq < expected_seq_) {
      ++next_checkpoint_;
    }
    return Status::Ok();
  }

  void Accept(const store::AuditEntryView& entry) {
    while (next_checkpoint_ < checkpoints_.size() &&
           checkpoints_[next_checkpoint_].row->seq <= entry.seq) {
      const CheckpointState& checkpoint = checkpoints_[next_checkpoint_++];
      if (!checkpoint.mac_valid) continue;  // reported as forged
      if (checkpoint.row->seq == entry.seq) {
        if (checkpoint.row->hash != entry.hash) {
          // The chain is self-consistent, so it was recomputed after a
          // change somewhere since the last checkpoint that matched.
          Report(Damage::kEdited, last_good_checkpoint_seq_ + 1,
                 "the chain was rewritten between seq " +
                     std::to_string(last_good_checkpoint_seq_ + 1) + " and " +
                     std::to_string(entry.seq) + ": the checkpoint at seq " +
                     std::to_string(entry.seq) + " signs another hash");
          return;
        }
        last_good_checkpoint_seq_ = entry.seq;
      }
    }
    if (report_.first_seq == 0) report_.first_seq = entry.seq;
    report_.last_seq = entry.seq;
    previous_prev_ = expected_prev_;
    have_previous_ = true;
    expected_prev_ = ToHash(entry.hash);
    ++expected_seq_;
    ++report_.entries_checked;
    if (progress_ && report_.entries_checked % kVerifyProgressEvery == 0) {
      progress_(report_.entries_checked);
    }
  }

  struct OwnedEntry {
    store::AuditEntryRow row;
  };
  static std::optional<OwnedEntry> Copy(const store::AuditEntryView& v) {
    store::AuditEntryRow row{v.seq,
                             v.time_us,
                             std::string(v.actor_id),
                             std::string(v.actor_role),
                             std::string(v.source_ip),
                             std::string(v.operation),
                             std::string(v.customer_id),
                             std::string(v.result),
                             std::string(v.details),
                             std::string(v.prev_hash),
                             std::string(v.hash)};
    return OwnedEntry{std::move(row)};
  }

  // Decides what happened at the suspect entry (seq == expected, but its
  // link or hash is wrong), looking at the entry after it when there is one.
  void Classify(const store::AuditEntryView* next) {
    const store::AuditEntryRow& s = suspect_->row;
    const store::AuditEntryView view = ViewOf(s);
    const int64_t seq = s.seq;
    const bool next_links_to_expected = next != nullptr && Equal(expected_prev_, next->prev_hash);
    if (Equal(expected_prev_, s.prev_hash)) {
      if (next_links_to_expected) {
        Report(Damage::kInserted, seq,
               "entry " + std::to_string(seq) +
                   " does not belong: the entry after it continues the chain from entry " +
                   std::to_string(seq - 1));
      } else {
        Report(
            Damage::kEdited, seq,
            "entry " + std::to_string(seq) + " was changed: its hash does not match its content");
      }
      return;
    }
    if (have_previous_ && Equal(previous_prev_, s.prev_hash)) {
      Report(Damage::kInserted, seq - 1,
             "entry " + std::to_string(seq - 1) + " does not belong: entry " + std::to_string(seq) +
                 " continues the chain from the entry before it");
      return;
    }
    if (next_links_to_expected && Equal(ToHash(next->hash), s.prev_hash)) {
      Report(Damage::kReordered, seq,
             "entries " + std::to_string(seq) + " and " + std::to_string(seq + 1) +
                 " are in the wrong order");
      return;
    }
    for (int gap = 1; gap <= kRenumberedGapMax; ++gap) {
      store::AuditEntryView shifted = view;
      shifted.seq = seq + gap;
      if (Equal(hasher_.Hash(s.prev_hash, shifted), s.hash)) {
        Report(Damage::kMissing, seq,
               std::to_string(gap) + " entr" + (gap == 1 ? "y" : "ies") + " from seq " +
                   std::to_string(seq) + " are missing and the rest were renumbered");
        return;
      }
    }
    if (next_links_to_expected) {
      Report(Damage::kInserted, seq,
             "entry " + std::to_string(seq) +
                 " does not belong: the entry after it continues the chain from entry " +
                 std::to_string(seq - 1));
      return;
    }
    if (Equal(hasher_.Hash(s.prev_hash, view), s.hash)) {
      Report(Damage::kMissing, seq,
             "entry " + std::to_string(seq) + " follows an entry that is not in the log");
      return;
    }
    Report(Damage::kEdited, seq,
           "entry " + std::to_string(seq) + " was changed: it neither links to entry " +
               std::to_string(seq - 1) + " nor matches its own hash");
  }

  // The chain is whole from the start to last_seq: now the tail.
  void CheckEnd() {
    // Where the chain ends: the last entry, or the purge anchor when every
    // entry was purged, or nothing at all.
    const int64_t end_seq = expected_seq_ - 1;
    const Hash end_hash = expected_prev_;
    for (const CheckpointState& checkpoint : checkpoints_) {
      if (checkpoint.mac_valid && checkpoint.row->seq > end_seq) {
        Report(Damage::kTruncated, end_seq + 1,
               "the log ends at seq " + std::to_string(end_seq) + " but a checkpoint signs seq " +
                   std::to_string(checkpoint.row->seq));
        return;
      }
    }
    const std::optional<store::AuditHeadRow>& head = snapshot_.head;
    if (!head) {
      if (end_seq > 0) {
        Report(Damage::kForgedCheckpoint, end_seq, "the head row is missing");
      }
      return;
    }
    Result<bool> head_valid = HeadMacValid(keyring_, *head);
    if (!head_valid.ok() || !*head_valid) {
      Report(Damage::kForgedCheckpoint, head->seq, "the head's MAC does not verify");
      return;
    }
    if (head->seq > end_seq) {
      Report(Damage::kTruncated, end_seq + 1,
             "the log ends at seq " + std::to_string(end_seq) + " but the head is seq " +
                 std::to_string(head->seq));
    } else if (head->seq < end_seq) {
      Report(Damage::kInserted, head->seq + 1,
             "entries after the head (seq " + std::to_string(head->seq) + ") do not belong");
    } else if (!Equal(end_hash, head->hash)) {
      Report(Damage::kEdited, last_good_checkpoint_seq_ + 1,
             "the chain was rewritten after seq " + std::to_string(last_good_checkpoint_seq_) +
                 ": the head signs another hash");
    }
  }

  const crypto::Keyring& keyring_;
  const VerifyProgress& progress_;
  store::AuditChainSnapshot snapshot_;
  std::vector<CheckpointState> checkpoints_;
  std::optional<CheckpointState> first_forged_;
  size_t next_checkpoint_ = 0;
  int64_t last_good_checkpoint_seq_ = 0;
  bool started_ = false;
  int64_t expected_seq_ = 1;
  Hash expected_prev_{};
  Hash previous_prev_{};
  bool have_previous_ = false;
  std::optional<OwnedEntry> suspect_;
  ChainHasher hasher_;
  VerifyReport report_;
};

}  // namespace

std::string_view DamageName(Damage damage) {
  switch (damage) {
    case Damage::kNone:
      return "none";
    case Damage::kEdited:
      return "edited";
    case Damage::kMissing:
      return "missing";
    case Damage::kInserted:
      return "inserted";
    case Damage::kReordered:
      return "reordered";
    case Damage::kTruncated:
      return "truncated";
    case Damage::kForgedCheckpoint:
      return "forged_checkpoint";
  }
  return "unknown";
}

Result<VerifyReport> VerifyChain(store::AuditStore& store, const crypto::Keyring& keyring,
                                 const VerifyProgress& progress) {
  Verifier verifier(keyring, progress);
  const Status scanned = store.ScanEntries(
      0, verifier.snapshot(),
      [&verifier](const store::AuditEntryView& entry) { return verifier.OnEntry(entry); });
  if (!scanned.ok() && !Verifier::IsStop(scanned)) return scanned;
  return verifier.Finish();
}

}  // namespace custvault::audit
