#include "openssl/bridge.h"

#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "api/linux_abi.h"
#include "ktls/openssl.h"
#include "openssl/bridge_bio.h"
#include "openssl/handshake_keys.h"
#include "platform/next_libc.h"

namespace ktls::openssl {
namespace {

// The socket BIO SSL_set_fd() made (or SSL_set_rfd/wfd on one descriptor); -1 otherwise.
int SocketOf(SSL* ssl, BIO* rbio, BIO* wbio) {
  if (rbio == nullptr || wbio == nullptr) return -1;
  if (BIO_next(rbio) != nullptr || BIO_next(wbio) != nullptr) return -1;
  const int fd = SSL_get_rfd(ssl);
  return fd >= 0 && fd == SSL_get_wfd(ssl) ? fd : -1;
}

Status CheckTcp(int fd) {
  int protocol = 0;
  socklen_t len = sizeof(protocol);
  if (platform::libc::Getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0) {
    return Status::Error(errno);
  }
  return protocol == IPPROTO_TCP ? Status::Ok() : Status::Error(EPROTONOSUPPORT);
}

int ReturnErrno(const Status& status) {
  if (status.ok()) return 0;
  errno = status.error();
  return -1;
}

}  // namespace

bool SendfileReachesKtls() {
  // libssl binds sendfile through the global scope; whoever comes first there gets it.
  // Only a definition in the module that holds this engine can route it here: another
  // copy of ktls (the LD_PRELOAD interposer loaded next to libktls.so) has its own
  // socket table, where this descriptor has no keys.
  void* const bound = dlsym(RTLD_DEFAULT, "sendfile");
  Dl_info bound_info = {};
  Dl_info own_info = {};
  if (bound == nullptr || dladdr(bound, &bound_info) == 0 ||
      dladdr(reinterpret_cast<void*>(&SendfileReachesKtls), &own_info) == 0) {
    return false;
  }
  return bound_info.dli_fbase == own_info.dli_fbase;
}

Status PrepareContext(SSL_CTX* ctx) {
  if (ctx == nullptr) return Status::Error(EINVAL);
  KTLS_RETURN_IF_ERROR(InstallCapture(ctx));
  SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
  return Status::Ok();
}

Status Attach(SSL* ssl) {
  if (ssl == nullptr) return Status::Error(EINVAL);
  BIO* const rbio = SSL_get_rbio(ssl);
  BIO* const wbio = SSL_get_wbio(ssl);
  if (IsKernelBio(rbio) && IsKernelBio(wbio)) return Status::Ok();
  // OpenSSL hands each direction over while the handshake runs.
  if (SSL_in_before(ssl) != 1) return Status::Error(EALREADY);
  const int fd = SocketOf(ssl, rbio, wbio);
  if (fd < 0) return Status::Error(EINVAL);
  KTLS_RETURN_IF_ERROR(CheckTcp(fd));
  const bool close_fd = BIO_get_close(rbio) == BIO_CLOSE || BIO_get_close(wbio) == BIO_CLOSE;
  Result<KernelBios> bios = NewKernelBios(ssl, fd, close_fd, SendfileReachesKtls());
  if (!bios.ok()) return bios.status();
  // The descriptor now belongs to our BIOs; freeing the old ones must not close it.
  BIO_set_close(rbio, BIO_NOCLOSE);
  BIO_set_close(wbio, BIO_NOCLOSE);
  SSL_set_options(ssl, SSL_OP_ENABLE_KTLS);
  SSL_set0_rbio(ssl, bios->read);
  SSL_set0_wbio(ssl, bios->write);
  return Status::Ok();
}

Result<size_t> SendFile(SSL* ssl, int in_fd, off_t offset, size_t size, int /*flags*/) {
  if (ssl == nullptr) return Status::Error(EINVAL);
  Result<KernelBioState> state = InspectKernelBio(SSL_get_wbio(ssl));
  if (!state.ok()) return state.status();
  if ((SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) != 0) return Status::Error(EPIPE);
  if (!state->tx) return Status::Error(EOPNOTSUPP);
  const ssize_t sent = api::linux_abi::Sendfile(state->fd, in_fd, &offset, size);
  if (sent == api::linux_abi::kNotHandled) return Status::Error(EOPNOTSUPP);
  if (sent < 0) return Status::Error(static_cast<int>(-sent));
  return static_cast<size_t>(sent);
}

}  // namespace ktls::openssl

extern "C" {

int ktls_openssl_ctx_prepare(SSL_CTX* ctx) {
  return ktls::openssl::ReturnErrno(ktls::openssl::PrepareContext(ctx));
}

int ktls_openssl_attach(SSL* ssl) {
  return ktls::openssl::ReturnErrno(ktls::openssl::Attach(ssl));
}

ossl_ssize_t ktls_openssl_sendfile(SSL* ssl, int fd, off_t offset, size_t size, int flags) {
  ktls::Result<size_t> sent = ktls::openssl::SendFile(ssl, fd, offset, size, flags);
  if (!sent.ok()) {
    errno = sent.error();
    return -1;
  }
  return static_cast<ossl_ssize_t>(*sent);
}

}  // extern "C"
