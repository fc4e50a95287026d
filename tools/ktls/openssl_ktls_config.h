// An OpenSSL configuration file that is the system's (or $OPENSSL_CONF's) plus
// `Options = KTLS` in the SSL defaults every SSL_CTX picks up (system_default), so
// that unmodified OpenSSL 3 programs ask for kernel TLS.
#pragma once

#include <string>

namespace ktls::tool {

struct OpensslKtlsConfig {
  std::string base;  // the configuration it includes; empty if there is none
  std::string text;  // the file's contents
};

// Builds the configuration for the base file OpenSSL would load now.
OpensslKtlsConfig MakeOpensslKtlsConfig();

// Writes `config` into a private per-user directory, named after its contents (so
// repeated runs reuse one file). Returns the path, or an empty string and `error`.
std::string WriteOpensslKtlsConfig(const OpensslKtlsConfig& config, std::string* error);

}  // namespace ktls::tool
