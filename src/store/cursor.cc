#include "store/cursor.h"

#include "common/encoding.h"

namespace custvault::store {
namespace {
constexpr std::string_view kCursorPrefix = "v1:";
constexpr size_t kCursorTextMax = 4 * ((kCursorPrefix.size() + kCustomerIdBytesMax + 2) / 3);
}  // namespace

std::string EncodeCursor(std::string_view last_id) {
  std::string plain(kCursorPrefix);
  plain += last_id;
  return Base64Encode(plain);
}

Result<std::string> DecodeCursor(std::string_view cursor) {
  if (cursor.empty() || cursor.size() > kCursorTextMax)
    return InvalidArgument("invalid page cursor");
  Result<std::string> plain = Base64Decode(cursor);
  if (!plain.ok()) return InvalidArgument("invalid page cursor");
  std::string_view text = *plain;
  if (text.substr(0, kCursorPrefix.size()) != kCursorPrefix)
    return InvalidArgument("invalid page cursor");
  text.remove_prefix(kCursorPrefix.size());
  if (text.empty() || text.size() > kCustomerIdBytesMax)
    return InvalidArgument("invalid page cursor");
  return std::string(text);
}

Status ValidatePageLimit(int limit) {
  if (limit < kPageLimitMin || limit > kPageLimitMax) {
    return InvalidArgument("page limit must be between " + std::to_string(kPageLimitMin) + " and " +
                           std::to_string(kPageLimitMax));
  }
  return Status::Ok();
}

}  // namespace custvault::store
