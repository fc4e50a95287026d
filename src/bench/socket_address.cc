#include "bench/socket_address.h"

#include <cerrno>

namespace ktls::bench {

std::string HostPort(const std::string& host, uint16_t port) {
  // Only an IPv6 literal has a colon, and it needs brackets to keep the port apart.
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<SocketAddress> ResolveAddress(const std::string& host, uint16_t port, std::string* error) {
  Result<SocketAddress> address = server::ParseListenAddress(HostPort(host, port));
  if (!address.ok()) {
    *error = (address.error() == ENOENT ? "cannot resolve '" : "not a host: '") + host + "'";
  }
  return address;
}

}  // namespace ktls::bench
