#include "bench/process_usage.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace ktls::bench {
namespace {

struct StatLine {
  pid_t ppid = 0;
  uint64_t ticks = 0;  // utime + stime
};

// /proc/PID/stat: the command name is in parentheses and may itself contain spaces
// and parentheses, so fields are counted from the last ')'.
bool ReadStat(pid_t pid, StatLine* out) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 1));
  // After the name: state(3) ppid(4) ... utime(14) stime(15).
  std::string state;
  long long ppid = 0;
  fields >> state >> ppid;
  unsigned long long value = 0;
  for (int field = 5; field <= 13; ++field) fields >> value;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  fields >> utime >> stime;
  if (!fields) return false;
  out->ppid = static_cast<pid_t>(ppid);
  out->ticks = utime + stime;
  return true;
}

// VmRSS and VmHWM from /proc/PID/status, in bytes.
void ReadMemory(pid_t pid, uint64_t* rss, uint64_t* hwm) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kib) == 1) *rss += kib * 1024;
    if (std::sscanf(line.c_str(), "VmHWM: %llu kB", &kib) == 1) *hwm += kib * 1024;
  }
}

std::map<pid_t, StatLine> AllProcesses() {
  std::map<pid_t, StatLine> processes;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return processes;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    StatLine stat;
    if (ReadStat(static_cast<pid_t>(pid), &stat)) processes[static_cast<pid_t>(pid)] = stat;
  }
  closedir(proc);
  return processes;
}

std::vector<pid_t> Descendants(const std::map<pid_t, StatLine>& processes, pid_t root) {
  std::vector<pid_t> found;
  std::vector<pid_t> frontier{root};
  while (!frontier.empty()) {
    pid_t parent = frontier.back();
    frontier.pop_back();
    for (const auto& [pid, stat] : processes) {
      if (stat.ppid == parent && pid != root) {
        found.push_back(pid);
        frontier.push_back(pid);
      }
    }
  }
  return found;
}

}  // namespace

std::vector<pid_t> DescendantsOf(pid_t root) {
  return Descendants(AllProcesses(), root);
}

ProcessUsage SampleProcessTree(pid_t root) {
  std::map<pid_t, StatLine> processes = AllProcesses();
  ProcessUsage usage;
  if (processes.count(root) == 0) return usage;
  std::vector<pid_t> tree = Descendants(processes, root);
  tree.push_back(root);
  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (pid_t pid : tree) {
    usage.cpu_seconds += static_cast<double>(processes[pid].ticks) / ticks_per_second;
    ReadMemory(pid, &usage.rss_bytes, &usage.peak_rss_bytes);
    ++usage.processes;
  }
  return usage;
}

}  // namespace ktls::bench
