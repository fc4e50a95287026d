// Symbolic errno names ("ENOENT") for diagnostics, where strerror's prose is too vague.
#pragma once

#include <string>

namespace ktls {

// "ENOENT" for ENOENT; "errno 1234" for a value the C library has no name for.
std::string ErrnoName(int errno_value);

}  // namespace ktls
