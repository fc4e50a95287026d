/*
 * In-process bridge for OpenSSL 3 applications: OpenSSL does the handshake and keeps its
 * API (SSL_read, SSL_write, SSL_shutdown, SSL_sendfile where possible); once the keys
 * exist, ktls seals and opens the records on the SSL's socket, as the kernel would with
 * OpenSSL's kTLS (SSL_OP_ENABLE_KTLS).
 *
 * Call order:
 *   ctx = SSL_CTX_new(...);
 *   ktls_openssl_ctx_prepare(ctx);      before SSL_new(): key capture + SSL_OP_ENABLE_KTLS
 *   ssl = SSL_new(ctx);
 *   SSL_set_fd(ssl, tcp_fd);            a connected TCP socket
 *   ktls_openssl_attach(ssl);           before the handshake starts
 *   SSL_connect(ssl) / SSL_accept(ssl); then SSL_read/SSL_write as usual
 *   ktls_openssl_sendfile(ssl, ...);    optional: file data straight into records
 *   SSL_shutdown(ssl); SSL_free(ssl);   then close(tcp_fd) as usual
 *
 * What goes through ktls: every direction OpenSSL hands to "the kernel" (TLS 1.2 both
 * directions, TLS 1.3 sending; AES-GCM and ChaCha20-Poly1305), and TLS 1.3 receiving,
 * which OpenSSL 3.0 never hands over: the bridge installs it itself right after the
 * handshake. BIO_get_ktls_send(SSL_get_wbio(ssl)) / BIO_get_ktls_recv(SSL_get_rbio(ssl))
 * report 1 for directions ktls handles. Other suites and versions stay in OpenSSL.
 * TLS 1.3 session tickets reach OpenSSL as usual (sessions stay resumable), and KeyUpdate
 * works both ways: each side's next key is installed right after its KeyUpdate.
 *
 * Notes:
 *  - One thread at a time per SSL, as OpenSSL requires anyway.
 *  - SSL_free() waits (up to SO_SNDTIMEO, else 60 s) until the ciphertext ktls still
 *    queues reached the kernel, then lets go of the descriptor (closing it only if the
 *    SSL's BIO owned it, BIO_CLOSE).
 *  - Decrypted records may wait inside ktls where poll(2) on the descriptor cannot see
 *    them: read until SSL_ERROR_WANT_READ before polling, or check
 *    BIO_pending(SSL_get_rbio(ssl)) (1 while ktls holds a record OpenSSL has not read).
 *    BIO_wpending(SSL_get_wbio(ssl)) is 1 while ktls still queues records for the kernel;
 *    BIO_flush() on the write BIO pushes them (blocking sockets wait; non-blocking ones
 *    get a retry). On blocking sockets SSL_shutdown() returns only once its close_notify
 *    and everything before it reached the kernel.
 *  - TLS 1.3 receive needs a context prepared before SSL_new(), and moves to ktls only at
 *    a record boundary with nothing buffered in OpenSSL (with read-ahead on, possibly
 *    later or never); until then, or without the capture, OpenSSL keeps it, which works.
 *    Without the capture a TLS 1.3 KeyUpdate cannot be followed on the sending side, so
 *    sending one fails (errno ENOKEY) rather than leave the peer unable to read us.
 *  - SSL_sendfile() makes libssl call sendfile(2) on SSL_get_wfd() itself, past the BIO.
 *    Unless that sendfile() is defined next to this bridge and routes into it, the
 *    bridged SSL's SSL_get_wfd() returns -1 (SSL_get_fd()/SSL_get_rfd() still work), so
 *    SSL_sendfile() fails instead of putting file plaintext on the wire. Use
 *    ktls_openssl_sendfile(). (The ktls LD_PRELOAD interposer is a separate copy of
 *    the engine and does not know the bridge's keys.)
 */
#ifndef KTLS_OPENSSL_H_
#define KTLS_OPENSSL_H_

#include <openssl/ssl.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Installs the handshake key capture (the context's keylog and message callbacks; a
 * keylog callback set before keeps being called, a message callback set before is
 * replaced) and sets SSL_OP_ENABLE_KTLS on ctx. Call before SSL_new(). A message callback
 * the application sets afterwards displaces the capture: forward its calls with
 * ktls::openssl::ObserveMessage() (src/openssl/handshake_keys.h). Returns 0, or -1 with errno
 * EINVAL (ctx NULL) or ENOMEM.
 */
int ktls_openssl_ctx_prepare(SSL_CTX* ctx);

/*
 * Puts ktls under ssl, whose BIO must be a socket BIO (SSL_set_fd()) over a connected TCP
 * socket; call it before the handshake starts. Sets SSL_OP_ENABLE_KTLS on ssl. Calling it
 * again is harmless. Returns 0, or -1 with errno: EINVAL (ssl NULL, no socket BIO, or a
 * BIO chain), EALREADY (the handshake has started), ENOTSOCK / EPROTONOSUPPORT (not a TCP
 * socket), ENOMEM.
 */
int ktls_openssl_attach(SSL* ssl);

/*
 * SSL_sendfile() through ktls: sends up to size bytes of file fd from offset as TLS
 * application data records, without copying them through the application. flags are
 * ignored, as on Linux. Returns the number of bytes sent (possibly fewer than size), or
 * -1 with errno: EINVAL (ssl not attached), EOPNOTSUPP (sending is not offloaded, e.g.
 * before the handshake), EPIPE (close_notify already sent), EAGAIN (non-blocking socket
 * full), or the error of the connection or of reading the file.
 */
ossl_ssize_t ktls_openssl_sendfile(SSL* ssl, int fd, off_t offset, size_t size, int flags);

#ifdef __cplusplus
}
#endif

#endif /* KTLS_OPENSSL_H_ */
