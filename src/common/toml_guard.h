// Checks made on any text before toml11 parses it. Debian's toml11 3.7
// reads past its buffer when a literal string ('...') holds bytes that are
// not UTF-8, recurses without limit on deeply nested brackets (a
// 200,000-'[' input crashed it), and takes time quadratic in the parts of
// a dotted key (issue 11.1: `[a.a.a...a]` with 32,000 parts cost 15-21 s of
// CPU). So before it runs, one linear scan bounds every dimension of its
// work: size, lines, tokens, key length, dotted-key parts, tables, array
// items and bracket nesting. The config file, the catalog and the rules
// file all go through here first. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace custvault {

inline constexpr int kTomlBracketNestingMax = 16;

// The bounds of one TOML text. Each caller may tighten them (the rules
// file does); the defaults suit a configuration or catalog file.
struct TomlLimits {
  size_t bytes_max = 1024 * 1024;
  size_t lines_max = 20'000;
  size_t tokens_max = 100'000;  // keys, values, strings and punctuation
  size_t key_bytes_max = 128;   // one part of a key, bare or quoted
  int dotted_key_parts_max = 8;  // a.b.c is 3 parts (table headers too)
  size_t tables_max = 4096;      // [table], [[array]] headers and {inline} tables
  size_t array_items_max = 1024;  // items of one array
  size_t bare_value_bytes_max = 128;  // a number, date or boolean
};

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF.
bool IsStrictUtf8(std::string_view text);

// kInvalidArgument, naming `source` and what is wrong:
//   "<source> is not valid UTF-8";
//   "<source>: brackets nest deeper than 16 levels" (counted conservatively:
//     brackets inside strings count too);
//   "<source>: line N: <what> (more than M ...)" for a text over a limit;
//   "<source> is not valid TOML: line N: ..." for text the scan cannot read
//     as TOML (refused here rather than handed on, so toml11 never sees a
//     text whose cost was not bounded).
// Linear in the size of the text; the text is never echoed.
Status CheckTomlInput(std::string_view text, std::string_view source,
                      const TomlLimits& limits = {});

}  // namespace custvault
