// Turns a handshake that OpenSSL 3.0 finished into the record keys of each direction, so
// the record layer can go on outside OpenSSL (tls-libraries.md §6.1, second option).
//
// OpenSSL 3.0 exposes neither TLS 1.3 traffic secrets nor sequence numbers, so a capture
// has to watch each connection from its first message:
//  - the keylog callback yields the TLS 1.3 application traffic secrets (_0, and _N after
//    a KeyUpdate);
//  - the message callback sees every record header, so the capture counts the records
//    each direction protected under its current keys (the Finished in TLS 1.2, the
//    NewSessionTickets a TLS 1.3 server sends, anything exchanged before the take-over);
//  - it also sees the ServerHello, which tells whether encrypt-then-MAC was agreed.
// TLS 1.2 keys come from the session's master secret and the PRF key block.
//
// Usage: InstallCapture(ctx) before SSL_new(); after the handshake, ExportKeys() for each
// direction to take over. Callbacks and ExportKeys() run on the thread driving the SSL.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "record/record_keys.h"

namespace ktls::openssl {

enum class Direction : uint8_t { kRead, kWrite };

// The callback type of SSL_set_msg_callback().
using MessageCallback = void (*)(int write_p, int version, int content_type, const void* buf,
                                 size_t len, SSL* ssl, void* arg);

struct CaptureOptions {
  // OpenSSL has no getter for the message callback the capture replaces, so an
  // application that wants one too passes it here; it is called after the capture.
  MessageCallback message_callback = nullptr;
  void* message_arg = nullptr;
};

// Captures every SSL created from `ctx` from now on. Sets the context's keylog callback
// (the one set before keeps being called, after the capture) and its message callback
// (`options` names one to chain). Calling it again only updates `options`.
// EINVAL for a null `ctx`, ENOMEM.
Status InstallCapture(SSL_CTX* ctx, const CaptureOptions& options = {});

// Captures one SSL created before InstallCapture(), or whose message callback was
// replaced; call it before the handshake starts. `options` replace the chained message
// callback for this SSL. The keylog callback exists only per context, so TLS 1.3 still
// needs InstallCapture() on the SSL's context. EINVAL for a null `ssl`, ENOMEM.
Status AttachCapture(SSL* ssl, const CaptureOptions& options = {});

// For applications that set their own callbacks after the capture: forwarding every call
// of theirs here keeps the capture informed.
void ObserveMessage(int write_p, int content_type, const void* buf, size_t len, SSL* ssl);
void ObserveKeylogLine(const SSL* ssl, const char* line);

// Records `dir` has protected under its current keys, as the capture counted them.
// ENOKEY when the capture has not seen those keys installed.
Result<uint64_t> RecordsUnderCurrentKeys(const SSL* ssl, Direction dir);

// The suite, version, key material and next sequence number of direction `dir` of a
// finished handshake, for a RecordSealer (kWrite) or RecordOpener (kRead). The keys read
// on one side equal the keys written on the other; the sequence numbers differ by the
// records in flight. Errors:
//  EINVAL           null `ssl`, or the handshake is not finished (or renegotiating).
//  ENOTSUP          a version or suite the record engine lacks (SSL 3.0, DTLS, CCM, ...),
//                   or TLS 1.0 CBC after more than the Finished was protected under the
//                   current keys: its IV chain is then unknown.
//  EPROTONOSUPPORT  encrypt-then-MAC (RFC 7366) was agreed for a CBC suite; the engine
//                   only does MAC-then-encrypt. Set SSL_OP_NO_ENCRYPT_THEN_MAC to avoid.
//  ENOKEY           the capture did not watch the handshake (not installed or attached in
//                   time, or its callbacks replaced).
//  EBUSY            kRead while OpenSSL still buffers received bytes (SSL_pending() or
//                   SSL_has_pending()); they would be lost to the new record layer.
Result<record::RecordKeys> ExportKeys(const SSL* ssl, Direction dir);

// TLS 1.3: the application traffic secret direction `dir` uses now (the peer's for
// kRead), from which the keys after a KeyUpdate derive (RFC 8446 §7.2). EINVAL for a
// null `ssl` or another version, ENOKEY when the capture has not seen it.
Result<SecretBytes> ExportTrafficSecret(const SSL* ssl, Direction dir);

}  // namespace ktls::openssl
