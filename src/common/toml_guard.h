// Checks made on any text before toml11 parses it. Debian's toml11 3.7
// reads past its buffer when a literal string ('...') holds bytes that are
// not UTF-8, and recurses without limit on deeply nested brackets (a
// 200,000-'[' input crashed it); both were found by the rules robustness
// test under ASan. The config file, the catalog and the rules file all go
// through here first. Pure; thread-safe.
#pragma once

#include <string_view>

#include "common/status.h"

namespace custvault {

inline constexpr int kTomlBracketNestingMax = 16;

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF.
bool IsStrictUtf8(std::string_view text);

// kInvalidArgument "<source> is not valid UTF-8" or "<source>: brackets nest
// deeper than 16 levels" (counted conservatively: brackets inside strings
// count too).
Status CheckTomlInput(std::string_view text, std::string_view source);

}  // namespace custvault
