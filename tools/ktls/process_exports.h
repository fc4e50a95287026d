// What `ktls sysctl`, `ktls stat` and `ktls probe` read from other processes: the
// snapshots that processes using ktls export in /dev/shm (control/export/).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/export/segment_reader.h"
#include "control/registry.h"

namespace ktls::tool {

struct LiveProcesses {
  std::vector<control::shm::ProcessExport> exports;  // ascending pid
  std::vector<int> removed_stale;  // segments of dead processes removed on the way
};

// The snapshot of `pid` only, or of every live exporting process this user can read
// (removing dead processes' segments). A `pid` that cannot be read is an error: the
// message goes to stderr prefixed by `command`, then CLI::RuntimeError(1) is thrown.
// Other processes that vanish while being read are skipped.
LiveProcesses LoadLiveProcesses(std::optional<int> pid, std::string_view command);

// Why `pid`'s export cannot be read, for people.
std::string ExportErrorText(int pid, int error);

// An entry's value as sysctl prints it: "1", "16384", "-1".
std::string EntryValueText(const control::shm::ExportedEntry& entry);
int64_t EntrySignedValue(const control::shm::ExportedEntry& entry);

// "bool", "int", "uint", "u64" and "rw", "tunable", "ro", for JSON.
std::string_view TypeName(control::ValueType type);
std::string_view AccessName(control::Access access);

// The local registry's entry (type, access, description), or null for a name this
// build of the tool does not know.
const control::Entry* LocalEntry(std::string_view name);

}  // namespace ktls::tool
