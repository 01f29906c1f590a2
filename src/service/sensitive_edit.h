// Sensitive-field edits through approval (R-ACC-1, R-APR-1): an
// information manager may change sensitive fields only with a department
// head's approval. CustomerService seals the whole update exactly as it
// would apply it (values encrypted with the customer's own key, blind
// indexes computed) and hands it to the filer made here, which files it as
// a sensitive_edit approval; the handler here applies it when approved.
//
// The payload is the sealed update (docs/approvals.md, "sensitive_edit"):
// ciphertext envelopes and keyed digests only, never plaintext.
//
// Thread safety: the filer and the handler may be used from many threads.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "service/approval_service.h"
#include "service/audit_service.h"
#include "service/customer_service.h"
#include "store/store.h"

namespace custvault::service {

// A sealed update and, per field it sets or removes, a fingerprint of
// what the field held when the edit was filed (SM3 of the stored
// envelope; empty when the field was absent). Empty fingerprints: an edit
// filed before they were recorded.
struct SealedEdit {
  store::CustomerUpdate update;
  std::map<std::string, std::string> fingerprints;
};

// The sealed edit as bytes and back (kDataLoss for anything malformed).
std::string EncodeSealedEdit(const SealedEdit& edit);
Result<SealedEdit> DecodeSealedEdit(std::string_view bytes);
// The same without fingerprints.
std::string EncodeSealedUpdate(const store::CustomerUpdate& update);
Result<store::CustomerUpdate> DecodeSealedUpdate(std::string_view bytes);

// The fingerprints of the fields `update` touches, as `current` holds them.
std::map<std::string, std::string> FingerprintsOf(const store::CustomerUpdate& update,
                                                  const store::CustomerRecord& current);
// The fields whose value in `current` differs from the edit's fingerprint.
std::vector<std::string> FieldsChangedSince(const SealedEdit& edit,
                                            const store::CustomerRecord& current);

// Files a sealed update through `approvals` (the maker must be allowed
// customer.update), with the fingerprints of the fields it touches as
// `store` holds them now. Both must outlive the filer.
SensitiveEditFiler MakeSensitiveEditFiler(ApprovalService& approvals, store::Store& store);

// Applies an approved sensitive edit in one store write. If the customer
// was deleted meanwhile, the apply fails cleanly (kNotFound
// "customer_deleted": the approval ends "failed" and nothing is written).
// If a field it touches changed since filing (issue 11.3), it fails as
// stale (kConflict "stale: changed since the request: <fields>"; the
// approval ends "failed" with that outcome, nothing written).
// Audited as customer.update by the approver, with the approval id and the
// changed field names. Describe shows the touched field names and, while
// pending, whether a newer value exists now.
class SensitiveEditHandler final : public ApprovalHandler {
 public:
  SensitiveEditHandler(Env* env, store::Store& store, AuditRecorder& audit)
      : env_(env), store_(store), audit_(audit) {}
  Result<ApplyOutcome> Apply(const Actor& approver, const ApprovalRecord& approval,
                             const std::vector<ApprovalItemRecord>& chosen) override;
  Result<boost::json::object> Describe(const ApprovalRecord& approval) override;

  // Called with the customer id after an edit is applied (the vault
  // recomputes the customer's tags: a credit rating feeds the rules). Set
  // once, before the handler is shared.
  void SetAppliedHook(std::function<void(const std::string&)> hook) {
    applied_hook_ = std::move(hook);
  }

 private:
  std::function<void(const std::string&)> applied_hook_;
  Env* env_;
  store::Store& store_;
  AuditRecorder& audit_;
};

}  // namespace custvault::service
