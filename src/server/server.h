// `ktls serve` as a library: an HTTPS/1.1 static file server whose TLS records are
// sealed and opened by ktls. OpenSSL does the handshakes; the keys then go to the
// socket layer through the FreeBSD API (TCP_TXTLS_ENABLE / TCP_RXTLS_ENABLE), requests
// come in through ktls_recvmsg, heads go out with ktls_write and files with
// ktls_sendfile. One event loop per thread, each with its own SO_REUSEPORT listener.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "server/connection.h"
#include "server/document_root.h"
#include "server/event_loop.h"
#include "server/listen_address.h"
#include "server/server_stats.h"
#include "server/tls_context.h"

namespace ktls::server {

struct ServerOptions {
  std::string root;  // the directory to publish
  ListenAddress listen;
  int threads = 1;
  TlsOptions tls;
  RequestLimits limits;
  // Handshake and request heads must complete within this; idle keep-alive
  // connections and stalled responses are closed after it.
  Clock::duration idle_timeout = std::chrono::seconds(15);
  // After Stop(): how long responses in flight may take to finish.
  Clock::duration shutdown_timeout = std::chrono::seconds(10);
  bool access_log = false;  // one line per response on stderr
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stops (without grace) and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the certificate, opens the root and the listeners, starts the loops. On
  // failure `error` says what failed. Ignores SIGPIPE for the whole process: a peer
  // that goes away must cost a connection, not the server.
  Status Start(std::string* error);
  // The bound address, with the port the kernel chose for port 0.
  const ListenAddress& address() const { return address_; }
  const DocumentRoot& root() const { return *root_; }
  // Thread-safe, returns at once: stop accepting, close idle connections, finish
  // responses in flight until the shutdown timeout.
  void Stop();
  // Returns when every loop has finished.
  void Wait();
  const ServerStats& stats() const { return stats_; }

 private:
  ServerOptions options_;
  ListenAddress address_;
  SslCtxPtr ctx_;
  std::unique_ptr<DocumentRoot> root_;
  ConnectionConfig config_;
  ServerStats stats_;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace ktls::server
