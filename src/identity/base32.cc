#include "identity/base32.h"

namespace custvault::identity {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr size_t kBase32TextBytesMax = 4096;

int DigitValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

}  // namespace

std::string Base32Encode(std::string_view bytes, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 4) / 5 * 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
    buffer &= (1u << bits) - 1;  // keep only the bits not yet written
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 0x1f]);
  if (pad) {
    while (out.size() % 8 != 0) out.push_back('=');
  }
  return out;
}

Result<std::string> Base32Decode(std::string_view text) {
  if (text.size() > kBase32TextBytesMax) return InvalidArgument("base32 text is too long");
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '=') --end;
  const size_t padding = text.size() - end;
  if (padding > 0 && text.size() % 8 != 0) return InvalidArgument("base32 padding is wrong");
  // Characters in a final group: 2, 4, 5, 7 (1, 2, 3, 4 bytes) or a full 8.
  const size_t tail = end % 8;
  if (tail == 1 || tail == 3 || tail == 6) return InvalidArgument("base32 length is impossible");
  if (padding > 0 && padding != (8 - tail) % 8) return InvalidArgument("base32 padding is wrong");
  std::string out;
  out.reserve(end * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < end; ++i) {
    const int value = DigitValue(text[i]);
    if (value < 0) return InvalidArgument("base32 text has a character outside the alphabet");
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
      buffer &= (1u << bits) - 1;
    }
  }
  if (buffer != 0) return InvalidArgument("base32 text has non-zero trailing bits");
  return out;
}

}  // namespace custvault::identity
