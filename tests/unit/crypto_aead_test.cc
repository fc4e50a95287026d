// AEAD backends: published known answers, agreement between backends, and the
// scatter/gather, in-place and tamper behaviour the record layer relies on.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/backend_choice.h"
#include "testlib/hex.h"

namespace ktls::crypto {
namespace {

using ::ktls::testing::FromHex;
using ::ktls::testing::ToHex;

using Tag = std::array<uint8_t, kAeadTagLen>;
using NonceBytes = std::array<uint8_t, kAeadNonceLen>;

std::vector<uint8_t> RandomBytes(std::mt19937_64& rng, size_t len) {
  std::vector<uint8_t> out(len);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

NonceBytes ToNonce(const std::vector<uint8_t>& bytes) {
  NonceBytes nonce{};
  std::copy(bytes.begin(), bytes.end(), nonce.begin());
  return nonce;
}

std::unique_ptr<Aead> MakeOrDie(CipherKind cipher, ConstBytes key, Backend backend) {
  Result<std::unique_ptr<Aead>> made = MakeAead(cipher, key, backend);
  EXPECT_TRUE(made.ok()) << "MakeAead failed with errno " << made.error();
  return made.ok() ? std::move(made.value()) : nullptr;
}

struct Sealed {
  std::vector<uint8_t> ciphertext;
  Tag tag{};
  bool operator==(const Sealed&) const = default;
};

Sealed SealContiguous(Aead& aead, const NonceBytes& nonce, ConstBytes aad, ConstBytes plain) {
  Sealed sealed;
  sealed.ciphertext.resize(plain.size());
  aead.Seal(nonce, aad, plain, sealed.ciphertext, sealed.tag);
  return sealed;
}

// Cut points inside [0, len]: sorted, possibly repeated (zero-length segments) and
// possibly at 0 or len (empty first or last segment).
std::vector<size_t> RandomCuts(std::mt19937_64& rng, size_t len) {
  std::vector<size_t> cuts(rng() % 9);
  for (size_t& cut : cuts) cut = rng() % (len + 1);
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

// Splits `bytes` at `cuts`; with `extra_empty` a default-constructed (null) span is
// added at the front and the back as well.
template <typename Span>
std::vector<Span> Split(Span bytes, const std::vector<size_t>& cuts, bool extra_empty = false) {
  std::vector<Span> segments;
  if (extra_empty) segments.emplace_back();
  size_t start = 0;
  for (size_t cut : cuts) {
    segments.push_back(bytes.subspan(start, cut - start));
    start = cut;
  }
  segments.push_back(bytes.subspan(start));
  if (extra_empty) segments.emplace_back();
  return segments;
}

std::string Describe(const std::vector<size_t>& cuts) {
  std::string out = "cuts:";
  for (size_t cut : cuts) out += " " + std::to_string(cut);
  return out;
}

struct CipherCase {
  const char* name;
  CipherKind cipher;
  size_t key_len;
};
constexpr CipherCase kCiphers[] = {
    {"AES-128-GCM", CipherKind::kAesGcm, 16},
    {"AES-256-GCM", CipherKind::kAesGcm, 32},
    {"ChaCha20-Poly1305", CipherKind::kChaCha20Poly1305, 32},
};

class AeadBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kIpsecMb && !IpsecMbAvailable()) {
      GTEST_SKIP() << "ipsec-mb has no manager for this CPU";
    }
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, AeadBackendTest,
                         ::testing::Values(Backend::kOpenSsl, Backend::kIpsecMb),
                         [](const auto& param_info) {
                           return std::string(BackendName(param_info.param));
                         });

// --- Known answers -------------------------------------------------------------------

struct Kat {
  const char* name;
  CipherKind cipher;
  const char* key;
  const char* nonce;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

constexpr char kGcmSpecKey128[] = "feffe9928665731c6d6a8f9467308308";
constexpr char kGcmSpecKey256[] =
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr char kGcmSpecIv[] = "cafebabefacedbaddecaf888";
constexpr char kGcmSpecAad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr char kGcmSpecPlain60[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";

const Kat kKats[] = {
    // RFC 8439 §2.8.2: "Ladies and Gentlemen of the class of '99: ..." (114 bytes).
    {"rfc8439_2_8_2", CipherKind::kChaCha20Poly1305,
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", "070000004041424344454647",
     "50515253c0c1c2c3c4c5c6c7",
     "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a20"
     "4966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f72207468652066"
     "75747572652c2073756e73637265656e20776f756c642062652069742e",
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb"
     "69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad6"
     "75945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
     "1ae10b594f09e26a7e902ecbd0600691"},
    // McGrew & Viega, "The Galois/Counter Mode of Operation", appendix B.
    {"gcm_spec_case_1", CipherKind::kAesGcm, "00000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"},
    {"gcm_spec_case_2", CipherKind::kAesGcm, "00000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {"gcm_spec_case_3", CipherKind::kAesGcm, kGcmSpecKey128, kGcmSpecIv, "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"gcm_spec_case_4", CipherKind::kAesGcm, kGcmSpecKey128, kGcmSpecIv, kGcmSpecAad,
     kGcmSpecPlain60,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"gcm_spec_case_13", CipherKind::kAesGcm,
     "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"gcm_spec_case_14", CipherKind::kAesGcm,
     "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"gcm_spec_case_15", CipherKind::kAesGcm, kGcmSpecKey256, kGcmSpecIv, "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"gcm_spec_case_16", CipherKind::kAesGcm, kGcmSpecKey256, kGcmSpecIv, kGcmSpecAad,
     kGcmSpecPlain60,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST_P(AeadBackendTest, KnownAnswers) {
  for (const Kat& kat : kKats) {
    SCOPED_TRACE(kat.name);
    const std::vector<uint8_t> key = FromHex(kat.key);
    const NonceBytes nonce = ToNonce(FromHex(kat.nonce));
    const std::vector<uint8_t> aad = FromHex(kat.aad);
    const std::vector<uint8_t> plain = FromHex(kat.plaintext);
    std::unique_ptr<Aead> aead = MakeOrDie(kat.cipher, key, GetParam());
    ASSERT_NE(aead, nullptr);
    EXPECT_EQ(aead->backend(), GetParam());

    const Sealed sealed = SealContiguous(*aead, nonce, aad, plain);
    EXPECT_EQ(ToHex(sealed.ciphertext), kat.ciphertext);
    EXPECT_EQ(ToHex(sealed.tag), kat.tag);

    std::vector<uint8_t> opened(plain.size());
    EXPECT_TRUE(aead->Open(nonce, aad, sealed.ciphertext, opened, sealed.tag));
    EXPECT_EQ(opened, plain);

    Tag bad_tag = sealed.tag;
    bad_tag[0] ^= 0x80;
    EXPECT_FALSE(aead->Open(nonce, aad, sealed.ciphertext, opened, bad_tag));
  }
}

TEST_P(AeadBackendTest, RejectsBadKeysAndCiphers) {
  const std::vector<uint8_t> key24(24, 1);
  const std::vector<uint8_t> key16(16, 1);
  const std::vector<uint8_t> key32(32, 1);
  EXPECT_EQ(MakeAead(CipherKind::kAesGcm, key24, GetParam()).error(), EINVAL);
  EXPECT_EQ(MakeAead(CipherKind::kAesGcm, {}, GetParam()).error(), EINVAL);
  EXPECT_EQ(MakeAead(CipherKind::kChaCha20Poly1305, key16, GetParam()).error(), EINVAL);
  EXPECT_EQ(MakeAead(CipherKind::kAesCbc, key16, GetParam()).error(), EINVAL);
  EXPECT_EQ(MakeAead(CipherKind::kAesCbc, key32, GetParam()).error(), EINVAL);
}

// --- Backends agree ------------------------------------------------------------------

TEST(AeadCrossBackend, IdenticalOutputForRandomInputs) {
  if (!IpsecMbAvailable()) GTEST_SKIP() << "ipsec-mb has no manager for this CPU";
  std::mt19937_64 rng(0x6b746c73);
  constexpr size_t kSizes[] = {0, 1, 15, 16, 17, 255, 1024, 16384, 16385};
  for (const CipherCase& c : kCiphers) {
    for (int round = 0; round < 3; ++round) {
      const std::vector<uint8_t> key = RandomBytes(rng, c.key_len);
      std::unique_ptr<Aead> openssl = MakeOrDie(c.cipher, key, Backend::kOpenSsl);
      std::unique_ptr<Aead> ipsec = MakeOrDie(c.cipher, key, Backend::kIpsecMb);
      ASSERT_TRUE(openssl && ipsec);
      for (size_t size : kSizes) {
        SCOPED_TRACE(std::string(c.name) + " size " + std::to_string(size));
        const NonceBytes nonce = ToNonce(RandomBytes(rng, kAeadNonceLen));
        const std::vector<uint8_t> aad = RandomBytes(rng, rng() % 3 == 0 ? 0 : rng() % 40);
        const std::vector<uint8_t> plain = RandomBytes(rng, size);
        const Sealed a = SealContiguous(*openssl, nonce, aad, plain);
        const Sealed b = SealContiguous(*ipsec, nonce, aad, plain);
        EXPECT_EQ(a, b);
        // Each opens what the other sealed.
        std::vector<uint8_t> out(size);
        EXPECT_TRUE(ipsec->Open(nonce, aad, a.ciphertext, out, a.tag));
        EXPECT_EQ(out, plain);
        EXPECT_TRUE(openssl->Open(nonce, aad, b.ciphertext, out, b.tag));
        EXPECT_EQ(out, plain);
      }
    }
  }
}

// --- Scatter/gather and in place -----------------------------------------------------

// Seals and opens `plain` split at in_cuts / out_cuts and checks the result against
// the contiguous one.
void CheckSplit(Aead& aead, const NonceBytes& nonce, ConstBytes aad, ConstBytes plain,
                const Sealed& expected, const std::vector<size_t>& in_cuts,
                const std::vector<size_t>& out_cuts, bool extra_empty) {
  SCOPED_TRACE("in " + Describe(in_cuts) + " / out " + Describe(out_cuts));
  Sealed sealed;
  sealed.ciphertext.assign(plain.size(), 0xee);
  const auto in = Split(plain, in_cuts, extra_empty);
  const auto out = Split(MutableBytes(sealed.ciphertext), out_cuts, extra_empty);
  aead.Seal(nonce, aad, in, out, sealed.tag);
  EXPECT_EQ(sealed, expected);

  std::vector<uint8_t> opened(plain.size(), 0xee);
  const auto cin = Split(ConstBytes(expected.ciphertext), out_cuts, extra_empty);
  const auto pout = Split(MutableBytes(opened), in_cuts, extra_empty);
  EXPECT_TRUE(aead.Open(nonce, aad, cin, pout, expected.tag));
  EXPECT_TRUE(std::equal(opened.begin(), opened.end(), plain.begin(), plain.end()));
}

TEST_P(AeadBackendTest, EveryTwoWaySplitMatchesContiguous) {
  std::mt19937_64 rng(17);
  for (const CipherCase& c : kCiphers) {
    SCOPED_TRACE(c.name);
    const std::vector<uint8_t> key = RandomBytes(rng, c.key_len);
    std::unique_ptr<Aead> aead = MakeOrDie(c.cipher, key, GetParam());
    ASSERT_NE(aead, nullptr);
    const NonceBytes nonce = ToNonce(RandomBytes(rng, kAeadNonceLen));
    const std::vector<uint8_t> aad = RandomBytes(rng, 13);
    const std::vector<uint8_t> plain = RandomBytes(rng, 161);
    const Sealed expected = SealContiguous(*aead, nonce, aad, plain);
    for (size_t cut = 0; cut <= plain.size(); ++cut) {
      CheckSplit(*aead, nonce, aad, plain, expected, {cut}, {}, false);
      CheckSplit(*aead, nonce, aad, plain, expected, {}, {cut}, false);
      CheckSplit(*aead, nonce, aad, plain, expected, {cut, cut}, {plain.size() - cut}, true);
    }
  }
}

TEST_P(AeadBackendTest, RandomSplitsMatchContiguous) {
  std::mt19937_64 rng(23);
  constexpr size_t kSizes[] = {1, 15, 16, 17, 63, 64, 65, 100, 1024, 4099};
  for (const CipherCase& c : kCiphers) {
    const std::vector<uint8_t> key = RandomBytes(rng, c.key_len);
    std::unique_ptr<Aead> aead = MakeOrDie(c.cipher, key, GetParam());
    ASSERT_NE(aead, nullptr);
    for (size_t size : kSizes) {
      SCOPED_TRACE(std::string(c.name) + " size " + std::to_string(size));
      const NonceBytes nonce = ToNonce(RandomBytes(rng, kAeadNonceLen));
      const std::vector<uint8_t> aad = RandomBytes(rng, 13);
      const std::vector<uint8_t> plain = RandomBytes(rng, size);
      const Sealed expected = SealContiguous(*aead, nonce, aad, plain);
      for (int round = 0; round < 40; ++round) {
        CheckSplit(*aead, nonce, aad, plain, expected, RandomCuts(rng, size), RandomCuts(rng, size),
                   round % 2 == 1);
      }
      // One byte per segment on both sides.
      std::vector<size_t> every_byte(size);
      for (size_t i = 0; i < size; ++i) every_byte[i] = i;
      CheckSplit(*aead, nonce, aad, plain, expected, every_byte, every_byte, false);
    }
  }
}

TEST_P(AeadBackendTest, InPlaceMatchesOutOfPlace) {
  std::mt19937_64 rng(29);
  for (const CipherCase& c : kCiphers) {
    const std::vector<uint8_t> key = RandomBytes(rng, c.key_len);
    std::unique_ptr<Aead> aead = MakeOrDie(c.cipher, key, GetParam());
    ASSERT_NE(aead, nullptr);
    for (size_t size : {0, 1, 16, 17, 1000, 16384}) {
      SCOPED_TRACE(std::string(c.name) + " size " + std::to_string(size));
      const NonceBytes nonce = ToNonce(RandomBytes(rng, kAeadNonceLen));
      const std::vector<uint8_t> aad = RandomBytes(rng, 5);
      const std::vector<uint8_t> plain = RandomBytes(rng, size);
      const Sealed expected = SealContiguous(*aead, nonce, aad, plain);

      std::vector<uint8_t> buffer = plain;
      Tag tag{};
      aead->Seal(nonce, aad, buffer, buffer, tag);
      EXPECT_EQ(buffer, expected.ciphertext);
      EXPECT_EQ(tag, expected.tag);
      EXPECT_TRUE(aead->Open(nonce, aad, buffer, buffer, tag));
      EXPECT_EQ(buffer, plain);

      // In place with the same segmentation on both sides.
      const std::vector<size_t> cuts = RandomCuts(rng, size);
      const auto in = Split(ConstBytes(buffer), cuts);
      const auto out = Split(MutableBytes(buffer), cuts);
      aead->Seal(nonce, aad, in, out, tag);
      EXPECT_EQ(buffer, expected.ciphertext);
      EXPECT_EQ(tag, expected.tag);
      EXPECT_TRUE(aead->Open(nonce, aad, in, out, tag));
      EXPECT_EQ(buffer, plain);
    }
  }
}

// --- Tampering -----------------------------------------------------------------------

TEST_P(AeadBackendTest, OpenRejectsEveryFlippedBit) {
  std::mt19937_64 rng(31);
  for (const CipherCase& c : kCiphers) {
    SCOPED_TRACE(c.name);
    const std::vector<uint8_t> key = RandomBytes(rng, c.key_len);
    std::unique_ptr<Aead> aead = MakeOrDie(c.cipher, key, GetParam());
    ASSERT_NE(aead, nullptr);
    const NonceBytes nonce = ToNonce(RandomBytes(rng, kAeadNonceLen));
    std::vector<uint8_t> aad = RandomBytes(rng, 13);
    const std::vector<uint8_t> plain = RandomBytes(rng, 37);
    Sealed sealed = SealContiguous(*aead, nonce, aad, plain);
    std::vector<uint8_t> out(plain.size());

    for (size_t bit = 0; bit < sealed.ciphertext.size() * 8; ++bit) {
      sealed.ciphertext[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(aead->Open(nonce, aad, sealed.ciphertext, out, sealed.tag)) << "ct bit " << bit;
      sealed.ciphertext[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < sealed.tag.size() * 8; ++bit) {
      sealed.tag[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(aead->Open(nonce, aad, sealed.ciphertext, out, sealed.tag)) << "tag bit " << bit;
      sealed.tag[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < aad.size() * 8; ++bit) {
      aad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(aead->Open(nonce, aad, sealed.ciphertext, out, sealed.tag)) << "aad bit " << bit;
      aad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    }
    NonceBytes other_nonce = nonce;
    other_nonce[11] ^= 1;
    EXPECT_FALSE(aead->Open(other_nonce, aad, sealed.ciphertext, out, sealed.tag));
    EXPECT_FALSE(aead->Open(nonce, ConstBytes(aad).first(12), sealed.ciphertext, out, sealed.tag));

    // Failures leave no state behind: the untouched message still opens.
    EXPECT_TRUE(aead->Open(nonce, aad, sealed.ciphertext, out, sealed.tag));
    EXPECT_EQ(out, plain);
  }
}

}  // namespace
}  // namespace ktls::crypto
