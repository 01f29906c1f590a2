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
#include <string>

#include "common/env.h"
#include "common/status.h"
#include "service/approval_service.h"
#include "service/audit_service.h"
#include "service/customer_service.h"
#include "store/store.h"

namespace custvault::service {

// The sealed update as bytes and back (kDataLoss for anything malformed).
std::string EncodeSealedUpdate(const store::CustomerUpdate& update);
Result<store::CustomerUpdate> DecodeSealedUpdate(std::string_view bytes);

// Files a sealed update through `approvals` (the maker must be allowed
// customer.update). `approvals` must outlive the filer.
SensitiveEditFiler MakeSensitiveEditFiler(ApprovalService& approvals);

// Applies an approved sensitive edit in one store write. If the customer
// was deleted meanwhile, the apply fails cleanly (kNotFound
// "customer_deleted": the approval ends "failed" and nothing is written).
// Audited as customer.update by the approver, with the approval id and the
// changed field names.
class SensitiveEditHandler final : public ApprovalHandler {
 public:
  SensitiveEditHandler(Env* env, store::Store& store, AuditRecorder& audit)
      : env_(env), store_(store), audit_(audit) {}
  Result<ApplyOutcome> Apply(const Actor& approver, const ApprovalRecord& approval,
                             const std::vector<ApprovalItemRecord>& chosen) override;

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
