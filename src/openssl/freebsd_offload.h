// Hands a finished OpenSSL handshake to the socket layer through the FreeBSD API, the
// way a FreeBSD application passes keys to ktls(4): export each direction's keys
// (handshake_keys.h), turn them into a struct tls_enable, then TCP_TXTLS_ENABLE and
// TCP_RXTLS_ENABLE. From then on the socket is driven with ktls_* calls only; the SSL
// is no longer used for I/O and may be freed.
#pragma once

#include <openssl/ssl.h>

#include "base/result.h"
#include "ktls/freebsd.h"
#include "record/record_keys.h"

namespace ktls::openssl {

// The TCP_TXTLS_ENABLE / TCP_RXTLS_ENABLE argument for `keys`. It points into `keys`,
// which must outlive it.
struct tls_enable MakeTlsEnable(const record::RecordKeys& keys);

// Offloads both directions of `ssl`'s finished handshake onto `fd`, the SSL's socket.
// The capture (InstallCapture) must have watched the handshake, read-ahead must be off
// and OpenSSL must hold no received bytes: what it buffered would be lost. Errors:
//  EINVAL   null `ssl`, handshake not finished, or read-ahead on;
//  EBUSY    OpenSSL buffers received bytes (the peer sent data OpenSSL already read);
//  others   from ExportKeys (ENOTSUP, EPROTONOSUPPORT, ENOKEY) or ktls_setsockopt.
// On error a direction may already be enabled: the connection must then be closed.
Status OffloadAfterHandshake(SSL* ssl, int fd);

}  // namespace ktls::openssl
