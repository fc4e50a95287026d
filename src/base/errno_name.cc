#include "base/errno_name.h"

#include <cstring>

namespace ktls {

std::string ErrnoName(int errno_value) {
  // glibc >= 2.32; returns nullptr for values it does not know.
  const char* name = strerrorname_np(errno_value);
  if (name != nullptr) return name;
  return "errno " + std::to_string(errno_value);
}

}  // namespace ktls
