// Page cursors shared by every Store implementation. A cursor is opaque to
// callers: base64 of "v1:" + the last id of the previous page. Pages are
// ordered by id, so "the next page" is "ids after this one", which stays
// correct while rows are inserted or deleted between requests.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace custvault::store {

inline constexpr int kPageLimitMin = 1;
inline constexpr int kPageLimitMax = 10000;
inline constexpr size_t kCustomerIdBytesMax = 128;

std::string EncodeCursor(std::string_view last_id);

// The last id the cursor names; kInvalidArgument for anything that is not a
// cursor this code made.
Result<std::string> DecodeCursor(std::string_view cursor);

// kInvalidArgument unless kPageLimitMin <= limit <= kPageLimitMax.
Status ValidatePageLimit(int limit);

}  // namespace custvault::store
