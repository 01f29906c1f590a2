// The policy table as Markdown, for docs/access-control.md. The document
// holds it between the markers below; PolicyDocTest regenerates it and
// fails on any difference, and `policy_doc_tool` prints it to paste.
#pragma once

#include <string>
#include <string_view>

namespace custvault::policy {

inline constexpr std::string_view kDocTableBegin = "<!-- BEGIN GENERATED POLICY TABLE -->";
inline constexpr std::string_view kDocTableEnd = "<!-- END GENERATED POLICY TABLE -->";

// Two tables: operations (rows) x roles (columns) with "yes"/"-", and field
// classes x roles with "read / edit". Ends with a newline.
std::string PolicyMarkdownTables();

// The text between the markers of a document (without the markers and the
// newlines right after/before them), or an empty string when a marker is
// missing.
std::string ExtractGeneratedTable(std::string_view document);

}  // namespace custvault::policy
