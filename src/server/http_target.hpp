#pragma once

// The parts of an HTTP request target (RFC 9112 section 3.2, origin-form): the path, the
// query, and percent-decoding (RFC 3986 section 2.1). Pure functions, no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::server {

struct RequestTarget {
  std::string_view path;   // up to '?' (or '#')
  std::string_view query;  // after '?', without '#...'; empty when absent
};
RequestTarget split_target(std::string_view target);

// %XX decoded; with `plus_is_space` (query values, as HTML forms and URLSearchParams
// encode them) '+' becomes ' '. nullopt for a '%' not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

struct QueryParameter {
  std::string name;
  std::string value;
};
// `a=1&b=x%20y`, each name and value decoded; nullopt when one does not decode.
// An item without '=' has an empty value; empty items (`a=1&&b=2`) are skipped.
std::optional<std::vector<QueryParameter>> parse_query(std::string_view query);

bool is_valid_utf8(std::string_view text);

}  // namespace switchboard::server
