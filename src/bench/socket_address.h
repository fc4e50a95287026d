// Where the benchmark's servers listen and its clients connect: a host (a numeric IPv4 or
// IPv6 address, or a name resolved once) and a TCP port, as a sockaddr for socket calls
// and as text for command lines. Built on `ktls serve`'s --listen parser, so the bench
// and the server it starts agree on what an address means.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "server/listen_address.h"

namespace ktls::bench {

// sockaddr_storage and its length; server::PortOf and server::DialableAddress read it.
using SocketAddress = server::ListenAddress;

// "127.0.0.1:8443", "[::1]:8443" or "localhost:8443": what `ktls serve --listen` and
// nginx's `listen` take, and what messages show.
std::string HostPort(const std::string& host, uint16_t port);

// EINVAL for an empty or malformed host, ENOENT for a name that does not resolve; `error`
// says which host.
Result<SocketAddress> ResolveAddress(const std::string& host, uint16_t port, std::string* error);

}  // namespace ktls::bench
