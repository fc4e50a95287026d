// A process for the control-plane tests: offloads both ends of a loopback TCP pair
// through the FreeBSD API (client TX, server RX, AES-128-GCM TLS 1.3), moves three
// 100-byte records, prints "ready <pid> <client fd> <server fd>" and then obeys
// commands on stdin, one per line:
//   cbc   try TCP_TXTLS_ENABLE with an AES-CBC suite on a fresh pair; prints
//         "cbc 0" or "cbc <ERRNO>" (ENOTSUP once kern.ipc.tls.cbc_enable is 0)
//   quit  exit normally (the export segment goes away at exit)
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "base/errno_name.h"
#include "ktls/freebsd.h"
#include "testlib/tcp_pair.h"
#include "testlib/tls_enable_builder.h"

namespace {

using ktls::testing::FreeBsdSuite;
using ktls::testing::TcpPair;
using ktls::testing::TlsEnableBuilder;

constexpr int kRecords = 3;
constexpr size_t kRecordBytes = 100;

int Enable(int fd, int option, const TlsEnableBuilder& builder) {
  const struct tls_enable& en = builder.get();
  return ktls_setsockopt(fd, IPPROTO_TCP, option, &en, sizeof(en)) == 0 ? 0 : errno;
}

[[noreturn]] void Die(const std::string& what, int error) {
  std::cerr << "export_helper: " << what << ": " << ktls::ErrnoName(error) << "\n";
  _exit(2);
}

std::string TryCbc() {
  TcpPair pair;
  const FreeBsdSuite suite = ktls::testing::AesCbcNonZeroSuites().front();
  TlsEnableBuilder builder(suite);
  const int error = Enable(pair.client, TCP_TXTLS_ENABLE, builder);
  // Leave no trace in `ktls stat`.
  ktls_close(pair.client);
  pair.Release(pair.client);
  if (error == ENOTSUP) return "ENOTSUP";  // Linux's EOPNOTSUPP, by FreeBSD's name
  return error == 0 ? "0" : ktls::ErrnoName(error);
}

}  // namespace

int main() {
  TcpPair pair;
  const FreeBsdSuite suite = ktls::testing::Tls13Suites().front();  // AES-128-GCM
  TlsEnableBuilder builder(suite, 0);
  if (const int error = Enable(pair.client, TCP_TXTLS_ENABLE, builder)) Die("TX enable", error);
  if (const int error = Enable(pair.server, TCP_RXTLS_ENABLE, builder)) Die("RX enable", error);

  const std::vector<uint8_t> payload(kRecordBytes, 'x');
  for (int i = 0; i < kRecords; ++i) {
    if (ktls_write(pair.client, payload.data(), payload.size()) !=
        static_cast<ssize_t>(payload.size())) {
      Die("write", errno);
    }
    std::vector<uint8_t> in(kRecordBytes);
    if (ktls_read(pair.server, in.data(), in.size()) != static_cast<ssize_t>(in.size())) {
      Die("read", errno);
    }
  }
  std::cout << "ready " << getpid() << " " << pair.client << " " << pair.server << std::endl;

  std::string command;
  while (std::getline(std::cin, command)) {
    if (command == "cbc") {
      std::cout << "cbc " << TryCbc() << std::endl;
    } else if (command == "quit") {
      break;
    } else {
      std::cout << "unknown " << command << std::endl;
    }
  }
  ktls_close(pair.client);
  ktls_close(pair.server);
  pair.Release(pair.client);
  pair.Release(pair.server);
  return 0;
}
