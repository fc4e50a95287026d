// "ADDR:PORT" for --listen: IPv4 ("127.0.0.1:8443"), bracketed IPv6 ("[::1]:8443"), or a
// host name resolved once at start-up ("localhost:8443"). Port 0 asks for an ephemeral
// port.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace ktls::server {

struct ListenAddress {
  struct sockaddr_storage addr = {};
  socklen_t len = 0;
};

// EINVAL for bad syntax or port, ENOENT for a name that does not resolve.
Result<ListenAddress> ParseListenAddress(std::string_view text);

uint16_t PortOf(const ListenAddress& address);
void SetPort(ListenAddress* address, uint16_t port);
// "127.0.0.1:8443" / "[::1]:8443"; the wildcard address prints as the loopback one,
// since that is what a local client would connect to.
std::string DialableAddress(const ListenAddress& address);

}  // namespace ktls::server
