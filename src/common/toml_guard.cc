#include "common/toml_guard.h"

#include <cstdint>
#include <string>
#include <vector>

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

namespace {

bool IsBareKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-';
}

// A bare value (number, date, time, boolean) runs until one of these.
bool EndsBareValue(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '[' || c == ']' ||
         c == '{' || c == '}' || c == '#' || c == '"' || c == '\'' || c == '=';
}

// One pass over the text, following just enough of the TOML grammar to
// tell keys from values and strings from structure. Whatever it cannot
// read as TOML is refused (toml11 would refuse it too), so no text reaches
// toml11 with a cost that was not counted here.
class TomlScan {
 public:
  TomlScan(std::string_view text, std::string_view source, const TomlLimits& limits)
      : text_(text), source_(source), limits_(limits) {}

  Status Run() {
    bool line_start = true;  // at top level, before anything on this line
    while (i_ < text_.size()) {
      const char c = text_[i_];
      if (c == '\n') {
        RETURN_IF_ERROR(NewLine());
        ++i_;
        if (stack_.empty()) {
          line_start = true;
          expect_key_ = true;
        }
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r') {
        ++i_;
        continue;
      }
      if (c == '#') {
        while (i_ < text_.size() && text_[i_] != '\n') ++i_;
        continue;
      }
      RETURN_IF_ERROR(CountToken());
      if (stack_.empty() && line_start && c == '[') {
        RETURN_IF_ERROR(TableHeader());
        line_start = false;
        expect_key_ = false;
        continue;
      }
      line_start = false;
      if (expect_key_) {
        if (c == '}' && !stack_.empty() && stack_.back().kind == '{') {
          RETURN_IF_ERROR(Close('{'));
          continue;
        }
        RETURN_IF_ERROR(Key());
        SkipBlanks();
        if (i_ >= text_.size() || text_[i_] != '=') return Malformed("expected '=' after a key");
        ++i_;
        expect_key_ = false;
        continue;
      }
      RETURN_IF_ERROR(ValueToken(c));
    }
    return Status::Ok();
  }

 private:
  struct Frame {
    char kind;     // '[' array, '{' inline table
    size_t items;  // arrays: items seen so far (commas + 1)
  };

  Status Malformed(std::string_view what) const {
    return InvalidArgument(std::string(source_) + " is not valid TOML: line " +
                           std::to_string(line_) + ": " + std::string(what));
  }
  Status OverLimit(std::string_view what, size_t limit) const {
    return InvalidArgument(std::string(source_) + ": line " + std::to_string(line_) + ": " +
                           std::string(what) + " (more than " + std::to_string(limit) + ")");
  }
  Status NewLine() {
    if (++line_ > limits_.lines_max) return OverLimit("too many lines", limits_.lines_max);
    return Status::Ok();
  }
  Status CountToken() {
    if (++tokens_ > limits_.tokens_max) return OverLimit("too many tokens", limits_.tokens_max);
    return Status::Ok();
  }
  Status CountTable() {
    if (++tables_ > limits_.tables_max) return OverLimit("too many tables", limits_.tables_max);
    return Status::Ok();
  }
  void SkipBlanks() {
    while (i_ < text_.size() && (text_[i_] == ' ' || text_[i_] == '\t')) ++i_;
  }
  bool AtTripleQuote(char quote) const {
    return i_ + 2 < text_.size() && text_[i_] == quote && text_[i_ + 1] == quote &&
           text_[i_ + 2] == quote;
  }

  // [a.b] or [[a.b]] at the start of a line.
  Status TableHeader() {
    ++i_;
    const bool array_of_tables = i_ < text_.size() && text_[i_] == '[';
    if (array_of_tables) ++i_;
    RETURN_IF_ERROR(CountTable());
    RETURN_IF_ERROR(Key());
    SkipBlanks();
    for (int n = array_of_tables ? 2 : 1; n > 0; --n) {
      if (i_ >= text_.size() || text_[i_] != ']') return Malformed("table header not closed");
      ++i_;
    }
    return Status::Ok();
  }

  // key := part ("." part)*, each part bare or quoted.
  Status Key() {
    int parts = 0;
    while (true) {
      SkipBlanks();
      if (i_ >= text_.size()) return Malformed("a key is missing");
      size_t length = 0;
      const char c = text_[i_];
      if (c == '"' || c == '\'') {
        if (AtTripleQuote(c)) return Malformed("a key may not be a multi-line string");
        RETURN_IF_ERROR(SingleLineString(c, &length));
      } else if (IsBareKeyChar(c)) {
        const size_t start = i_;
        while (i_ < text_.size() && IsBareKeyChar(text_[i_])) ++i_;
        length = i_ - start;
      } else {
        return Malformed("a key is missing");
      }
      if (length > limits_.key_bytes_max) {
        return OverLimit("a key is too long", limits_.key_bytes_max);
      }
      if (++parts > limits_.dotted_key_parts_max) {
        return OverLimit("a dotted key has too many parts",
                         static_cast<size_t>(limits_.dotted_key_parts_max));
      }
      if (parts > 1) RETURN_IF_ERROR(CountToken());
      SkipBlanks();
      if (i_ < text_.size() && text_[i_] == '.') {
        ++i_;
        continue;
      }
      return Status::Ok();
    }
  }

  // A basic string (escapes) or a literal one, ending on its line.
  // `*length`: the bytes between the quotes.
  Status SingleLineString(char quote, size_t* length) {
    const size_t start = ++i_;
    while (i_ < text_.size() && text_[i_] != quote) {
      if (text_[i_] == '\n') return Malformed("a string is not closed on its line");
      if (quote == '"' && text_[i_] == '\\') ++i_;  // the escaped byte is content
      ++i_;
    }
    if (i_ >= text_.size()) return Malformed("a string is not closed");
    *length = i_ - start;
    ++i_;
    return Status::Ok();
  }

  // A multi-line string: three quotes, anything, three quotes.
  Status MultiLineString(char quote) {
    i_ += 3;
    while (i_ < text_.size()) {
      if (AtTripleQuote(quote)) {
        i_ += 3;
        // Up to two more quotes belong to the content.
        for (int n = 0; n < 2 && i_ < text_.size() && text_[i_] == quote; ++n) ++i_;
        return Status::Ok();
      }
      if (quote == '"' && text_[i_] == '\\' && i_ + 1 < text_.size()) ++i_;
      if (text_[i_] == '\n') RETURN_IF_ERROR(NewLine());
      ++i_;
    }
    return Malformed("a multi-line string is not closed");
  }

  Status Close(char kind) {
    if (stack_.empty() || stack_.back().kind != kind) return Malformed("unbalanced brackets");
    stack_.pop_back();
    ++i_;
    // After a closed array or table comes ',' or the end of its container.
    expect_key_ = false;
    return Status::Ok();
  }

  Status ValueToken(char c) {
    switch (c) {
      case '"':
      case '\'': {
        if (AtTripleQuote(c)) return MultiLineString(c);
        size_t length = 0;
        return SingleLineString(c, &length);
      }
      case '[':
        ++i_;
        stack_.push_back({'[', 1});
        return Status::Ok();
      case '{':
        ++i_;
        RETURN_IF_ERROR(CountTable());
        stack_.push_back({'{', 1});
        expect_key_ = true;
        return Status::Ok();
      case ']':
        return Close('[');
      case '}':
        return Close('{');
      case ',':
        if (stack_.empty()) return Malformed("a ',' outside an array or inline table");
        ++i_;
        if (stack_.back().kind == '{') {
          expect_key_ = true;
        } else if (++stack_.back().items > limits_.array_items_max) {
          return OverLimit("an array has too many items", limits_.array_items_max);
        }
        return Status::Ok();
      case '=':
        return Malformed("an unexpected '='");
      default: {
        const size_t start = i_;
        while (i_ < text_.size() && !EndsBareValue(text_[i_])) ++i_;
        // A date-time may hold one space between the date and the time.
        if (i_ - start == 10 && i_ + 1 < text_.size() && text_[i_] == ' ' &&
            text_[i_ + 1] >= '0' && text_[i_ + 1] <= '9') {
          ++i_;
          while (i_ < text_.size() && !EndsBareValue(text_[i_])) ++i_;
        }
        if (i_ - start > limits_.bare_value_bytes_max) {
          return OverLimit("a value is too long", limits_.bare_value_bytes_max);
        }
        return Status::Ok();
      }
    }
  }

  std::string_view text_;
  std::string_view source_;
  const TomlLimits& limits_;
  size_t i_ = 0;
  size_t line_ = 1;
  size_t tokens_ = 0;
  size_t tables_ = 0;
  bool expect_key_ = true;
  std::vector<Frame> stack_;  // at most kTomlBracketNestingMax deep (checked first)
};

}  // namespace

Status CheckTomlInput(std::string_view text, std::string_view source, const TomlLimits& limits) {
  if (text.size() > limits.bytes_max) {
    return InvalidArgument(std::string(source) + " is larger than " +
                           std::to_string(limits.bytes_max) + " bytes");
  }
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
  return TomlScan(text, source, limits).Run();
}

}  // namespace custvault
