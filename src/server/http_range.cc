#include "server/http_range.h"

#include <optional>
#include <vector>

#include "server/http_text.h"

namespace ktls::server {
namespace {

// One range-spec, before it is compared with the file size.
struct Spec {
  bool suffix = false;  // "-N": the last N bytes
  uint64_t first = 0;
  std::optional<uint64_t> last;  // "first-" when unset
  uint64_t suffix_length = 0;
};

std::optional<Spec> ParseSpec(std::string_view text) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view before = text.substr(0, dash);
  const std::string_view after = text.substr(dash + 1);
  Spec spec;
  if (before.empty()) {
    const std::optional<uint64_t> n = ParseDecimal(after);
    if (!n) return std::nullopt;
    spec.suffix = true;
    spec.suffix_length = *n;
    return spec;
  }
  const std::optional<uint64_t> first = ParseDecimal(before);
  if (!first) return std::nullopt;
  spec.first = *first;
  if (!after.empty()) {
    spec.last = ParseDecimal(after);
    if (!spec.last || *spec.last < spec.first) return std::nullopt;
  }
  return spec;
}

// §14.1.1: satisfiable when it selects at least one existing byte.
bool Satisfiable(const Spec& spec, uint64_t size) {
  if (size == 0) return false;
  return spec.suffix ? spec.suffix_length > 0 : spec.first < size;
}

}  // namespace

RangeDecision EvaluateRange(std::string_view field, uint64_t size) {
  const size_t equals = field.find('=');
  if (equals == std::string_view::npos) return {};
  if (!EqualsIgnoreCase(TrimWhitespace(field.substr(0, equals)), "bytes")) return {};
  std::vector<Spec> specs;
  for (std::string_view item : SplitList(field.substr(equals + 1))) {
    std::optional<Spec> spec = ParseSpec(item);
    if (!spec) return {};  // one malformed element makes the whole field invalid
    specs.push_back(*spec);
  }
  if (specs.empty()) return {};

  bool any_satisfiable = false;
  for (const Spec& spec : specs) any_satisfiable = any_satisfiable || Satisfiable(spec, size);
  if (!any_satisfiable) return {RangeKind::kUnsatisfiable, 0, 0};
  if (specs.size() > 1) return {};

  const Spec& spec = specs.front();
  RangeDecision decision;
  decision.kind = RangeKind::kPartial;
  if (spec.suffix) {
    decision.length = spec.suffix_length < size ? spec.suffix_length : size;
    decision.first = size - decision.length;
  } else {
    const uint64_t last = spec.last && *spec.last < size ? *spec.last : size - 1;
    decision.first = spec.first;
    decision.length = last - spec.first + 1;
  }
  return decision;
}

}  // namespace ktls::server
