// The library's own environment variables (KTLS_SYSCTL, KTLS_CONFIG, KTLS_CRYPTO,
// KTLS_EXPORT), kept as the process started with them. They are applied on first use,
// and some programs replace their environment before that: nginx's worker processes keep
// only TZ and the variables named by `env` directives. So a constructor copies the raw
// values when the code is loaded (in libktls.so, in libktls-preload.so's own copy, and in
// programs that link ktls_core), and readers fall back to that copy. Only the raw strings
// are kept: parsing, applying and reporting errors stay with the readers, on first use.
#pragma once

namespace ktls {

enum class LibraryVariable { kSysctl, kConfig, kCrypto, kExport };

// The variable as the environment has it now (a program may still set it itself before
// its first TLS socket); if it is not there, its value when the process started; nullptr
// when neither has it. KTLS_SYSCTL, KTLS_CONFIG and KTLS_EXPORT go through secure_getenv
// (a set-user-ID program does not take its configuration from its caller), KTLS_CRYPTO
// through getenv. A pointer into the environment is valid until the environment changes
// (as getenv's); a pointer to the start-up copy stays valid for the life of the process.
const char* LibraryEnv(LibraryVariable variable);

}  // namespace ktls
