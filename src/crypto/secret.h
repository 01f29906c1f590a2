// SecretBytes: key material or decrypted personal data. Move-only, wiped
// (OPENSSL_cleanse) when destroyed or overwritten, and it has no stream
// operator, no implicit conversion and no formatter, so it cannot be
// printed or serialised by accident. Read it only through view().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace custvault::crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size);             // zero-filled
  explicit SecretBytes(std::string_view bytes);  // copies
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_.get()), size_}; }
  // A copy, explicitly asked for.
  SecretBytes Clone() const { return SecretBytes(view()); }
  void Wipe();

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

// Constant-time equality of two byte strings (length is not secret).
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace custvault::crypto
