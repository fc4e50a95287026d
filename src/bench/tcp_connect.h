// The blocking TCP connection of the benchmark's one-connection clients (the download
// client, the servers' readiness check). Connect, every send and every receive give up
// after a timeout, so a server that stops answering fails the call instead of hanging
// the benchmark.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"
#include "bench/socket_address.h"
#include "server/unique_fd.h"

namespace ktls::bench {

// A connected socket with SO_RCVTIMEO and SO_SNDTIMEO set to `timeout` (a read or write
// that waits that long fails with EAGAIN) and TCP_NODELAY. Errors: the connect's errno,
// ETIMEDOUT for a connect that took longer; `error` says where to.
Result<server::UniqueFd> ConnectTcp(const SocketAddress& address, std::chrono::milliseconds timeout,
                                    std::string* error);

}  // namespace ktls::bench
