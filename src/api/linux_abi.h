// The Linux kTLS ABI over our socket layer: what setsockopt(TCP_ULP "tls"),
// setsockopt/getsockopt(SOL_TLS, ...), send/recv with SOL_TLS control messages do on a
// kernel with the tls module, for kernels without it. The LD_PRELOAD interposer and
// the in-process OpenSSL bridge route calls here.
//
// Every function returns kNotHandled when the call is not ours (a socket without the
// emulated ULP, or an option we do not emulate): the caller then makes the real call.
// Otherwise the result is the system call's value, or -errno.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

namespace ktls::api::linux_abi {

inline constexpr ssize_t kNotHandled = -100000;

// setsockopt for TCP_ULP (level SOL_TCP) and every SOL_TLS option.
int Setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen);
int Getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen);

// send/sendmsg on a socket with the emulated ULP (record type from SOL_TLS cmsgs).
ssize_t Sendmsg(int fd, const struct msghdr* msg, int flags);
// recv/recvmsg (TLS_GET_RECORD_TYPE cmsgs).
ssize_t Recvmsg(int fd, struct msghdr* msg, int flags);
// sendfile into a socket with TX keys: records of at most 16 KiB.
ssize_t Sendfile(int out_fd, int in_fd, off_t* offset, size_t count);

// True when `fd` has the emulated ULP (its bytes must not bypass us).
bool IsEmulated(int fd);
// True when `fd` has keys installed in a direction (0: TX, 1: RX).
bool HasTx(int fd);
bool HasRx(int fd);

}  // namespace ktls::api::linux_abi
