// Our record engine against OpenSSL 3.0's, on real in-memory handshakes: keys come from
// ExportKeys(), records cross in both directions and must arrive byte for byte, and the
// sequence numbers must continue wherever OpenSSL left off (Finished, NewSessionTickets,
// application records, KeyUpdate).
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "openssl/handshake_keys.h"
#include "record/header.h"
#include "record/record_opener.h"
#include "record/record_sealer.h"

namespace ktls::openssl {
namespace {

using crypto::SuiteId;
using record::RecordKeys;
using record::RecordOpener;
using record::RecordSealer;

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

constexpr uint8_t kHandshake = static_cast<uint8_t>(record::ContentType::kHandshake);
constexpr size_t kSizes[] = {0, 1, 15, 16, 17, 1000, 16383, 16384};
constexpr int kManyRecords = 50;

// A P-256 key and a self-signed certificate, made once per test binary.
struct Credential {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

Credential MakeCredential() {
  Credential credential;
  credential.key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, credential.key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ktls-interop"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, credential.key, EVP_sha256());
  credential.cert = cert;
  return credential;
}

const Credential& TestCredential() {
  static const Credential credential = MakeCredential();
  return credential;
}

struct PairConfig {
  int version = TLS1_2_VERSION;
  std::string ciphers;  // a cipher list before TLS 1.3, ciphersuites for TLS 1.3
  int tickets = 2;      // TLS 1.3 NewSessionTickets the server sends
  bool refuse_etm = true;
  bool capture = true;
  // Runs last on both contexts, standing in for what an application sets up itself.
  void (*customize)(SSL_CTX* ctx) = nullptr;
};

SslCtxPtr MakeContext(const PairConfig& config, bool server) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), config.version);
  SSL_CTX_set_max_proto_version(ctx.get(), config.version);
  if (config.version == TLS1_3_VERSION) {
    SSL_CTX_set_ciphersuites(ctx.get(), config.ciphers.c_str());
  } else {
    SSL_CTX_set_cipher_list(ctx.get(), config.ciphers.c_str());
  }
  // TLS 1.0/1.1 sign with SHA-1, which only security level 0 allows.
  if (config.version < TLS1_2_VERSION) SSL_CTX_set_security_level(ctx.get(), 0);
  if (config.refuse_etm) SSL_CTX_set_options(ctx.get(), SSL_OP_NO_ENCRYPT_THEN_MAC);
  if (server) {
    SSL_CTX_use_certificate(ctx.get(), TestCredential().cert);
    SSL_CTX_use_PrivateKey(ctx.get(), TestCredential().key);
    SSL_CTX_set_num_tickets(ctx.get(), static_cast<size_t>(config.tickets));
  }
  if (config.capture) {
    EXPECT_TRUE(InstallCapture(ctx.get()).ok());
  }
  if (config.customize != nullptr) config.customize(ctx.get());
  return ctx;
}

std::vector<uint8_t> Drain(BIO* bio) {
  std::vector<uint8_t> bytes(BIO_ctrl_pending(bio));
  if (!bytes.empty()) {
    EXPECT_EQ(BIO_read(bio, bytes.data(), static_cast<int>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  return bytes;
}

void Deliver(SSL* ssl, ConstBytes bytes) {
  if (bytes.empty()) return;
  EXPECT_EQ(BIO_write(SSL_get_rbio(ssl), bytes.data(), static_cast<int>(bytes.size())),
            static_cast<int>(bytes.size()));
}

// A client and a server over two memory BIOs per side; the test plays the network.
class TlsPair {
 public:
  explicit TlsPair(const PairConfig& config)
      : client_ctx_(MakeContext(config, false)),
        server_ctx_(MakeContext(config, true)),
        client_(SSL_new(client_ctx_.get())),
        server_(SSL_new(server_ctx_.get())) {
    for (SSL* ssl : {client_.get(), server_.get()}) {
      BIO* rbio = BIO_new(BIO_s_mem());
      BIO_set_mem_eof_return(rbio, -1);  // empty means "would block", not EOF
      SSL_set_bio(ssl, rbio, BIO_new(BIO_s_mem()));
    }
    SSL_set_connect_state(client_.get());
    SSL_set_accept_state(server_.get());
  }

  SSL* client() const { return client_.get(); }
  SSL* server() const { return server_.get(); }

  // Moves whatever each side wrote into the other's read BIO.
  void Pump() {
    Deliver(server(), Drain(SSL_get_wbio(client())));
    Deliver(client(), Drain(SSL_get_wbio(server())));
  }

  // Runs both handshakes to completion; a TLS 1.3 server's tickets end up unread in
  // the client's read BIO, as they would sit in its socket.
  bool Handshake() {
    bool client_done = false;
    bool server_done = false;
    for (int round = 0; round < 32 && !(client_done && server_done); ++round) {
      if (!client_done && !Step(client(), &client_done)) return false;
      if (!server_done && !Step(server(), &server_done)) return false;
      Pump();
    }
    Pump();
    return client_done && server_done;
  }

 private:
  static bool Step(SSL* ssl, bool* done) {
    const int ret = SSL_do_handshake(ssl);
    if (ret == 1) {
      *done = true;
      return true;
    }
    return SSL_get_error(ssl, ret) == SSL_ERROR_WANT_READ;
  }

  SslCtxPtr client_ctx_;
  SslCtxPtr server_ctx_;
  SslPtr client_;
  SslPtr server_;
};

std::vector<uint8_t> Payload(size_t size, int salt) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 131 + salt * 7 + 1);
  return bytes;
}

// SSL_read until `want` bytes arrived or OpenSSL has nothing more.
std::vector<uint8_t> ReadUpTo(SSL* ssl, size_t want) {
  std::vector<uint8_t> bytes(want);
  size_t got = 0;
  while (got < want) {
    const int ret = SSL_read(ssl, bytes.data() + got, static_cast<int>(want - got));
    if (ret <= 0) break;
    got += static_cast<size_t>(ret);
  }
  bytes.resize(got);
  return bytes;
}

std::vector<uint8_t> SealOne(RecordSealer* sealer, ConstBytes payload) {
  std::vector<uint8_t> wire(sealer->RecordSize(payload.size()));
  EXPECT_TRUE(sealer->Seal(record::kApplicationData, payload, wire).ok());
  return wire;
}

struct Opened {
  std::vector<uint8_t> data;  // application data, concatenated
  int data_records = 0;
  int handshake_records = 0;
};

// Opens every record in `wire`, which must hold whole records only.
Opened OpenAll(RecordOpener* opener, std::vector<uint8_t> wire) {
  Opened opened;
  size_t pos = 0;
  while (pos < wire.size()) {
    const record::OpenResult result = opener->Open(MutableBytes(wire).subspan(pos));
    if (result.status != record::OpenStatus::kOk) {
      ADD_FAILURE() << "record at " << pos << " status " << static_cast<int>(result.status);
      break;
    }
    const uint8_t* payload = wire.data() + pos + result.payload_offset;
    if (result.type == record::kApplicationData) {
      opened.data.insert(opened.data.end(), payload, payload + result.payload_len);
      ++opened.data_records;
    } else if (result.type == kHandshake) {
      ++opened.handshake_records;
    } else {
      ADD_FAILURE() << "unexpected record type " << int{result.type};
    }
    pos += result.record_len;
  }
  return opened;
}

void ExpectSameKeys(const RecordKeys& write, const RecordKeys& read) {
  EXPECT_EQ(write.suite, read.suite);
  EXPECT_EQ(write.version, read.version);
  EXPECT_TRUE(std::ranges::equal(write.cipher_key.view(), read.cipher_key.view()));
  EXPECT_TRUE(std::ranges::equal(write.iv.view(), read.iv.view()));
  EXPECT_TRUE(std::ranges::equal(write.mac_key.view(), read.mac_key.view()));
}

// --- Per-suite tests ------------------------------------------------------------------

struct SuiteCase {
  const char* name;
  int version;
  const char* ciphers;
  SuiteId suite;
  int tickets = 2;
};

// Failure messages name the case instead of dumping its bytes.
void PrintTo(const SuiteCase& suite_case, std::ostream* out) {
  *out << suite_case.name;
}

const SuiteCase kCases[] = {
    {"Tls12_EcdheEcdsaAes128GcmSha256", TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256",
     SuiteId::kAes128Gcm},
    {"Tls12_EcdheEcdsaAes256GcmSha384", TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384",
     SuiteId::kAes256Gcm},
    {"Tls12_EcdheEcdsaChaCha20Poly1305", TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305",
     SuiteId::kChaCha20Poly1305},
    {"Tls12_EcdheEcdsaAes128Sha", TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA",
     SuiteId::kAes128CbcSha1},
    {"Tls12_EcdheEcdsaAes256Sha", TLS1_2_VERSION, "ECDHE-ECDSA-AES256-SHA",
     SuiteId::kAes256CbcSha1},
    {"Tls12_EcdheEcdsaAes128Sha256", TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256",
     SuiteId::kAes128CbcSha256},
    {"Tls12_EcdheEcdsaAes256Sha384", TLS1_2_VERSION, "ECDHE-ECDSA-AES256-SHA384",
     SuiteId::kAes256CbcSha384},
    {"Tls13_Aes128GcmSha256_NoTickets", TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256",
     SuiteId::kAes128Gcm, 0},
    {"Tls13_Aes128GcmSha256_TwoTickets", TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256",
     SuiteId::kAes128Gcm, 2},
    {"Tls13_Aes256GcmSha384_NoTickets", TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384",
     SuiteId::kAes256Gcm, 0},
    {"Tls13_Aes256GcmSha384_TwoTickets", TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384",
     SuiteId::kAes256Gcm, 2},
    {"Tls13_ChaCha20Poly1305Sha256_NoTickets", TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256",
     SuiteId::kChaCha20Poly1305, 0},
    {"Tls13_ChaCha20Poly1305Sha256_TwoTickets", TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256",
     SuiteId::kChaCha20Poly1305, 2},
    {"Tls11_EcdheEcdsaAes128Sha", TLS1_1_VERSION, "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0",
     SuiteId::kAes128CbcSha1},
    {"Tls11_EcdheEcdsaAes256Sha", TLS1_1_VERSION, "ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0",
     SuiteId::kAes256CbcSha1},
    {"Tls10_EcdheEcdsaAes128Sha", TLS1_VERSION, "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0",
     SuiteId::kAes128CbcSha1},
    {"Tls10_EcdheEcdsaAes256Sha", TLS1_VERSION, "ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0",
     SuiteId::kAes256CbcSha1},
};

// Which way records travel in a test.
enum class Flow { kClientToServer, kServerToClient };
constexpr Flow kFlows[] = {Flow::kClientToServer, Flow::kServerToClient};

const char* FlowName(Flow flow) {
  return flow == Flow::kClientToServer ? "client->server" : "server->client";
}

class OpenSslRecordInterop : public ::testing::TestWithParam<SuiteCase> {
 protected:
  PairConfig Config() const {
    return PairConfig{.version = GetParam().version,
                      .ciphers = GetParam().ciphers,
                      .tickets = GetParam().tickets};
  }
  bool tls13() const { return GetParam().version == TLS1_3_VERSION; }
  bool tls10() const { return GetParam().version == TLS1_VERSION; }
  static SSL* Writer(const TlsPair& pair, Flow flow) {
    return flow == Flow::kClientToServer ? pair.client() : pair.server();
  }
  static SSL* Reader(const TlsPair& pair, Flow flow) {
    return flow == Flow::kClientToServer ? pair.server() : pair.client();
  }
  // TLS 1.3 tickets travel server to client under the application keys, ahead of data.
  int Tickets(Flow flow) const {
    return tls13() && flow == Flow::kServerToClient ? GetParam().tickets : 0;
  }
  // Sequence number the writer continues at right after the handshake.
  uint64_t FirstWriteSequence(Flow flow) const {
    return tls13() ? static_cast<uint64_t>(Tickets(flow)) : 1;  // TLS 1.2: after Finished
  }
};

TEST_P(OpenSslRecordInterop, ExportedKeysMatchAcrossPeers) {
  TlsPair pair(Config());
  ASSERT_TRUE(pair.Handshake());
  for (Flow flow : kFlows) {
    SCOPED_TRACE(FlowName(flow));
    Result<RecordKeys> write = ExportKeys(Writer(pair, flow), Direction::kWrite);
    Result<RecordKeys> read = ExportKeys(Reader(pair, flow), Direction::kRead);
    ASSERT_TRUE(write.ok()) << write.error();
    ASSERT_TRUE(read.ok()) << read.error();
    EXPECT_EQ(write->suite, GetParam().suite);
    EXPECT_EQ(static_cast<int>(write->version), GetParam().version);
    ExpectSameKeys(*write, *read);
    EXPECT_EQ(write->sequence, FirstWriteSequence(flow));
    // The reader has not seen the tickets yet; they are still in flight.
    EXPECT_EQ(read->sequence, tls13() ? 0u : 1u);

    const crypto::SuiteInfo& suite = crypto::GetSuite(GetParam().suite);
    EXPECT_EQ(write->cipher_key.size(), suite.key_len);
    const bool cbc = suite.cipher == crypto::CipherKind::kAesCbc;
    EXPECT_EQ(write->mac_key.size(), cbc ? suite.mac_key_len : 0u);
    const size_t iv_len = tls13() ? 12 : !cbc ? suite.tls12_fixed_iv_len : tls10() ? 16 : 0;
    EXPECT_EQ(write->iv.size(), iv_len);
  }
  // Client and server keys differ.
  Result<RecordKeys> client = ExportKeys(pair.client(), Direction::kWrite);
  Result<RecordKeys> server = ExportKeys(pair.server(), Direction::kWrite);
  ASSERT_TRUE(client.ok() && server.ok());
  EXPECT_FALSE(std::ranges::equal(client->cipher_key.view(), server->cipher_key.view()));
}

// (a) Records we seal, read by OpenSSL.
TEST_P(OpenSslRecordInterop, OpenSslReadsRecordsWeSeal) {
  for (Flow flow : kFlows) {
    SCOPED_TRACE(FlowName(flow));
    TlsPair pair(Config());
    ASSERT_TRUE(pair.Handshake());
    SSL* reader = Reader(pair, flow);
    Result<RecordKeys> keys = ExportKeys(Writer(pair, flow), Direction::kWrite);
    ASSERT_TRUE(keys.ok()) << keys.error();
    Result<RecordSealer> sealer = RecordSealer::Create(*keys);
    ASSERT_TRUE(sealer.ok()) << sealer.error();

    for (size_t size : kSizes) {
      SCOPED_TRACE(size);
      const std::vector<uint8_t> payload = Payload(size, static_cast<int>(size));
      Deliver(reader, SealOne(&*sealer, payload));
      if (size == 0) continue;  // OpenSSL skips it and returns the next record's byte
      EXPECT_EQ(ReadUpTo(reader, size), payload);
    }
    for (int i = 0; i < kManyRecords; ++i) {
      const std::vector<uint8_t> payload = Payload(1 + i * 97 % 3000, i);
      Deliver(reader, SealOne(&*sealer, payload));
      ASSERT_EQ(ReadUpTo(reader, payload.size()), payload) << "record " << i;
    }
    EXPECT_EQ(SSL_pending(reader), 0);
    // OpenSSL's count of what it read (tickets included) is where our sealer is now.
    Result<uint64_t> read = RecordsUnderCurrentKeys(reader, Direction::kRead);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(*read, sealer->next_sequence());
    EXPECT_EQ(sealer->next_sequence(), FirstWriteSequence(flow) + std::size(kSizes) + kManyRecords);
  }
}

// (b) Records OpenSSL writes, opened by us.
TEST_P(OpenSslRecordInterop, WeOpenRecordsOpenSslWrites) {
  for (Flow flow : kFlows) {
    SCOPED_TRACE(FlowName(flow));
    TlsPair pair(Config());
    ASSERT_TRUE(pair.Handshake());
    SSL* writer = Writer(pair, flow);
    SSL* reader = Reader(pair, flow);
    Result<RecordKeys> keys = ExportKeys(reader, Direction::kRead);
    ASSERT_TRUE(keys.ok()) << keys.error();
    Result<RecordOpener> opener = RecordOpener::Create(*keys);
    ASSERT_TRUE(opener.ok()) << opener.error();

    // What already sits in the reader's transport: the tickets, as handshake records.
    const Opened backlog = OpenAll(&*opener, Drain(SSL_get_rbio(reader)));
    EXPECT_EQ(backlog.handshake_records, Tickets(flow));
    EXPECT_EQ(backlog.data_records, 0);

    int records = 0;
    for (size_t size : kSizes) {
      if (size == 0) continue;  // SSL_write(0) sends nothing
      SCOPED_TRACE(size);
      const std::vector<uint8_t> payload = Payload(size, static_cast<int>(size));
      ASSERT_EQ(SSL_write(writer, payload.data(), static_cast<int>(size)), static_cast<int>(size));
      const Opened opened = OpenAll(&*opener, Drain(SSL_get_wbio(writer)));
      EXPECT_EQ(opened.data, payload);
      EXPECT_EQ(opened.handshake_records, 0);
      records += opened.data_records;
    }
    for (int i = 0; i < kManyRecords; ++i) {
      const std::vector<uint8_t> payload = Payload(1 + i * 97 % 3000, i);
      ASSERT_EQ(SSL_write(writer, payload.data(), static_cast<int>(payload.size())),
                static_cast<int>(payload.size()));
      const Opened opened = OpenAll(&*opener, Drain(SSL_get_wbio(writer)));
      ASSERT_EQ(opened.data, payload) << "record " << i;
      records += opened.data_records;
    }
    // TLS 1.0 CBC may prefix each write with an empty record; otherwise one per write.
    const int writes = static_cast<int>(std::size(kSizes)) - 1 + kManyRecords;
    if (tls10()) {
      EXPECT_GE(records, writes);
    } else {
      EXPECT_EQ(records, writes);
    }
    Result<uint64_t> written = RecordsUnderCurrentKeys(writer, Direction::kWrite);
    ASSERT_TRUE(written.ok());
    EXPECT_EQ(*written, opener->next_sequence());
  }
}

// Take-over after OpenSSL itself exchanged application data: sequence numbers pick up
// where OpenSSL stopped, in both directions and for both of our halves.
TEST_P(OpenSslRecordInterop, SequenceContinuesAfterOpenSslTraffic) {
  for (Flow flow : kFlows) {
    for (bool we_seal : {true, false}) {
      SCOPED_TRACE(std::string(FlowName(flow)) + (we_seal ? " sealing" : " opening"));
      TlsPair pair(Config());
      ASSERT_TRUE(pair.Handshake());
      SSL* writer = Writer(pair, flow);
      SSL* reader = Reader(pair, flow);
      for (int i = 0; i < kManyRecords; ++i) {
        const std::vector<uint8_t> payload = Payload(10 + i, i);
        ASSERT_EQ(SSL_write(writer, payload.data(), static_cast<int>(payload.size())),
                  static_cast<int>(payload.size()));
        pair.Pump();
        ASSERT_EQ(ReadUpTo(reader, payload.size()), payload);
      }
      Result<uint64_t> written = RecordsUnderCurrentKeys(writer, Direction::kWrite);
      Result<uint64_t> read = RecordsUnderCurrentKeys(reader, Direction::kRead);
      ASSERT_TRUE(written.ok() && read.ok());
      EXPECT_EQ(*written, *read);
      if (!tls10()) {
        EXPECT_EQ(*written, FirstWriteSequence(flow) + kManyRecords);
      }

      Result<RecordKeys> write_keys = ExportKeys(writer, Direction::kWrite);
      Result<RecordKeys> read_keys = ExportKeys(reader, Direction::kRead);
      if (tls10()) {
        // The CBC chain has moved on through records the capture cannot see into.
        EXPECT_EQ(write_keys.error(), ENOTSUP);
        EXPECT_EQ(read_keys.error(), ENOTSUP);
        continue;
      }
      ASSERT_TRUE(write_keys.ok() && read_keys.ok());
      ExpectSameKeys(*write_keys, *read_keys);
      EXPECT_EQ(write_keys->sequence, *written);
      EXPECT_EQ(read_keys->sequence, *written);

      if (we_seal) {
        Result<RecordSealer> sealer = RecordSealer::Create(*write_keys);
        ASSERT_TRUE(sealer.ok());
        for (int i = 0; i < kManyRecords; ++i) {
          const std::vector<uint8_t> payload = Payload(100 + i, i);
          Deliver(reader, SealOne(&*sealer, payload));
          ASSERT_EQ(ReadUpTo(reader, payload.size()), payload) << "record " << i;
        }
      } else {
        Result<RecordOpener> opener = RecordOpener::Create(*read_keys);
        ASSERT_TRUE(opener.ok());
        for (int i = 0; i < kManyRecords; ++i) {
          const std::vector<uint8_t> payload = Payload(100 + i, i);
          ASSERT_EQ(SSL_write(writer, payload.data(), static_cast<int>(payload.size())),
                    static_cast<int>(payload.size()));
          ASSERT_EQ(OpenAll(&*opener, Drain(SSL_get_wbio(writer))).data, payload) << "record " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Suites, OpenSslRecordInterop, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<SuiteCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

// TLS 1.3 only.
class OpenSslTls13Interop : public OpenSslRecordInterop {};

std::vector<SuiteCase> Tls13Cases() {
  std::vector<SuiteCase> cases;
  for (const SuiteCase& suite_case : kCases) {
    if (suite_case.version == TLS1_3_VERSION) cases.push_back(suite_case);
  }
  return cases;
}

// KeyUpdate: the capture follows the _N secret and restarts the sequence.
TEST_P(OpenSslTls13Interop, KeysFollowKeyUpdate) {
  for (Flow flow : kFlows) {
    SCOPED_TRACE(FlowName(flow));
    TlsPair pair(Config());
    ASSERT_TRUE(pair.Handshake());
    SSL* writer = Writer(pair, flow);
    SSL* reader = Reader(pair, flow);
    Result<RecordKeys> before = ExportKeys(writer, Direction::kWrite);
    ASSERT_TRUE(before.ok());

    ASSERT_EQ(SSL_key_update(writer, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    const std::vector<uint8_t> payload = Payload(300, 3);
    ASSERT_EQ(SSL_write(writer, payload.data(), 300), 300);
    pair.Pump();
    ASSERT_EQ(ReadUpTo(reader, payload.size()), payload);

    Result<RecordKeys> write = ExportKeys(writer, Direction::kWrite);
    Result<RecordKeys> read = ExportKeys(reader, Direction::kRead);
    ASSERT_TRUE(write.ok() && read.ok());
    ExpectSameKeys(*write, *read);
    EXPECT_FALSE(std::ranges::equal(before->cipher_key.view(), write->cipher_key.view()));
    EXPECT_EQ(write->sequence, 1u);
    EXPECT_EQ(read->sequence, 1u);

    Result<RecordSealer> sealer = RecordSealer::Create(*write);
    ASSERT_TRUE(sealer.ok());
    Deliver(reader, SealOne(&*sealer, payload));
    EXPECT_EQ(ReadUpTo(reader, payload.size()), payload);
  }
}

INSTANTIATE_TEST_SUITE_P(Suites, OpenSslTls13Interop, ::testing::ValuesIn(Tls13Cases()),
                         [](const ::testing::TestParamInfo<SuiteCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

// --- Refusals ------------------------------------------------------------------------

TEST(OpenSslHandshakeKeys, RefusesUnfinishedHandshake) {
  TlsPair pair(PairConfig{.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"});
  EXPECT_EQ(ExportKeys(pair.client(), Direction::kWrite).error(), EINVAL);
  EXPECT_EQ(ExportKeys(nullptr, Direction::kRead).error(), EINVAL);
}

TEST(OpenSslHandshakeKeys, RefusesCcmSuites) {
  TlsPair tls12(PairConfig{.ciphers = "ECDHE-ECDSA-AES128-CCM"});
  ASSERT_TRUE(tls12.Handshake());
  EXPECT_EQ(ExportKeys(tls12.client(), Direction::kWrite).error(), ENOTSUP);
  TlsPair tls13(PairConfig{.version = TLS1_3_VERSION, .ciphers = "TLS_AES_128_CCM_SHA256"});
  ASSERT_TRUE(tls13.Handshake());
  EXPECT_EQ(ExportKeys(tls13.server(), Direction::kRead).error(), ENOTSUP);
}

TEST(OpenSslHandshakeKeys, RefusesEncryptThenMac) {
  TlsPair cbc(PairConfig{.ciphers = "ECDHE-ECDSA-AES128-SHA256", .refuse_etm = false});
  ASSERT_TRUE(cbc.Handshake());
  for (SSL* ssl : {cbc.client(), cbc.server()}) {
    EXPECT_EQ(ExportKeys(ssl, Direction::kWrite).error(), EPROTONOSUPPORT);
    EXPECT_EQ(ExportKeys(ssl, Direction::kRead).error(), EPROTONOSUPPORT);
  }
  // EtM has no meaning for AEADs; offering it changes nothing there.
  TlsPair gcm(PairConfig{.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256", .refuse_etm = false});
  ASSERT_TRUE(gcm.Handshake());
  EXPECT_TRUE(ExportKeys(gcm.client(), Direction::kWrite).ok());
}

TEST(OpenSslHandshakeKeys, RefusesReadingWhileOpenSslBuffersData) {
  TlsPair pair(PairConfig{.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"});
  ASSERT_TRUE(pair.Handshake());
  const std::vector<uint8_t> payload = Payload(100, 1);
  ASSERT_EQ(SSL_write(pair.client(), payload.data(), 100), 100);
  pair.Pump();
  ASSERT_EQ(ReadUpTo(pair.server(), 10).size(), 10u);  // 90 bytes stay in OpenSSL
  EXPECT_EQ(ExportKeys(pair.server(), Direction::kRead).error(), EBUSY);
  EXPECT_TRUE(ExportKeys(pair.server(), Direction::kWrite).ok());
  ASSERT_EQ(ReadUpTo(pair.server(), 90).size(), 90u);
  EXPECT_TRUE(ExportKeys(pair.server(), Direction::kRead).ok());
}

TEST(OpenSslHandshakeKeys, NeedsTheCapture) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    const char* ciphers =
        version == TLS1_3_VERSION ? "TLS_AES_128_GCM_SHA256" : "ECDHE-ECDSA-AES128-GCM-SHA256";
    TlsPair pair(PairConfig{.version = version, .ciphers = ciphers, .capture = false});
    ASSERT_TRUE(pair.Handshake());
    EXPECT_EQ(ExportKeys(pair.client(), Direction::kWrite).error(), ENOKEY);
    EXPECT_EQ(RecordsUnderCurrentKeys(pair.client(), Direction::kWrite).error(), ENOKEY);
  }
}

TEST(OpenSslHandshakeKeys, AttachesToSingleConnections) {
  // TLS 1.2 needs no keylog, so per-SSL attachment alone is enough.
  TlsPair pair(PairConfig{.ciphers = "ECDHE-ECDSA-AES256-SHA384", .capture = false});
  ASSERT_TRUE(AttachCapture(pair.client()).ok());
  ASSERT_TRUE(AttachCapture(pair.server()).ok());
  ASSERT_TRUE(pair.Handshake());
  Result<RecordKeys> write = ExportKeys(pair.client(), Direction::kWrite);
  Result<RecordKeys> read = ExportKeys(pair.server(), Direction::kRead);
  ASSERT_TRUE(write.ok() && read.ok());
  ExpectSameKeys(*write, *read);
  EXPECT_EQ(write->sequence, 1u);
}

// The application's own callbacks keep working next to the capture, whichever was
// installed first.
int g_keylog_lines = 0;
int g_messages = 0;
int g_message_arg = 0;

TEST(OpenSslHandshakeKeys, ChainsApplicationCallbacksSetBefore) {
  g_keylog_lines = 0;
  g_messages = 0;
  TlsPair pair(PairConfig{
      .version = TLS1_3_VERSION,
      .ciphers = "TLS_AES_128_GCM_SHA256",
      .capture = false,
      .customize = [](SSL_CTX* ctx) {
        SSL_CTX_set_keylog_callback(ctx, [](const SSL*, const char*) { ++g_keylog_lines; });
        CaptureOptions options;
        options.message_callback = [](int, int, int, const void*, size_t, SSL*, void* arg) {
          EXPECT_EQ(arg, &g_message_arg);
          ++g_messages;
        };
        options.message_arg = &g_message_arg;
        EXPECT_TRUE(InstallCapture(ctx, options).ok());
        EXPECT_TRUE(InstallCapture(ctx, options).ok());  // idempotent
      }});
  ASSERT_TRUE(pair.Handshake());
  // Each side logs both handshake and both traffic secrets, and the exporter secret.
  EXPECT_EQ(g_keylog_lines, 10);
  EXPECT_GT(g_messages, 10);
  Result<RecordKeys> write = ExportKeys(pair.server(), Direction::kWrite);
  Result<RecordKeys> read = ExportKeys(pair.client(), Direction::kRead);
  ASSERT_TRUE(write.ok() && read.ok());
  ExpectSameKeys(*write, *read);
}

TEST(OpenSslHandshakeKeys, FollowsForwardedCallbacksSetAfter) {
  TlsPair pair(PairConfig{
      .version = TLS1_3_VERSION,
      .ciphers = "TLS_AES_256_GCM_SHA384",
      .customize = [](SSL_CTX* ctx) {
        SSL_CTX_set_keylog_callback(
            ctx, [](const SSL* ssl, const char* line) { ObserveKeylogLine(ssl, line); });
        SSL_CTX_set_msg_callback(
            ctx, [](int write_p, int, int content_type, const void* buf, size_t len, SSL* ssl,
                    void*) { ObserveMessage(write_p, content_type, buf, len, ssl); });
      }});
  ASSERT_TRUE(pair.Handshake());
  Result<RecordKeys> write = ExportKeys(pair.server(), Direction::kWrite);
  Result<RecordKeys> read = ExportKeys(pair.client(), Direction::kRead);
  ASSERT_TRUE(write.ok() && read.ok());
  ExpectSameKeys(*write, *read);
  EXPECT_EQ(write->sequence, 2u);  // the tickets
}

}  // namespace
}  // namespace ktls::openssl
