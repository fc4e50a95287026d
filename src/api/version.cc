#include "ktls/version.h"

extern "C" const char* ktls_version(void) {
  return KTLS_VERSION_STRING;
}
