#include "rules/expression.h"

#include <algorithm>
#include <limits>

#include "rules/rules.h"

namespace custvault::rules {
namespace {

enum class TokenType {
  kEnd,
  kIdentifier,  // metric names and the keywords and/or/not/in/true/false
  kInteger,
  kString,
  kOperator,  // == != < <= > >=
  kOpenParen,
  kCloseParen,
  kOpenBracket,
  kCloseBracket,
  kComma,
};

struct Token {
  TokenType type = TokenType::kEnd;
  std::string_view text;  // a view into the expression text
  size_t column = 0;      // 1-based
  int64_t integer = 0;    // kInteger
};

std::string At(size_t column) { return "column " + std::to_string(column) + ": "; }

// Names from the text are echoed in errors only when short and plain, so a
// message never carries a long or binary run of input.
std::string Quoted(std::string_view text) {
  constexpr size_t kEchoBytesMax = 32;
  std::string out = "\"";
  for (char c : text.substr(0, kEchoBytesMax)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > kEchoBytesMax) out += "...";
  return out + "\"";
}

bool IsIdentifierStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentifierPart(char c) { return IsIdentifierStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Result<std::vector<Token>> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const size_t column = i + 1;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (tokens.size() >= Expression::kTokensMax) {
      return InvalidArgument("more than " + std::to_string(Expression::kTokensMax) + " tokens");
    }
    Token token;
    token.column = column;
    if (IsIdentifierStart(c)) {
      size_t end = i;
      while (end < text.size() && IsIdentifierPart(text[end])) ++end;
      token.type = TokenType::kIdentifier;
      token.text = text.substr(i, end - i);
      i = end;
    } else if (IsDigit(c) || (c == '-' && i + 1 < text.size() && IsDigit(text[i + 1]))) {
      const bool negative = c == '-';
      size_t end = negative ? i + 1 : i;
      // Accumulate negatively so that the most negative int64 parses too.
      int64_t value = 0;
      bool last_was_digit = false;
      while (end < text.size() && (IsDigit(text[end]) || text[end] == '_')) {
        if (text[end] == '_') {
          if (!last_was_digit || end + 1 >= text.size() || !IsDigit(text[end + 1])) {
            return InvalidArgument(At(end + 1) + "'_' must stand between two digits");
          }
          last_was_digit = false;
          ++end;
          continue;
        }
        const int digit = text[end] - '0';
        if (value < (std::numeric_limits<int64_t>::min() + digit) / 10) {
          return InvalidArgument(At(column) + "integer out of range");
        }
        value = value * 10 - digit;
        last_was_digit = true;
        ++end;
      }
      if (end < text.size() && IsIdentifierPart(text[end])) {
        return InvalidArgument(At(end + 1) + "a number must not run into letters");
      }
      if (!negative) {
        if (value == std::numeric_limits<int64_t>::min()) {
          return InvalidArgument(At(column) + "integer out of range");
        }
        value = -value;
      }
      token.type = TokenType::kInteger;
      token.integer = value;
      token.text = text.substr(i, end - i);
      i = end;
    } else if (c == '"') {
      size_t end = i + 1;
      while (end < text.size() && text[end] != '"') {
        const unsigned char b = static_cast<unsigned char>(text[end]);
        if (b < 0x20 || b == 0x7f || b == '\\') {
          return InvalidArgument(At(end + 1) +
                                 "a quoted string holds printable characters only, no escapes");
        }
        ++end;
      }
      if (end >= text.size()) return InvalidArgument(At(column) + "unterminated string");
      if (end - i - 1 > Expression::kStringBytesMax) {
        return InvalidArgument(At(column) + "string longer than " +
                               std::to_string(Expression::kStringBytesMax) + " bytes");
      }
      token.type = TokenType::kString;
      token.text = text.substr(i + 1, end - i - 1);
      i = end + 1;
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
      const bool followed_by_equals = i + 1 < text.size() && text[i + 1] == '=';
      if ((c == '=' || c == '!') && !followed_by_equals) {
        return InvalidArgument(At(column) + (c == '=' ? "use == to compare" : "use != or not"));
      }
      token.type = TokenType::kOperator;
      token.text = text.substr(i, followed_by_equals ? 2 : 1);
      i += token.text.size();
    } else {
      switch (c) {
        case '(':
          token.type = TokenType::kOpenParen;
          break;
        case ')':
          token.type = TokenType::kCloseParen;
          break;
        case '[':
          token.type = TokenType::kOpenBracket;
          break;
        case ']':
          token.type = TokenType::kCloseBracket;
          break;
        case ',':
          token.type = TokenType::kComma;
          break;
        default: {
          const unsigned char b = static_cast<unsigned char>(c);
          return InvalidArgument(
              At(column) + "unexpected character" +
              (b >= 0x20 && b < 0x7f ? std::string(" '") + c + "'" : std::string()));
        }
      }
      token.text = text.substr(i, 1);
      ++i;
    }
    tokens.push_back(token);
  }
  Token end;
  end.type = TokenType::kEnd;
  end.column = text.size() + 1;
  tokens.push_back(end);
  return tokens;
}

const std::vector<std::string_view> kMetricNames = {"spend_fen", "order_count", "complaints_open",
                                                    "complaints_total", "credit_rating"};

bool IsKeyword(std::string_view word) {
  return word == "and" || word == "or" || word == "not" || word == "in" || word == "true" ||
         word == "false";
}

}  // namespace

// Recursive descent over the tokens; builds Expression::nodes_ bottom-up
// and returns node indices. `nesting` counts open parentheses and `not`s on
// the way down, so hostile input cannot overflow the stack.
class ExpressionParser {
 public:
  using Node = Expression::Node;
  using Kind = Expression::Kind;
  using Metric = Expression::Metric;
  using Comparison = Expression::Comparison;

  explicit ExpressionParser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<Expression> Run() {
    ASSIGN_OR_RETURN(const uint32_t root, ParseOr(0));
    if (Peek().type != TokenType::kEnd) {
      return InvalidArgument(At(Peek().column) + "unexpected " + Describe(Peek()) +
                             " (missing 'and' or 'or'?)");
    }
    expression_.root_ = root;
    expression_.depth_ = depths_[root];
    return std::move(expression_);
  }

 private:
  const Token& Peek() const { return tokens_[position_]; }
  const Token& Next() { return tokens_[position_ < tokens_.size() - 1 ? position_++ : position_]; }
  bool PeekWord(std::string_view word) const {
    return Peek().type == TokenType::kIdentifier && Peek().text == word;
  }

  static std::string Describe(const Token& token) {
    switch (token.type) {
      case TokenType::kEnd:
        return "end of text";
      case TokenType::kString:
        return "string " + Quoted(token.text);
      default:
        return Quoted(token.text);
    }
  }

  Result<uint32_t> Add(Node node, int depth) {
    if (depth > Expression::kDepthMax) {
      return InvalidArgument("expression nests deeper than " +
                             std::to_string(Expression::kDepthMax) + " levels");
    }
    expression_.nodes_.push_back(std::move(node));
    depths_.push_back(depth);
    return static_cast<uint32_t>(expression_.nodes_.size() - 1);
  }

  // or/and: a chain of two or more operands becomes one n-ary node.
  Result<uint32_t> ParseChain(int nesting, bool is_or) {
    ASSIGN_OR_RETURN(const uint32_t first,
                     is_or ? ParseChain(nesting, false) : ParseUnary(nesting));
    if (!PeekWord(is_or ? "or" : "and")) return first;
    Node node;
    node.kind = is_or ? Kind::kOr : Kind::kAnd;
    node.children.push_back(first);
    int depth = depths_[first];
    while (PeekWord(is_or ? "or" : "and")) {
      Next();
      ASSIGN_OR_RETURN(const uint32_t operand,
                       is_or ? ParseChain(nesting, false) : ParseUnary(nesting));
      node.children.push_back(operand);
      depth = std::max(depth, depths_[operand]);
    }
    return Add(std::move(node), depth + 1);
  }
  Result<uint32_t> ParseOr(int nesting) { return ParseChain(nesting, true); }

  Result<uint32_t> ParseUnary(int nesting) {
    if (nesting >= Expression::kDepthMax) {
      return InvalidArgument(At(Peek().column) + "expression nests deeper than " +
                             std::to_string(Expression::kDepthMax) + " levels");
    }
    const Token& token = Peek();
    if (token.type == TokenType::kOpenParen) {
      Next();
      ASSIGN_OR_RETURN(const uint32_t inner, ParseOr(nesting + 1));
      if (Peek().type != TokenType::kCloseParen) {
        return InvalidArgument(At(Peek().column) + "expected ')' but found " + Describe(Peek()));
      }
      Next();
      return inner;
    }
    if (token.type != TokenType::kIdentifier) {
      return InvalidArgument(At(token.column) + "expected a metric, 'not' or '(' but found " +
                             Describe(token));
    }
    if (token.text == "not") {
      Next();
      ASSIGN_OR_RETURN(const uint32_t operand, ParseUnary(nesting + 1));
      Node node;
      node.kind = Kind::kNot;
      node.children.push_back(operand);
      return Add(std::move(node), depths_[operand] + 1);
    }
    if (token.text == "true" || token.text == "false") {
      Next();
      Node node;
      node.kind = Kind::kConstant;
      node.constant = token.text == "true";
      return Add(std::move(node), 1);
    }
    return ParseComparison();
  }

  Result<uint32_t> ParseComparison() {
    const Token metric_token = Next();
    if (IsKeyword(metric_token.text)) {
      return InvalidArgument(At(metric_token.column) + "expected a metric but found " +
                             Describe(metric_token));
    }
    const auto found = std::find(kMetricNames.begin(), kMetricNames.end(), metric_token.text);
    if (found == kMetricNames.end()) {
      std::string known;
      for (std::string_view name : kMetricNames)
        known += (known.empty() ? "" : ", ") + std::string(name);
      return InvalidArgument(At(metric_token.column) + "unknown metric " +
                             Quoted(metric_token.text) + " (known: " + known + ")");
    }
    Node node;
    node.metric = static_cast<Metric>(found - kMetricNames.begin());
    const bool is_string_metric = node.metric == Metric::kCreditRating;
    const std::string metric_name(metric_token.text);

    if (PeekWord("in")) {
      Next();
      if (Peek().type != TokenType::kOpenBracket) {
        return InvalidArgument(At(Peek().column) + "expected '[' after 'in'");
      }
      Next();
      node.kind = is_string_metric ? Kind::kInStrings : Kind::kInIntegers;
      while (true) {
        const Token item = Next();
        RETURN_IF_ERROR(CheckLiteral(item, metric_name, is_string_metric));
        if (node.integers.size() + node.texts.size() >= Expression::kListItemsMax) {
          return InvalidArgument(At(item.column) + "more than " +
                                 std::to_string(Expression::kListItemsMax) + " items in a list");
        }
        if (is_string_metric) {
          node.texts.emplace_back(item.text);
        } else {
          node.integers.push_back(item.integer);
        }
        const Token separator = Next();
        if (separator.type == TokenType::kCloseBracket) break;
        if (separator.type != TokenType::kComma) {
          return InvalidArgument(At(separator.column) + "expected ',' or ']' but found " +
                                 Describe(separator));
        }
      }
      return Add(std::move(node), 1);
    }

    const Token op = Next();
    if (op.type != TokenType::kOperator) {
      return InvalidArgument(At(op.column) +
                             "expected a comparison (== != < <= > >=) or 'in' after " +
                             metric_name + " but found " + Describe(op));
    }
    if (op.text == "==")
      node.comparison = Comparison::kEq;
    else if (op.text == "!=")
      node.comparison = Comparison::kNe;
    else if (op.text == "<")
      node.comparison = Comparison::kLt;
    else if (op.text == "<=")
      node.comparison = Comparison::kLe;
    else if (op.text == ">")
      node.comparison = Comparison::kGt;
    else
      node.comparison = Comparison::kGe;
    if (is_string_metric && node.comparison != Comparison::kEq &&
        node.comparison != Comparison::kNe) {
      return InvalidArgument(At(op.column) + metric_name +
                             " is a string metric: compare it with ==, != or in");
    }
    const Token literal = Next();
    RETURN_IF_ERROR(CheckLiteral(literal, metric_name, is_string_metric));
    if (is_string_metric) {
      node.kind = Kind::kCompareString;
      node.text = std::string(literal.text);
    } else {
      node.kind = Kind::kCompareInteger;
      node.integer = literal.integer;
    }
    return Add(std::move(node), 1);
  }

  static Status CheckLiteral(const Token& literal, const std::string& metric_name,
                             bool is_string_metric) {
    if (literal.type == TokenType::kString && !is_string_metric) {
      return InvalidArgument(At(literal.column) + metric_name +
                             " is an integer metric: compare it with an integer, not a string");
    }
    if (literal.type == TokenType::kInteger && is_string_metric) {
      return InvalidArgument(At(literal.column) + metric_name +
                             " is a string metric: compare it with a quoted string");
    }
    if (literal.type != TokenType::kString && literal.type != TokenType::kInteger) {
      return InvalidArgument(At(literal.column) +
                             "expected a value (an integer or a quoted string) but found " +
                             Describe(literal));
    }
    return Status::Ok();
  }

  std::vector<Token> tokens_;
  size_t position_ = 0;
  Expression expression_;
  std::vector<int> depths_;  // per node: levels of its subtree
};

const std::vector<std::string_view>& Expression::MetricNames() { return kMetricNames; }

std::vector<std::string_view> Expression::MetricsUsed() const {
  std::vector<bool> used(kMetricNames.size(), false);
  for (const Node& node : nodes_) {
    if (node.kind == Kind::kCompareInteger || node.kind == Kind::kCompareString ||
        node.kind == Kind::kInIntegers || node.kind == Kind::kInStrings) {
      used[static_cast<size_t>(node.metric)] = true;
    }
  }
  std::vector<std::string_view> out;
  for (size_t i = 0; i < used.size(); ++i) {
    if (used[i]) out.push_back(kMetricNames[i]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Expression> Expression::Parse(std::string_view text) {
  if (text.size() > kTextBytesMax) {
    return InvalidArgument("condition longer than " + std::to_string(kTextBytesMax) + " bytes");
  }
  ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
  if (tokens.size() == 1) return InvalidArgument("condition is empty");
  return ExpressionParser(std::move(tokens)).Run();
}

bool Expression::Eval(uint32_t index, const CustomerMetrics& metrics) const {
  const Node& node = nodes_[index];
  const auto integer_of = [&metrics](Metric metric) -> int64_t {
    switch (metric) {
      case Metric::kSpendFen:
        return metrics.spend_fen;
      case Metric::kOrderCount:
        return metrics.order_count;
      case Metric::kComplaintsOpen:
        return metrics.complaints_open;
      case Metric::kComplaintsTotal:
        return metrics.complaints_total;
      case Metric::kCreditRating:
        break;  // never: the parser checked the types
    }
    return 0;
  };
  switch (node.kind) {
    case Kind::kConstant:
      return node.constant;
    case Kind::kCompareInteger: {
      const int64_t value = integer_of(node.metric);
      switch (node.comparison) {
        case Comparison::kEq:
          return value == node.integer;
        case Comparison::kNe:
          return value != node.integer;
        case Comparison::kLt:
          return value < node.integer;
        case Comparison::kLe:
          return value <= node.integer;
        case Comparison::kGt:
          return value > node.integer;
        case Comparison::kGe:
          return value >= node.integer;
      }
      return false;
    }
    case Kind::kCompareString:
      return (metrics.credit_rating == node.text) == (node.comparison == Comparison::kEq);
    case Kind::kInIntegers: {
      const int64_t value = integer_of(node.metric);
      return std::find(node.integers.begin(), node.integers.end(), value) != node.integers.end();
    }
    case Kind::kInStrings:
      return std::find(node.texts.begin(), node.texts.end(), metrics.credit_rating) !=
             node.texts.end();
    case Kind::kAnd:
      for (uint32_t child : node.children) {
        if (!Eval(child, metrics)) return false;
      }
      return true;
    case Kind::kOr:
      for (uint32_t child : node.children) {
        if (Eval(child, metrics)) return true;
      }
      return false;
    case Kind::kNot:
      return !Eval(node.children[0], metrics);
  }
  return false;
}

}  // namespace custvault::rules
