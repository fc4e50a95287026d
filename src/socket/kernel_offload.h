// TCP_TLS_MODE_IFNET on Linux: the transmit session handed to the kernel's own TLS
// upper-layer protocol (TCP_ULP "tls", SOL_TLS TLS_TX), the closest thing this host has
// to a NIC that frames and encrypts records. After the hand-off the application's
// plaintext goes to the kernel, which seals it with the same key and the next numbers.
//
// The kernel's ULP cannot be removed from a socket nor give a session back, so a
// hand-off is one-way (docs/freebsd-semantics.md, "IFNET mode").
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/bytes.h"
#include "record/record_layout.h"
#include "record/record_sealer.h"
#include "socket/os.h"

namespace ktls::socket {

// Linux kTLS runs AES-GCM-128/256 and ChaCha20-Poly1305 for TLS 1.2 and 1.3; the CBC
// suites (and anything older than TLS 1.2) stay ours.
bool KernelCanTake(const record::RecordLayout& layout);

// setsockopt(SOL_TCP, TCP_ULP, "tls"). The ULP starts in pass-through mode, so a socket
// we keep sealing for is unaffected. Returns 0 (also when already attached), EOPNOTSUPP
// when the kernel has no TLS ULP, or the kernel's errno (ENOTCONN: not established).
int AttachKernelUlp(Os& os, int fd);

// setsockopt(SOL_TLS, TLS_TX) with the sealer's key, its next sequence number and (TLS
// 1.2 AES-GCM) its next explicit nonce, so the kernel's first record follows the last
// one we sealed. Every record the sealer produced must already be in the kernel's send
// queue. Returns 0, EOPNOTSUPP when the kernel cannot run the suite, or its errno.
int InstallKernelTx(Os& os, int fd, const record::RecordSealer& sealer, size_t max_payload);

// sendmsg of plaintext to a socket whose TLS_TX the kernel owns; a `record_type` goes
// along as a SOL_TLS TLS_SET_RECORD_TYPE control message. Bytes sent, or -errno.
ssize_t KernelSend(Os& os, int fd, std::span<const ConstBytes> data,
                   std::optional<uint8_t> record_type, int flags);

// The kernel's next transmit sequence number (getsockopt TLS_TX readback), if any.
std::optional<uint64_t> KernelTxSequence(Os& os, int fd);

}  // namespace ktls::socket
