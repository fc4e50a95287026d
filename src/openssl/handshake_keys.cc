#include "openssl/handshake_keys.h"

#include <openssl/evp.h>
#include <openssl/objects.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "crypto/cbc_hmac.h"
#include "crypto/key_schedule.h"
#include "crypto/suite.h"
#include "record/header.h"
#include "record/nonce.h"

namespace ktls::openssl {
namespace {

using crypto::HashKind;
using crypto::SuiteId;
using crypto::SuiteInfo;
using crypto::TlsVersion;

constexpr uint8_t kServerHelloType = 2;            // RFC 5246 §7.4
constexpr uint16_t kEncryptThenMacExtension = 22;  // RFC 7366 §2
constexpr size_t kTls12MasterSecretLen = 48;
constexpr size_t kRandomLen = 32;
constexpr size_t kTls13IvLen = 12;
// Handshake bytes kept per epoch: the Finished (16 bytes before TLS 1.3) fits easily.
constexpr size_t kTrackedHandshakeLen = 64;

// What installed a direction's current keys.
enum class KeyEvent : uint8_t { kNone, kChangeCipherSpec, kTrafficSecret };

// One direction's records since its current keys were installed.
struct Epoch {
  KeyEvent start = KeyEvent::kNone;
  uint64_t records = 0;
  // Enough to recompute TLS 1.0's CBC chain past the Finished record (ChainedIv below).
  uint8_t first_record_type = 0;
  uint16_t first_record_length = 0;
  std::array<uint8_t, kTrackedHandshakeLen> handshake{};
  size_t handshake_len = 0;  // may exceed the array; the chain is then unknown

  void Restart(KeyEvent event) { *this = Epoch{.start = event}; }
};

// Everything captured for one SSL; owned by its ex_data slot.
struct Connection {
  Epoch read;
  Epoch write;
  // Latest TLS 1.3 application traffic secrets.
  SecretBytes client_secret;
  SecretBytes server_secret;
  bool saw_server_hello = false;
  bool encrypt_then_mac = false;
  CaptureOptions chain;

  Epoch& epoch(Direction dir) { return dir == Direction::kRead ? read : write; }
};

// Per SSL_CTX: the callbacks the capture chains to.
struct ContextState {
  SSL_CTX_keylog_cb_func previous_keylog = nullptr;
  CaptureOptions chain;
};

void FreeConnection(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {  // NOLINT
  delete static_cast<Connection*>(ptr);
}

// SSL_dup() would otherwise copy the pointer and free it twice; the copy starts afresh.
int DupConnection(CRYPTO_EX_DATA*, const CRYPTO_EX_DATA*, void** from_d, int, long,  // NOLINT
                  void*) {
  *from_d = nullptr;
  return 1;
}

void FreeContextState(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {  // NOLINT
  delete static_cast<ContextState*>(ptr);
}

int ConnectionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, DupConnection, FreeConnection);
  return index;
}

int ContextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeContextState);
  return index;
}

ContextState* ContextStateOf(const SSL_CTX* ctx) {
  const int index = ContextIndex();
  if (ctx == nullptr || index < 0) return nullptr;
  return static_cast<ContextState*>(SSL_CTX_get_ex_data(ctx, index));
}

Connection* ConnectionOf(const SSL* ssl) {
  const int index = ConnectionIndex();
  if (index < 0) return nullptr;
  return static_cast<Connection*>(SSL_get_ex_data(ssl, index));
}

// Callbacks get a const SSL at times; the SSL itself is never const, only the view.
Connection* GetOrCreateConnection(const SSL* ssl) {
  if (Connection* existing = ConnectionOf(ssl)) return existing;
  const int index = ConnectionIndex();
  if (index < 0) return nullptr;
  auto* created = new (std::nothrow) Connection;
  if (created == nullptr) return nullptr;
  if (const ContextState* context = ContextStateOf(SSL_get_SSL_CTX(ssl))) {
    created->chain = context->chain;
  }
  if (SSL_set_ex_data(const_cast<SSL*>(ssl), index, created) != 1) {
    delete created;
    return nullptr;
  }
  return created;
}

// ServerHello: version(2) random(32) session_id<0..32> suite(2) compression(1)
// extensions<0..2^16-1>, after the 4-byte handshake header. False if malformed.
bool ParseServerHelloEtm(ConstBytes message, bool* etm) {
  size_t pos = 4 + 2 + kRandomLen;
  if (message.size() < pos + 1) return false;
  pos += 1 + message[pos];
  pos += 2 + 1;
  *etm = false;
  if (message.size() == pos) return true;  // no extensions at all
  if (message.size() < pos + 2) return false;
  const size_t end = pos + 2 + LoadBe16(message.data() + pos);
  if (end > message.size()) return false;
  pos += 2;
  while (pos + 4 <= end) {
    const uint16_t type = LoadBe16(message.data() + pos);
    const size_t len = LoadBe16(message.data() + pos + 2);
    if (type == kEncryptThenMacExtension) *etm = true;
    pos += 4 + len;
  }
  return pos == end;
}

void ObserveRecordHeader(Epoch* epoch, const uint8_t* header) {
  const uint8_t type = header[0];
  // Before TLS 1.3 a ChangeCipherSpec switches the keys for the records after it. TLS
  // 1.3's compatibility CCS records all precede the traffic secrets, which restart again.
  if (type == static_cast<uint8_t>(record::ContentType::kChangeCipherSpec)) {
    epoch->Restart(KeyEvent::kChangeCipherSpec);
    return;
  }
  if (epoch->records == 0) {
    epoch->first_record_type = type;
    epoch->first_record_length = LoadBe16(header + 3);
  }
  ++epoch->records;
}

void ObserveHandshakeMessage(Connection* conn, Epoch* epoch, ConstBytes message) {
  if (!message.empty() && message[0] == kServerHelloType) {
    bool etm = false;
    conn->saw_server_hello = ParseServerHelloEtm(message, &etm);
    conn->encrypt_then_mac = etm;
  }
  if (epoch->start != KeyEvent::kChangeCipherSpec) return;
  const size_t kept = std::min(epoch->handshake_len, epoch->handshake.size());
  const size_t copied = std::min(epoch->handshake.size() - kept, message.size());
  std::memcpy(epoch->handshake.data() + kept, message.data(), copied);
  epoch->handshake_len += message.size();
}

void OnMessage(int write_p, int version, int content_type, const void* buf, size_t len, SSL* ssl,
               void* /*arg*/) {
  ObserveMessage(write_p, content_type, buf, len, ssl);
  const Connection* conn = ConnectionOf(ssl);
  const ContextState* context = conn ? nullptr : ContextStateOf(SSL_get_SSL_CTX(ssl));
  const CaptureOptions* chain = conn ? &conn->chain : context ? &context->chain : nullptr;
  if (chain != nullptr && chain->message_callback != nullptr) {
    chain->message_callback(write_p, version, content_type, buf, len, ssl, chain->message_arg);
  }
}

void OnKeylogLine(const SSL* ssl, const char* line) {
  ObserveKeylogLine(ssl, line);
  const ContextState* context = ContextStateOf(SSL_get_SSL_CTX(ssl));
  if (context != nullptr && context->previous_keylog != nullptr) {
    context->previous_keylog(ssl, line);
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<SecretBytes> DecodeHexSecret(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() > size_t{2} * EVP_MAX_MD_SIZE) {
    return std::nullopt;
  }
  SecretBytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int high = HexValue(hex[2 * i]);
    const int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.data()[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return out;
}

// --- Key derivation ---------------------------------------------------------------

Result<TlsVersion> VersionOf(const SSL* ssl) {
  switch (SSL_version(ssl)) {
    case TLS1_VERSION:
      return TlsVersion::kTls10;
    case TLS1_1_VERSION:
      return TlsVersion::kTls11;
    case TLS1_2_VERSION:
      return TlsVersion::kTls12;
    case TLS1_3_VERSION:
      return TlsVersion::kTls13;
    default:
      return Status::Error(ENOTSUP);  // SSL 3.0, DTLS
  }
}

Result<SuiteId> SuiteOf(const SSL_CIPHER* cipher) {
  const int mac = SSL_CIPHER_get_digest_nid(cipher);
  switch (SSL_CIPHER_get_cipher_nid(cipher)) {
    case NID_aes_128_gcm:
      return SuiteId::kAes128Gcm;
    case NID_aes_256_gcm:
      return SuiteId::kAes256Gcm;
    case NID_chacha20_poly1305:
      return SuiteId::kChaCha20Poly1305;
    case NID_aes_128_cbc:
      if (mac == NID_sha1) return SuiteId::kAes128CbcSha1;
      if (mac == NID_sha256) return SuiteId::kAes128CbcSha256;
      if (mac == NID_sha384) return SuiteId::kAes128CbcSha384;
      break;
    case NID_aes_256_cbc:
      if (mac == NID_sha1) return SuiteId::kAes256CbcSha1;
      if (mac == NID_sha256) return SuiteId::kAes256CbcSha256;
      if (mac == NID_sha384) return SuiteId::kAes256CbcSha384;
      break;
    default:
      break;
  }
  return Status::Error(ENOTSUP);
}

// The suite's PRF/HKDF hash: SHA-384 where the suite names it, else SHA-256 (also for
// pre-1.2 suites in TLS 1.2); TLS 1.0 and 1.1 always use the MD5/SHA-1 PRF.
HashKind KdfHashOf(const SSL_CIPHER* cipher, TlsVersion version) {
  if (version < TlsVersion::kTls12) return HashKind::kMd5Sha1;
  const EVP_MD* md = SSL_CIPHER_get_handshake_digest(cipher);
  return md != nullptr && EVP_MD_get_type(md) == NID_sha384 ? HashKind::kSha384 : HashKind::kSha256;
}

// Whose keys a direction uses: the client writes with the client's, the server reads them.
bool UsesClientKeys(const SSL* ssl, Direction dir) {
  return (dir == Direction::kWrite) != (SSL_is_server(ssl) == 1);
}

Status DeriveTls13(const SSL* ssl, const Connection& conn, Direction dir, HashKind hash,
                   record::RecordKeys* keys) {
  const SecretBytes& secret = UsesClientKeys(ssl, dir) ? conn.client_secret : conn.server_secret;
  if (secret.size() != crypto::HashLen(hash)) return Status::Error(ENOKEY);
  const SuiteInfo& suite = crypto::GetSuite(keys->suite);
  Result<SecretBytes> key = crypto::HkdfExpandLabel(hash, secret.view(), "key", {}, suite.key_len);
  if (!key.ok()) return key.status();
  Result<SecretBytes> iv = crypto::HkdfExpandLabel(hash, secret.view(), "iv", {}, kTls13IvLen);
  if (!iv.ok()) return iv.status();
  keys->cipher_key = std::move(key).value();
  keys->iv = std::move(iv).value();
  return Status::Ok();
}

// RFC 5246 §6.3: key_block = PRF(master_secret, "key expansion", server_random ||
// client_random), cut into client MAC | server MAC | client key | server key | client IV
// | server IV. IVs exist only for AEADs and TLS 1.0 CBC (RFC 4346 moved CBC to explicit IVs).
Status DeriveTls12(const SSL* ssl, Direction dir, HashKind hash, record::RecordKeys* keys) {
  const SuiteInfo& suite = crypto::GetSuite(keys->suite);
  const bool cbc = suite.cipher == crypto::CipherKind::kAesCbc;
  const size_t mac_len = cbc ? suite.mac_key_len : 0;
  const size_t key_len = suite.key_len;
  const size_t iv_len = !cbc || keys->version == TlsVersion::kTls10 ? suite.tls12_fixed_iv_len : 0;

  const SSL_SESSION* session = SSL_get_session(ssl);
  if (session == nullptr) return Status::Error(EINVAL);
  SecretBytes master(kTls12MasterSecretLen);
  if (SSL_SESSION_get_master_key(session, master.data(), master.size()) != master.size()) {
    return Status::Error(EINVAL);
  }
  std::array<uint8_t, 2 * kRandomLen> seed;
  if (SSL_get_server_random(ssl, seed.data(), kRandomLen) != kRandomLen ||
      SSL_get_client_random(ssl, seed.data() + kRandomLen, kRandomLen) != kRandomLen) {
    return Status::Error(EINVAL);
  }
  Result<SecretBytes> block =
      crypto::TlsPrf(hash, master.view(), "key expansion", seed, 2 * (mac_len + key_len + iv_len));
  if (!block.ok()) return block.status();

  const size_t side = UsesClientKeys(ssl, dir) ? 0 : 1;
  const ConstBytes bytes = block->view();
  keys->mac_key = SecretBytes(bytes.subspan(side * mac_len, mac_len));
  keys->cipher_key = SecretBytes(bytes.subspan(2 * mac_len + side * key_len, key_len));
  keys->iv = SecretBytes(bytes.subspan(2 * (mac_len + key_len) + side * iv_len, iv_len));
  return Status::Ok();
}

// TLS 1.0 chains each record's IV from the previous record's last ciphertext block, and
// OpenSSL does not expose it. After the handshake the only record under the new keys is
// the Finished, whose plaintext the capture saw; with the record length fixing the
// padding (RFC 2246 §6.2.3.2: every padding byte holds the padding length), encrypting it
// again yields exactly the wire ciphertext and so the next IV.
Status ChainedIv(const Epoch& epoch, record::RecordKeys* keys) {
  if (epoch.records == 0) return Status::Ok();  // the key block IV is still current
  const SuiteInfo& suite = crypto::GetSuite(keys->suite);
  const size_t block = crypto::kCbcBlockLen;
  const size_t text_len = epoch.handshake_len;
  const size_t body_len = epoch.first_record_length;
  if (epoch.records != 1 ||
      epoch.first_record_type != static_cast<uint8_t>(record::ContentType::kHandshake) ||
      text_len > epoch.handshake.size() || body_len % block != 0 ||
      body_len < text_len + suite.mac_len + 1 || body_len - text_len - suite.mac_len - 1 > 255) {
    return Status::Error(ENOTSUP);
  }
  Result<std::unique_ptr<crypto::CbcHmac>> cbc =
      crypto::MakeCbcHmac(suite.mac, keys->cipher_key.view(), keys->mac_key.view());
  if (!cbc.ok()) return cbc.status();

  std::array<uint8_t, kTrackedHandshakeLen + crypto::kMaxMacLen + 256> body;
  if (body_len > body.size()) return Status::Error(ENOTSUP);
  std::memcpy(body.data(), epoch.handshake.data(), text_len);
  const auto aad =
      record::Tls12Aad(0, epoch.first_record_type, crypto::VersionMajor(keys->version),
                       crypto::VersionMinor(keys->version), static_cast<uint16_t>(text_len));
  const ConstBytes mac_input[] = {aad, ConstBytes(body.data(), text_len)};
  (*cbc)->Mac(mac_input, MutableBytes(body.data() + text_len, suite.mac_len));
  const size_t pad = body_len - text_len - suite.mac_len - 1;
  std::memset(body.data() + text_len + suite.mac_len, static_cast<int>(pad), pad + 1);
  const MutableBytes encrypted(body.data(), body_len);
  (*cbc)->Encrypt(std::span<const uint8_t, crypto::kCbcBlockLen>(keys->iv.data(), block), encrypted,
                  encrypted);
  std::memcpy(keys->iv.data(), body.data() + body_len - block, block);
  SecureWipe(body.data(), body.size());
  return Status::Ok();
}

}  // namespace

Status InstallCapture(SSL_CTX* ctx, const CaptureOptions& options) {
  const int index = ContextIndex();
  if (ctx == nullptr) return Status::Error(EINVAL);
  if (index < 0 || ConnectionIndex() < 0) return Status::Error(ENOMEM);
  ContextState* state = ContextStateOf(ctx);
  if (state == nullptr) {
    state = new (std::nothrow) ContextState;
    if (state == nullptr) return Status::Error(ENOMEM);
    if (SSL_CTX_set_ex_data(ctx, index, state) != 1) {
      delete state;
      return Status::Error(ENOMEM);
    }
  }
  state->chain = options;
  const SSL_CTX_keylog_cb_func current = SSL_CTX_get_keylog_callback(ctx);
  if (current != OnKeylogLine) {
    state->previous_keylog = current;
    SSL_CTX_set_keylog_callback(ctx, OnKeylogLine);
  }
  SSL_CTX_set_msg_callback(ctx, OnMessage);
  return Status::Ok();
}

Status AttachCapture(SSL* ssl, const CaptureOptions& options) {
  if (ssl == nullptr) return Status::Error(EINVAL);
  Connection* conn = GetOrCreateConnection(ssl);
  if (conn == nullptr) return Status::Error(ENOMEM);
  conn->chain = options;
  SSL_set_msg_callback(ssl, OnMessage);
  return Status::Ok();
}

void ObserveMessage(int write_p, int content_type, const void* buf, size_t len, SSL* ssl) {
  if (ssl == nullptr || buf == nullptr) return;
  Connection* conn = GetOrCreateConnection(ssl);
  if (conn == nullptr) return;
  Epoch& epoch = conn->epoch(write_p != 0 ? Direction::kWrite : Direction::kRead);
  const ConstBytes bytes(static_cast<const uint8_t*>(buf), len);
  if (content_type == SSL3_RT_HEADER && len >= record::kHeaderLen) {
    ObserveRecordHeader(&epoch, bytes.data());
  } else if (content_type == SSL3_RT_HANDSHAKE) {
    ObserveHandshakeMessage(conn, &epoch, bytes);
  }
}

void ObserveKeylogLine(const SSL* ssl, const char* line) {
  if (ssl == nullptr || line == nullptr) return;
  // NSS key log format: LABEL <client_random hex> <secret hex>.
  const std::string_view text(line);
  const size_t first_space = text.find(' ');
  const size_t second_space = text.find(' ', first_space + 1);
  if (first_space == std::string_view::npos || second_space == std::string_view::npos) return;
  const std::string_view label = text.substr(0, first_space);
  // _0 at the handshake, _N (literally) after each KeyUpdate.
  constexpr std::string_view kClient = "CLIENT_TRAFFIC_SECRET_";
  constexpr std::string_view kServer = "SERVER_TRAFFIC_SECRET_";
  const bool client = label.starts_with(kClient);
  if (!client && !label.starts_with(kServer)) return;
  std::optional<SecretBytes> secret = DecodeHexSecret(text.substr(second_space + 1));
  if (!secret) return;
  Connection* conn = GetOrCreateConnection(ssl);
  if (conn == nullptr) return;
  (client ? conn->client_secret : conn->server_secret) = std::move(*secret);
  const bool own = client != (SSL_is_server(ssl) == 1);
  conn->epoch(own ? Direction::kWrite : Direction::kRead).Restart(KeyEvent::kTrafficSecret);
}

Result<uint64_t> RecordsUnderCurrentKeys(const SSL* ssl, Direction dir) {
  if (ssl == nullptr) return Status::Error(EINVAL);
  Connection* conn = ConnectionOf(ssl);
  if (conn == nullptr || conn->epoch(dir).start == KeyEvent::kNone) return Status::Error(ENOKEY);
  return conn->epoch(dir).records;
}

Result<record::RecordKeys> ExportKeys(const SSL* ssl, Direction dir) {
  if (ssl == nullptr || SSL_is_init_finished(ssl) != 1) return Status::Error(EINVAL);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  if (cipher == nullptr) return Status::Error(EINVAL);
  Result<TlsVersion> version = VersionOf(ssl);
  if (!version.ok()) return version.status();
  Result<SuiteId> suite_id = SuiteOf(cipher);
  if (!suite_id.ok()) return suite_id.status();
  const SuiteInfo& suite = crypto::GetSuite(*suite_id);
  if (!crypto::SuiteSupportsVersion(suite, *version)) return Status::Error(ENOTSUP);
  const HashKind hash = KdfHashOf(cipher, *version);
  if (dir == Direction::kRead && (SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1)) {
    return Status::Error(EBUSY);
  }

  Connection* conn = ConnectionOf(ssl);
  if (conn == nullptr) return Status::Error(ENOKEY);
  const Epoch& epoch = conn->epoch(dir);
  record::RecordKeys keys;
  keys.suite = suite.id;
  keys.version = *version;
  keys.sequence = epoch.records;
  if (*version == TlsVersion::kTls13) {
    if (epoch.start != KeyEvent::kTrafficSecret) return Status::Error(ENOKEY);
    KTLS_RETURN_IF_ERROR(DeriveTls13(ssl, *conn, dir, hash, &keys));
    return keys;
  }

  if (epoch.start != KeyEvent::kChangeCipherSpec) return Status::Error(ENOKEY);
  const bool cbc = suite.cipher == crypto::CipherKind::kAesCbc;
  if (cbc) {
    // The ServerHello decides; without having seen it, only the option rules EtM out.
    const bool etm_refused = (SSL_get_options(ssl) & SSL_OP_NO_ENCRYPT_THEN_MAC) != 0;
    if (conn->saw_server_hello ? conn->encrypt_then_mac : !etm_refused) {
      return Status::Error(conn->saw_server_hello ? EPROTONOSUPPORT : ENOKEY);
    }
  }
  KTLS_RETURN_IF_ERROR(DeriveTls12(ssl, dir, hash, &keys));
  if (cbc && *version == TlsVersion::kTls10) KTLS_RETURN_IF_ERROR(ChainedIv(epoch, &keys));
  return keys;
}

Result<SecretBytes> ExportTrafficSecret(const SSL* ssl, Direction dir) {
  if (ssl == nullptr || SSL_version(ssl) != TLS1_3_VERSION) return Status::Error(EINVAL);
  const Connection* conn = ConnectionOf(ssl);
  if (conn == nullptr) return Status::Error(ENOKEY);
  const SecretBytes& secret = UsesClientKeys(ssl, dir) ? conn->client_secret : conn->server_secret;
  if (secret.empty()) return Status::Error(ENOKEY);
  return secret;
}

}  // namespace ktls::openssl
