// The in-process OpenSSL bridge (C API: include/ktls/openssl.h, which documents the call
// order and what OpenSSL 3.0 allows). OpenSSL keeps the handshake and its API; the
// records of each direction it hands to "the kernel" (and TLS 1.3 receive, which 3.0
// never hands over) go through our socket layer via the BIO in bridge_bio.h.
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <cstddef>

#include "base/result.h"

namespace ktls::openssl {

// Key capture and SSL_OP_ENABLE_KTLS on `ctx`; before SSL_new(). EINVAL, ENOMEM.
Status PrepareContext(SSL_CTX* ctx);

// Replaces the SSL's socket BIO by ours; after SSL_set_fd(), before the handshake.
// EINVAL, EALREADY, ENOTSOCK, EPROTONOSUPPORT, ENOMEM (see ktls_openssl_attach).
Status Attach(SSL* ssl);

// SSL_sendfile() through our engine: bytes sent. EINVAL, EOPNOTSUPP, EPIPE, EAGAIN, or the
// connection's or the file's error (see ktls_openssl_sendfile).
Result<size_t> SendFile(SSL* ssl, int in_fd, off_t offset, size_t size, int flags);

// True when the sendfile(2) that libssl calls is defined in the module holding this
// engine and so can route SSL_sendfile() on the raw descriptor through it (an
// application or test that defines sendfile() over api::linux_abi::Sendfile()).
bool SendfileReachesKtls();

}  // namespace ktls::openssl
