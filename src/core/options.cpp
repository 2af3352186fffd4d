#include "switchboard/options.hpp"

#include <algorithm>
#include <cctype>

namespace switchboard {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string_view to_string(Reliability r) noexcept {
  return r == Reliability::Durable ? "Durable" : "Lossy";
}

std::string_view to_string(Priority p) noexcept { return p == Priority::High ? "High" : "Normal"; }

std::optional<Reliability> parse_reliability(std::string_view name) noexcept {
  if (iequals(name, "durable")) return Reliability::Durable;
  if (iequals(name, "lossy")) return Reliability::Lossy;
  return std::nullopt;
}

std::optional<Priority> parse_priority(std::string_view name) noexcept {
  if (iequals(name, "normal")) return Priority::Normal;
  if (iequals(name, "high")) return Priority::High;
  return std::nullopt;
}

}  // namespace switchboard
