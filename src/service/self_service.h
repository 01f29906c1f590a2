// SelfServiceService: customer self-service (R-SELF-1). A customer, with
// no staff login, proves who they are and changes their phone number or
// address:
//   1. Start(customer id, last 4 characters of the ID number, phone on
//      record) -> a challenge id. When the details match, a 6-digit code
//      goes to that phone through the SmsGateway; when they do not (or the
//      customer does not exist) the challenge is a decoy that can never
//      succeed and nothing is sent. The answer is the same either way.
//   2. Verify(challenge id, code) -> a change token (10 minutes, single
//      use). Every failure (wrong code, expired, too many attempts,
//      unknown or decoy challenge) is the same kUnauthenticated.
//   3. Change(token, phone?, address?) -> the customer updated through
//      CustomerService::UpdateContactBySelfService (encrypted and indexed
//      as a staff update), a confirmation message to the OLD phone, and the
//      contact-changed hook (tags are recomputed there).
//
// Answers never reveal whether a customer exists: the matching and the
// decoy path do the same work (a store read, a key unwrap, two field
// decryptions, the same comparisons, one insert in one write transaction,
// one audit entry) and the message is sent by a background thread, so the
// answer never waits for the gateway. docs/self-service.md names the
// residual differences.
//
// Limits: first of all, requests_per_ip_max requests to any of the three
// steps per client address per requests_window_seconds (RequestFloodGuard,
// in this process's memory): past it a step answers kRateLimited before
// any work or audit entry, and the refusals are audited as one
// self_service.throttled summary per window with counts (issue 10.8: a
// flood of unauthenticated requests must not fill the audit log). Then
// codes_per_customer_per_hour starts per customer id (decoys
// count: the 429 is the same for ids that exist and ids that do not) and
// starts_per_ip_per_hour per client address, both counted in the database
// (several processes share them); code_ttl_seconds, code_attempts_max.
//
// Stored: the challenge (customer id as typed, IP, times, the code as
// HMAC-SM3 under the "self-service" domain key with a per-challenge salt,
// attempts) and the SM3 hash of the token. Audited: every step, by an
// actor of kind kSelfService ("self-service:<challenge id>") with the
// customer id, result and client IP; never the phone, the ID number, the
// code, the token or the address.
//
// Thread safety: every method may be called from many threads at once;
// SetSmsGateway and SetContactChangedHook only before serving.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "catalog/catalog.h"
#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "crypto/secret.h"
#include "service/audit_service.h"
#include "service/customer_service.h"
#include "service/request_flood_guard.h"
#include "service/sms_gateway.h"
#include "store/self_service_store.h"
#include "store/store.h"

namespace custvault::service {

inline constexpr std::string_view kSelfServiceKeyPurpose = "self-service";
inline constexpr int kSelfServiceCodeDigits = 6;
inline constexpr int kChangeTokenTtlSeconds = 600;
inline constexpr int64_t kSelfServiceWindowUs = 3600LL * 1'000'000;  // rate-limit window
// Messages waiting for the gateway; above it a start still answers the
// same, and the message is dropped (logged without personal data).
inline constexpr size_t kSmsQueueMax = 1000;
// A message waits this long after its start before the gateway sees it, so
// the send (an outbox fsync, an HTTP call) never overlaps the answer to the
// start that caused it: a matching start would otherwise answer measurably
// slower (its audit fsync queued behind the outbox fsync). Measured in
// docs/self-service.md.
inline constexpr int kSmsSendDelayMs = 250;
// Input limits (bytes) checked before anything else.
inline constexpr size_t kSelfServicePhoneBytesMax = 40;
inline constexpr size_t kChallengeIdBytes = 35;  // "ch_" + 32 hex
inline constexpr size_t kChangeTokenBytes = 68;  // "sst_" + 64 hex

struct StartRequest {
  std::string customer_id;
  std::string id_last4;
  std::string phone;
  std::string ip;
};

struct StartedChallenge {
  std::string challenge_id;
  int expires_in_seconds = 0;
};

struct ChangeToken {
  std::string token;
  int expires_in_seconds = 0;
};

struct ContactChange {
  std::string token;
  std::optional<std::string> phone;
  std::optional<std::string> address;
  std::string ip;
};

// The one answer to every failed verification, and to every unusable
// change token: same code, same message.
inline constexpr char kVerifyFailedMessage[] =
    "the code is not valid: it is wrong, expired or used up; start again";
inline constexpr char kTokenFailedMessage[] =
    "the change token is not valid: it is wrong, expired or used; start again";

class SelfServiceService {
 public:
  // Creates the "self-service" domain key when the data directory has none
  // yet. `gateway` sends the messages (see SetSmsGateway). References must
  // outlive the service. kInvalidArgument for a bad sms.url_template when
  // sms.gateway is "http".
  static Result<std::unique_ptr<SelfServiceService>> Create(
      Env* env, const Config& config, const catalog::Catalog& catalog, crypto::Keyring& keyring,
      store::Store& store, store::SelfServiceStore& challenges, CustomerService& customers,
      AuditRecorder& audit, std::unique_ptr<SmsGateway> gateway);
  // Sends what is queued (each message once, within the gateway's own
  // timeout), then stops the sender thread.
  ~SelfServiceService();
  SelfServiceService(const SelfServiceService&) = delete;
  SelfServiceService& operator=(const SelfServiceService&) = delete;

  // Step 1. kNotFound when self-service is disabled; kValidationFailed
  // (every bad field at once: customer_id, id_last4, phone) for input that
  // is malformed whatever the database holds; kRateLimited with
  // *retry_after_seconds set when a limit is reached; otherwise a challenge
  // id, for a match and a decoy alike.
  Result<StartedChallenge> Start(const StartRequest& request, int* retry_after_seconds = nullptr);

  // Step 2. kRateLimited (with *retry_after_seconds) past the per-address
  // limit; kValidationFailed when the code is not 6 ASCII digits;
  // kUnauthenticated (kVerifyFailedMessage) for every other failure.
  Result<ChangeToken> Verify(const std::string& challenge_id, const std::string& code,
                             const std::string& ip, int* retry_after_seconds = nullptr);

  // Step 3. kRateLimited (with *retry_after_seconds) past the per-address
  // limit; kValidationFailed (every bad field at once: token missing,
  // nothing to change, catalog errors of phone/address); kUnauthenticated
  // (kTokenFailedMessage) for a token that is wrong, expired or used;
  // otherwise the customer's contact fields after the change, masked.
  Result<CustomerView> Change(const ContactChange& change, int* retry_after_seconds = nullptr);

  // Writes the summary of the refusals of the per-address limit so far
  // (done by the next request after each window, and at destruction).
  void FlushThrottleSummary() { flood_guard_.Flush(); }

  // Replaces the gateway (the HTTP layer installs HttpSmsGateway when
  // sms.gateway is "http"; tests install their own). Before serving only.
  void SetSmsGateway(std::unique_ptr<SmsGateway> gateway);
  // Called with the customer id after every successful change (the tag
  // engine recomputes that customer's tags). Before serving only.
  void SetContactChangedHook(std::function<void(const std::string& customer_id)> hook);

  // Waits until every queued message went to the gateway (for tests and
  // for an orderly stop).
  void FlushMessages();
  // Messages the gateway refused or the full queue dropped, since start.
  int64_t messages_failed() const;

 private:
  struct DummyCustomer;
  struct Outgoing {
    crypto::SecretBytes phone;
    crypto::SecretBytes message;
    // Not before this (a scheduling delay, not domain time: Env's clock
    // may be frozen in tests, so this is the process's steady clock).
    std::chrono::steady_clock::time_point send_at;
  };

  SelfServiceService(Env* env, const Config& config, const catalog::Catalog& catalog,
                     const crypto::Keyring& keyring, store::Store& store,
                     store::SelfServiceStore& challenges, CustomerService& customers,
                     AuditRecorder& audit, std::unique_ptr<SmsGateway> gateway);

  // Decrypts the record's id_number and phone (or the dummy's, for an
  // absent customer or field) and compares them with the input; the work
  // is the same whether or not they match. On a match, *phone_on_record
  // receives the normalised phone.
  Result<bool> DetailsMatch(const store::CustomerRecord* record, std::string_view id_last4,
                            std::string_view normalised_phone,
                            crypto::SecretBytes* phone_on_record);
  Result<std::string> RandomHex(size_t bytes);
  Result<std::string> RandomCode();
  Result<std::string> CodeMac(const std::string& challenge_id, const std::string& salt,
                              std::string_view code, uint32_t* version, bool with_version);
  // Queues a message for the sender thread (never blocks on the gateway).
  void Enqueue(crypto::SecretBytes phone, std::string message);
  void RunSender();
  Status Audit(const std::string& challenge_id, const std::string& ip,
               std::string_view operation, const std::string& customer_id,
               std::string_view result, boost::json::object details);
  // One self_service.throttled entry for a window's refusals.
  void AuditThrottled(const FloodSummary& summary);

  Env* env_;
  const Config& config_;
  const catalog::Catalog& catalog_;
  const crypto::Keyring& keyring_;
  store::Store& store_;
  store::SelfServiceStore& challenges_;
  CustomerService& customers_;
  AuditRecorder& audit_;
  std::unique_ptr<DummyCustomer> dummy_;
  std::function<void(const std::string&)> on_contact_changed_;
  RequestFloodGuard flood_guard_;

  std::unique_ptr<SmsGateway> gateway_;  // used by the sender thread only (after start)
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_wake_;
  std::condition_variable queue_idle_;
  std::deque<Outgoing> queue_;   // guarded by queue_mutex_
  bool sending_ = false;         // guarded by queue_mutex_
  bool stopping_ = false;        // guarded by queue_mutex_
  int64_t messages_failed_ = 0;  // guarded by queue_mutex_
  std::thread sender_;
};

}  // namespace custvault::service
