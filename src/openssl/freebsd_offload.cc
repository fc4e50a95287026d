#include "openssl/freebsd_offload.h"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "base/bytes.h"
#include "crypto/suite.h"
#include "openssl/handshake_keys.h"

namespace ktls::openssl {
namespace {

Status Enable(int fd, int option, const record::RecordKeys& keys) {
  const struct tls_enable en = MakeTlsEnable(keys);
  if (ktls_setsockopt(fd, IPPROTO_TCP, option, &en, sizeof(en)) != 0) {
    return Status::Error(errno);
  }
  return Status::Ok();
}

}  // namespace

struct tls_enable MakeTlsEnable(const record::RecordKeys& keys) {
  const crypto::SuiteInfo& suite = crypto::GetSuite(keys.suite);
  struct tls_enable en;
  std::memset(&en, 0, sizeof(en));
  en.cipher_key = keys.cipher_key.data();
  en.cipher_key_len = static_cast<int>(keys.cipher_key.size());
  // TLS 1.1/1.2 CBC records carry their own IV: RecordKeys holds none, and none is
  // passed (FreeBSD ignores it anyway).
  en.iv = keys.iv.empty() ? nullptr : keys.iv.data();
  en.iv_len = static_cast<int>(keys.iv.size());
  en.cipher_algorithm = suite.freebsd_cipher;
  if (suite.cipher == crypto::CipherKind::kAesCbc) {
    en.auth_algorithm = suite.freebsd_auth;
    en.auth_key = keys.mac_key.data();
    en.auth_key_len = static_cast<int>(keys.mac_key.size());
  }
  en.tls_vmajor = crypto::VersionMajor(keys.version);
  en.tls_vminor = crypto::VersionMinor(keys.version);
  StoreBe64(en.rec_seq, keys.sequence);
  return en;
}

Status OffloadAfterHandshake(SSL* ssl, int fd) {
  if (ssl == nullptr || SSL_is_init_finished(ssl) != 1) return Status::Error(EINVAL);
  // With read-ahead OpenSSL may have pulled records past the handshake off the socket
  // even when SSL_pending() is 0 for the moment.
  if (SSL_get_read_ahead(ssl) != 0) return Status::Error(EINVAL);
  if (SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1) return Status::Error(EBUSY);
  Result<record::RecordKeys> tx = ExportKeys(ssl, Direction::kWrite);
  if (!tx.ok()) return tx.status();
  Result<record::RecordKeys> rx = ExportKeys(ssl, Direction::kRead);
  if (!rx.ok()) return rx.status();
  KTLS_RETURN_IF_ERROR(Enable(fd, TCP_TXTLS_ENABLE, *tx));
  return Enable(fd, TCP_RXTLS_ENABLE, *rx);
}

}  // namespace ktls::openssl
