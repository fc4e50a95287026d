// The MAC-then-encrypt primitives: HMAC and raw AES-CBC against published vectors,
// and the multi-segment and chaining behaviour the CBC record formats rely on.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/cbc_hmac.h"
#include "testlib/hex.h"

namespace ktls::crypto {
namespace {

using ::ktls::testing::FromHex;
using ::ktls::testing::ToHex;

using Iv = std::array<uint8_t, kCbcBlockLen>;

std::vector<uint8_t> Bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

std::unique_ptr<CbcHmac> MakeOrDie(MacKind mac, ConstBytes cipher_key, ConstBytes mac_key) {
  Result<std::unique_ptr<CbcHmac>> made = MakeCbcHmac(mac, cipher_key, mac_key);
  EXPECT_TRUE(made.ok()) << "MakeCbcHmac failed with errno " << made.error();
  return made.ok() ? std::move(made.value()) : nullptr;
}

std::string MacHex(CbcHmac& hmac, std::span<const ConstBytes> segments) {
  std::vector<uint8_t> out(hmac.mac_len());
  hmac.Mac(segments, out);
  return ToHex(out);
}
std::string MacHex(CbcHmac& hmac, ConstBytes data) {
  return MacHex(hmac, std::span<const ConstBytes>(&data, 1));
}

// --- HMAC ----------------------------------------------------------------------------

struct HmacKat {
  const char* name;
  std::vector<uint8_t> key;
  std::vector<uint8_t> data;
  const char* sha1;    // RFC 2202
  const char* sha256;  // RFC 4231
  const char* sha384;  // RFC 4231
};

std::vector<HmacKat> HmacKats() {
  return {
      {"case_1", std::vector<uint8_t>(20, 0x0b), Bytes("Hi There"),
       "b617318655057264e28bc0b6fb378c8ef146be00",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
       "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
       "faea9ea9076ede7f4af152e8b2fa9cb6"},
      {"case_2", Bytes("Jefe"), Bytes("what do ya want for nothing?"),
       "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
       "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
       "8e2240ca5e69e2c78b3239ecfab21649"},
      {"case_3", std::vector<uint8_t>(20, 0xaa), std::vector<uint8_t>(50, 0xdd),
       "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
       "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
       "2a5ab39dc13814b94e3ab6e101a34f27"},
  };
}

// RFC 4231 case 6: a 131-byte key, longer than the hash block (hashed first).
constexpr char kLongKeyData[] = "Test Using Larger Than Block-Size Key - Hash Key First";

TEST(Hmac, Rfc2202AndRfc4231Vectors) {
  const std::vector<uint8_t> cipher_key(16, 0);
  for (const HmacKat& kat : HmacKats()) {
    SCOPED_TRACE(kat.name);
    auto sha1 = MakeOrDie(MacKind::kHmacSha1, cipher_key, kat.key);
    auto sha256 = MakeOrDie(MacKind::kHmacSha256, cipher_key, kat.key);
    auto sha384 = MakeOrDie(MacKind::kHmacSha384, cipher_key, kat.key);
    ASSERT_TRUE(sha1 && sha256 && sha384);
    EXPECT_EQ(MacHex(*sha1, kat.data), kat.sha1);
    EXPECT_EQ(MacHex(*sha256, kat.data), kat.sha256);
    EXPECT_EQ(MacHex(*sha384, kat.data), kat.sha384);
  }
  const std::vector<uint8_t> long_key(131, 0xaa);
  auto sha256 = MakeOrDie(MacKind::kHmacSha256, cipher_key, long_key);
  auto sha384 = MakeOrDie(MacKind::kHmacSha384, cipher_key, long_key);
  ASSERT_TRUE(sha256 && sha384);
  EXPECT_EQ(MacHex(*sha256, Bytes(kLongKeyData)),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(MacHex(*sha384, Bytes(kLongKeyData)),
            "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
            "0c2ef6ab4030fe8296248df163f44952");
}

TEST(Hmac, MacLengthsAndBackend) {
  const std::vector<uint8_t> cipher_key(32, 1);
  const std::vector<uint8_t> mac_key(20, 2);
  auto sha1 = MakeOrDie(MacKind::kHmacSha1, cipher_key, mac_key);
  auto sha256 = MakeOrDie(MacKind::kHmacSha256, cipher_key, mac_key);
  auto sha384 = MakeOrDie(MacKind::kHmacSha384, cipher_key, mac_key);
  ASSERT_TRUE(sha1 && sha256 && sha384);
  EXPECT_EQ(sha1->mac_len(), 20u);
  EXPECT_EQ(sha256->mac_len(), 32u);
  EXPECT_EQ(sha384->mac_len(), 48u);
  EXPECT_EQ(sha1->backend(), Backend::kOpenSsl);
}

TEST(Hmac, SegmentsAreConcatenated) {
  std::mt19937_64 rng(41);
  std::vector<uint8_t> data(300);
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  const std::vector<uint8_t> mac_key(48, 0x5c);
  for (MacKind kind : {MacKind::kHmacSha1, MacKind::kHmacSha256, MacKind::kHmacSha384}) {
    auto hmac = MakeOrDie(kind, std::vector<uint8_t>(16, 0), mac_key);
    ASSERT_NE(hmac, nullptr);
    const std::string whole = MacHex(*hmac, data);
    // Every two-way split, with empty segments at both ends and in the middle.
    for (size_t cut = 0; cut <= data.size(); ++cut) {
      const ConstBytes all(data);
      const ConstBytes segments[] = {{}, all.first(cut), {}, all.subspan(cut), {}};
      EXPECT_EQ(MacHex(*hmac, segments), whole) << "cut " << cut;
    }
    // Random many-way splits, and a 13-byte prefix as the record layer passes it.
    for (int round = 0; round < 50; ++round) {
      std::vector<ConstBytes> segments;
      size_t start = 0;
      while (start < data.size()) {
        const size_t len = std::min<size_t>(rng() % 40, data.size() - start);
        segments.push_back(ConstBytes(data).subspan(start, len));
        start += len;
      }
      EXPECT_EQ(MacHex(*hmac, segments), whole) << "round " << round;
    }
    // Mac() starts afresh every call: the same input gives the same MAC again.
    EXPECT_EQ(MacHex(*hmac, data), whole);
    EXPECT_NE(MacHex(*hmac, ConstBytes(data).first(299)), whole);
  }
}

// --- AES-CBC -------------------------------------------------------------------------

// NIST SP 800-38A F.2.1 / F.2.2 (AES-128) and F.2.5 / F.2.6 (AES-256).
constexpr char kNistIv[] = "000102030405060708090a0b0c0d0e0f";
constexpr char kNistPlain[] =
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";

struct CbcKat {
  const char* name;
  const char* key;
  const char* ciphertext;
};
constexpr CbcKat kCbcKats[] = {
    {"F.2.1_aes128", "2b7e151628aed2a6abf7158809cf4f3c",
     "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
     "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"},
    {"F.2.5_aes256", "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
     "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"},
};

Iv ToIv(const std::vector<uint8_t>& bytes) {
  Iv iv{};
  std::copy(bytes.begin(), bytes.end(), iv.begin());
  return iv;
}

TEST(AesCbc, NistVectors) {
  const Iv iv = ToIv(FromHex(kNistIv));
  const std::vector<uint8_t> plain = FromHex(kNistPlain);
  for (const CbcKat& kat : kCbcKats) {
    SCOPED_TRACE(kat.name);
    auto cbc = MakeOrDie(MacKind::kHmacSha1, FromHex(kat.key), std::vector<uint8_t>(20, 0));
    ASSERT_NE(cbc, nullptr);
    std::vector<uint8_t> out(plain.size());
    cbc->Encrypt(iv, plain, out);
    EXPECT_EQ(ToHex(out), kat.ciphertext);
    std::vector<uint8_t> back(plain.size());
    cbc->Decrypt(iv, out, back);
    EXPECT_EQ(back, plain);

    // In place, both ways.
    std::vector<uint8_t> buffer = plain;
    cbc->Encrypt(iv, buffer, buffer);
    EXPECT_EQ(ToHex(buffer), kat.ciphertext);
    cbc->Decrypt(iv, buffer, buffer);
    EXPECT_EQ(buffer, plain);
  }
}

// TLS 1.0 chains records: encrypting in pieces, each with the previous piece's last
// ciphertext block as IV, equals one encryption of the whole.
TEST(AesCbc, ChainingAcrossCallsEqualsOneCall) {
  const Iv iv = ToIv(FromHex(kNistIv));
  const std::vector<uint8_t> plain = FromHex(kNistPlain);
  const CbcKat& kat = kCbcKats[0];
  auto cbc = MakeOrDie(MacKind::kHmacSha256, FromHex(kat.key), std::vector<uint8_t>(32, 0));
  ASSERT_NE(cbc, nullptr);
  std::vector<uint8_t> out(plain.size());
  Iv chained = iv;
  for (size_t block = 0; block < plain.size() / kCbcBlockLen; ++block) {
    const size_t offset = block * kCbcBlockLen;
    cbc->Encrypt(chained, ConstBytes(plain).subspan(offset, kCbcBlockLen),
                 MutableBytes(out).subspan(offset, kCbcBlockLen));
    std::copy_n(out.begin() + static_cast<ptrdiff_t>(offset), kCbcBlockLen, chained.begin());
  }
  EXPECT_EQ(ToHex(out), kat.ciphertext);
  // Decryption restarts from the given IV each call, whatever came before.
  std::vector<uint8_t> block(kCbcBlockLen);
  cbc->Decrypt(ToIv(std::vector<uint8_t>(out.begin() + 16, out.begin() + 32)),
               ConstBytes(out).subspan(32, 16), block);
  EXPECT_EQ(block, std::vector<uint8_t>(plain.begin() + 32, plain.begin() + 48));
  std::vector<uint8_t> empty;
  cbc->Encrypt(iv, empty, empty);  // zero blocks is a no-op, not an error
}

TEST(CbcHmac, RejectsBadParameters) {
  const std::vector<uint8_t> key16(16, 1);
  const std::vector<uint8_t> key24(24, 1);
  const std::vector<uint8_t> mac_key(20, 2);
  EXPECT_EQ(MakeCbcHmac(MacKind::kNone, key16, mac_key).error(), EINVAL);
  EXPECT_EQ(MakeCbcHmac(MacKind::kHmacSha1, key24, mac_key).error(), EINVAL);
  EXPECT_EQ(MakeCbcHmac(MacKind::kHmacSha1, {}, mac_key).error(), EINVAL);
  EXPECT_EQ(MakeCbcHmac(MacKind::kHmacSha256, key16, {}).error(), EINVAL);
}

}  // namespace
}  // namespace ktls::crypto
