#include "tools/ktls/process_exports.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "base/errno_name.h"

namespace ktls::tool {

using control::shm::ExportedEntry;

std::string ExportErrorText(int pid, int error) {
  const std::string who = "pid " + std::to_string(pid);
  switch (error) {
    case ENOENT:
      return who +
             ": nothing exported (not a process using ktls, it has not offloaded a socket or "
             "used a knob yet, or it runs with KTLS_EXPORT=0)";
    case ESRCH:
      return who + ": the process has exited";
    case EACCES:
      return who + ": permission denied (another user's process)";
    case EPROTO:
      return who + ": export written by an incompatible version of ktls";
    case EAGAIN:
      return who + ": export not ready yet, try again";
    default:
      return who + ": " + std::strerror(error) + " (" + ErrnoName(error) + ")";
  }
}

LiveProcesses LoadLiveProcesses(std::optional<int> pid, std::string_view command) {
  LiveProcesses live;
  if (pid.has_value()) {
    Result<control::shm::ProcessExport> one = control::shm::ReadExport(*pid);
    if (!one.ok()) {
      std::cerr << "ktls " << command << ": " << ExportErrorText(*pid, one.error()) << "\n";
      throw CLI::RuntimeError(1);
    }
    live.exports.push_back(std::move(one.value()));
    return live;
  }
  const control::shm::ProcessScan scan =
      control::shm::FindExportingProcesses(/*remove_stale=*/true);
  live.removed_stale = scan.removed_pids;
  for (int each : scan.pids) {
    Result<control::shm::ProcessExport> one = control::shm::ReadExport(each);
    if (one.ok()) live.exports.push_back(std::move(one.value()));
  }
  return live;
}

int64_t EntrySignedValue(const ExportedEntry& entry) {
  return static_cast<int64_t>(entry.value);
}

std::string EntryValueText(const ExportedEntry& entry) {
  switch (static_cast<control::ValueType>(entry.type)) {
    case control::ValueType::kInt:
      return std::to_string(EntrySignedValue(entry));
    case control::ValueType::kBool:
    case control::ValueType::kUint:
    case control::ValueType::kU64:
      break;
  }
  return std::to_string(entry.value);
}

std::string_view TypeName(control::ValueType type) {
  switch (type) {
    case control::ValueType::kBool:
      return "bool";
    case control::ValueType::kInt:
      return "int";
    case control::ValueType::kUint:
      return "uint";
    case control::ValueType::kU64:
      return "u64";
  }
  return "unknown";
}

std::string_view AccessName(control::Access access) {
  switch (access) {
    case control::Access::kReadWrite:
      return "rw";
    case control::Access::kTunable:
      return "tunable";
    case control::Access::kReadOnly:
      return "ro";
  }
  return "unknown";
}

const control::Entry* LocalEntry(std::string_view name) {
  for (const control::Entry& entry : control::AllEntries()) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace ktls::tool
