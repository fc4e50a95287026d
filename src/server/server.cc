#include "server/server.h"

#include <signal.h>

#include <algorithm>
#include <cstring>

#include "server/listener.h"

namespace ktls::server {

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() {
  if (!threads_.empty()) {
    for (auto& loop : loops_) loop->Stop(Clock::now());
    Wait();
  }
}

Status Server::Start(std::string* error) {
  signal(SIGPIPE, SIG_IGN);
  Result<SslCtxPtr> ctx = MakeServerContext(options_.tls, error);
  if (!ctx.ok()) return ctx.status();
  ctx_ = std::move(ctx).value();

  Result<DocumentRoot> root = DocumentRoot::Open(options_.root);
  if (!root.ok()) {
    *error = "document root " + options_.root + ": " + std::strerror(root.error());
    return root.status();
  }
  root_ = std::make_unique<DocumentRoot>(std::move(root).value());

  config_.ssl_ctx = ctx_.get();
  config_.root = root_.get();
  config_.limits = options_.limits;
  config_.idle_timeout = options_.idle_timeout;
  config_.header_timeout = options_.idle_timeout;
  config_.linger_timeout =
      std::min<Clock::duration>(options_.idle_timeout, std::chrono::seconds(2));
  config_.access_log = options_.access_log;

  Result<ListenAddress> checked = CheckAddressFree(options_.listen);
  if (!checked.ok()) {
    *error =
        "listen on " + DialableAddress(options_.listen) + ": " + std::strerror(checked.error());
    return checked.status();
  }
  // Every loop's listener binds the same (now fixed) port.
  address_ = *checked;
  const int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) {
    Result<UniqueFd> listener = OpenListener(address_);
    if (!listener.ok()) {
      *error = "listen on " + DialableAddress(address_) + ": " + std::strerror(listener.error());
      return listener.status();
    }
    auto loop = std::make_unique<EventLoop>(std::move(listener).value(), config_, stats_);
    const Status ready = loop->Init();
    if (!ready.ok()) {
      *error = std::string("event loop: ") + std::strerror(ready.error());
      return ready;
    }
    loops_.push_back(std::move(loop));
  }
  for (auto& loop : loops_) threads_.emplace_back([raw = loop.get()] { raw->Run(); });
  return Status::Ok();
}

void Server::Stop() {
  const Clock::time_point deadline = Clock::now() + options_.shutdown_timeout;
  for (auto& loop : loops_) loop->Stop(deadline);
}

void Server::Wait() {
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

}  // namespace ktls::server
