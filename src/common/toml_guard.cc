#include "common/toml_guard.h"

#include <cstdint>
#include <string>

namespace custvault {

bool IsStrictUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code_point = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
      code_point = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      code_point = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      code_point = b & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (c & 0x3F);
    }
    if ((length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000) ||
        code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

Status CheckTomlInput(std::string_view text, std::string_view source) {
  if (!IsStrictUtf8(text)) return InvalidArgument(std::string(source) + " is not valid UTF-8");
  int depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > kTomlBracketNestingMax) {
        return InvalidArgument(std::string(source) + ": brackets nest deeper than " +
                               std::to_string(kTomlBracketNestingMax) + " levels");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return Status::Ok();
}

}  // namespace custvault
