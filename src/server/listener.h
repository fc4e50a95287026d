// Listening sockets. Every event loop has its own, bound to the same address with
// SO_REUSEPORT: the kernel spreads new connections over the loops, and no loop waits
// on another's accept (the usual layout of a CDN edge).
#pragma once

#include "base/result.h"
#include "server/listen_address.h"
#include "server/unique_fd.h"

namespace ktls::server {

// Checks that `address` is free by binding it once without SO_REUSEPORT: SO_REUSEPORT
// alone would let us share a port silently with another server of the same user.
// Returns `address`, with the port the kernel picked when it asked for port 0.
// EADDRINUSE, or the errno of socket/bind.
Result<ListenAddress> CheckAddressFree(const ListenAddress& address);

// A non-blocking listening socket on `address`. errno of socket/bind/listen.
Result<UniqueFd> OpenListener(const ListenAddress& address, int backlog = 1024);

// The address the socket is bound to (the ephemeral port after binding port 0).
Result<ListenAddress> BoundAddress(int fd);

}  // namespace ktls::server
