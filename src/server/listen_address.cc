#include "server/listen_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "server/http_text.h"

namespace ktls::server {

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::Error(EINVAL);
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Status::Error(EINVAL);
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  const std::optional<uint64_t> port = ParseDecimal(port_text);
  if (!port || *port > 65535 || host.empty()) return Status::Error(EINVAL);

  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  struct addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return Status::Error(ENOENT);
  }
  ListenAddress address;
  std::memcpy(&address.addr, found->ai_addr, found->ai_addrlen);
  address.len = found->ai_addrlen;
  freeaddrinfo(found);
  SetPort(&address, static_cast<uint16_t>(*port));
  return address;
}

uint16_t PortOf(const ListenAddress& address) {
  if (address.addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const struct sockaddr_in6*>(&address.addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<const struct sockaddr_in*>(&address.addr)->sin_port);
}

void SetPort(ListenAddress* address, uint16_t port) {
  if (address->addr.ss_family == AF_INET6) {
    reinterpret_cast<struct sockaddr_in6*>(&address->addr)->sin6_port = htons(port);
  } else {
    reinterpret_cast<struct sockaddr_in*>(&address->addr)->sin_port = htons(port);
  }
}

std::string DialableAddress(const ListenAddress& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const std::string port = std::to_string(PortOf(address));
  if (address.addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(&address.addr);
    if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) return "[::1]:" + port;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return std::string("[") + text + "]:" + port;
  }
  const auto* in4 = reinterpret_cast<const struct sockaddr_in*>(&address.addr);
  if (in4->sin_addr.s_addr == htonl(INADDR_ANY)) return "127.0.0.1:" + port;
  inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
  return std::string(text) + ":" + port;
}

}  // namespace ktls::server
