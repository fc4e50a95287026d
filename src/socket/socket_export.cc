#include "socket/socket_export.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "control/export/segment_files.h"
#include "socket/socket_table.h"

namespace ktls::socket {
namespace {

using control::shm::CopyToField;
using control::shm::ExportedSocket;

// "127.0.0.1:443" or "[::1]:443"; empty for anything else or on error.
std::string FormatAddress(const struct sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const struct sockaddr_in&>(address);
    if (inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text)) == nullptr) return {};
    return std::string(text) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const struct sockaddr_in6&>(address);
    if (inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof(text)) == nullptr) return {};
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  return {};
}

template <typename GetName>
std::string AddressOf(int fd, GetName get_name) {
  struct sockaddr_storage address = {};
  socklen_t len = sizeof(address);
  if (get_name(fd, reinterpret_cast<struct sockaddr*>(&address), &len) != 0) return {};
  return FormatAddress(address);
}

void CopyDirection(const DirectionDescription& d, uint8_t* mode, uint16_t* version, char* suite,
                   size_t suite_len) {
  *mode = d.enabled ? static_cast<uint8_t>(d.mode) : 0;
  *version = d.enabled ? static_cast<uint16_t>(d.version) : 0;
  CopyToField(suite, suite_len, d.enabled && d.suite != nullptr ? std::string(d.suite->name) : "");
}

ExportedSocket ToExported(int fd, const SocketDescription& d) {
  ExportedSocket out = {};
  out.fd = fd;
  out.abi = static_cast<uint8_t>(d.abi);
  CopyDirection(d.tx, &out.tx_mode, &out.tx_version, out.tx_suite, sizeof(out.tx_suite));
  CopyDirection(d.rx, &out.rx_mode, &out.rx_version, out.rx_suite, sizeof(out.rx_suite));
  // The socket's own descriptor: the application's may be closed while records drain.
  CopyToField(out.local, sizeof(out.local), AddressOf(d.fd, ::getsockname));
  CopyToField(out.peer, sizeof(out.peer), AddressOf(d.fd, ::getpeername));
  out.tx_records = d.tx_records;
  out.tx_bytes = d.tx_bytes;
  out.tx_wire_bytes = d.tx_wire_bytes;
  out.tx_pending_bytes = d.tx_pending_bytes;
  out.tx_errors = d.tx_errors;
  out.rx_records = d.rx_records;
  out.rx_bytes = d.rx_bytes;
  out.rx_wire_bytes = d.rx_wire_bytes;
  out.rx_bad_header = d.rx_bad_header;
  out.rx_bad_length = d.rx_bad_length;
  out.rx_bad_record = d.rx_bad_record;
  return out;
}

}  // namespace

size_t ListExportedSockets(std::span<ExportedSocket> out, uint32_t* total) {
  std::vector<std::pair<int, SocketDescription>> offloaded;
  std::unordered_set<const KtlsSocket*> seen;
  SocketTable::Get().ForEach([&](int fd, const std::shared_ptr<KtlsSocket>& socket) {
    if (!seen.insert(socket.get()).second) return;  // a dup of one listed already
    SocketDescription description = socket->Describe();
    // An entry whose enable failed, or a Linux socket with only the ULP attached.
    if (!description.tx.enabled && !description.rx.enabled) return;
    offloaded.emplace_back(fd, description);
  });
  // Addresses cost two system calls each: made after the table's lock is released.
  size_t written = 0;
  for (const auto& [fd, description] : offloaded) {
    if (written == out.size()) break;
    out[written++] = ToExported(fd, description);
  }
  *total = static_cast<uint32_t>(offloaded.size());
  return written;
}

}  // namespace ktls::socket
