// A program that uses libktls.so the plain C way (api_lifecycle_test runs it): it
// enables TX on descriptor 3 with the struct tls_enable and keys read from stdin, makes
// the socket non-blocking with a small send buffer, writes the exit pattern with
// ktls_write until our queue is full (EAGAIN), prints "accepted N" on stdout and returns
// from main without ktls_close, leaving records queued for exit to send.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ktls/freebsd.h"
#include "socket/exit_pattern.h"

namespace {

constexpr int kSocket = 3;
constexpr size_t kMaxBytes = size_t{4} << 20;
constexpr size_t kWrite = 64 * 1024;

bool ReadAll(int fd, void* out, size_t len) {
  auto* p = static_cast<uint8_t*>(out);
  while (len > 0) {
    const ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

int Fail(const char* what) {
  std::fprintf(stderr, "exit_drain_helper: %s: %s\n", what, std::strerror(errno));
  return 2;
}

}  // namespace

int main() {
  // stdin: the struct (its pointers meaningless here), then the key, IV and MAC key.
  struct tls_enable en;
  if (!ReadAll(STDIN_FILENO, &en, sizeof(en))) return Fail("read tls_enable");
  std::vector<uint8_t> key(static_cast<size_t>(en.cipher_key_len));
  std::vector<uint8_t> iv(static_cast<size_t>(en.iv_len));
  std::vector<uint8_t> auth_key(static_cast<size_t>(en.auth_key_len));
  if (!ReadAll(STDIN_FILENO, key.data(), key.size()) ||
      !ReadAll(STDIN_FILENO, iv.data(), iv.size()) ||
      !ReadAll(STDIN_FILENO, auth_key.data(), auth_key.size())) {
    return Fail("read keys");
  }
  en.cipher_key = key.data();
  en.iv = iv.data();
  en.auth_key = auth_key.empty() ? nullptr : auth_key.data();

  const int sndbuf = 16 * 1024;
  if (setsockopt(kSocket, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) != 0) {
    return Fail("SO_SNDBUF");
  }
  if (ktls_setsockopt(kSocket, IPPROTO_TCP, TCP_TXTLS_ENABLE, &en, sizeof(en)) != 0) {
    return Fail("TCP_TXTLS_ENABLE");
  }
  const int flags = fcntl(kSocket, F_GETFL);
  if (flags < 0 || fcntl(kSocket, F_SETFL, flags | O_NONBLOCK) != 0) return Fail("O_NONBLOCK");

  std::vector<uint8_t> chunk(kWrite);
  size_t accepted = 0;
  while (accepted < kMaxBytes) {
    ktls::testing::FillExitPattern(accepted, chunk.data(), chunk.size());
    const ssize_t n = ktls_write(kSocket, chunk.data(), chunk.size());
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) return Fail("ktls_write");
    accepted += static_cast<size_t>(n);
  }
  std::printf("accepted %zu\n", accepted);
  std::fflush(stdout);
  return 0;  // no ktls_close: exit itself must send what is queued
}
