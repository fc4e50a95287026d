// Turns a FreeBSD `struct tls_enable` into validated record keys, with the checks of
// FreeBSD's ktls_create_session() and its software backend, in their order and with
// their errnos (reference: freebsd-ktls.md §3.4-§3.6). Socket-state checks (knobs,
// EALREADY, listening sockets) are the socket layer's.
#pragma once

#include <sys/socket.h>

#include <cstddef>

#include "base/result.h"
#include "ktls/freebsd.h"
#include "record/record_keys.h"

namespace ktls::session {

enum class Direction : uint8_t { kTransmit, kReceive };

// FreeBSD's kernel-only struct tls_enable_v0: the same without rec_seq (56 bytes on
// LP64 after tail padding), still accepted by TCP_TXTLS_ENABLE.
struct TlsEnableV0 {
  const uint8_t* cipher_key;
  const uint8_t* iv;
  const uint8_t* auth_key;
  int cipher_algorithm;
  int cipher_key_len;
  int iv_len;
  int auth_algorithm;
  int auth_key_len;
  int flags;
  uint8_t tls_vmajor;
  uint8_t tls_vminor;
};
inline constexpr size_t kTlsEnableV0Size = sizeof(TlsEnableV0);
static_assert(offsetof(struct tls_enable, rec_seq) == 50, "FreeBSD LP64 layout");
static_assert(sizeof(struct tls_enable) == 64, "FreeBSD LP64 layout");
static_assert(kTlsEnableV0Size == 56, "FreeBSD LP64 layout");

// Copies `optlen` bytes of a tls_enable from the caller, validating the size as
// FreeBSD's setsockopt glue does (v0 size only for transmit). EINVAL, or EFAULT for an
// unreadable buffer.
Result<struct tls_enable> CopyInTlsEnable(const void* optval, socklen_t optlen, Direction dir);

// True when the suite is AES-CBC, before any other validation (the cbc_enable knob is
// checked ahead of session creation).
inline bool IsCbc(const struct tls_enable& en) {
  return en.cipher_algorithm == CRYPTO_AES_CBC;
}

// Validates and copies the key material (EFAULT when a key pointer is unreadable).
// Errors: EINVAL for any parameter FreeBSD rejects, EPROTONOSUPPORT for TLS 1.0 receive.
Result<record::RecordKeys> SessionFromTlsEnable(const struct tls_enable& en, Direction dir);

// Reads `len` bytes at `src` without faulting on a bad pointer: EFAULT instead.
Status CopyFromUser(void* dst, const void* src, size_t len);

}  // namespace ktls::session
