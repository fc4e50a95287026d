/*
 * ktls(4) for Linux TCP sockets, with FreeBSD's ABI.
 *
 * After a TLS handshake, hand each direction's keys over once with
 * ktls_setsockopt(fd, IPPROTO_TCP, TCP_TXTLS_ENABLE / TCP_RXTLS_ENABLE, &en, sizeof(en)).
 * From then on ktls_write()/ktls_sendfile() produce TLS records, and ktls_recvmsg()
 * returns one decrypted record at a time with a TLS_GET_RECORD control message.
 * On sockets without offload every ktls_ call behaves exactly like the system call.
 *
 * Option numbers 39-42 are FreeBSD's; on Linux the same numbers name TCP-AO options,
 * so they are understood only through ktls_setsockopt()/ktls_getsockopt().
 *
 * KNOWN LIMITATIONS: keys are set once per direction (no rekeying, as on FreeBSD); the
 * socket must be used through the ktls_ calls (or the LD_PRELOAD interposer) once
 * offloaded; bytes written with plain write(2) would bypass the record layer.
 */
#ifndef KTLS_FREEBSD_H_
#define KTLS_FREEBSD_H_

#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Socket options, level IPPROTO_TCP (sys/netinet/tcp.h). */
#define TCP_TXTLS_ENABLE 39
#define TCP_TXTLS_MODE 40
#define TCP_RXTLS_ENABLE 41
#define TCP_RXTLS_MODE 42

#define TCP_TLS_MODE_NONE 0
#define TCP_TLS_MODE_SW 1
#define TCP_TLS_MODE_IFNET 2
#define TCP_TLS_MODE_TOE 3

/* Control messages, level IPPROTO_TCP. */
#define TLS_SET_RECORD_TYPE 1 /* sendmsg: one byte, the record type */
#define TLS_GET_RECORD 2      /* recvmsg: struct tls_get_record */

/* Record layer constants (sys/sys/ktls.h). */
#define TLS_MAX_MSG_SIZE_V10_2 16384
#define TLS_MAX_PARAM_SIZE 1024
#define TLS_AEAD_GCM_LEN 4
#define TLS_1_3_GCM_IV_LEN 12
#define TLS_CHACHA20_IV_LEN 12
#define TLS_CBC_IMPLICIT_IV_LEN 16

#define TLS_MAJOR_VER_ONE 3
#define TLS_MINOR_VER_ZERO 1  /* TLS 1.0 */
#define TLS_MINOR_VER_ONE 2   /* TLS 1.1 */
#define TLS_MINOR_VER_TWO 3   /* TLS 1.2 */
#define TLS_MINOR_VER_THREE 4 /* TLS 1.3 */

#define TLS_RLTYPE_ALERT 21
#define TLS_RLTYPE_HANDSHAKE 22
#define TLS_RLTYPE_APP 23

/* Algorithm ids (sys/opencrypto/cryptodev.h). */
#define CRYPTO_SHA1_HMAC 7
#define CRYPTO_AES_CBC 11
#define CRYPTO_SHA2_256_HMAC 18
#define CRYPTO_SHA2_384_HMAC 19
#define CRYPTO_AES_NIST_GCM_16 25
#define CRYPTO_CHACHA20_POLY1305 41

/* The argument of TCP_TXTLS_ENABLE and TCP_RXTLS_ENABLE (64 bytes on LP64). */
struct tls_enable { /* NOLINT(readability-identifier-naming): FreeBSD ABI name */
  const uint8_t* cipher_key;
  const uint8_t* iv;       /* implicit IV / salt */
  const uint8_t* auth_key; /* HMAC key, CBC suites only */
  int cipher_algorithm;    /* CRYPTO_AES_NIST_GCM_16, CRYPTO_AES_CBC, CRYPTO_CHACHA20_POLY1305 */
  int cipher_key_len;
  int iv_len;
  int auth_algorithm; /* CRYPTO_SHA*_HMAC for CBC, 0 for AEADs */
  int auth_key_len;
  int flags; /* must be 0 */
  uint8_t tls_vmajor;
  uint8_t tls_vminor;
  uint8_t rec_seq[8]; /* sequence number of the first record, big-endian */
};

/* The payload of a TLS_GET_RECORD control message. */
struct tls_get_record { /* NOLINT(readability-identifier-naming): FreeBSD ABI name */
  uint8_t tls_type;
  uint8_t tls_vmajor;
  uint8_t tls_vminor;
  uint16_t tls_length; /* payload length, network byte order */
};

/* The system calls, with the record layer below them. */
int ktls_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen);
int ktls_getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen);
ssize_t ktls_write(int fd, const void* buf, size_t len);
ssize_t ktls_writev(int fd, const struct iovec* iov, int iovcnt);
ssize_t ktls_send(int fd, const void* buf, size_t len, int flags);
ssize_t ktls_sendmsg(int fd, const struct msghdr* msg, int flags);
ssize_t ktls_read(int fd, void* buf, size_t len);
ssize_t ktls_readv(int fd, const struct iovec* iov, int iovcnt);
ssize_t ktls_recv(int fd, void* buf, size_t len, int flags);
ssize_t ktls_recvmsg(int fd, struct msghdr* msg, int flags);
/* Linux's sendfile(2) signature: out_fd is the socket. */
ssize_t ktls_sendfile(int out_fd, int in_fd, off_t* offset, size_t count);
int ktls_shutdown(int fd, int how);
int ktls_close(int fd);
/* listen(2); EINVAL on a socket with TLS sessions, as on FreeBSD. */
int ktls_listen(int fd, int backlog);
int ktls_poll(struct pollfd* fds, nfds_t nfds, int timeout);

/* sysctlbyname(3) over the kern.ipc.tls.* knobs and counters of this process. */
int ktls_sysctlbyname(const char* name, void* oldp, size_t* oldlenp, const void* newp,
                      size_t newlen);

#ifdef __cplusplus
}
#endif

#endif /* KTLS_FREEBSD_H_ */
