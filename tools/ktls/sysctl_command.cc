// ktls sysctl: sysctl(8) for the kern.ipc.tls.* knobs and counters of the processes
// that use ktls. Reading sums counters over the live processes and shows knobs per
// process where they differ; name=value sets a run-time knob in one process (-p) or in
// every live process of this user, for the sessions they create from then on.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/errno_name.h"
#include "control/export/exporter.h"
#include "control/registry.h"
#include "tools/ktls/commands.h"
#include "tools/ktls/json_writer.h"
#include "tools/ktls/process_exports.h"

namespace ktls::tool {
namespace {

using control::Access;
using control::ValueType;
using control::shm::ExportedEntry;
using control::shm::ProcessExport;

constexpr auto kWriteTimeout = std::chrono::seconds(2);

struct Flags {
  bool all = false;
  std::optional<int> pid;
  bool values_only = false;
  bool descriptions = false;
  bool json = false;
  std::vector<std::string> args;
};

// One value of a name in one process.
struct ProcessValue {
  int pid;
  int64_t number;
  std::string text;
};

// One name's line: counters summed, knobs shown once if all processes agree.
struct Row {
  std::string name;
  ValueType type = ValueType::kU64;
  Access access = Access::kReadOnly;
  std::vector<ProcessValue> values;  // one per process (empty for local defaults)
  std::optional<int64_t> number;     // the sum, or the common knob value
  std::string text;                  // what sysctl prints after "name: "
};

struct Change {
  int pid;
  std::string name;
  std::string value;
  int error;  // 0, an errno from the process, or one of reaching it
  bool reached;
  std::string old_value;
  std::string new_value;
};

// Where values come from: the live processes, or (when there are none) this tool's
// own start-up configuration, which is what a new process would start with.
struct Source {
  LiveProcesses live;
  bool defaults = false;
};

std::string PidList(const std::vector<int>& pids) {
  std::string text = pids.size() == 1 ? "pid " : "pids ";
  for (size_t i = 0; i < pids.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(pids[i]);
  }
  return text;
}

// "1 (pid 10, 12); 0 (pid 11)": each distinct value with the processes that have it.
std::string DifferingText(const std::vector<ProcessValue>& values) {
  std::vector<std::pair<std::string, std::vector<int>>> groups;
  for (const ProcessValue& v : values) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& group) { return group.first == v.text; });
    if (it == groups.end()) {
      groups.emplace_back(v.text, std::vector<int>{v.pid});
    } else {
      it->second.push_back(v.pid);
    }
  }
  std::string text;
  for (const auto& [value, pids] : groups) {
    if (!text.empty()) text += "; ";
    text += value + " (" + PidList(pids) + ")";
  }
  return text;
}

// Every name on offer, sorted (sysctl -a order).
std::vector<std::string> Catalog(const Source& source) {
  std::set<std::string> names;
  if (source.defaults) {
    for (const control::Entry& entry : control::AllEntries()) names.insert(entry.name);
  }
  for (const ProcessExport& process : source.live.exports) {
    for (const ExportedEntry& entry : process.entries) names.insert(entry.name);
  }
  return {names.begin(), names.end()};
}

Row MakeRow(const Source& source, const std::string& name) {
  Row row;
  row.name = name;
  if (source.defaults) {
    const control::Entry* entry = LocalEntry(name);
    row.type = entry->type;
    row.access = entry->access;
    control::ReadAsText(name, &row.text);
    row.number = std::strtoll(row.text.c_str(), nullptr, 10);
    return row;
  }
  for (const ProcessExport& process : source.live.exports) {
    const ExportedEntry* entry = control::shm::FindEntry(process, name);
    if (entry == nullptr) continue;  // an older library without this name
    row.type = static_cast<ValueType>(entry->type);
    row.access = static_cast<Access>(entry->access);
    row.values.push_back({process.pid, EntrySignedValue(*entry), EntryValueText(*entry)});
  }
  if (row.access == Access::kReadOnly) {
    uint64_t sum = 0;
    for (const ProcessValue& v : row.values) sum += static_cast<uint64_t>(v.number);
    row.number = static_cast<int64_t>(sum);
    row.text = std::to_string(sum);
    return row;
  }
  const bool agree = std::all_of(row.values.begin(), row.values.end(), [&](const ProcessValue& v) {
    return v.text == row.values.front().text;
  });
  if (agree && !row.values.empty()) {
    row.number = row.values.front().number;
    row.text = row.values.front().text;
  } else {
    row.text = DifferingText(row.values);
  }
  return row;
}

// The names a query selects: itself, or everything below a node ("kern.ipc.tls.stats").
std::vector<std::string> Select(const std::vector<std::string>& catalog, const std::string& query) {
  std::vector<std::string> selected;
  for (const std::string& name : catalog) {
    if (name == query || name.starts_with(query + ".")) selected.push_back(name);
  }
  return selected;
}

std::string WriteErrorText(const Change& change, const Source& source) {
  const std::string oid = "'" + change.name + "'";
  if (!change.reached) {
    return change.error == ETIMEDOUT ? "pid " + std::to_string(change.pid) +
                                           ": no answer within 2 s (the process may be stopped); " +
                                           oid + " may or may not have been set"
                                     : ExportErrorText(change.pid, change.error);
  }
  switch (change.error) {
    case ENOENT:
      return "unknown oid " + oid;
    case EISDIR:
      return "oid " + oid + " is a node, not a value";
    case EINVAL:
      return "invalid value '" + change.value + "' for oid " + oid;
    case EPERM: {
      Access access = Access::kReadOnly;
      for (const ProcessExport& process : source.live.exports) {
        if (const ExportedEntry* entry = control::shm::FindEntry(process, change.name)) {
          access = static_cast<Access>(entry->access);
        }
      }
      if (access == Access::kTunable) {
        return "oid " + oid +
               " is a read only tunable; set it before the process starts, in KTLS_SYSCTL or "
               "the KTLS_CONFIG file (default /etc/ktls.conf)";
      }
      return "oid " + oid + " is read only";
    }
    default:
      return oid + ": " + ErrnoName(change.error);
  }
}

// The processes a write goes to: -p, or every live process of this user.
std::vector<int> WriteTargets(const Flags& flags, const Source& source) {
  std::vector<int> pids;
  for (const ProcessExport& process : source.live.exports) {
    if (flags.pid.has_value() || process.uid == geteuid()) pids.push_back(process.pid);
  }
  return pids;
}

class Output {
 public:
  explicit Output(const Flags& flags) : flags_(flags) {}

  void AddRow(Row row) { rows_.push_back(std::move(row)); }
  void AddChange(Change change) { changes_.push_back(std::move(change)); }
  void AddError(std::string message) { errors_.push_back(std::move(message)); }
  bool failed() const { return !errors_.empty(); }

  // Text is printed as it comes, like sysctl(8); JSON at the end.
  void PrintRow(const Row& row) const {
    if (flags_.json) return;
    if (flags_.descriptions) {
      const control::Entry* entry = LocalEntry(row.name);
      std::cout << row.name << ": " << (entry != nullptr ? entry->description : "") << "\n";
    } else if (flags_.values_only) {
      std::cout << row.text << "\n";
    } else {
      std::cout << row.name << ": " << row.text << "\n";
    }
  }
  void PrintChange(const Change& change, const Source& source) {
    if (change.error != 0) {
      const std::string message = WriteErrorText(change, source);
      AddError(message);
      if (!flags_.json) std::cerr << "ktls sysctl: " << message << "\n";
      return;
    }
    if (flags_.json) return;
    const std::string suffix =
        flags_.pid.has_value() ? "" : " (pid " + std::to_string(change.pid) + ")";
    if (flags_.values_only) {
      std::cout << change.new_value << suffix << "\n";
    } else {
      std::cout << change.name << ": " << change.old_value << " -> " << change.new_value << suffix
                << "\n";
    }
  }
  void PrintError(const std::string& message) {
    AddError(message);
    if (!flags_.json) std::cerr << "ktls sysctl: " << message << "\n";
  }

  void PrintJson(const Source& source) const {
    JsonWriter json(std::cout);
    json.BeginObject();
    json.Key("source").String(source.defaults ? "defaults" : "processes");
    json.Key("processes").BeginArray();
    for (const ProcessExport& process : source.live.exports) {
      json.BeginObject();
      json.Key("pid").Integer(process.pid);
      json.Key("comm").String(process.comm);
      json.Key("uid").Integer(process.uid);
      json.Key("updated_unix_ms").Integer(static_cast<int64_t>(process.updated_ns / 1000000));
      json.EndObject();
    }
    json.EndArray();
    json.Key("removed_stale_pids").BeginArray();
    for (int pid : source.live.removed_stale) json.Integer(pid);
    json.EndArray();
    json.Key("entries").BeginArray();
    for (const Row& row : rows_) {
      json.BeginObject();
      json.Key("name").String(row.name);
      json.Key("type").String(TypeName(row.type));
      json.Key("access").String(AccessName(row.access));
      json.Key("value");
      if (row.number.has_value()) {
        json.Integer(*row.number);
      } else {
        json.Null();
      }
      json.Key("values").BeginArray();
      for (const ProcessValue& v : row.values) {
        json.BeginObject();
        json.Key("pid").Integer(v.pid);
        json.Key("value").Integer(v.number);
        json.EndObject();
      }
      json.EndArray();
      json.EndObject();
    }
    json.EndArray();
    json.Key("changes").BeginArray();
    for (const Change& change : changes_) {
      json.BeginObject();
      json.Key("pid").Integer(change.pid);
      json.Key("name").String(change.name);
      json.Key("value").String(change.value);
      json.Key("ok").Bool(change.error == 0);
      if (change.error == 0) {
        json.Key("old").String(change.old_value);
        json.Key("new").String(change.new_value);
      } else {
        json.Key("error").String(ErrnoName(change.error));
        json.Key("message").String(WriteErrorText(change, source));
      }
      json.EndObject();
    }
    json.EndArray();
    json.Key("errors").BeginArray();
    for (const std::string& error : errors_) json.String(error);
    json.EndArray();
    json.EndObject();
  }

 private:
  const Flags& flags_;
  std::vector<Row> rows_;
  std::vector<Change> changes_;
  std::vector<std::string> errors_;
};

void Query(const std::string& query, const Source& source, Output& out) {
  const std::vector<std::string> names = Select(Catalog(source), query);
  if (names.empty()) {
    out.PrintError("unknown oid '" + query + "'");
    return;
  }
  for (const std::string& name : names) {
    Row row = MakeRow(source, name);
    out.PrintRow(row);
    out.AddRow(std::move(row));
  }
}

void Assign(const std::string& name, const std::string& value, const Flags& flags,
            const Source& source, Output& out) {
  const std::vector<int> targets = WriteTargets(flags, source);
  if (targets.empty()) {
    out.PrintError("cannot set '" + name + "': no running process of this user uses ktls; " +
                   "new processes take knobs from KTLS_SYSCTL or the KTLS_CONFIG file");
    return;
  }
  for (int pid : targets) {
    Change change{pid, name, value, 0, true, {}, {}};
    Result<control::shm::KnobWrite> answer =
        control::shm::RequestKnobWrite(pid, name, value, kWriteTimeout);
    if (!answer.ok()) {
      change.reached = false;
      change.error = answer.error();
    } else {
      change.error = answer->error;
      change.old_value = answer->old_value;
      change.new_value = answer->new_value;
    }
    out.PrintChange(change, source);
    out.AddChange(std::move(change));
  }
}

Source LoadSource(const Flags& flags) {
  Source source;
  source.live = LoadLiveProcesses(flags.pid, "sysctl");
  source.defaults = source.live.exports.empty();
  return source;
}

void Run(const Flags& flags) {
  control::shm::DisableExport();  // the tool reads other processes; it exports nothing
  Source source = LoadSource(flags);
  if (source.defaults && !flags.json) {
    std::cerr << "ktls sysctl: no running process uses ktls; showing what a new process "
                 "would start with (KTLS_SYSCTL, KTLS_CONFIG or /etc/ktls.conf applied)\n";
  }
  Output out(flags);
  std::vector<std::string> args = flags.args;
  if (args.empty()) args.push_back("kern");  // -a, or no names: everything
  bool changed = false;
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      // A query after a write sees the value written.
      if (changed && !source.defaults) {
        source = LoadSource(flags);
        changed = false;
      }
      Query(arg, source, out);
    } else {
      Assign(arg.substr(0, eq), arg.substr(eq + 1), flags, source, out);
      changed = true;
    }
  }
  if (flags.json) out.PrintJson(source);
  if (out.failed()) throw CLI::RuntimeError(1);
}

}  // namespace

void RegisterSysctlCommand(CLI::App& app) {
  auto flags = std::make_shared<Flags>();
  CLI::App* sysctl = app.add_subcommand(
      "sysctl", "Read kern.ipc.tls.* of the processes using ktls, or set knobs in them");
  sysctl->add_flag("-a,--all", flags->all, "Every name (the default without names)");
  sysctl->add_option("-p,--pid", flags->pid, "Only this process (reading and setting)");
  sysctl->add_flag("-n", flags->values_only, "Print values only, without names");
  sysctl->add_flag("-d", flags->descriptions, "Print descriptions instead of values");
  sysctl->add_flag("--json", flags->json, "Print one JSON object instead of text");
  sysctl->add_option("name", flags->args,
                     "name (or node) to read, name=value to set (run-time knobs only)");
  sysctl->footer(
      "Counters are summed over the processes; knobs that differ are shown per process. "
      "Without -p, name=value applies to every live process of this user. A new value "
      "applies to sessions created afterwards.");
  sysctl->callback([flags] { Run(*flags); });
}

}  // namespace ktls::tool
