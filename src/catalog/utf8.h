// UTF-8 helpers for the catalog: validators, normalisers and masks work on
// code points, never on bytes, so a mask can never cut a character in half.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace custvault::catalog {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF. std::nullopt when the bytes are not UTF-8.
std::optional<std::u32string> DecodeUtf8(std::string_view bytes);
bool IsValidUtf8(std::string_view bytes);
std::string EncodeUtf8(std::u32string_view code_points);
void AppendUtf8(char32_t code_point, std::string* out);

// CJK unified ideographs (basic block, extension A, compatibility block,
// extensions B-H) and U+3007 〇, the characters a Chinese name is written in.
bool IsCjkIdeograph(char32_t c);

// ASCII whitespace or the full-width space U+3000.
bool IsSpace(char32_t c);

// Trims ASCII whitespace (and U+3000) at both ends of valid or invalid input.
std::string_view TrimSpaces(std::string_view text);

}  // namespace custvault::catalog
