#include "preload/summary.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "platform/next_libc.h"
#include "preload/config.h"

namespace ktls::preload {
namespace {

namespace libc = platform::libc;

struct Totals {
  uint64_t tx_records = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_wire_bytes = 0;
  uint64_t rx_records = 0;
  uint64_t rx_bytes = 0;
  uint64_t rx_wire_bytes = 0;
  uint64_t rx_errors = 0;
  uint64_t tx_errors = 0;

  void Add(const socket::SocketStats& s) {
    tx_records += s.tx_records.value();
    tx_bytes += s.tx_bytes.value();
    tx_wire_bytes += s.tx_wire_bytes.value();
    rx_records += s.rx_records.value();
    rx_bytes += s.rx_bytes.value();
    rx_wire_bytes += s.rx_wire_bytes.value();
    rx_errors += s.rx_bad_header.value() + s.rx_bad_length.value() + s.rx_bad_record.value();
    tx_errors += s.tx_errors.value();
  }
};

void AddTo(control::Counter& counter, const control::Counter& value) {
  counter.Add(value.value());
}

// Through libc's next write(): never back into our own wrapper.
void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = libc::Write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string ProgramName() {
  char name[64] = {};
  const int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "?";
  const ssize_t n = libc::Read(fd, name, sizeof(name) - 1);
  libc::Close(fd);
  std::string result(name, n > 0 ? static_cast<size_t>(n) : 0);
  while (!result.empty() && result.back() == '\n') result.pop_back();
  return result;
}

std::string StatsPath(const std::string& pattern) {
  std::string path;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size() && pattern[i + 1] == 'p') {
      path += std::to_string(getpid());
      ++i;
    } else {
      path += pattern[i];
    }
  }
  return path;
}

}  // namespace

Summary& GetSummary() {
  // Leaked: counted into from threads that may outlive static destruction.
  static auto* summary = new Summary();
  return *summary;
}

void FoldClosed(const socket::SocketStats& stats) {
  socket::SocketStats& closed = GetSummary().closed;
  AddTo(closed.tx_records, stats.tx_records);
  AddTo(closed.tx_bytes, stats.tx_bytes);
  AddTo(closed.tx_wire_bytes, stats.tx_wire_bytes);
  AddTo(closed.rx_records, stats.rx_records);
  AddTo(closed.rx_bytes, stats.rx_bytes);
  AddTo(closed.rx_wire_bytes, stats.rx_wire_bytes);
  AddTo(closed.rx_bad_header, stats.rx_bad_header);
  AddTo(closed.rx_bad_length, stats.rx_bad_length);
  AddTo(closed.rx_bad_record, stats.rx_bad_record);
  AddTo(closed.tx_errors, stats.tx_errors);
}

void ReportAtExit(const std::vector<std::shared_ptr<socket::KtlsSocket>>& live) {
  const Config& config = GetConfig();
  Summary& s = GetSummary();
  if (s.ulp_requests.value() == 0) return;  // never asked for kTLS: stay silent
  if (!config.verbose && config.stats_file.empty()) return;
  Totals t;
  t.Add(s.closed);
  for (const auto& socket : live) t.Add(socket->stats());
  const uint64_t errors = t.rx_errors + t.tx_errors + s.bypass_refused.value();

  if (config.verbose) {
    char line[512];
    std::snprintf(
        line, sizeof(line),
        "ktls[%d %s]: %llu socket(s) offloaded (TX %llu, RX %llu, kernel ULP %llu, "
        "refused %llu); TX %llu records, %llu bytes; RX %llu records, %llu bytes; "
        "errors %llu\n",
        static_cast<int>(getpid()), ProgramName().c_str(),
        static_cast<unsigned long long>(s.emulated.value()),
        static_cast<unsigned long long>(s.tx_offloaded.value()),
        static_cast<unsigned long long>(s.rx_offloaded.value()),
        static_cast<unsigned long long>(s.kernel.value()),
        static_cast<unsigned long long>(s.refused.value()),
        static_cast<unsigned long long>(t.tx_records), static_cast<unsigned long long>(t.tx_bytes),
        static_cast<unsigned long long>(t.rx_records), static_cast<unsigned long long>(t.rx_bytes),
        static_cast<unsigned long long>(errors));
    WriteAll(STDERR_FILENO, line);
  }
  if (!config.stats_file.empty()) {
    const std::pair<const char*, uint64_t> rows[] = {
        {"pid", static_cast<uint64_t>(getpid())},
        {"ulp_requests", s.ulp_requests.value()},
        {"sockets_emulated", s.emulated.value()},
        {"sockets_kernel", s.kernel.value()},
        {"tx_offloaded", s.tx_offloaded.value()},
        {"rx_offloaded", s.rx_offloaded.value()},
        {"refused", s.refused.value()},
        {"tx_records", t.tx_records},
        {"tx_bytes", t.tx_bytes},
        {"tx_wire_bytes", t.tx_wire_bytes},
        {"rx_records", t.rx_records},
        {"rx_bytes", t.rx_bytes},
        {"rx_wire_bytes", t.rx_wire_bytes},
        {"rx_errors", t.rx_errors},
        {"tx_errors", t.tx_errors},
        {"bypass_refused", s.bypass_refused.value()},
    };
    std::string text;
    for (const auto& [name, value] : rows) {
      text += name;
      text += '=';
      text += std::to_string(value);
      text += '\n';
    }
    const std::string path = StatsPath(config.stats_file);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      WriteAll(fd, text);
      libc::Close(fd);
    }
  }
}

}  // namespace ktls::preload
