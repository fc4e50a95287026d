// Names every knob and counter as sysctl(8) would (kern.ipc.tls.*), and reads and
// writes them with sysctlbyname(3) semantics. The only place that maps names to fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ktls::control {

enum class ValueType : uint8_t {
  kBool,  // exported as a uint8_t, like FreeBSD's SYSCTL_BOOL
  kInt,   // int32_t
  kUint,  // uint32_t
  kU64,   // uint64_t (counters)
};

enum class Access : uint8_t {
  kReadWrite,  // RW: settable at run time
  kTunable,    // RDTUN: settable only from the environment/config before first use
  kReadOnly,   // counters
};

struct Entry {
  std::string name;  // e.g. "kern.ipc.tls.stats.active"
  ValueType type;
  Access access;
  std::string description;  // one line, as sysctl -d prints
};

// All entries in sysctl -a order (sorted by name).
const std::vector<Entry>& AllEntries();

// sysctlbyname(3): reads the old value into oldp/*oldlenp and/or writes newp/newlen.
// Returns 0 or -1 with errno: ENOENT unknown name, EISDIR a name that is only a node
// ("kern.ipc.tls"), ENOMEM old buffer too small (it gets the bytes that fit and, as in
// FreeBSD, *oldlenp stays the number of bytes copied; ask for the size with oldp NULL),
// EINVAL bad new length or value out of range, EPERM writing a read-only or tunable
// entry, EFAULT a NULL name. Reading and writing in one call returns the old value.
int SysctlByName(const char* name, void* oldp, size_t* oldlenp, const void* newp, size_t newlen);

// Every entry's current value in AllEntries() order, as a number (int knobs
// sign-extended); `out` must have room for all of them. For the shared-memory exporter
// (export/exporter.h): unlike the calls around it, it does not start the export.
void ReadAllValues(std::span<uint64_t> out);

// Text form used by the CLI, env and config file: "1", "16384".
bool ReadAsText(std::string_view name, std::string* out);
// Sets from text; `boot` allows tunables (environment/config at start). Returns 0 or an errno.
int WriteFromText(std::string_view name, std::string_view value, bool boot);

// Applies "name=value" assignments separated by commas, semicolons or newlines, as in
// KTLS_SYSCTL and sysctl.conf(5) files ('#' starts a comment). Returns the number of
// assignments that failed; `on_error` (if given) hears each failure.
int ApplyAssignments(std::string_view text, bool boot,
                     const std::function<void(std::string_view line, int error)>& on_error = {});

// Loads the start-up configuration once: the file named by KTLS_CONFIG (else
// /etc/ktls.conf if present), then KTLS_SYSCTL. Called by GetKnobs() on first use.
void LoadStartupConfig();

}  // namespace ktls::control
