#include "server/self_signed_cert.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

namespace ktls::server {
namespace {

constexpr long kValiditySeconds = 365L * 24 * 3600;
constexpr char kSubjectAltName[] = "DNS:localhost,IP:127.0.0.1,IP:::1";

struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

X509Ptr ReadCertificate(const std::string& path) {
  std::unique_ptr<FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "re"), &std::fclose);
  if (!file) return nullptr;
  return X509Ptr(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
}

PkeyPtr ReadKey(const std::string& path) {
  std::unique_ptr<FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "re"), &std::fclose);
  if (!file) return nullptr;
  return PkeyPtr(PEM_read_PrivateKey(file.get(), nullptr, nullptr, nullptr));
}

// A pair worth keeping: both parse, they match, and the certificate is still valid for
// at least a day.
bool UsablePair(const std::string& cert_file, const std::string& key_file) {
  X509Ptr cert = ReadCertificate(cert_file);
  PkeyPtr key = ReadKey(key_file);
  if (!cert || !key || X509_check_private_key(cert.get(), key.get()) != 1) return false;
  time_t tomorrow = time(nullptr) + time_t{24} * 3600;
  return X509_cmp_time(X509_get0_notAfter(cert.get()), &tomorrow) > 0;
}

bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (extension == nullptr) return false;
  const bool added = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return added;
}

Result<X509Ptr> MakeCertificate(EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (!cert) return Status::Error(ENOMEM);
  X509_set_version(cert.get(), X509_VERSION_3);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), &BN_free);
  if (!serial || BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return Status::Error(ENOMEM);
  }
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ktls serve"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  if (!AddExtension(cert.get(), NID_subject_alt_name, kSubjectAltName) ||
      !AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(cert.get(), NID_subject_key_identifier, "hash")) {
    return Status::Error(EINVAL);
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return Status::Error(EINVAL);
  return cert;
}

// Writes `path` through a temporary file created with `mode`, then renames it.
template <typename WriteFn>
Status WriteAtomically(const std::string& path, mode_t mode, WriteFn write) {
  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Error(errno);
  fchmod(fd, mode);  // the umask must not widen or narrow what we asked for
  FILE* file = fdopen(fd, "w");
  if (file == nullptr) {
    const int error = errno;
    close(fd);
    unlink(temporary.c_str());
    return Status::Error(error);
  }
  const bool written = write(file);
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    unlink(temporary.c_str());
    return Status::Error(written ? errno : EIO);
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    return Status::Error(error);
  }
  return Status::Ok();
}

}  // namespace

Result<CertificateFiles> EnsureSelfSignedCertificate(const std::string& cert_file,
                                                     const std::string& key_file) {
  CertificateFiles files{cert_file, key_file, false};
  if (UsablePair(cert_file, key_file)) {
    struct stat st = {};
    if (stat(key_file.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
      chmod(key_file.c_str(), 0600);
    }
    return files;
  }
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Error(ENOMEM);
  Result<X509Ptr> cert = MakeCertificate(key.get());
  if (!cert.ok()) return cert.status();
  KTLS_RETURN_IF_ERROR(WriteAtomically(key_file, 0600, [&](FILE* file) {
    return PEM_write_PrivateKey(file, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  }));
  KTLS_RETURN_IF_ERROR(WriteAtomically(
      cert_file, 0644, [&](FILE* file) { return PEM_write_X509(file, cert->get()) == 1; }));
  files.created = true;
  return files;
}

}  // namespace ktls::server
