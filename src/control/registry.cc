#include "control/registry.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "base/startup_environment.h"
#include "control/counter.h"
#include "control/export/exporter.h"
#include "control/knobs.h"

namespace ktls::control {
namespace {

// What a name is bound to. The alternative fixes the entry's ValueType.
using Field =
    std::variant<std::atomic<bool>*, std::atomic<int32_t>*, std::atomic<uint32_t>*, const Counter*>;

struct Binding {
  Entry entry;
  Field field;
  // Accepted range for writes (knobs only).
  int64_t min = 0;
  int64_t max = 0;
};

constexpr int64_t kUint32Max = std::numeric_limits<uint32_t>::max();

// The largest TLS plaintext record (RFC 8446 section 5.1).
constexpr int64_t kMaxRecordPayload = 16384;

class TableBuilder {
 public:
  void Knob(const char* name, std::atomic<bool>* field, Access access, const char* description) {
    Add(name, ValueType::kBool, access, description, field, 0, 1);
  }
  void Knob(const char* name, std::atomic<int32_t>* field, Access access, int64_t min, int64_t max,
            const char* description) {
    Add(name, ValueType::kInt, access, description, field, min, max);
  }
  void Knob(const char* name, std::atomic<uint32_t>* field, Access access, int64_t min, int64_t max,
            const char* description) {
    Add(name, ValueType::kUint, access, description, field, min, max);
  }
  void Stat(const std::string& name, const Counter& counter, const char* description) {
    Add(name, ValueType::kU64, Access::kReadOnly, description, &counter, 0, 0);
  }

  std::vector<Binding> Finish() {
    std::sort(table_.begin(), table_.end(),
              [](const Binding& a, const Binding& b) { return a.entry.name < b.entry.name; });
    return std::move(table_);
  }

 private:
  void Add(const std::string& name, ValueType type, Access access, const char* description,
           Field field, int64_t min, int64_t max) {
    table_.push_back(Binding{Entry{name, type, access, description}, field, min, max});
  }

  std::vector<Binding> table_;
};

std::vector<Binding> BuildTable() {
  // Not GetKnobs(): LoadStartupConfig() builds this table while GetKnobs() is still
  // initialising.
  Knobs& k = KnobsWithoutStartupConfig();
  Stats& s = GetStats();
  TableBuilder t;
  constexpr Access kRw = Access::kReadWrite;
  constexpr Access kTun = Access::kTunable;

  t.Knob("kern.ipc.tls.enable", &k.enable, kRw, "Allow new TLS sessions to be enabled");
  t.Knob("kern.ipc.tls.rx_enable", &k.rx_enable, kRw, "Allow new receive-side TLS sessions");
  t.Knob("kern.ipc.tls.cbc_enable", &k.cbc_enable, kRw, "Allow AES-CBC cipher suites");
  // FreeBSD silently uses min(16384, maxlen). We reject 0 and anything above 16384 with
  // EINVAL instead, so a bad setting is reported on stderr; the effective value then
  // stays 16384, which is what clamping would give for the too-large case anyway.
  t.Knob("kern.ipc.tls.maxlen", &k.maxlen, kTun, 1, kMaxRecordPayload,
         "Largest plaintext payload of a transmitted record, in bytes");
  t.Knob("kern.ipc.tls.ifnet.permitted", &k.ifnet_permitted, kRw, 0, kUint32Max,
         "Permit NIC (ifnet) TLS offload when the interface supports it");
  // A percentage; FreeBSD does not bound it, but values above 100 cannot mean anything.
  t.Knob("kern.ipc.tls.ifnet_max_rexmit_pct", &k.ifnet_max_rexmit_pct, kRw, 0, 100,
         "Retransmitted-byte percentage above which NIC TLS falls back to software");
  t.Knob("kern.ipc.tls.bind_threads", &k.bind_threads, kTun, 0, 2,
         "Bind crypto workers to CPUs (1) or to CPUs and memory domains (2)");
  // Ours. The cap only guards against typos like 10000; it is far above any CPU count
  // a worker pool could use.
  t.Knob("kern.ipc.tls.sw_threads", &k.sw_threads, kTun, 0, 1024,
         "Number of crypto worker threads (0: one per CPU)");
  t.Knob("kern.ipc.tls.sw_parallel_min", &k.sw_parallel_min, kRw, 0, kUint32Max,
         "Write size in bytes from which records are sealed on the worker pool");
  t.Knob("kern.ipc.tls.sw_buffer_cache", &k.sw_buffer_cache, kTun,
         "Reuse contiguous output buffers for software encryption");
  t.Knob("kern.ipc.mb_use_ext_pgs", &k.mb_use_ext_pgs, kRw, 0, 1,
         "Unmapped buffers for TLS transmit (0: enabling TX fails with ENXIO)");

  const std::string stats = "kern.ipc.tls.stats.";
  t.Stat(stats + "offload_total", s.offload_total, "Sessions successfully enabled");
  t.Stat(stats + "enable_calls", s.enable_calls, "Session enable attempts");
  t.Stat(stats + "active", s.active, "Live sessions");
  t.Stat(stats + "corrupted_records", s.corrupted_records,
         "Received records with a malformed header");
  t.Stat(stats + "failed_crypto", s.failed_crypto, "Records that failed to seal or open");
  t.Stat(stats + "switch_to_ifnet", s.switch_to_ifnet, "Sessions switched to NIC offload");
  t.Stat(stats + "switch_to_sw", s.switch_to_sw, "Sessions switched to software crypto");
  t.Stat(stats + "switch_failed", s.switch_failed, "Failed session mode switches");
  t.Stat(stats + "sw_tx_inqueue", s.sw_tx_inqueue, "Records queued for worker sealing");
  t.Stat(stats + "sw_rx_inqueue", s.sw_rx_inqueue, "Records queued for worker opening");
  t.Stat(stats + "sw_tx_pending", s.sw_tx_pending,
         "Sealed records waiting for earlier records to finish");
  t.Stat(stats + "threads", s.threads, "Crypto worker threads");
  t.Stat(stats + "ifnet_disable_ok", s.ifnet_disable_ok,
         "Sessions moved from NIC to software after retransmits");
  t.Stat(stats + "ifnet_disable_failed", s.ifnet_disable_failed,
         "Failed moves from NIC to software after retransmits");
  t.Stat(stats + "destroy_task", s.destroy_task, "Sessions destroyed asynchronously");
  t.Stat("kern.ipc.tls.tasks_active", s.tasks_active, "Crypto tasks in progress");

  const std::string ocf = stats + "ocf.";
  const OcfCounters& o = s.ocf;
  t.Stat(ocf + "tls10_cbc_encrypts", o.tls10_cbc_encrypts, "TLS 1.0 AES-CBC records sealed");
  t.Stat(ocf + "tls11_cbc_encrypts", o.tls11_cbc_encrypts, "TLS 1.1/1.2 AES-CBC records sealed");
  t.Stat(ocf + "tls11_cbc_decrypts", o.tls11_cbc_decrypts, "TLS 1.1/1.2 AES-CBC records opened");
  t.Stat(ocf + "tls12_gcm_encrypts", o.tls12_gcm_encrypts, "TLS 1.2 AES-GCM records sealed");
  t.Stat(ocf + "tls12_gcm_decrypts", o.tls12_gcm_decrypts, "TLS 1.2 AES-GCM records opened");
  t.Stat(ocf + "tls12_chacha20_encrypts", o.tls12_chacha20_encrypts,
         "TLS 1.2 ChaCha20-Poly1305 records sealed");
  t.Stat(ocf + "tls12_chacha20_decrypts", o.tls12_chacha20_decrypts,
         "TLS 1.2 ChaCha20-Poly1305 records opened");
  t.Stat(ocf + "tls13_gcm_encrypts", o.tls13_gcm_encrypts, "TLS 1.3 AES-GCM records sealed");
  t.Stat(ocf + "tls13_gcm_decrypts", o.tls13_gcm_decrypts, "TLS 1.3 AES-GCM records opened");
  t.Stat(ocf + "tls13_chacha20_encrypts", o.tls13_chacha20_encrypts,
         "TLS 1.3 ChaCha20-Poly1305 records sealed");
  t.Stat(ocf + "tls13_chacha20_decrypts", o.tls13_chacha20_decrypts,
         "TLS 1.3 ChaCha20-Poly1305 records opened");
  t.Stat(ocf + "inplace", o.inplace, "Records transformed in place");
  t.Stat(ocf + "separate_output", o.separate_output, "Records transformed into a separate buffer");
  t.Stat(ocf + "retries", o.retries, "Crypto operations retried");

  struct ModeGroup {
    const char* node;
    const ModeCounters* counters;
    const char* where;
  };
  for (const ModeGroup& group :
       {ModeGroup{"sw", &s.sw, "software"}, ModeGroup{"ifnet", &s.ifnet, "NIC (ifnet)"},
        ModeGroup{"toe", &s.toe, "TOE"}}) {
    const std::string prefix = std::string("kern.ipc.tls.") + group.node + ".";
    const std::string what = std::string("Active ") + group.where + " sessions using ";
    t.Stat(prefix + "gcm", group.counters->gcm, (what + "AES-GCM").c_str());
    t.Stat(prefix + "cbc", group.counters->cbc, (what + "AES-CBC").c_str());
    t.Stat(prefix + "chacha20", group.counters->chacha20, (what + "ChaCha20-Poly1305").c_str());
  }
  t.Stat("kern.ipc.tls.ifnet.reset", s.ifnet_reset, "NIC send tags replaced");
  t.Stat("kern.ipc.tls.ifnet.reset_dropped", s.ifnet_reset_dropped,
         "NIC send tag replacements abandoned because the session ended");
  t.Stat("kern.ipc.tls.ifnet.reset_failed", s.ifnet_reset_failed,
         "NIC send tag replacements that failed");

  // Linux's /proc/net/tls_stat counters for sockets driven through the Linux kTLS ABI,
  // under their /proc names so they grep the same (`ktls stat --linux` lists them).
  const std::string linux_tls = "kern.ipc.tls.linux.";
  const LinuxTlsCounters& l = s.linux_tls;
  t.Stat(linux_tls + "TlsCurrTxSw", l.curr_tx_sw, "Linux ABI: TX sessions now in software");
  t.Stat(linux_tls + "TlsCurrRxSw", l.curr_rx_sw, "Linux ABI: RX sessions now in software");
  t.Stat(linux_tls + "TlsCurrTxDevice", l.curr_tx_device, "Linux ABI: TX sessions now on a device");
  t.Stat(linux_tls + "TlsCurrRxDevice", l.curr_rx_device, "Linux ABI: RX sessions now on a device");
  t.Stat(linux_tls + "TlsTxSw", l.tx_sw, "Linux ABI: TX software sessions installed");
  t.Stat(linux_tls + "TlsRxSw", l.rx_sw, "Linux ABI: RX software sessions installed");
  t.Stat(linux_tls + "TlsTxDevice", l.tx_device, "Linux ABI: TX device sessions installed");
  t.Stat(linux_tls + "TlsRxDevice", l.rx_device, "Linux ABI: RX device sessions installed");
  t.Stat(linux_tls + "TlsDecryptError", l.decrypt_error,
         "Linux ABI: records that failed authentication");
  t.Stat(linux_tls + "TlsRxDeviceResync", l.rx_device_resync,
         "Linux ABI: RX resync requests sent to a device");
  t.Stat(linux_tls + "TlsDecryptRetry", l.decrypt_retry,
         "Linux ABI: records decrypted again after a TLS_RX_EXPECT_NO_PAD misprediction");
  t.Stat(linux_tls + "TlsRxNoPadViolation", l.rx_no_pad_violation,
         "Linux ABI: data records that were padded despite TLS_RX_EXPECT_NO_PAD");
  t.Stat(linux_tls + "TlsRxRekeyOk", l.rx_rekey_ok, "Linux ABI: successful TLS_RX rekeys");
  t.Stat(linux_tls + "TlsRxRekeyError", l.rx_rekey_error, "Linux ABI: failed TLS_RX rekeys");
  t.Stat(linux_tls + "TlsTxRekeyOk", l.tx_rekey_ok, "Linux ABI: successful TLS_TX rekeys");
  t.Stat(linux_tls + "TlsTxRekeyError", l.tx_rekey_error, "Linux ABI: failed TLS_TX rekeys");
  t.Stat(linux_tls + "TlsRxRekeyReceived", l.rx_rekey_received,
         "Linux ABI: KeyUpdate messages received");
  return t.Finish();
}

// Leaked on purpose: worker threads may still read stats while the process exits.
const std::vector<Binding>& Table() {
  static const std::vector<Binding>* const table = new std::vector<Binding>(BuildTable());
  return *table;
}

// Serialises writers, so a read-and-write call returns the value its write replaced.
std::mutex& WriteMutex() {
  static std::mutex* const mutex = new std::mutex;
  return *mutex;
}

const Binding* Find(std::string_view name) {
  const std::vector<Binding>& table = Table();
  auto it = std::lower_bound(table.begin(), table.end(), name,
                             [](const Binding& b, std::string_view n) { return b.entry.name < n; });
  if (it != table.end() && it->entry.name == name) return &*it;
  return nullptr;
}

// A proper prefix of some name ("kern.ipc.tls.stats") is an interior node of the tree.
bool IsNode(std::string_view name) {
  const std::string prefix = std::string(name) + ".";
  const std::vector<Binding>& table = Table();
  auto it =
      std::lower_bound(table.begin(), table.end(), prefix,
                       [](const Binding& b, const std::string& p) { return b.entry.name < p; });
  return it != table.end() && it->entry.name.starts_with(prefix);
}

bool Writable(Access access, bool boot) {
  switch (access) {
    case Access::kReadWrite:
      return true;
    case Access::kTunable:
      return boot;
    case Access::kReadOnly:
      return false;
  }
  return false;
}

// The current value in its sysctl byte form; returns the size.
size_t Encode(const Binding& b, uint8_t (&out)[8]) {
  return std::visit(
      [&out](auto* field) -> size_t {
        using T = std::remove_cvref_t<decltype(*field)>;
        if constexpr (std::is_same_v<T, std::atomic<bool>>) {
          out[0] = field->load(std::memory_order_relaxed) ? 1 : 0;
          return 1;
        } else if constexpr (std::is_same_v<T, Counter>) {
          const uint64_t v = field->value();
          std::memcpy(out, &v, sizeof(v));
          return sizeof(v);
        } else {
          const auto v = field->load(std::memory_order_relaxed);
          std::memcpy(out, &v, sizeof(v));
          return sizeof(v);
        }
      },
      b.field);
}

// The current value as decimal text.
std::string FormatValue(const Binding& b) {
  return std::visit(
      [](auto* field) -> std::string {
        using T = std::remove_cvref_t<decltype(*field)>;
        if constexpr (std::is_same_v<T, std::atomic<bool>>) {
          return field->load(std::memory_order_relaxed) ? "1" : "0";
        } else if constexpr (std::is_same_v<T, Counter>) {
          return std::to_string(field->value());
        } else {
          return std::to_string(field->load(std::memory_order_relaxed));
        }
      },
      b.field);
}

// The current value as a number, int knobs sign-extended.
uint64_t RawValue(const Binding& b) {
  return std::visit(
      [](auto* field) -> uint64_t {
        using T = std::remove_cvref_t<decltype(*field)>;
        if constexpr (std::is_same_v<T, std::atomic<bool>>) {
          return field->load(std::memory_order_relaxed) ? 1 : 0;
        } else if constexpr (std::is_same_v<T, Counter>) {
          return field->value();
        } else {
          return static_cast<uint64_t>(
              static_cast<int64_t>(field->load(std::memory_order_relaxed)));
        }
      },
      b.field);
}

// Range-checks and stores a knob value. Caller holds WriteMutex().
int Store(const Binding& b, int64_t value) {
  if (value < b.min || value > b.max) return EINVAL;
  return std::visit(
      [value](auto* field) -> int {
        using T = std::remove_cvref_t<decltype(*field)>;
        if constexpr (std::is_same_v<T, Counter>) {
          return EPERM;
        } else if constexpr (std::is_same_v<T, std::atomic<bool>>) {
          field->store(value != 0, std::memory_order_relaxed);
          return 0;
        } else {
          using V = typename T::value_type;
          field->store(static_cast<V>(value), std::memory_order_relaxed);
          return 0;
        }
      },
      b.field);
}

// Decodes a binary new value. Lengths must match the value size exactly, except that a
// bool also takes an int (callers porting from C often pass one). FreeBSD reads the
// leading bytes of a longer buffer and ignores the rest; we reject that instead, since
// it silently truncates (and for a bool written as an int, reads the wrong byte on
// big-endian machines).
int Decode(const Binding& b, const void* newp, size_t newlen, int64_t* value) {
  switch (b.entry.type) {
    case ValueType::kBool:
      if (newlen == sizeof(uint8_t)) {
        uint8_t v;
        std::memcpy(&v, newp, sizeof(v));
        *value = v != 0;  // any non-zero byte is true, as in FreeBSD's bool handler
        return 0;
      }
      if (newlen == sizeof(int)) {
        int v;
        std::memcpy(&v, newp, sizeof(v));
        *value = v != 0;
        return 0;
      }
      return EINVAL;
    case ValueType::kInt: {
      if (newlen != sizeof(int32_t)) return EINVAL;
      int32_t v;
      std::memcpy(&v, newp, sizeof(v));
      *value = v;
      return 0;
    }
    case ValueType::kUint: {
      if (newlen != sizeof(uint32_t)) return EINVAL;
      uint32_t v;
      std::memcpy(&v, newp, sizeof(v));
      *value = v;
      return 0;
    }
    case ValueType::kU64:
      return EPERM;
  }
  return EINVAL;
}

int Fail(int error) {
  errno = error;
  return -1;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// The name part of "name = value", for error messages.
std::string_view NameOf(std::string_view assignment) {
  return Trim(assignment.substr(0, assignment.find('=')));
}

// Why a start-up assignment failed, in words an operator can act on.
const char* ConfigErrorText(std::string_view assignment, int error) {
  if (assignment.find('=') == std::string_view::npos) return "expected name=value";
  switch (error) {
    case ENOENT:
      return "unknown name";
    case EISDIR:
      return "names a node, not a value";
    case EPERM:
      return "read-only";
    case EINVAL:
      return "invalid value (decimal within the allowed range expected)";
    default:
      return std::strerror(error);
  }
}

// Calls `fn` for each line of `text`, without its newline.
template <typename Fn>
void ForEachLine(std::string_view text, Fn fn) {
  while (!text.empty()) {
    const size_t end = text.find('\n');
    fn(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

// Reads a whole file; returns 0 or an errno.
int ReadFile(const char* path, std::string* out) {
  FILE* file = std::fopen(path, "re");
  if (file == nullptr) return errno;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) out->append(buffer, n);
  const int error = std::ferror(file) ? EIO : 0;
  (void)std::fclose(file);  // read-only: nothing to lose on close
  return error;
}

// As the program has it now, or as it started (base/startup_environment.h); an empty
// value counts as unset.
const char* Env(LibraryVariable variable) {
  const char* value = LibraryEnv(variable);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

void LoadOnce() {
  const char* path = Env(LibraryVariable::kConfig);
  const bool named = path != nullptr;
  if (!named) path = "/etc/ktls.conf";
  std::string text;
  if (const int read_error = ReadFile(path, &text); read_error != 0) {
    // The default file is optional; a file the operator named is not.
    if (named || read_error != ENOENT) {
      (void)std::fprintf(stderr, "ktls: config %s: %s\n", path, std::strerror(read_error));
    }
  } else {
    int line_number = 0;
    ForEachLine(text, [&](std::string_view line) {
      ++line_number;
      ApplyAssignments(line, /*boot=*/true, [&](std::string_view assignment, int error) {
        const std::string_view name = NameOf(assignment);
        (void)std::fprintf(stderr, "ktls: config %s:%d: %.*s: %s\n", path, line_number,
                           static_cast<int>(name.size()), name.data(),
                           ConfigErrorText(assignment, error));
      });
    });
  }
  if (const char* assignments = Env(LibraryVariable::kSysctl)) {
    ApplyAssignments(assignments, /*boot=*/true, [](std::string_view assignment, int error) {
      const std::string_view name = NameOf(assignment);
      (void)std::fprintf(stderr, "ktls: KTLS_SYSCTL: %.*s: %s\n", static_cast<int>(name.size()),
                         name.data(), ConfigErrorText(assignment, error));
    });
  }
}

}  // namespace

const std::vector<Entry>& AllEntries() {
  static const std::vector<Entry>* const entries = [] {
    auto* list = new std::vector<Entry>;
    for (const Binding& b : Table()) list->push_back(b.entry);
    return list;
  }();
  return *entries;
}

// Follows FreeBSD's kernel (kern_sysctl.c) and sysctl(3):
//  - A name that is only an interior node ("kern.ipc.tls") fails with EISDIR, an unknown
//    one with ENOENT, an empty one with EINVAL; a NULL name, which FreeBSD's libc would
//    crash on, fails with EFAULT.
//  - newp != NULL asks for a write (newlen is ignored when newp is NULL). Writing an entry
//    that is not RW fails with EPERM before anything is copied out.
//  - The old value is copied out first. oldp == NULL with oldlenp set stores the size.
//    A buffer shorter than the value receives as many bytes as fit, *oldlenp stays the
//    number of bytes copied (sysctl(3): "that location gives the amount of data copied
//    after a successful call and after a call that returns with the error code ENOMEM"),
//    the call fails with ENOMEM, and no write happens. oldp without oldlenp is a
//    zero-length buffer, so ENOMEM.
//  - Then the new value is taken: wrong length or out of range is EINVAL, and the old
//    value already copied out stays there.
int SysctlByName(const char* name, void* oldp, size_t* oldlenp, const void* newp, size_t newlen) {
  if (name == nullptr) return Fail(EFAULT);
  if (*name == '\0') return Fail(EINVAL);
  GetKnobs();  // start-up configuration first, so a run-time write is not overridden
  // A process that uses its knobs shows them to `ktls sysctl`.
  shm::EnsureExporting();
  const Binding* b = Find(name);
  if (b == nullptr) return Fail(IsNode(name) ? EISDIR : ENOENT);
  if (newp != nullptr && !Writable(b->entry.access, /*boot=*/false)) return Fail(EPERM);

  std::unique_lock<std::mutex> lock;
  if (newp != nullptr) lock = std::unique_lock<std::mutex>(WriteMutex());

  uint8_t old_value[8];
  const size_t size = Encode(*b, old_value);
  if (oldp != nullptr) {
    const size_t room = oldlenp != nullptr ? *oldlenp : 0;
    const size_t copied = std::min(room, size);
    std::memcpy(oldp, old_value, copied);
    if (oldlenp != nullptr) *oldlenp = copied;
    if (copied < size) return Fail(ENOMEM);
  } else if (oldlenp != nullptr) {
    *oldlenp = size;
  }

  if (newp != nullptr) {
    int64_t value;
    int error = Decode(*b, newp, newlen, &value);
    if (error == 0) error = Store(*b, value);
    if (error != 0) return Fail(error);
  }
  return 0;
}

void ReadAllValues(std::span<uint64_t> out) {
  const std::vector<Binding>& table = Table();
  for (size_t i = 0; i < table.size() && i < out.size(); ++i) out[i] = RawValue(table[i]);
}

bool ReadAsText(std::string_view name, std::string* out) {
  GetKnobs();
  shm::EnsureExporting();
  const Binding* b = Find(name);
  if (b == nullptr) return false;
  *out = FormatValue(*b);
  return true;
}

int WriteFromText(std::string_view name, std::string_view value, bool boot) {
  // At boot we may be inside GetKnobs()'s own initialisation (LoadStartupConfig).
  if (!boot) {
    GetKnobs();
    shm::EnsureExporting();
  }
  const Binding* b = Find(name);
  if (b == nullptr) return IsNode(name) ? EISDIR : ENOENT;
  if (!Writable(b->entry.access, boot)) return EPERM;
  // Decimal only, optionally signed, nothing before or after.
  if (value.empty()) return EINVAL;
  int64_t parsed;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, parsed, 10);
  if (ec != std::errc() || ptr != end) return EINVAL;
  std::lock_guard<std::mutex> lock(WriteMutex());
  return Store(*b, parsed);
}

int ApplyAssignments(std::string_view text, bool boot,
                     const std::function<void(std::string_view line, int error)>& on_error) {
  int failures = 0;
  ForEachLine(text, [&](std::string_view line) {
    line = line.substr(0, line.find('#'));  // a comment runs to the end of the line
    while (true) {
      const size_t end = line.find_first_of(",;");
      const std::string_view assignment = Trim(line.substr(0, end));
      if (!assignment.empty()) {
        int error = EINVAL;
        if (const size_t eq = assignment.find('='); eq != std::string_view::npos) {
          const std::string_view name = Trim(assignment.substr(0, eq));
          std::string_view value = Trim(assignment.substr(eq + 1));
          // loader.conf(5) style quoting, so tunables can be copied over unchanged.
          if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
          }
          if (!name.empty()) error = WriteFromText(name, value, boot);
        }
        if (error != 0) {
          ++failures;
          if (on_error) on_error(assignment, error);
        }
      }
      if (end == std::string_view::npos) break;
      line.remove_prefix(end + 1);
    }
  });
  return failures;
}

void LoadStartupConfig() {
  // Exactly once per process, however many callers race here.
  static const bool loaded = [] {
    LoadOnce();
    return true;
  }();
  (void)loaded;
}

}  // namespace ktls::control
