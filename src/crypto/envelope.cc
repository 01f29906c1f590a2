#include "crypto/envelope.h"

#include <cassert>

namespace custvault::crypto {
namespace {

void AppendU16(std::string* out, size_t value) {
  out->push_back(static_cast<char>((value >> 8) & 0xff));
  out->push_back(static_cast<char>(value & 0xff));
}

}  // namespace

Result<EnvelopeView> ParseEnvelope(std::string_view bytes) {
  if (bytes.size() < kEnvelopeOverheadBytes) {
    return DataLoss("ciphertext envelope too short: " + std::to_string(bytes.size()) + " bytes");
  }
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  if (b[0] != kEnvelopeFormatVersion) {
    return DataLoss("unknown ciphertext envelope version " + std::to_string(b[0]));
  }
  EnvelopeView view{};
  switch (b[1]) {
    case static_cast<uint8_t>(AeadAlgorithm::kAes256Gcm):
      view.algorithm = AeadAlgorithm::kAes256Gcm;
      break;
    case static_cast<uint8_t>(AeadAlgorithm::kSm4Gcm):
      view.algorithm = AeadAlgorithm::kSm4Gcm;
      break;
    default:
      return DataLoss("unknown ciphertext algorithm " + std::to_string(b[1]));
  }
  view.key_version =
      (uint32_t{b[2]} << 24) | (uint32_t{b[3]} << 16) | (uint32_t{b[4]} << 8) | uint32_t{b[5]};
  view.header = bytes.substr(0, kEnvelopeHeaderBytes);
  view.nonce = bytes.substr(kEnvelopeHeaderBytes, kAeadNonceBytes);
  view.ciphertext_and_tag = bytes.substr(kEnvelopeHeaderBytes + kAeadNonceBytes);
  return view;
}

std::string EnvelopeHeader(AeadAlgorithm algorithm, uint32_t key_version) {
  std::string header(kEnvelopeHeaderBytes, '\0');
  header[0] = static_cast<char>(kEnvelopeFormatVersion);
  header[1] = static_cast<char>(algorithm);
  header[2] = static_cast<char>((key_version >> 24) & 0xff);
  header[3] = static_cast<char>((key_version >> 16) & 0xff);
  header[4] = static_cast<char>((key_version >> 8) & 0xff);
  header[5] = static_cast<char>(key_version & 0xff);
  return header;
}

std::string FieldAssociatedData(std::string_view header, std::string_view customer_id,
                                std::string_view field_key) {
  // Callers (Keyring) refuse ids and keys over kBindingBytesMax, so the
  // 16-bit lengths cannot wrap; the length prefixes keep ("ab","c") and
  // ("a","bc") apart.
  assert(header.size() == kEnvelopeHeaderBytes);
  assert(customer_id.size() <= 0xffff && field_key.size() <= 0xffff);
  std::string aad;
  aad.reserve(header.size() + 4 + customer_id.size() + field_key.size());
  aad.append(header);
  AppendU16(&aad, customer_id.size());
  aad.append(customer_id);
  AppendU16(&aad, field_key.size());
  aad.append(field_key);
  return aad;
}

}  // namespace custvault::crypto
