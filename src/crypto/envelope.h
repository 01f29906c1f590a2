// The ciphertext envelope stored for every protected value; the format is
// documented in docs/formats/ciphertext.md:
//
//   offset size  field
//   0      1     format version (1)
//   1      1     algorithm (1 = AES-256-GCM, 2 = SM4-GCM)
//   2      4     key version, big-endian
//   6      12    nonce
//   18     n     ciphertext
//   18+n   16    tag
//
// The 6-byte header is part of the associated data, with the customer id and
// the field key, so neither the header nor the binding can be changed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/aead.h"

namespace custvault::crypto {

inline constexpr uint8_t kEnvelopeFormatVersion = 1;
inline constexpr size_t kEnvelopeHeaderBytes = 6;
inline constexpr size_t kEnvelopeOverheadBytes =
    kEnvelopeHeaderBytes + kAeadNonceBytes + kAeadTagBytes;
// Longest customer id or field key that may be bound into associated data
// (the format allows 65535; ours are ids and catalog keys, far shorter).
inline constexpr size_t kBindingBytesMax = 256;

struct EnvelopeView {
  AeadAlgorithm algorithm;
  uint32_t key_version;
  std::string_view header;              // bytes 0..5
  std::string_view nonce;               // 12 bytes
  std::string_view ciphertext_and_tag;  // >= 16 bytes
};

// Parses without copying; kDataLoss on a short buffer, unknown version or
// algorithm. `bytes` must outlive the view.
Result<EnvelopeView> ParseEnvelope(std::string_view bytes);

// Writes the 6-byte header.
std::string EnvelopeHeader(AeadAlgorithm algorithm, uint32_t key_version);

// Associated data binding a value to its place:
// header || u16 len || customer_id || u16 len || field_key (lengths
// big-endian). Both must be at most kBindingBytesMax (checked by callers).
std::string FieldAssociatedData(std::string_view header, std::string_view customer_id,
                                std::string_view field_key);

}  // namespace custvault::crypto
