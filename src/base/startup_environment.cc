#include "base/startup_environment.h"

#include <array>
#include <cstdlib>
#include <cstring>

namespace ktls {
namespace {

struct Variable {
  const char* name;
  bool secure;  // secure_getenv: ignored in set-user-ID and set-group-ID programs
};

// In the order of LibraryVariable.
constexpr std::array<Variable, 4> kVariables = {{
    {"KTLS_SYSCTL", true},
    {"KTLS_CONFIG", true},
    {"KTLS_CRYPTO", false},
    {"KTLS_EXPORT", true},
}};

const char* ReadNow(const Variable& variable) {
  return variable.secure ? secure_getenv(variable.name) : std::getenv(variable.name);
}

using Values = std::array<const char*, kVariables.size()>;

// Copies, leaked on purpose: readers may run at exit, after static destructors.
const Values& AtStartup() {
  static const Values* const values = [] {
    auto* copies = new Values{};
    for (size_t i = 0; i < kVariables.size(); ++i) {
      if (const char* value = ReadNow(kVariables[i])) (*copies)[i] = strdup(value);
    }
    return copies;
  }();
  return *values;
}

// Before main() and before the program can change its environment. A reader that runs
// earlier still (another library's constructor) takes the copy itself.
__attribute__((constructor)) void CaptureAtLoad() {
  AtStartup();
}

}  // namespace

const char* LibraryEnv(LibraryVariable variable) {
  const auto index = static_cast<size_t>(variable);
  if (const char* now = ReadNow(kVariables[index])) return now;
  return AtStartup()[index];
}

}  // namespace ktls
