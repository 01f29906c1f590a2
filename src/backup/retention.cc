// Owned by the shipping/operations work (issue 6).
#include "backup/retention.h"

#include <algorithm>
#include <map>
#include <set>

namespace custvault::backup {
namespace {

// The full backup a piece's chain starts from, or "" when the chain is
// broken (a missing base) or loops.
std::string RootOf(const std::map<std::string, const RetentionPiece*>& by_id,
                   const RetentionPiece& piece) {
  const RetentionPiece* current = &piece;
  // A chain longer than the number of pieces must loop.
  for (size_t steps = 0; steps <= by_id.size(); ++steps) {
    if (current->kind == PieceKind::kFull) return current->id;
    const auto base = by_id.find(current->base_id);
    if (base == by_id.end()) return "";
    current = base->second;
  }
  return "";
}

bool OlderFirst(const RetentionPiece* a, const RetentionPiece* b) {
  return a->created_at_us != b->created_at_us ? a->created_at_us < b->created_at_us
                                              : a->id < b->id;
}

}  // namespace

RetentionPlan PlanRetention(const std::vector<RetentionPiece>& pieces, int keep_full,
                            const std::vector<RetentionSegment>& segments) {
  RetentionPlan plan;
  std::map<std::string, const RetentionPiece*> by_id;
  for (const RetentionPiece& piece : pieces) by_id.emplace(piece.id, &piece);

  std::vector<const RetentionPiece*> fulls;
  for (const auto& [id, piece] : by_id) {
    if (piece->kind == PieceKind::kFull) fulls.push_back(piece);
  }
  std::sort(fulls.begin(), fulls.end(), OlderFirst);
  const size_t keep_count = static_cast<size_t>(std::max(1, keep_full));
  std::set<std::string> kept_roots;
  int64_t oldest_kept_full_us = 0;
  int64_t oldest_kept_journal_seq = 0;
  int64_t oldest_kept_audit_seq = 0;
  for (size_t i = fulls.size() > keep_count ? fulls.size() - keep_count : 0; i < fulls.size();
       ++i) {
    if (kept_roots.empty()) {
      oldest_kept_full_us = fulls[i]->created_at_us;
      oldest_kept_journal_seq = fulls[i]->journal_seq;
      oldest_kept_audit_seq = fulls[i]->audit_seq;
    }
    kept_roots.insert(fulls[i]->id);
    oldest_kept_full_us = std::min(oldest_kept_full_us, fulls[i]->created_at_us);
    oldest_kept_journal_seq = std::min(oldest_kept_journal_seq, fulls[i]->journal_seq);
    oldest_kept_audit_seq = std::min(oldest_kept_audit_seq, fulls[i]->audit_seq);
  }

  std::set<std::string> keep;
  for (const auto& [id, piece] : by_id) {
    const std::string root = RootOf(by_id, *piece);
    if (!root.empty()) {
      if (kept_roots.count(root) > 0) keep.insert(id);
      continue;
    }
    // An orphan: kept while it is not older than the oldest kept full
    // (or while there is no full at all to compare with).
    if (kept_roots.empty() || piece->created_at_us >= oldest_kept_full_us) {
      keep.insert(id);
      plan.orphans_kept.push_back(id);
    }
  }
  // Rule 1: whatever a kept piece depends on stays, however its own chain
  // was judged (this matters only for orphans and odd timestamps).
  std::vector<std::string> work(keep.begin(), keep.end());
  while (!work.empty()) {
    const RetentionPiece* piece = by_id.at(work.back());
    work.pop_back();
    if (piece->kind == PieceKind::kFull) continue;
    const auto base = by_id.find(piece->base_id);
    if (base != by_id.end() && keep.insert(base->first).second) work.push_back(base->first);
  }

  std::vector<const RetentionPiece*> ordered;
  for (const auto& [id, piece] : by_id) ordered.push_back(piece);
  std::sort(ordered.begin(), ordered.end(), OlderFirst);
  for (const RetentionPiece* piece : ordered) {
    (keep.count(piece->id) > 0 ? plan.keep : plan.remove).push_back(piece->id);
  }
  // A segment is needed by a kept chain if it carries any journal row or
  // audit entry after the oldest kept full's position that no kept
  // incremental carries. With no full backup at all every segment is kept:
  // it may be all there is.
  if (!kept_roots.empty()) {
    // The ranges (predecessor's position, own position] of kept incrementals.
    std::vector<std::pair<int64_t, int64_t>> journal_covered;
    std::vector<std::pair<int64_t, int64_t>> audit_covered;
    for (const std::string& id : keep) {
      const RetentionPiece* piece = by_id.at(id);
      if (piece->kind != PieceKind::kIncremental) continue;
      const auto base = by_id.find(piece->base_id);
      if (base == by_id.end()) continue;
      journal_covered.emplace_back(base->second->journal_seq + 1, piece->journal_seq);
      audit_covered.emplace_back(base->second->audit_seq + 1, piece->audit_seq);
    }
    std::sort(journal_covered.begin(), journal_covered.end());
    std::sort(audit_covered.begin(), audit_covered.end());
    // Whether [from, to] past `after` (what the oldest kept full holds) is
    // all inside `covered`; an empty range is.
    auto needed = [](const std::vector<std::pair<int64_t, int64_t>>& covered, int64_t after,
                     int64_t from, int64_t to) {
      int64_t next = std::max(from, after + 1);  // the first seq not yet known to be covered
      for (const auto& [start, end] : covered) {
        if (next > to) break;
        if (start > next) break;
        next = std::max(next, end + 1);
      }
      return next <= to;
    };
    // Only the oldest run of unneeded segments goes, so what stays is
    // still one unbroken sequence (the shipper checks that at start).
    std::vector<const RetentionSegment*> ordered;
    for (const RetentionSegment& segment : segments) ordered.push_back(&segment);
    std::sort(ordered.begin(), ordered.end(),
              [](const RetentionSegment* a, const RetentionSegment* b) {
                return a->from_seq != b->from_seq ? a->from_seq < b->from_seq
                                                  : a->to_seq > b->to_seq;
              });
    for (const RetentionSegment* segment : ordered) {
      if (needed(journal_covered, oldest_kept_journal_seq, segment->from_seq, segment->to_seq) ||
          needed(audit_covered, oldest_kept_audit_seq, segment->audit_from_seq,
                 segment->audit_to_seq)) {
        break;
      }
      plan.remove_segments.push_back(segment->name);
    }
  }
  return plan;
}

}  // namespace custvault::backup
