// The C API (include/ktls/freebsd.h) at the ends of a socket's and a process's life, for
// programs that link the library directly (the interposer wraps close(2) and exit
// itself): a descriptor closed with close(2) instead of ktls_close whose number a new
// socket then gets, and a program that returns from main with records still queued.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ktls/freebsd.h"
#include "socket/exit_pattern.h"
#include "socket/socket_table.h"
#include "socket/socket_test_util.h"
#include "testlib/tcp_pair.h"
#include "testlib/tls_enable_builder.h"

namespace ktls::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

FreeBsdSuite Aes128Gcm13() {
  for (const FreeBsdSuite& suite : Tls13Suites()) {
    if (suite.name == "aes128_gcm_1_3") return suite;
  }
  ADD_FAILURE() << "no aes128_gcm_1_3";
  return Tls13Suites().front();
}

int EnableTx(int fd, const TlsEnableBuilder& session) {
  return ktls_setsockopt(fd, IPPROTO_TCP, TCP_TXTLS_ENABLE, &session.get(),
                         sizeof(struct tls_enable));
}

int TxMode(int fd) {
  int mode = -1;
  socklen_t len = sizeof(mode);
  if (ktls_getsockopt(fd, IPPROTO_TCP, TCP_TXTLS_MODE, &mode, &len) != 0) return -errno;
  return mode;
}

// A loopback listener; Connect() gives the accepted side of a connection from `fd`.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr_.sin_family = AF_INET;
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr_);
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_)) == 0 &&
          listen(fd_, 1) == 0 && getsockname(fd_, reinterpret_cast<sockaddr*>(&addr_), &len) == 0;
  }
  ~Listener() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return ok_; }
  int Connect(int fd) {
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_)) != 0) return -1;
    return accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }

 private:
  int fd_ = -1;
  sockaddr_in addr_ = {};
  bool ok_ = false;
};

// close(2) instead of ktls_close leaves the socket table's entry behind. The next socket
// that gets the number must behave as a socket without offload: plaintext through
// ktls_write, TCP_TLS_MODE_NONE, and a fresh enable of its own.
TEST(PlainClose, NumberReusedByANewSocketIsNotOffloaded) {
  Listener listener;
  ASSERT_TRUE(listener.ok());
  int number = -1;
  {
    TcpPair old;
    TlsEnableBuilder session(Aes128Gcm13());
    ASSERT_EQ(EnableTx(old.client, session), 0);
    ASSERT_EQ(TxMode(old.client), TCP_TLS_MODE_SW);
    const char hello[] = "sealed";
    ASSERT_EQ(ktls_write(old.client, hello, sizeof(hello)), static_cast<ssize_t>(sizeof(hello)));
    number = old.client;
    ASSERT_EQ(close(number), 0);  // not ktls_close
    old.Release(number);
  }
  // The lowest free number, normally the one just closed; if something else took it,
  // move the new socket onto it: either way `number` now names another socket.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  if (fd != number) {
    ASSERT_EQ(dup2(fd, number), number);
    close(fd);
    fd = number;
  }
  const int peer = listener.Connect(fd);
  ASSERT_GE(peer, 0);

  EXPECT_EQ(TxMode(fd), TCP_TLS_MODE_NONE);
  const std::string plain = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(ktls_write(fd, plain.data(), plain.size()), static_cast<ssize_t>(plain.size()));
  std::string got(plain.size(), '\0');
  ASSERT_TRUE(ReadExactly(peer, reinterpret_cast<uint8_t*>(got.data()), got.size()));
  EXPECT_EQ(got, plain);
  EXPECT_EQ(socket::SocketTable::Get().Find(fd), nullptr);

  // The new socket gets a session of its own.
  TlsEnableBuilder session(Aes128Gcm13());
  ASSERT_EQ(EnableTx(fd, session), 0);
  EXPECT_EQ(TxMode(fd), TCP_TLS_MODE_SW);
  const char body[] = "record";
  ASSERT_EQ(ktls_write(fd, body, sizeof(body)), static_cast<ssize_t>(sizeof(body)));
  ReferenceStreamReader reader(peer, session);
  ReferenceOpened record;
  ASSERT_EQ(reader.Next(&record, Clock::now() + 10s), ReferenceStreamReader::Status::kRecord)
      << reader.error();
  EXPECT_EQ(std::string(record.payload.begin(), record.payload.end()),
            std::string(body, sizeof(body)));
  EXPECT_EQ(ktls_close(fd), 0);
  close(peer);
}

// Records still queued when the application closed the descriptor with close(2) can no
// longer be sent; above all the flusher, which retries queues on its own once a second,
// must not push them into the socket that gets the number next.
TEST(PlainClose, QueuedRecordsNeverReachTheNextSocketOnTheNumber) {
  Listener listener;
  ASSERT_TRUE(listener.ok());
  int number = -1;
  {
    TcpPair old;
    SetSmallBuffers(old.client, 16 * 1024);
    SetSmallBuffers(old.server, 16 * 1024);
    TlsEnableBuilder session(Aes128Gcm13());
    ASSERT_EQ(EnableTx(old.client, session), 0);
    SetNonBlocking(old.client, true);
    std::vector<uint8_t> chunk(64 * 1024, 'x');
    const auto deadline = Clock::now() + 10s;
    while (ktls_write(old.client, chunk.data(), chunk.size()) > 0) {
      ASSERT_LT(Clock::now(), deadline) << "the queue never filled";
    }
    ASSERT_EQ(errno, EAGAIN);
    number = old.client;
    ASSERT_EQ(close(number), 0);  // not ktls_close, records still queued
    old.Release(number);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  if (fd != number) {
    ASSERT_EQ(dup2(fd, number), number);
    close(fd);
    fd = number;
  }
  const int peer = listener.Connect(fd);
  ASSERT_GE(peer, 0);

  // Two of the flusher's one-second rounds without a ktls_ call on the number.
  struct pollfd pfd = {peer, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 2500), 0) << "bytes arrived that nobody wrote to this socket";
  const std::string plain = "first bytes";
  EXPECT_EQ(ktls_write(fd, plain.data(), plain.size()), static_cast<ssize_t>(plain.size()));
  std::string got(plain.size(), '\0');
  ASSERT_TRUE(ReadExactly(peer, reinterpret_cast<uint8_t*>(got.data()), got.size()));
  EXPECT_EQ(got, plain);
  EXPECT_EQ(ktls_close(fd), 0);
  close(peer);
}

// Reads one line from `fd` within `timeout`.
std::string ReadLine(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string line;
  while (line.empty() || line.back() != '\n') {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char c;
    if (read(fd, &c, 1) != 1) break;
    line += c;
  }
  return line;
}

// Waits for `pid` until `deadline`, then kills it; returns the wait status, or -1.
int Reap(pid_t pid, Clock::time_point deadline) {
  int status = 0;
  while (Clock::now() < deadline) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0) return -1;
    std::this_thread::sleep_for(10ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// exit_drain_helper links libktls.so, queues records on a non-blocking socket until
// ktls_write says EAGAIN, and returns from main while we are not reading. Exit must send
// every record it accepted: we read only once it has said how much that was.
TEST(ExitWithQueuedRecords, LibraryUserReturningFromMainSendsThemAll) {
  TcpPair pair;
  SetSmallBuffers(pair.server, 64 * 1024);
  TlsEnableBuilder session(Aes128Gcm13());
  int to_child[2];
  int from_child[2];
  ASSERT_EQ(pipe2(to_child, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(from_child, O_CLOEXEC), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Descriptor 3 is the socket; dup2 onto a number clears its close-on-exec flag.
    dup2(to_child[0], STDIN_FILENO);
    dup2(from_child[1], STDOUT_FILENO);
    if (pair.client == 3) {
      fcntl(3, F_SETFD, 0);
    } else {
      dup2(pair.client, 3);
    }
    execl(KTLS_EXIT_DRAIN_HELPER, KTLS_EXIT_DRAIN_HELPER, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  close(pair.client);  // the child's copy alone keeps the connection: EOF when it exits
  pair.Release(pair.client);
  const auto deadline = Clock::now() + 60s;

  const struct tls_enable& en = session.get();
  bool sent = WriteAll(to_child[1], reinterpret_cast<const uint8_t*>(&en), sizeof(en));
  sent = sent && WriteAll(to_child[1], en.cipher_key, static_cast<size_t>(en.cipher_key_len));
  sent = sent && WriteAll(to_child[1], en.iv, static_cast<size_t>(en.iv_len));
  if (en.auth_key_len > 0) {
    sent = sent && WriteAll(to_child[1], en.auth_key, static_cast<size_t>(en.auth_key_len));
  }
  close(to_child[1]);
  const std::string line = ReadLine(from_child[0], 30s);
  close(from_child[0]);
  unsigned long long accepted = 0;
  const bool said = std::sscanf(line.c_str(), "accepted %llu", &accepted) == 1;
  if (!sent || !said) {
    Reap(pid, Clock::now());
    FAIL() << "helper did not start: \"" << line << "\"";
  }
  // More than the kernel could hold (buffers of 16 and 64 KiB), so exit found a queue.
  EXPECT_GT(accepted, 512u * 1024);

  ReferenceStreamReader reader(pair.server, session);
  uint64_t received = 0;
  uint64_t first_wrong = UINT64_MAX;
  ReferenceStreamReader::Status status;
  ReferenceOpened record;
  while ((status = reader.Next(&record, deadline)) == ReferenceStreamReader::Status::kRecord) {
    for (size_t i = 0; i < record.payload.size() && first_wrong == UINT64_MAX; ++i) {
      if (record.payload[i] != ExitPatternByte(received + i)) first_wrong = received + i;
    }
    received += record.payload.size();
  }
  const int wait_status = Reap(pid, deadline);
  EXPECT_EQ(status, ReferenceStreamReader::Status::kEnd) << reader.error();
  EXPECT_EQ(received, accepted) << "records accepted before exit were lost";
  EXPECT_EQ(first_wrong, UINT64_MAX) << "payload differs at byte " << first_wrong;
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
      << "helper wait status " << wait_status;
}

}  // namespace
}  // namespace ktls::testing
