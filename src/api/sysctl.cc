#include "ktls/sysctl.h"

#include "control/registry.h"

extern "C" int ktls_sysctlbyname(const char* name, void* oldp, size_t* oldlenp, const void* newp,
                                 size_t newlen) {
  return ktls::control::SysctlByName(name, oldp, oldlenp, newp, newlen);
}
