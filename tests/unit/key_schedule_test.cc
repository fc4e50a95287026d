// Key derivation: HKDF-Expand-Label against the RFC 8448 trace, the TLS PRFs against
// published vectors, and both against plain HMAC-based implementations written here.
#include "crypto/key_schedule.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cerrno>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "testlib/hex.h"

namespace ktls::crypto {
namespace {

using ::ktls::testing::FromHex;
using ::ktls::testing::ToHex;

std::string DeriveHex(const Result<SecretBytes>& derived) {
  EXPECT_TRUE(derived.ok()) << "errno " << derived.error();
  return derived.ok() ? ToHex(derived.value().view()) : std::string();
}

std::vector<uint8_t> Hmac(const EVP_MD* md, ConstBytes key, ConstBytes data) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  out.resize(len);
  return out;
}

std::vector<uint8_t> Concat(ConstBytes a, ConstBytes b) {
  std::vector<uint8_t> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// RFC 5869 HKDF-Expand: T(i) = HMAC(PRK, T(i-1) || info || i).
std::vector<uint8_t> HkdfExpand(const EVP_MD* md, ConstBytes prk, ConstBytes info, size_t len) {
  std::vector<uint8_t> out;
  std::vector<uint8_t> block;
  for (uint8_t i = 1; out.size() < len; ++i) {
    std::vector<uint8_t> input = Concat(block, info);
    input.push_back(i);
    block = Hmac(md, prk, input);
    out.insert(out.end(), block.begin(), block.end());
  }
  out.resize(len);
  return out;
}

// RFC 8446 §7.1 HkdfLabel, spelled out byte by byte.
std::vector<uint8_t> HkdfLabel(std::string_view label, ConstBytes context, size_t len) {
  const std::string full = "tls13 " + std::string(label);
  std::vector<uint8_t> info = {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len),
                               static_cast<uint8_t>(full.size())};
  info.insert(info.end(), full.begin(), full.end());
  info.push_back(static_cast<uint8_t>(context.size()));
  info.insert(info.end(), context.begin(), context.end());
  return info;
}

// RFC 5246 §5 P_hash: A(i) = HMAC(secret, A(i-1)); out = HMAC(secret, A(i) || seed)...
std::vector<uint8_t> PHash(const EVP_MD* md, ConstBytes secret, ConstBytes seed, size_t len) {
  std::vector<uint8_t> out;
  std::vector<uint8_t> a(seed.begin(), seed.end());
  while (out.size() < len) {
    a = Hmac(md, secret, a);
    const std::vector<uint8_t> chunk = Hmac(md, secret, Concat(a, seed));
    out.insert(out.end(), chunk.begin(), chunk.end());
  }
  out.resize(len);
  return out;
}

// RFC 2246 §5: P_MD5 over the first half of the secret XOR P_SHA1 over the second
// half (halves overlap by one byte when the length is odd).
std::vector<uint8_t> Tls10Prf(ConstBytes secret, ConstBytes seed, size_t len) {
  const size_t half = (secret.size() + 1) / 2;
  std::vector<uint8_t> out = PHash(EVP_md5(), secret.first(half), seed, len);
  const std::vector<uint8_t> sha1 = PHash(EVP_sha1(), secret.last(half), seed, len);
  for (size_t i = 0; i < len; ++i) out[i] ^= sha1[i];
  return out;
}

std::vector<uint8_t> LabelSeed(std::string_view label, ConstBytes seed) {
  return Concat(std::vector<uint8_t>(label.begin(), label.end()), seed);
}

// --- HKDF-Expand-Label, RFC 8448 §3 (simple 1-RTT handshake) -------------------------

constexpr char kServerAppSecret[] =
    "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";
constexpr char kClientAppSecret[] =
    "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
constexpr char kServerHandshakeSecret[] =
    "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
constexpr char kMasterSecret[] = "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919";
constexpr char kHandshakeSecret[] =
    "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac";
// Transcript hash through the server Finished.
constexpr char kServerFinishedHash[] =
    "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13";
constexpr char kEmptyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(HkdfExpandLabel, Rfc8448TrafficKeys) {
  const std::vector<uint8_t> server = FromHex(kServerAppSecret);
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, server, "key", {}, 16)),
            "9f02283b6c9c07efc26bb9f2ac92e356");
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, server, "iv", {}, 12)),
            "cf782b88dd83549aadf1e984");

  const std::vector<uint8_t> client = FromHex(kClientAppSecret);
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, client, "key", {}, 16)),
            "17422dda596ed5d9acd890e3c63f5051");
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, client, "iv", {}, 12)),
            "5b78923dee08579033e523d9");

  const std::vector<uint8_t> handshake = FromHex(kServerHandshakeSecret);
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, handshake, "key", {}, 16)),
            "3fce516009c21727d0f2e4e86ee403bc");
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, handshake, "iv", {}, 12)),
            "5d313eb2671276ee13000b30");
}

// Derive-Secret is HKDF-Expand-Label with a transcript hash as context.
TEST(HkdfExpandLabel, Rfc8448SecretsWithContext) {
  const std::vector<uint8_t> master = FromHex(kMasterSecret);
  const std::vector<uint8_t> hash = FromHex(kServerFinishedHash);
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, master, "c ap traffic", hash, 32)),
            kClientAppSecret);
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, master, "s ap traffic", hash, 32)),
            kServerAppSecret);
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, master, "exp master", hash, 32)),
            "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50");
  EXPECT_EQ(DeriveHex(HkdfExpandLabel(HashKind::kSha256, FromHex(kHandshakeSecret), "derived",
                                      FromHex(kEmptyHash), 32)),
            "43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4");
}

TEST(HkdfExpandLabel, MatchesPlainHkdfForBothHashes) {
  std::mt19937_64 rng(53);
  struct Hash {
    HashKind kind;
    const EVP_MD* md;
  };
  for (const Hash& hash :
       {Hash{HashKind::kSha256, EVP_sha256()}, Hash{HashKind::kSha384, EVP_sha384()}}) {
    for (size_t len : {1, 12, 16, 32, 33, 48, 49, 100, 255}) {
      std::vector<uint8_t> secret(HashLen(hash.kind));
      for (uint8_t& b : secret) b = static_cast<uint8_t>(rng());
      std::vector<uint8_t> context(len % 3 == 0 ? 0 : HashLen(hash.kind));
      for (uint8_t& b : context) b = static_cast<uint8_t>(rng());
      const std::vector<uint8_t> expected =
          HkdfExpand(hash.md, secret, HkdfLabel("quic key", context, len), len);
      EXPECT_EQ(DeriveHex(HkdfExpandLabel(hash.kind, secret, "quic key", context, len)),
                ToHex(expected))
          << "length " << len;
    }
  }
}

TEST(HkdfExpandLabel, RejectsOversizedFields) {
  const std::vector<uint8_t> secret(32, 7);
  // "tls13 " + label must fit a one-byte length: 249 label bytes is the most.
  EXPECT_TRUE(HkdfExpandLabel(HashKind::kSha256, secret, std::string(249, 'x'), {}, 16).ok());
  EXPECT_EQ(HkdfExpandLabel(HashKind::kSha256, secret, std::string(250, 'x'), {}, 16).error(),
            EINVAL);
  EXPECT_TRUE(
      HkdfExpandLabel(HashKind::kSha256, secret, "key", std::vector<uint8_t>(255, 1), 16).ok());
  EXPECT_EQ(
      HkdfExpandLabel(HashKind::kSha256, secret, "key", std::vector<uint8_t>(256, 1), 16).error(),
      EINVAL);
  EXPECT_EQ(HkdfExpandLabel(HashKind::kSha256, secret, "key", {}, 0x10000).error(), EINVAL);
  // HKDF itself stops at 255 hash blocks.
  EXPECT_FALSE(HkdfExpandLabel(HashKind::kSha256, secret, "key", {}, 255 * 32 + 1).ok());
}

// --- TLS PRF -------------------------------------------------------------------------

TEST(TlsPrf, HashLengths) {
  EXPECT_EQ(HashLen(HashKind::kSha256), 32u);
  EXPECT_EQ(HashLen(HashKind::kSha384), 48u);
  EXPECT_EQ(HashLen(HashKind::kMd5Sha1), 36u);
}

// The TLS 1.2 PRF vectors posted to the IETF TLS working group list (msg03416) and
// the TLS 1.0/1.1 vector ("PRF Testvector") circulated with them.
TEST(TlsPrf, PublishedVectors) {
  EXPECT_EQ(DeriveHex(TlsPrf(HashKind::kSha256, FromHex("9bbe436ba940f017b17652849a71db35"),
                             "test label", FromHex("a0ba9f936cda311827a6f796ffd5198c"), 100)),
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
            "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
            "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
            "87347b66");
  EXPECT_EQ(DeriveHex(TlsPrf(HashKind::kSha384, FromHex("b80b733d6ceefcdc71566ea48e5567df"),
                             "test label", FromHex("cd665cf6a8447dd6ff8b27555edb7465"), 148)),
            "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd"
            "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd"
            "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
            "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6"
            "91c8f3a26854308d5eaa3be85e0990703d73e56f");
  EXPECT_EQ(DeriveHex(TlsPrf(HashKind::kMd5Sha1, std::vector<uint8_t>(48, 0xab), "PRF Testvector",
                             std::vector<uint8_t>(64, 0xcd), 104)),
            "d3d4d1e349b5d515044666d51de32bab258cb521b6b053463e354832fd976754"
            "443bcf9a296519bc289abcbc1187e4ebd31e602353776c408aafb74cbc85eff6"
            "9255f9788faa184cbb957a9819d84a5d7eb006eb459d3ae8de9810454b8b2d8f"
            "1afbc655a8c9a013");
}

TEST(TlsPrf, MatchesPlainPHash) {
  std::mt19937_64 rng(59);
  for (size_t len : {1, 12, 13, 32, 36, 48, 100, 104, 136, 200}) {
    for (size_t secret_len : {1, 47, 48}) {
      SCOPED_TRACE("length " + std::to_string(len) + " secret " + std::to_string(secret_len));
      std::vector<uint8_t> secret(secret_len);
      for (uint8_t& b : secret) b = static_cast<uint8_t>(rng());
      std::vector<uint8_t> seed(64);
      for (uint8_t& b : seed) b = static_cast<uint8_t>(rng());
      const std::vector<uint8_t> label_seed = LabelSeed("key expansion", seed);
      EXPECT_EQ(DeriveHex(TlsPrf(HashKind::kSha256, secret, "key expansion", seed, len)),
                ToHex(PHash(EVP_sha256(), secret, label_seed, len)));
      EXPECT_EQ(DeriveHex(TlsPrf(HashKind::kSha384, secret, "key expansion", seed, len)),
                ToHex(PHash(EVP_sha384(), secret, label_seed, len)));
      EXPECT_EQ(DeriveHex(TlsPrf(HashKind::kMd5Sha1, secret, "key expansion", seed, len)),
                ToHex(Tls10Prf(secret, label_seed, len)));
    }
  }
  // TLS secrets are never empty (48-byte master secret); OpenSSL refuses an empty one.
  EXPECT_EQ(TlsPrf(HashKind::kSha256, {}, "key expansion", std::vector<uint8_t>(64), 16).error(),
            EINVAL);
}

}  // namespace
}  // namespace ktls::crypto
