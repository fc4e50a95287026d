#include "server/tls_context.h"

#include <openssl/err.h>

#include <cerrno>
#include <cstring>

#include "openssl/handshake_keys.h"

namespace ktls::server {
namespace {

constexpr char kTls12Ciphers[] = "ECDHE+AESGCM:ECDHE+CHACHA20";
constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

std::string OpenSslError(const char* what) {
  std::string message = what;
  const unsigned long code = ERR_get_error();
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    message.append(": ").append(text);
  }
  ERR_clear_error();
  return message;
}

// ALPN: HTTP/1.1 only; a client offering only h2 gets no ALPN and may still try 1.1.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

Result<SslCtxPtr> MakeServerContext(const TlsOptions& options, std::string* error) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    *error = OpenSslError("SSL_CTX_new");
    return Status::Error(ENOMEM);
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  // EtM would make CBC suites unexportable; renegotiation would need new keys after
  // the hand-over, which ktls(4) does not take.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_ENCRYPT_THEN_MAC |
                                     SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_read_ahead(ctx.get(), 0);
  if (SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
    *error = OpenSslError("cipher list");
    return Status::Error(EINVAL);
  }
  SSL_CTX_set_num_tickets(ctx.get(), static_cast<size_t>(options.session_tickets));
  SSL_CTX_set_alpn_select_cb(ctx.get(), SelectAlpn, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) != 1) {
    *error = OpenSslError(("certificate " + options.cert_file).c_str());
    return Status::Error(EINVAL);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = OpenSslError(("private key " + options.key_file).c_str());
    return Status::Error(EINVAL);
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    *error = OpenSslError("the private key does not match the certificate");
    return Status::Error(EINVAL);
  }
  const Status captured = openssl::InstallCapture(ctx.get());
  if (!captured.ok()) {
    *error = std::string("key capture: ") + std::strerror(captured.error());
    return captured;
  }
  return ctx;
}

}  // namespace ktls::server
