#include "control/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "control/knobs.h"
#include "ktls/sysctl.h"

namespace ktls::control {
namespace {

size_t SizeOf(ValueType type) {
  switch (type) {
    case ValueType::kBool:
      return 1;
    case ValueType::kInt:
    case ValueType::kUint:
      return 4;
    case ValueType::kU64:
      return 8;
  }
  return 0;
}

const Entry* FindEntry(std::string_view name) {
  for (const Entry& entry : AllEntries()) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

// errno of a failing call, or 0 if it succeeded.
int ErrorOf(int rc) {
  if (rc == 0) return 0;
  EXPECT_EQ(rc, -1);
  return errno;
}

uint32_t ReadU32(const char* name) {
  uint32_t value = 0;
  size_t len = sizeof(value);
  EXPECT_EQ(SysctlByName(name, &value, &len, nullptr, 0), 0) << name;
  EXPECT_EQ(len, sizeof(value));
  return value;
}

uint64_t ReadU64(const std::string& name) {
  uint64_t value = 0;
  size_t len = sizeof(value);
  EXPECT_EQ(SysctlByName(name.c_str(), &value, &len, nullptr, 0), 0) << name;
  EXPECT_EQ(len, sizeof(value));
  return value;
}

// Every test may change knobs; put them all back (tunables included) afterwards.
class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const Entry& entry : AllEntries()) {
      if (entry.access == Access::kReadOnly) continue;
      std::string value;
      ASSERT_TRUE(ReadAsText(entry.name, &value));
      saved_[entry.name] = value;
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      EXPECT_EQ(WriteFromText(name, value, /*boot=*/true), 0) << name;
    }
  }

 private:
  std::map<std::string, std::string> saved_;
};

TEST_F(RegistryTest, EntriesAreSortedUniqueAndDescribed) {
  const std::vector<Entry>& entries = AllEntries();
  ASSERT_FALSE(entries.empty());
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_LT(entries[i - 1].name, entries[i].name);
  }
  for (const Entry& entry : entries) {
    EXPECT_TRUE(entry.name.starts_with("kern.ipc.")) << entry.name;
    EXPECT_FALSE(entry.description.empty()) << entry.name;
    EXPECT_EQ(entry.description.find('\n'), std::string::npos) << entry.name;
    EXPECT_EQ(entry.type == ValueType::kU64, entry.access == Access::kReadOnly) << entry.name;
  }
}

TEST_F(RegistryTest, EveryEntryIsReadableWithTheRightSize) {
  for (const Entry& entry : AllEntries()) {
    SCOPED_TRACE(entry.name);
    const size_t size = SizeOf(entry.type);
    size_t len = 12345;
    ASSERT_EQ(SysctlByName(entry.name.c_str(), nullptr, &len, nullptr, 0), 0);
    EXPECT_EQ(len, size);

    uint8_t buffer[16];
    std::memset(buffer, 0xAA, sizeof(buffer));
    len = sizeof(buffer);
    ASSERT_EQ(SysctlByName(entry.name.c_str(), buffer, &len, nullptr, 0), 0);
    EXPECT_EQ(len, size);
    EXPECT_EQ(buffer[size], 0xAA);  // nothing written past the value

    std::string text;
    ASSERT_TRUE(ReadAsText(entry.name, &text));
    uint64_t binary = 0;
    std::memcpy(&binary, buffer, size);  // little-endian, like every Linux target we build
    if (entry.type == ValueType::kInt) {
      int32_t v;
      std::memcpy(&v, buffer, sizeof(v));
      EXPECT_EQ(text, std::to_string(v));
    } else if (entry.type != ValueType::kU64) {  // counters may move between the reads
      EXPECT_EQ(text, std::to_string(binary));
    }
  }
}

TEST_F(RegistryTest, KnobsHaveFreeBsdNamesTypesAndAccess) {
  struct Expected {
    const char* name;
    ValueType type;
    Access access;
    const char* value;
  };
  const Expected expected[] = {
      {"kern.ipc.tls.enable", ValueType::kBool, Access::kReadWrite, "1"},
      {"kern.ipc.tls.rx_enable", ValueType::kBool, Access::kReadWrite, "1"},
      {"kern.ipc.tls.cbc_enable", ValueType::kBool, Access::kReadWrite, "1"},
      {"kern.ipc.tls.maxlen", ValueType::kUint, Access::kTunable, "16384"},
      {"kern.ipc.tls.ifnet.permitted", ValueType::kUint, Access::kReadWrite, "0"},
      {"kern.ipc.tls.ifnet_max_rexmit_pct", ValueType::kUint, Access::kReadWrite, "2"},
      {"kern.ipc.tls.bind_threads", ValueType::kInt, Access::kTunable, "0"},
      {"kern.ipc.tls.sw_threads", ValueType::kInt, Access::kTunable, "0"},
      {"kern.ipc.tls.sw_parallel_min", ValueType::kUint, Access::kReadWrite, "262144"},
      {"kern.ipc.tls.sw_buffer_cache", ValueType::kBool, Access::kTunable, "1"},
      {"kern.ipc.mb_use_ext_pgs", ValueType::kInt, Access::kReadWrite, "1"},
  };
  size_t knobs = 0;
  for (const Entry& entry : AllEntries()) knobs += entry.access != Access::kReadOnly;
  EXPECT_EQ(knobs, std::size(expected));
  const bool defaults = std::getenv("KTLS_SYSCTL") == nullptr &&
                        std::getenv("KTLS_CONFIG") == nullptr &&
                        access("/etc/ktls.conf", F_OK) != 0;
  for (const Expected& want : expected) {
    SCOPED_TRACE(want.name);
    const Entry* entry = FindEntry(want.name);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->type, want.type);
    EXPECT_EQ(entry->access, want.access);
    std::string value;
    ASSERT_TRUE(ReadAsText(want.name, &value));
    if (defaults) {
      EXPECT_EQ(value, want.value);
    }
  }
}

// An independent list of every counter and the Stats field it must show.
std::vector<std::pair<std::string, Counter*>> ExpectedCounters() {
  Stats& s = GetStats();
  const std::string st = "kern.ipc.tls.stats.";
  const std::string ocf = st + "ocf.";
  return {
      {st + "offload_total", &s.offload_total},
      {st + "enable_calls", &s.enable_calls},
      {st + "active", &s.active},
      {st + "corrupted_records", &s.corrupted_records},
      {st + "failed_crypto", &s.failed_crypto},
      {st + "switch_to_ifnet", &s.switch_to_ifnet},
      {st + "switch_to_sw", &s.switch_to_sw},
      {st + "switch_failed", &s.switch_failed},
      {st + "sw_tx_inqueue", &s.sw_tx_inqueue},
      {st + "sw_rx_inqueue", &s.sw_rx_inqueue},
      {st + "sw_tx_pending", &s.sw_tx_pending},
      {st + "threads", &s.threads},
      {st + "ifnet_disable_ok", &s.ifnet_disable_ok},
      {st + "ifnet_disable_failed", &s.ifnet_disable_failed},
      {st + "destroy_task", &s.destroy_task},
      {"kern.ipc.tls.tasks_active", &s.tasks_active},
      {ocf + "tls10_cbc_encrypts", &s.ocf.tls10_cbc_encrypts},
      {ocf + "tls11_cbc_encrypts", &s.ocf.tls11_cbc_encrypts},
      {ocf + "tls11_cbc_decrypts", &s.ocf.tls11_cbc_decrypts},
      {ocf + "tls12_gcm_encrypts", &s.ocf.tls12_gcm_encrypts},
      {ocf + "tls12_gcm_decrypts", &s.ocf.tls12_gcm_decrypts},
      {ocf + "tls12_chacha20_encrypts", &s.ocf.tls12_chacha20_encrypts},
      {ocf + "tls12_chacha20_decrypts", &s.ocf.tls12_chacha20_decrypts},
      {ocf + "tls13_gcm_encrypts", &s.ocf.tls13_gcm_encrypts},
      {ocf + "tls13_gcm_decrypts", &s.ocf.tls13_gcm_decrypts},
      {ocf + "tls13_chacha20_encrypts", &s.ocf.tls13_chacha20_encrypts},
      {ocf + "tls13_chacha20_decrypts", &s.ocf.tls13_chacha20_decrypts},
      {ocf + "inplace", &s.ocf.inplace},
      {ocf + "separate_output", &s.ocf.separate_output},
      {ocf + "retries", &s.ocf.retries},
      {"kern.ipc.tls.sw.gcm", &s.sw.gcm},
      {"kern.ipc.tls.sw.cbc", &s.sw.cbc},
      {"kern.ipc.tls.sw.chacha20", &s.sw.chacha20},
      {"kern.ipc.tls.ifnet.gcm", &s.ifnet.gcm},
      {"kern.ipc.tls.ifnet.cbc", &s.ifnet.cbc},
      {"kern.ipc.tls.ifnet.chacha20", &s.ifnet.chacha20},
      {"kern.ipc.tls.toe.gcm", &s.toe.gcm},
      {"kern.ipc.tls.toe.cbc", &s.toe.cbc},
      {"kern.ipc.tls.toe.chacha20", &s.toe.chacha20},
      {"kern.ipc.tls.ifnet.reset", &s.ifnet_reset},
      {"kern.ipc.tls.ifnet.reset_dropped", &s.ifnet_reset_dropped},
      {"kern.ipc.tls.ifnet.reset_failed", &s.ifnet_reset_failed},
      {"kern.ipc.tls.linux.TlsCurrTxSw", &s.linux_tls.curr_tx_sw},
      {"kern.ipc.tls.linux.TlsCurrRxSw", &s.linux_tls.curr_rx_sw},
      {"kern.ipc.tls.linux.TlsCurrTxDevice", &s.linux_tls.curr_tx_device},
      {"kern.ipc.tls.linux.TlsCurrRxDevice", &s.linux_tls.curr_rx_device},
      {"kern.ipc.tls.linux.TlsTxSw", &s.linux_tls.tx_sw},
      {"kern.ipc.tls.linux.TlsRxSw", &s.linux_tls.rx_sw},
      {"kern.ipc.tls.linux.TlsTxDevice", &s.linux_tls.tx_device},
      {"kern.ipc.tls.linux.TlsRxDevice", &s.linux_tls.rx_device},
      {"kern.ipc.tls.linux.TlsDecryptError", &s.linux_tls.decrypt_error},
      {"kern.ipc.tls.linux.TlsRxDeviceResync", &s.linux_tls.rx_device_resync},
      {"kern.ipc.tls.linux.TlsDecryptRetry", &s.linux_tls.decrypt_retry},
      {"kern.ipc.tls.linux.TlsRxNoPadViolation", &s.linux_tls.rx_no_pad_violation},
      {"kern.ipc.tls.linux.TlsRxRekeyOk", &s.linux_tls.rx_rekey_ok},
      {"kern.ipc.tls.linux.TlsRxRekeyError", &s.linux_tls.rx_rekey_error},
      {"kern.ipc.tls.linux.TlsTxRekeyOk", &s.linux_tls.tx_rekey_ok},
      {"kern.ipc.tls.linux.TlsTxRekeyError", &s.linux_tls.tx_rekey_error},
      {"kern.ipc.tls.linux.TlsRxRekeyReceived", &s.linux_tls.rx_rekey_received},
  };
}

TEST_F(RegistryTest, EveryCounterShowsItsStatsField) {
  const auto counters = ExpectedCounters();
  size_t read_only = 0;
  for (const Entry& entry : AllEntries()) read_only += entry.access == Access::kReadOnly;
  EXPECT_EQ(read_only, counters.size());
  for (const auto& [name, counter] : counters) {
    SCOPED_TRACE(name);
    const Entry* entry = FindEntry(name);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->type, ValueType::kU64);
    EXPECT_EQ(entry->access, Access::kReadOnly);
    // Each field moves its own entry and no other.
    std::map<std::string, uint64_t> before;
    for (const auto& [other, unused] : counters) before[other] = ReadU64(other);
    counter->Add(7);
    for (const auto& [other, unused] : counters) {
      EXPECT_EQ(ReadU64(other), before[other] + (other == name ? 7 : 0)) << other;
    }
    std::string text;
    ASSERT_TRUE(ReadAsText(name, &text));
    EXPECT_EQ(text, std::to_string(before[name] + 7));
    counter->Sub(7);
    EXPECT_EQ(ReadU64(name), before[name]);
  }
}

TEST_F(RegistryTest, LargeCounterValuesReadInFull) {
  Counter& c = GetStats().destroy_task;
  const uint64_t before = c.value();
  c.Add(uint64_t{1} << 40);
  EXPECT_EQ(ReadU64("kern.ipc.tls.stats.destroy_task"), before + (uint64_t{1} << 40));
  std::string text;
  ASSERT_TRUE(ReadAsText("kern.ipc.tls.stats.destroy_task", &text));
  EXPECT_EQ(text, std::to_string(before + (uint64_t{1} << 40)));
  c.Sub(uint64_t{1} << 40);
}

TEST_F(RegistryTest, ShortBufferGetsWhatFitsAndEnomem) {
  Counter& c = GetStats().ocf.retries;
  const uint64_t saved = c.value();
  c.Reset();
  c.Add(0x0102030405060708);
  uint8_t buffer[8] = {};
  size_t len = 3;
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.stats.ocf.retries", buffer, &len, nullptr, 0)),
            ENOMEM);
  EXPECT_EQ(len, 3u);  // the bytes copied
  const uint64_t value = 0x0102030405060708;
  EXPECT_EQ(std::memcmp(buffer, &value, 3), 0);
  EXPECT_EQ(buffer[3], 0);
  c.Reset();
  c.Add(saved);

  // Zero-length buffer, and a buffer without a length.
  len = 0;
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.maxlen", buffer, &len, nullptr, 0)), ENOMEM);
  EXPECT_EQ(len, 0u);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.maxlen", buffer, nullptr, nullptr, 0)), ENOMEM);
}

TEST_F(RegistryTest, ShortOldBufferBlocksTheWrite) {
  const uint32_t before = ReadU32("kern.ipc.tls.ifnet_max_rexmit_pct");
  ASSERT_NE(before, 5u);
  uint16_t old_value = 0;
  size_t len = sizeof(old_value);
  const uint32_t new_value = 5;
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.ifnet_max_rexmit_pct", &old_value, &len, &new_value,
                                 sizeof(new_value))),
            ENOMEM);
  EXPECT_EQ(len, sizeof(old_value));
  EXPECT_EQ(GetKnobs().ifnet_max_rexmit_pct.load(), before);
}

TEST_F(RegistryTest, NamesThatAreNotValues) {
  size_t len = 0;
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.nonexistent", nullptr, &len, nullptr, 0)), ENOENT);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.enable.", nullptr, &len, nullptr, 0)), ENOENT);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.enabl", nullptr, &len, nullptr, 0)), ENOENT);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls", nullptr, &len, nullptr, 0)), EISDIR);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.stats.ocf", nullptr, &len, nullptr, 0)), EISDIR);
  EXPECT_EQ(ErrorOf(SysctlByName("kern", nullptr, &len, nullptr, 0)), EISDIR);
  EXPECT_EQ(ErrorOf(SysctlByName("", nullptr, &len, nullptr, 0)), EINVAL);
  EXPECT_EQ(ErrorOf(SysctlByName(nullptr, nullptr, &len, nullptr, 0)), EFAULT);
  std::string text;
  EXPECT_FALSE(ReadAsText("kern.ipc.tls.nonexistent", &text));
  EXPECT_EQ(WriteFromText("kern.ipc.tls.nonexistent", "1", true), ENOENT);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.stats", "1", true), EISDIR);
}

TEST_F(RegistryTest, CountersAndTunablesAreNotWritableAtRunTime) {
  const uint64_t zero64 = 0;
  GetStats().switch_failed.Add(3);
  const uint64_t before = ReadU64("kern.ipc.tls.stats.switch_failed");
  uint64_t old_value = 0;
  size_t len = sizeof(old_value);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.stats.switch_failed", &old_value, &len, &zero64,
                                 sizeof(zero64))),
            EPERM);
  EXPECT_EQ(old_value, 0u);  // refused before anything was copied out
  EXPECT_EQ(ReadU64("kern.ipc.tls.stats.switch_failed"), before);
  GetStats().switch_failed.Sub(3);

  const uint32_t maxlen = 4096;
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.maxlen", nullptr, nullptr, &maxlen, sizeof(maxlen))),
            EPERM);
  const int32_t one = 1;
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.bind_threads", nullptr, nullptr, &one, sizeof(one))),
            EPERM);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.sw_threads", nullptr, nullptr, &one, sizeof(one))),
            EPERM);
  const uint8_t off = 0;
  EXPECT_EQ(
      ErrorOf(SysctlByName("kern.ipc.tls.sw_buffer_cache", nullptr, nullptr, &off, sizeof(off))),
      EPERM);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.maxlen", "4096", /*boot=*/false), EPERM);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.stats.active", "0", /*boot=*/true), EPERM);
  EXPECT_EQ(GetKnobs().maxlen.load(), ReadU32("kern.ipc.tls.maxlen"));
  EXPECT_NE(GetKnobs().maxlen.load(), 4096u);

  // At start-up (boot) the tunables take values.
  EXPECT_EQ(WriteFromText("kern.ipc.tls.maxlen", "4096", /*boot=*/true), 0);
  EXPECT_EQ(GetKnobs().maxlen.load(), 4096u);
}

TEST_F(RegistryTest, WrongNewLengthIsEinval) {
  const uint64_t wide = 5;
  const uint16_t narrow = 5;
  const char* pct = "kern.ipc.tls.ifnet_max_rexmit_pct";
  const uint32_t before = ReadU32(pct);
  EXPECT_EQ(ErrorOf(SysctlByName(pct, nullptr, nullptr, &wide, sizeof(wide))), EINVAL);
  EXPECT_EQ(ErrorOf(SysctlByName(pct, nullptr, nullptr, &narrow, sizeof(narrow))), EINVAL);
  EXPECT_EQ(ErrorOf(SysctlByName(pct, nullptr, nullptr, &narrow, 0)), EINVAL);
  EXPECT_EQ(ReadU32(pct), before);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.enable", nullptr, nullptr, &narrow, sizeof(narrow))),
            EINVAL);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.enable", nullptr, nullptr, &wide, sizeof(wide))),
            EINVAL);
  EXPECT_TRUE(GetKnobs().enable.load());

  // The old value is copied out before the new one is looked at, as in FreeBSD.
  uint32_t old_value = 0;
  size_t len = sizeof(old_value);
  EXPECT_EQ(ErrorOf(SysctlByName(pct, &old_value, &len, &wide, sizeof(wide))), EINVAL);
  EXPECT_EQ(old_value, before);
  EXPECT_EQ(len, sizeof(old_value));
}

TEST_F(RegistryTest, OutOfRangeIsEinval) {
  const uint32_t pct = 101;
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.tls.ifnet_max_rexmit_pct", nullptr, nullptr, &pct,
                                 sizeof(pct))),
            EINVAL);
  const int32_t two = 2;
  const int32_t minus_one = -1;
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.mb_use_ext_pgs", nullptr, nullptr, &two, sizeof(two))),
            EINVAL);
  EXPECT_EQ(ErrorOf(SysctlByName("kern.ipc.mb_use_ext_pgs", nullptr, nullptr, &minus_one,
                                 sizeof(minus_one))),
            EINVAL);
  EXPECT_EQ(GetKnobs().mb_use_ext_pgs.load(), 1);
  // Tunable ranges are checked at boot.
  EXPECT_EQ(WriteFromText("kern.ipc.tls.maxlen", "0", true), EINVAL);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.maxlen", "16385", true), EINVAL);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.maxlen", "16384", true), 0);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.maxlen", "1", true), 0);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.bind_threads", "3", true), EINVAL);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.bind_threads", "-1", true), EINVAL);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.bind_threads", "2", true), 0);
  EXPECT_EQ(GetKnobs().bind_threads.load(), 2);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.sw_threads", "-1", true), EINVAL);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.sw_threads", "1025", true), EINVAL);
}

TEST_F(RegistryTest, ReadAndWriteInOneCallReturnsTheOldValue) {
  const char* name = "kern.ipc.tls.sw_parallel_min";
  const uint32_t first = 1000;
  ASSERT_EQ(SysctlByName(name, nullptr, nullptr, &first, sizeof(first)), 0);
  uint32_t old_value = 0;
  size_t len = sizeof(old_value);
  const uint32_t second = 2000;
  ASSERT_EQ(SysctlByName(name, &old_value, &len, &second, sizeof(second)), 0);
  EXPECT_EQ(old_value, first);
  EXPECT_EQ(len, sizeof(old_value));
  EXPECT_EQ(GetKnobs().sw_parallel_min.load(), second);

  // Size query together with a write.
  len = 0;
  const uint32_t third = 3000;
  ASSERT_EQ(SysctlByName(name, nullptr, &len, &third, sizeof(third)), 0);
  EXPECT_EQ(len, sizeof(uint32_t));
  EXPECT_EQ(GetKnobs().sw_parallel_min.load(), third);
}

TEST_F(RegistryTest, ConcurrentSwapsEachReturnTheValueTheyReplaced) {
  const char* name = "kern.ipc.tls.sw_parallel_min";
  const uint32_t start = 0;
  ASSERT_EQ(SysctlByName(name, nullptr, nullptr, &start, sizeof(start)), 0);
  constexpr int kThreads = 4;
  constexpr uint32_t kSwaps = 2000;
  std::vector<std::vector<uint32_t>> olds(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&olds, t, name] {
      for (uint32_t i = 1; i <= kSwaps; ++i) {
        const uint32_t value = static_cast<uint32_t>(t) * kSwaps + i;
        uint32_t old_value;
        size_t len = sizeof(old_value);
        if (SysctlByName(name, &old_value, &len, &value, sizeof(value)) != 0) return;
        olds[t].push_back(old_value);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  // Every value written, plus the start, is seen exactly once as an old or final value.
  std::multiset<uint32_t> seen;
  for (const auto& list : olds) seen.insert(list.begin(), list.end());
  seen.insert(GetKnobs().sw_parallel_min.load());
  std::multiset<uint32_t> written = {start};
  for (uint32_t v = 1; v <= kThreads * kSwaps; ++v) written.insert(v);
  EXPECT_TRUE(seen == written);
}

TEST_F(RegistryTest, WritesShowInGetKnobs) {
  Knobs& k = GetKnobs();
  const uint8_t off = 0;
  const int int_on = 1;
  const int int_off = 0;
  const uint8_t odd = 0x80;
  ASSERT_EQ(SysctlByName("kern.ipc.tls.enable", nullptr, nullptr, &off, 1), 0);
  EXPECT_FALSE(k.enable.load());
  ASSERT_EQ(SysctlByName("kern.ipc.tls.enable", nullptr, nullptr, &int_on, sizeof(int)), 0);
  EXPECT_TRUE(k.enable.load());
  ASSERT_EQ(SysctlByName("kern.ipc.tls.rx_enable", nullptr, nullptr, &int_off, sizeof(int)), 0);
  EXPECT_FALSE(k.rx_enable.load());
  ASSERT_EQ(SysctlByName("kern.ipc.tls.rx_enable", nullptr, nullptr, &odd, 1), 0);
  EXPECT_TRUE(k.rx_enable.load());
  uint8_t read_back = 0;
  size_t len = 1;
  ASSERT_EQ(SysctlByName("kern.ipc.tls.rx_enable", &read_back, &len, nullptr, 0), 0);
  EXPECT_EQ(read_back, 1);  // normalised

  const uint32_t permitted = 1;
  ASSERT_EQ(SysctlByName("kern.ipc.tls.ifnet.permitted", nullptr, nullptr, &permitted, 4), 0);
  EXPECT_EQ(k.ifnet_permitted.load(), 1u);
  const int32_t no_ext_pgs = 0;
  ASSERT_EQ(SysctlByName("kern.ipc.mb_use_ext_pgs", nullptr, nullptr, &no_ext_pgs, 4), 0);
  EXPECT_EQ(k.mb_use_ext_pgs.load(), 0);

  EXPECT_EQ(WriteFromText("kern.ipc.tls.cbc_enable", "0", false), 0);
  EXPECT_FALSE(k.cbc_enable.load());
  EXPECT_EQ(WriteFromText("kern.ipc.tls.ifnet_max_rexmit_pct", "100", false), 0);
  EXPECT_EQ(k.ifnet_max_rexmit_pct.load(), 100u);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.sw_parallel_min", "4294967295", false), 0);
  EXPECT_EQ(k.sw_parallel_min.load(), 4294967295u);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.sw_threads", "8", true), 0);
  EXPECT_EQ(k.sw_threads.load(), 8);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.sw_buffer_cache", "0", true), 0);
  EXPECT_FALSE(k.sw_buffer_cache.load());
  std::string text;
  ASSERT_TRUE(ReadAsText("kern.ipc.tls.sw_buffer_cache", &text));
  EXPECT_EQ(text, "0");
}

TEST_F(RegistryTest, TextMustBePlainDecimal) {
  const char* pct = "kern.ipc.tls.ifnet_max_rexmit_pct";
  for (const char* bad : {"", " 5", "5 ", "5x", "0x5", "+5", "-1", "5.0", "1e2", "five"}) {
    EXPECT_EQ(WriteFromText(pct, bad, false), EINVAL) << '"' << bad << '"';
  }
  for (const char* bad : {"2", "-1", "true", "yes", "01x"}) {
    EXPECT_EQ(WriteFromText("kern.ipc.tls.enable", bad, false), EINVAL) << bad;
  }
  EXPECT_EQ(WriteFromText("kern.ipc.tls.sw_parallel_min", "4294967296", false), EINVAL);
  EXPECT_EQ(WriteFromText("kern.ipc.tls.sw_parallel_min", "99999999999999999999999", false),
            EINVAL);
  EXPECT_EQ(WriteFromText(pct, "7", false), 0);
  EXPECT_EQ(GetKnobs().ifnet_max_rexmit_pct.load(), 7u);
  EXPECT_EQ(WriteFromText(pct, "007", false), 0);
  EXPECT_EQ(GetKnobs().ifnet_max_rexmit_pct.load(), 7u);
}

TEST_F(RegistryTest, ApplyAssignmentsParsesSeparatorsCommentsAndSpace) {
  const char* text =
      "# a sysctl.conf-style file\n"
      "kern.ipc.tls.cbc_enable=0, kern.ipc.tls.rx_enable = 0 ;kern.ipc.tls.ifnet_max_rexmit_pct=7"
      "  # trailing comment, kern.ipc.tls.enable=0\n"
      "\n"
      "   \t\n"
      ";;,,\n"
      "\tkern.ipc.tls.sw_parallel_min = \"1000\"\r\n"
      "kern.ipc.tls.ifnet.permitted=1";
  std::vector<std::string> errors;
  EXPECT_EQ(ApplyAssignments(text, /*boot=*/false,
                             [&](std::string_view line, int) { errors.emplace_back(line); }),
            0);
  EXPECT_TRUE(errors.empty());
  Knobs& k = GetKnobs();
  EXPECT_FALSE(k.cbc_enable.load());
  EXPECT_FALSE(k.rx_enable.load());
  EXPECT_TRUE(k.enable.load());  // only mentioned in a comment
  EXPECT_EQ(k.ifnet_max_rexmit_pct.load(), 7u);
  EXPECT_EQ(k.sw_parallel_min.load(), 1000u);
  EXPECT_EQ(k.ifnet_permitted.load(), 1u);
  EXPECT_EQ(ApplyAssignments("", false), 0);
  EXPECT_EQ(ApplyAssignments("# nothing\n", false), 0);
}

TEST_F(RegistryTest, ApplyAssignmentsReportsEachFailure) {
  std::vector<std::pair<std::string, int>> errors;
  const int failures = ApplyAssignments(
      "kern.ipc.tls.bogus=1, kern.ipc.tls.enable=2; kern.ipc.tls.maxlen=100\n"
      "noequals, =5 , kern.ipc.tls.stats.active=1,kern.ipc.tls.rx_enable=\n"
      "kern.ipc.tls.cbc_enable=0",
      /*boot=*/false,
      [&](std::string_view line, int error) { errors.emplace_back(std::string(line), error); });
  EXPECT_EQ(failures, 7);
  const std::vector<std::pair<std::string, int>> expected = {
      {"kern.ipc.tls.bogus=1", ENOENT},
      {"kern.ipc.tls.enable=2", EINVAL},
      {"kern.ipc.tls.maxlen=100", EPERM},
      {"noequals", EINVAL},
      {"=5", EINVAL},
      {"kern.ipc.tls.stats.active=1", EPERM},
      {"kern.ipc.tls.rx_enable=", EINVAL},
  };
  EXPECT_EQ(errors, expected);
  // Failures do not stop later assignments; nor does a missing callback.
  EXPECT_FALSE(GetKnobs().cbc_enable.load());
  EXPECT_EQ(ApplyAssignments("x=1,y=2", false), 2);
  // At boot the tunable goes through.
  EXPECT_EQ(ApplyAssignments("kern.ipc.tls.maxlen = 100", /*boot=*/true), 0);
  EXPECT_EQ(GetKnobs().maxlen.load(), 100u);
}

TEST_F(RegistryTest, CEntryPointIsTheSameRegistry) {
  uint32_t maxlen = 0;
  size_t len = sizeof(maxlen);
  ASSERT_EQ(ktls_sysctlbyname("kern.ipc.tls.maxlen", &maxlen, &len, nullptr, 0), 0);
  EXPECT_EQ(maxlen, GetKnobs().maxlen.load());
  const uint8_t off = 0;
  ASSERT_EQ(ktls_sysctlbyname("kern.ipc.tls.enable", nullptr, nullptr, &off, 1), 0);
  EXPECT_FALSE(GetKnobs().enable.load());
  errno = 0;
  EXPECT_EQ(ktls_sysctlbyname("kern.ipc.tls.nope", nullptr, &len, nullptr, 0), -1);
  EXPECT_EQ(errno, ENOENT);
}

}  // namespace
}  // namespace ktls::control
