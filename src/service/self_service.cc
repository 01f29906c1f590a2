#include "service/self_service.h"

#include <openssl/crypto.h>

#include "audit/entry.h"
#include "common/encoding.h"
#include "common/log.h"
#include "crypto/hash.h"

namespace custvault::service {
namespace {

constexpr char kIdNumberField[] = "id_number";
constexpr char kPhoneField[] = "phone";
constexpr char kAddressField[] = "address";
constexpr char kChallengePrefix[] = "ch_";
constexpr char kTokenPrefix[] = "sst_";
constexpr size_t kSaltBytes = 16;
// The stand-in for a customer who does not exist: "C" + 14 zeros is never
// drawn (ids carry a real date), and its values are fixed, valid ones.
constexpr char kDummyCustomerId[] = "C00000000000000";
constexpr char kDummyIdNumber[] = "11010519491231002X";
constexpr char kDummyPhone[] = "13800000000";

constexpr int64_t kMicrosPerSecond = 1'000'000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "C" + 14 digits, as CustomerService draws them.
bool LooksLikeCustomerId(std::string_view id) {
  if (id.size() != 15 || id[0] != 'C') return false;
  for (size_t i = 1; i < id.size(); ++i) {
    if (!IsDigit(id[i])) return false;
  }
  return true;
}

// prefix + lower-case hex of the given length.
bool LooksLikeSecretId(std::string_view text, std::string_view prefix, size_t hex_chars) {
  if (text.size() != prefix.size() + hex_chars || text.substr(0, prefix.size()) != prefix) {
    return false;
  }
  for (char c : text.substr(prefix.size())) {
    if (!(IsDigit(c) || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Three digits and a digit or X (the GB 11643 check character).
bool LooksLikeLast4(std::string_view text) {
  if (text.size() != 4) return false;
  for (size_t i = 0; i < 3; ++i) {
    if (!IsDigit(text[i])) return false;
  }
  return IsDigit(text[3]) || text[3] == 'X' || text[3] == 'x';
}

bool LooksLikeCode(std::string_view code) {
  if (code.size() != static_cast<size_t>(kSelfServiceCodeDigits)) return false;
  for (char c : code) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// A normalised mainland mobile number: 11 digits starting with 1.
bool IsMobile(std::string_view normalised) {
  if (normalised.size() != 11 || normalised[0] != '1') return false;
  for (char c : normalised) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

crypto::AeadAlgorithm AlgorithmFor(catalog::Protection protection) {
  return protection == catalog::Protection::kSm4Gcm ? crypto::AeadAlgorithm::kSm4Gcm
                                                    : crypto::AeadAlgorithm::kAes256Gcm;
}

void Wipe(std::string& text) {
  if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  text.clear();
}

Status Validation(std::vector<FieldError> errors, std::string message) {
  return Status(ErrorCode::kValidationFailed, std::move(message), std::move(errors));
}

}  // namespace

struct SelfServiceService::DummyCustomer {
  store::CustomerRecord record;
  crypto::SecretBytes key;  // unwrapped once: used when a real record lacks a field
};

Result<std::unique_ptr<SelfServiceService>> SelfServiceService::Create(
    Env* env, const Config& config, const catalog::Catalog& catalog, crypto::Keyring& keyring,
    store::Store& store, store::SelfServiceStore& challenges, CustomerService& customers,
    AuditRecorder& audit, std::unique_ptr<SmsGateway> gateway) {
  if (config.sms.gateway == "http") {
    RETURN_IF_ERROR(ParseSmsUrlTemplate(config.sms.url_template).status());
  }
  const catalog::FieldDef* id_field = catalog.Find(kIdNumberField);
  const catalog::FieldDef* phone_field = catalog.Find(kPhoneField);
  if (id_field == nullptr || phone_field == nullptr || catalog.Find(kAddressField) == nullptr) {
    return Internal("self-service needs the catalog fields id_number, phone and address");
  }
  if (!keyring.HasDomainKey(kSelfServiceKeyPurpose)) {
    // Data directories made before self-service existed have no such key.
    ASSIGN_OR_RETURN(crypto::WrappedKey wrapped,
                     keyring.CreateDomainKey(kSelfServiceKeyPurpose, 1));
    RETURN_IF_ERROR(
        store.PutKey({wrapped.purpose, wrapped.version, wrapped.wrapped, env->NowMicros()}));
  }
  // The decoy path's stand-in record, sealed like a real one, so an
  // unknown customer costs the same unwrap and decryptions as a known one.
  auto dummy = std::make_unique<DummyCustomer>();
  ASSIGN_OR_RETURN(crypto::NewCustomerKey key, keyring.CreateCustomerKey(kDummyCustomerId));
  dummy->record.id = kDummyCustomerId;
  dummy->record.kek_version = key.kek_version;
  dummy->record.wrapped_key = key.wrapped;
  for (const catalog::FieldDef* field : {id_field, phone_field}) {
    const std::string value = field == id_field ? kDummyIdNumber : kDummyPhone;
    if (field->protection == catalog::Protection::kPlain) {
      dummy->record.fields[field->key] = value;
      continue;
    }
    ASSIGN_OR_RETURN(dummy->record.fields[field->key],
                     keyring.EncryptField(AlgorithmFor(field->protection), key.key, 1,
                                          kDummyCustomerId, field->key, value));
  }
  dummy->key = std::move(key.key);
  std::unique_ptr<SelfServiceService> service(new SelfServiceService(
      env, config, catalog, keyring, store, challenges, customers, audit, std::move(gateway)));
  service->dummy_ = std::move(dummy);
  return service;
}

SelfServiceService::SelfServiceService(Env* env, const Config& config,
                                       const catalog::Catalog& catalog,
                                       const crypto::Keyring& keyring, store::Store& store,
                                       store::SelfServiceStore& challenges,
                                       CustomerService& customers, AuditRecorder& audit,
                                       std::unique_ptr<SmsGateway> gateway)
    : env_(env),
      config_(config),
      catalog_(catalog),
      keyring_(keyring),
      store_(store),
      challenges_(challenges),
      customers_(customers),
      audit_(audit),
      flood_guard_(env,
                   {.requests_max = config.self_service.requests_per_ip_max,
                    .window_us = int64_t{config.self_service.requests_window_seconds} *
                                 kMicrosPerSecond},
                   [this](const FloodSummary& summary) { AuditThrottled(summary); }),
      gateway_(std::move(gateway)) {
  if (!gateway_) gateway_ = std::make_unique<UnavailableSmsGateway>();
  sender_ = std::thread([this] { RunSender(); });
}

SelfServiceService::~SelfServiceService() {
  flood_guard_.Flush();  // the refusals of the last window are audited too
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_wake_.notify_all();
  if (sender_.joinable()) sender_.join();
}

void SelfServiceService::SetSmsGateway(std::unique_ptr<SmsGateway> gateway) {
  std::unique_lock lock(queue_mutex_);
  queue_idle_.wait(lock, [this] { return !sending_; });
  gateway_ = gateway ? std::move(gateway) : std::make_unique<UnavailableSmsGateway>();
}

void SelfServiceService::SetContactChangedHook(
    std::function<void(const std::string& customer_id)> hook) {
  on_contact_changed_ = std::move(hook);
}

void SelfServiceService::FlushMessages() {
  std::unique_lock lock(queue_mutex_);
  queue_idle_.wait(lock, [this] { return queue_.empty() && !sending_; });
}

int64_t SelfServiceService::messages_failed() const {
  std::lock_guard lock(queue_mutex_);
  return messages_failed_;
}

void SelfServiceService::Enqueue(crypto::SecretBytes phone, std::string message) {
  {
    std::lock_guard lock(queue_mutex_);
    if (queue_.size() >= kSmsQueueMax || stopping_) {
      ++messages_failed_;
      spdlog::warn("self-service: SMS queue full; a message was dropped");
      Wipe(message);
      return;
    }
    queue_.push_back({std::move(phone), crypto::SecretBytes(message),
                      std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(kSmsSendDelayMs)});
  }
  Wipe(message);
  queue_wake_.notify_one();
}

void SelfServiceService::RunSender() {
  std::unique_lock lock(queue_mutex_);
  while (true) {
    queue_wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    // Messages are queued in send_at order (one fixed delay). While
    // stopping, what is queued goes out at once.
    const auto send_at = queue_.front().send_at;
    if (!stopping_ && std::chrono::steady_clock::now() < send_at) {
      queue_wake_.wait_until(lock, send_at, [this] { return stopping_; });
      continue;
    }
    Outgoing outgoing = std::move(queue_.front());
    queue_.pop_front();
    sending_ = true;
    SmsGateway* gateway = gateway_.get();
    lock.unlock();
    std::string phone(outgoing.phone.view());
    std::string message(outgoing.message.view());
    const Status sent = gateway->Send(phone, message);
    Wipe(phone);
    Wipe(message);
    if (!sent.ok()) {
      // Gateway errors name neither the phone nor the message.
      spdlog::warn("self-service: the SMS gateway did not take a message: {}", sent.ToString());
    }
    lock.lock();
    sending_ = false;
    if (!sent.ok()) ++messages_failed_;
    queue_idle_.notify_all();
  }
}

Result<std::string> SelfServiceService::RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RETURN_IF_ERROR(
      env_->RandomBytes({reinterpret_cast<uint8_t*>(raw.data()), raw.size()}));
  std::string hex = HexEncode(raw);
  Wipe(raw);
  return hex;
}

Result<std::string> SelfServiceService::RandomCode() {
  // 4,294,000,000 is the largest multiple of 10^6 below 2^32: rejecting
  // values at or above it keeps the 6 digits uniform.
  constexpr uint32_t kUniformBound = 4'294'000'000u;
  uint32_t n = 0;
  do {
    uint8_t bytes[4];
    RETURN_IF_ERROR(env_->RandomBytes(bytes));
    n = (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
        bytes[3];
    OPENSSL_cleanse(bytes, sizeof bytes);
  } while (n >= kUniformBound);
  char digits[8];
  std::snprintf(digits, sizeof digits, "%06u", n % 1'000'000u);
  std::string code(digits, kSelfServiceCodeDigits);
  OPENSSL_cleanse(digits, sizeof digits);
  return code;
}

Result<std::string> SelfServiceService::CodeMac(const std::string& challenge_id,
                                                const std::string& salt, std::string_view code,
                                                uint32_t* version, bool with_version) {
  std::string data = challenge_id;
  data.push_back('\0');
  data.append(salt);
  data.push_back('\0');
  data.append(code);
  Result<std::string> mac = with_version
                                ? keyring_.DomainMacWithVersion(kSelfServiceKeyPurpose, *version, data)
                                : keyring_.DomainMac(kSelfServiceKeyPurpose, data, version);
  Wipe(data);
  return mac;
}

Status SelfServiceService::Audit(const std::string& challenge_id, const std::string& ip,
                                 std::string_view operation, const std::string& customer_id,
                                 std::string_view result, boost::json::object details) {
  Actor actor;
  actor.kind = ActorKind::kSelfService;
  actor.id = "self-service:" + (challenge_id.empty() ? std::string("none") : challenge_id);
  actor.role = Role::kChannel;  // never consulted: the policy grants this kind nothing
  actor.ip = ip;
  Result<int64_t> seq = audit_.Record(actor, operation, customer_id, result, std::move(details));
  if (!seq.ok()) {
    // No audit, no access.
    return Unavailable("the audit log could not record the operation; try again");
  }
  return Status::Ok();
}

void SelfServiceService::AuditThrottled(const FloodSummary& summary) {
  boost::json::object by_endpoint;
  for (const auto& [endpoint, count] : summary.refused_by_endpoint) by_endpoint[endpoint] = count;
  boost::json::array top;
  for (const auto& [address, count] : summary.top_addresses) {
    top.push_back(boost::json::object{{"ip", address}, {"refused", count}});
  }
  // One address: the entry carries it, so a search by IP finds the flood.
  const std::string ip = summary.top_addresses.size() == 1 && summary.addresses_refused == 1
                             ? summary.top_addresses[0].first.substr(0, store::kChallengeIpBytesMax)
                             : std::string("unknown");
  Audit("", ip, audit::op::kSelfServiceThrottled, "", audit::result::kDenied,
        {{"window_start", FormatRfc3339(summary.window_start_us)},
         {"window_end", FormatRfc3339(summary.window_end_us)},
         {"refused", summary.refused},
         {"admitted", summary.admitted},
         {"refused_by_endpoint", std::move(by_endpoint)},
         {"addresses", summary.addresses_refused},
         {"top_addresses", std::move(top)}})
      .IgnoreError();  // the refusals stand; the log is down and says so elsewhere
}

Result<bool> SelfServiceService::DetailsMatch(const store::CustomerRecord* record,
                                              std::string_view id_last4,
                                              std::string_view normalised_phone,
                                              crypto::SecretBytes* phone_on_record) {
  const store::CustomerRecord& r = record != nullptr ? *record : dummy_->record;
  ASSIGN_OR_RETURN(crypto::SecretBytes key,
                   keyring_.UnwrapCustomerKey(r.id, r.kek_version, r.wrapped_key));
  // Each field from the record, or the dummy's when the record lacks it.
  auto open = [&](const char* field_key) -> Result<crypto::SecretBytes> {
    const catalog::FieldDef* field = catalog_.Find(field_key);
    const auto stored = r.fields.find(field_key);
    const bool present = stored != r.fields.end();
    const std::string& envelope =
        present ? stored->second : dummy_->record.fields.at(field_key);
    if (field->protection == catalog::Protection::kPlain) return crypto::SecretBytes(envelope);
    return keyring_.DecryptField(present ? key : dummy_->key,
                                 present ? r.id : dummy_->record.id, field_key, envelope);
  };
  ASSIGN_OR_RETURN(crypto::SecretBytes id_number, open(kIdNumberField));
  ASSIGN_OR_RETURN(crypto::SecretBytes phone, open(kPhoneField));
  const bool has_fields = r.fields.count(kIdNumberField) != 0 && r.fields.count(kPhoneField) != 0;

  // The last 4 characters, upper-case X (stored values are normalised so).
  char wanted[4];
  for (size_t i = 0; i < 4; ++i) {
    const char c = id_last4[i];
    wanted[i] = c == 'x' ? 'X' : c;
  }
  const std::string_view id_view = id_number.view();
  const std::string_view tail =
      id_view.size() >= 4 ? id_view.substr(id_view.size() - 4) : std::string_view("\0\0\0\0", 4);
  const bool last4_equal = crypto::ConstantTimeEqual(tail, std::string_view(wanted, 4));
  OPENSSL_cleanse(wanted, sizeof wanted);
  // Digests have one length whatever the phone's, so the comparison takes
  // the same time for a landline on record.
  const crypto::Digest32 stored_digest = crypto::Sm3(phone.view());
  const crypto::Digest32 given_digest = crypto::Sm3(normalised_phone);
  const bool phone_equal = crypto::ConstantTimeEqual(crypto::DigestView(stored_digest),
                                                     crypto::DigestView(given_digest));
  // No short-circuit: every part is computed whatever the others say.
  const bool matched = static_cast<int>(record != nullptr) & static_cast<int>(has_fields) &
                       static_cast<int>(last4_equal) & static_cast<int>(phone_equal) &
                       static_cast<int>(IsMobile(phone.view()));
  if (matched) *phone_on_record = std::move(phone);
  return matched;
}

Result<StartedChallenge> SelfServiceService::Start(const StartRequest& request,
                                                   int* retry_after_seconds) {
  if (!config_.self_service.enabled) return NotFound("self-service is not enabled");
  // Before any work and any audit entry (issue 10.8).
  RETURN_IF_ERROR(flood_guard_.Admit(request.ip, "start", retry_after_seconds));
  // Malformed input is refused whatever the database holds (no existence
  // signal): all errors at once.
  std::vector<FieldError> errors;
  if (!LooksLikeCustomerId(request.customer_id)) errors.push_back({"customer_id", "format"});
  if (!LooksLikeLast4(request.id_last4)) errors.push_back({"id_last4", "format"});
  const catalog::FieldDef* phone_field = catalog_.Find(kPhoneField);
  std::string phone;
  if (request.phone.size() > kSelfServicePhoneBytesMax) {
    errors.push_back({"phone", "too_long"});
  } else if (std::optional<catalog::Reason> bad = catalog_.CheckField(*phone_field, request.phone)) {
    errors.push_back({"phone", *bad});
  } else if (catalog::CheckMobile(request.phone)) {
    errors.push_back({"phone", "not_mobile"});  // codes go to mobiles only
  } else {
    phone = catalog::Normalise(*phone_field, request.phone);
  }
  if (!errors.empty()) {
    Wipe(phone);
    return Validation(std::move(errors), "some self-service details are malformed");
  }

  // The same work for a customer who exists and one who does not.
  Result<store::CustomerRecord> record = store_.GetCustomer(request.customer_id);
  if (!record.ok() && record.status().code() != ErrorCode::kNotFound) {
    Wipe(phone);
    return record.status();
  }
  crypto::SecretBytes phone_on_record;
  Result<bool> matched = DetailsMatch(record.ok() ? &*record : nullptr, request.id_last4, phone,
                                      &phone_on_record);
  Wipe(phone);
  if (!matched.ok()) return matched.status();

  ASSIGN_OR_RETURN(std::string hex_id, RandomHex(16));
  store::ChallengeRecord challenge;
  challenge.id = kChallengePrefix + hex_id;
  challenge.customer_id = request.customer_id;
  challenge.ip = request.ip.empty() ? "unknown" : request.ip.substr(0, store::kChallengeIpBytesMax);
  challenge.created_at_us = env_->NowMicros();
  challenge.expires_at_us =
      challenge.created_at_us + int64_t{config_.self_service.code_ttl_seconds} * kMicrosPerSecond;
  challenge.decoy = !*matched;
  ASSIGN_OR_RETURN(std::string salt, RandomHex(kSaltBytes));
  challenge.code_salt = std::move(salt);
  // A decoy draws and MACs a code too; it is never sent and never accepted.
  ASSIGN_OR_RETURN(std::string code, RandomCode());
  Result<std::string> mac =
      CodeMac(challenge.id, challenge.code_salt, code, &challenge.mac_key_version, false);
  if (!mac.ok()) {
    Wipe(code);
    return mac.status();
  }
  challenge.code_mac = std::move(*mac);

  const store::ChallengeLimits limits{challenge.created_at_us - kSelfServiceWindowUs,
                                      config_.self_service.codes_per_customer_per_hour,
                                      config_.self_service.starts_per_ip_per_hour};
  Result<store::ChallengeInsertOutcome> inserted =
      challenges_.InsertChallengeWithinLimits(challenge, limits);
  if (!inserted.ok()) {
    Wipe(code);
    return inserted.status();
  }
  if (inserted->refused != store::ChallengeInsertOutcome::Refused::kNone) {
    Wipe(code);
    const int64_t wait_us =
        inserted->oldest_counted_at_us + kSelfServiceWindowUs - challenge.created_at_us;
    const int wait_s =
        static_cast<int>(std::max<int64_t>(1, (wait_us + kMicrosPerSecond - 1) / kMicrosPerSecond));
    if (retry_after_seconds != nullptr) *retry_after_seconds = wait_s;
    const bool per_ip = inserted->refused == store::ChallengeInsertOutcome::Refused::kPerIp;
    RETURN_IF_ERROR(Audit("", challenge.ip, audit::op::kSelfServiceStart, request.customer_id,
                          audit::result::kDenied,
                          {{"reason", per_ip ? "rate_limited_ip" : "rate_limited_customer"}}));
    return Status(ErrorCode::kRateLimited, "too many self-service starts; try again later");
  }

  boost::json::object details;
  if (!*matched) details["reason"] = record.ok() ? "details_mismatch" : "no_such_customer";
  Status audited = Audit(challenge.id, challenge.ip, audit::op::kSelfServiceStart,
                         request.customer_id,
                         *matched ? audit::result::kOk : audit::result::kFailed, std::move(details));
  if (!audited.ok()) {
    Wipe(code);
    return audited;
  }
  if (*matched) {
    // Queued: the answer never waits for the gateway, so it takes the same
    // time whether or not a message goes out.
    Enqueue(std::move(phone_on_record), CodeMessage(code, config_.self_service.code_ttl_seconds));
  }
  Wipe(code);
  return StartedChallenge{challenge.id, config_.self_service.code_ttl_seconds};
}

Result<ChangeToken> SelfServiceService::Verify(const std::string& challenge_id,
                                               const std::string& code, const std::string& ip,
                                               int* retry_after_seconds) {
  if (!config_.self_service.enabled) return NotFound("self-service is not enabled");
  RETURN_IF_ERROR(flood_guard_.Admit(ip, "verify", retry_after_seconds));
  if (!LooksLikeCode(code)) {
    return Validation({{"code", "format"}}, "the code is 6 digits");
  }
  const Status refused(ErrorCode::kUnauthenticated, kVerifyFailedMessage);
  const std::string audit_ip = ip.empty() ? "unknown" : ip.substr(0, store::kChallengeIpBytesMax);
  if (!LooksLikeSecretId(challenge_id, kChallengePrefix, 32)) {
    RETURN_IF_ERROR(Audit("", audit_ip, audit::op::kSelfServiceVerify, "", audit::result::kFailed,
                          {{"reason", "unknown_challenge"}}));
    return refused;
  }
  const int64_t now = env_->NowMicros();
  Result<store::ChallengeRecord> row =
      challenges_.CountAttempt(challenge_id, now, config_.self_service.code_attempts_max);
  if (!row.ok()) {
    if (row.status().code() != ErrorCode::kNotFound) return row.status();
    // Why, for the auditors only; the caller gets the one answer.
    std::string reason = "unknown_challenge";
    std::string customer_id;
    if (Result<store::ChallengeRecord> seen = challenges_.GetChallenge(challenge_id); seen.ok()) {
      customer_id = seen->customer_id;
      reason = seen->verified_at_us != 0                                       ? "already_verified"
               : seen->attempts >= config_.self_service.code_attempts_max ? "attempts_used_up"
                                                                               : "expired";
    }
    RETURN_IF_ERROR(Audit(challenge_id, audit_ip, audit::op::kSelfServiceVerify, customer_id,
                          audit::result::kFailed, {{"reason", reason}}));
    return refused;
  }
  uint32_t version = row->mac_key_version;
  ASSIGN_OR_RETURN(const std::string mac,
                   CodeMac(challenge_id, row->code_salt, code, &version, true));
  const bool equal = crypto::ConstantTimeEqual(mac, row->code_mac);
  if (!equal || row->decoy) {
    RETURN_IF_ERROR(Audit(challenge_id, audit_ip, audit::op::kSelfServiceVerify, row->customer_id,
                          audit::result::kFailed,
                          {{"reason", row->decoy ? "decoy_challenge" : "wrong_code"},
                           {"attempts", row->attempts}}));
    return refused;
  }
  ASSIGN_OR_RETURN(std::string hex, RandomHex(32));
  ChangeToken token{kTokenPrefix + hex, kChangeTokenTtlSeconds};
  Wipe(hex);
  const crypto::Digest32 hash = crypto::Sm3(token.token);
  const Status issued =
      challenges_.IssueToken(challenge_id, std::string(crypto::DigestView(hash)), now,
                             now + int64_t{kChangeTokenTtlSeconds} * kMicrosPerSecond);
  if (!issued.ok()) {
    Wipe(token.token);
    if (issued.code() != ErrorCode::kNotFound) return issued;
    // Another request with the right code won the race.
    RETURN_IF_ERROR(Audit(challenge_id, audit_ip, audit::op::kSelfServiceVerify, row->customer_id,
                          audit::result::kFailed, {{"reason", "already_verified"}}));
    return refused;
  }
  Status audited = Audit(challenge_id, audit_ip, audit::op::kSelfServiceVerify, row->customer_id,
                         audit::result::kOk, {{"attempts", row->attempts}});
  if (!audited.ok()) {
    Wipe(token.token);
    return audited;
  }
  return token;
}

Result<CustomerView> SelfServiceService::Change(const ContactChange& change,
                                                int* retry_after_seconds) {
  if (!config_.self_service.enabled) return NotFound("self-service is not enabled");
  RETURN_IF_ERROR(flood_guard_.Admit(change.ip, "changes", retry_after_seconds));
  const std::string audit_ip =
      change.ip.empty() ? "unknown" : change.ip.substr(0, store::kChallengeIpBytesMax);
  std::vector<FieldError> errors;
  if (change.token.empty()) errors.push_back({"token", "required"});
  if (!change.phone && !change.address) {
    errors.push_back({kPhoneField, "one_of_required"});
    errors.push_back({kAddressField, "one_of_required"});
  }
  std::map<std::string, std::string> values;
  if (change.phone) values[kPhoneField] = *change.phone;
  if (change.address) values[kAddressField] = *change.address;
  if (!values.empty()) {
    const int year =
        std::stoi(FormatYyyymmdd(env_->NowMicros(), config_.utc_offset_seconds).substr(0, 4));
    Result<std::map<std::string, std::string>> validated =
        catalog_.ValidateRecord(values, /*is_create=*/false, year);
    if (validated.ok()) {
      for (auto& [key, value] : *validated) Wipe(value);
    } else {
      for (const FieldError& e : validated.status().details()) errors.push_back(e);
    }
  }
  for (auto& [key, value] : values) Wipe(value);
  if (!errors.empty()) return Validation(std::move(errors), "the change is not valid");

  const Status refused(ErrorCode::kUnauthenticated, kTokenFailedMessage);
  if (!LooksLikeSecretId(change.token, kTokenPrefix, 64)) {
    RETURN_IF_ERROR(Audit("", audit_ip, audit::op::kSelfServiceUpdate, "", audit::result::kFailed,
                          {{"reason", "bad_token"}}));
    return refused;
  }
  const crypto::Digest32 hash = crypto::Sm3(change.token);
  Result<store::ChallengeRecord> challenge =
      challenges_.ConsumeToken(std::string(crypto::DigestView(hash)), env_->NowMicros());
  if (!challenge.ok()) {
    if (challenge.status().code() != ErrorCode::kNotFound) return challenge.status();
    RETURN_IF_ERROR(Audit("", audit_ip, audit::op::kSelfServiceUpdate, "", audit::result::kFailed,
                          {{"reason", "bad_token"}}));
    return refused;
  }
  const std::string& customer_id = challenge->customer_id;
  // The phone on record before the change: the confirmation goes there.
  Result<store::CustomerRecord> record = store_.GetCustomer(customer_id);
  if (!record.ok()) {
    if (record.status().code() != ErrorCode::kNotFound) return record.status();
    RETURN_IF_ERROR(Audit(challenge->id, audit_ip, audit::op::kSelfServiceUpdate, customer_id,
                          audit::result::kFailed, {{"reason", "customer_gone"}}));
    return refused;
  }
  crypto::SecretBytes old_phone;
  if (const auto stored = record->fields.find(kPhoneField); stored != record->fields.end()) {
    ASSIGN_OR_RETURN(crypto::SecretBytes key, keyring_.UnwrapCustomerKey(
                                                  record->id, record->kek_version,
                                                  record->wrapped_key));
    if (catalog_.Find(kPhoneField)->protection == catalog::Protection::kPlain) {
      old_phone = crypto::SecretBytes(stored->second);
    } else {
      ASSIGN_OR_RETURN(old_phone,
                       keyring_.DecryptField(key, record->id, kPhoneField, stored->second));
    }
  }

  Actor actor;
  actor.kind = ActorKind::kSelfService;
  actor.id = "self-service:" + challenge->id;
  actor.role = Role::kChannel;  // never consulted: the policy grants this kind nothing
  actor.ip = audit_ip;
  FieldChanges changes;
  if (change.phone) changes[kPhoneField] = *change.phone;
  if (change.address) changes[kAddressField] = *change.address;
  // Audited there (self_service.update, masked before and after).
  Result<CustomerView> view = customers_.UpdateContactBySelfService(actor, customer_id, changes);
  for (auto& [key, value] : changes) {
    if (value) Wipe(*value);
  }
  if (!view.ok()) {
    RETURN_IF_ERROR(Audit(challenge->id, audit_ip, audit::op::kSelfServiceUpdate, customer_id,
                          audit::result::kFailed,
                          {{"reason", ErrorCodeName(view.status().code())}}));
    return view.status();
  }
  if (IsMobile(old_phone.view())) {
    Enqueue(std::move(old_phone),
            ContactChangedMessage(change.phone.has_value(), change.address.has_value()));
  }
  if (on_contact_changed_) on_contact_changed_(customer_id);
  return view;
}

}  // namespace custvault::service
