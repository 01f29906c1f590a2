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
  for (size_t i = fulls.size() > keep_count ? fulls.size() - keep_count : 0; i < fulls.size();
       ++i) {
    if (kept_roots.empty()) {
      oldest_kept_full_us = fulls[i]->created_at_us;
      oldest_kept_journal_seq = fulls[i]->journal_seq;
    }
    kept_roots.insert(fulls[i]->id);
    oldest_kept_full_us = std::min(oldest_kept_full_us, fulls[i]->created_at_us);
    oldest_kept_journal_seq = std::min(oldest_kept_journal_seq, fulls[i]->journal_seq);
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
  // A segment is needed by a kept chain if it carries any change after the
  // oldest kept full's journal position that no kept incremental carries.
  // With no full backup at all every segment is kept: it may be all there is.
  if (!kept_roots.empty()) {
    // The journal ranges (base position, own position] of kept incrementals.
    std::vector<std::pair<int64_t, int64_t>> covered;
    for (const std::string& id : keep) {
      const RetentionPiece* piece = by_id.at(id);
      if (piece->kind != PieceKind::kIncremental) continue;
      const auto base = by_id.find(piece->base_id);
      if (base == by_id.end()) continue;
      covered.emplace_back(base->second->journal_seq + 1, piece->journal_seq);
    }
    std::sort(covered.begin(), covered.end());
    auto is_covered = [&covered](int64_t from, int64_t to) {
      int64_t next = from;  // the first seq not yet known to be covered
      for (const auto& [start, end] : covered) {
        if (start > next) break;
        next = std::max(next, end + 1);
        if (next > to) return true;
      }
      return next > to;
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
      const int64_t from = std::max(segment->from_seq, oldest_kept_journal_seq + 1);
      if (from <= segment->to_seq && !is_covered(from, segment->to_seq)) break;
      plan.remove_segments.push_back(segment->name);
    }
  }
  return plan;
}

}  // namespace custvault::backup
