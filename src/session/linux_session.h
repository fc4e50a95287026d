// Turns a Linux kTLS `tls12_crypto_info_*` (setsockopt SOL_TLS TLS_TX/TLS_RX) into
// validated record keys with the checks of Linux's do_tls_setsockopt_conf, in its order
// and with its errnos (reference: linux-ktls.md §3.2), and writes the getsockopt
// readback (§3.3).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "record/record_keys.h"

namespace ktls::session {

// The 4-byte struct tls_crypto_info at the head of every cipher's struct.
struct LinuxCryptoHeader {
  uint16_t version = 0;      // 0x0303 or 0x0304
  uint16_t cipher_type = 0;  // TLS_CIPHER_*
};

struct LinuxSession {
  LinuxCryptoHeader header;
  record::RecordKeys keys;
  // TLS 1.2 AES-GCM: the explicit nonce of the next record (the struct's `iv`).
  uint64_t explicit_nonce = 0;
  // The struct as installed (key included), for getsockopt readback; wiped with the session.
  SecretBytes installed;
};

// What the socket already has, for the cross-direction and rekey checks.
struct LinuxInstallContext {
  std::optional<LinuxCryptoHeader> this_direction;   // set: this is a second install
  std::optional<LinuxCryptoHeader> other_direction;  // set: the other direction exists
};

// Exact size of the crypto_info struct for `cipher_type`, or 0 for an unknown id.
size_t LinuxCryptoInfoSize(uint16_t cipher_type);

// Validates and copies a TLS_TX/TLS_RX argument. Errors: EINVAL (bad size, version,
// cipher, mismatch with the other direction or with the key being replaced), EBUSY (a
// second install on TLS 1.2), EFAULT (unreadable buffer), ENOENT (a cipher Linux knows
// but this engine does not run: CCM, SM4, ARIA).
Result<LinuxSession> ParseLinuxCryptoInfo(const void* optval, socklen_t optlen,
                                          const LinuxInstallContext& context);

// getsockopt(TLS_TX/TLS_RX) readback into `optval`: 4 bytes give version and cipher; the
// exact struct size gives the installed struct with `iv` and `rec_seq` brought up to date.
// EINVAL for any other length.
int WriteLinuxCryptoInfo(const LinuxSession& session, uint64_t next_sequence,
                         uint64_t next_explicit_nonce, void* optval, socklen_t* optlen);

}  // namespace ktls::session
