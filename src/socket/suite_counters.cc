#include "socket/suite_counters.h"

namespace ktls::socket {

using crypto::CipherKind;
using crypto::TlsVersion;

control::Counter& EncryptCounter(const record::RecordLayout& layout) {
  control::OcfCounters& ocf = control::GetStats().ocf;
  const bool tls13 = layout.version == TlsVersion::kTls13;
  switch (layout.suite->cipher) {
    case CipherKind::kAesGcm:
      return tls13 ? ocf.tls13_gcm_encrypts : ocf.tls12_gcm_encrypts;
    case CipherKind::kChaCha20Poly1305:
      return tls13 ? ocf.tls13_chacha20_encrypts : ocf.tls12_chacha20_encrypts;
    case CipherKind::kAesCbc:
      break;
  }
  return layout.version == TlsVersion::kTls10 ? ocf.tls10_cbc_encrypts : ocf.tls11_cbc_encrypts;
}

control::Counter& DecryptCounter(const record::RecordLayout& layout) {
  control::OcfCounters& ocf = control::GetStats().ocf;
  const bool tls13 = layout.version == TlsVersion::kTls13;
  switch (layout.suite->cipher) {
    case CipherKind::kAesGcm:
      return tls13 ? ocf.tls13_gcm_decrypts : ocf.tls12_gcm_decrypts;
    case CipherKind::kChaCha20Poly1305:
      return tls13 ? ocf.tls13_chacha20_decrypts : ocf.tls12_chacha20_decrypts;
    case CipherKind::kAesCbc:
      break;
  }
  return ocf.tls11_cbc_decrypts;
}

control::Counter& ModeCounter(control::ModeCounters& mode, const record::RecordLayout& layout) {
  switch (layout.suite->cipher) {
    case CipherKind::kAesGcm:
      return mode.gcm;
    case CipherKind::kChaCha20Poly1305:
      return mode.chacha20;
    case CipherKind::kAesCbc:
      break;
  }
  return mode.cbc;
}

}  // namespace ktls::socket
