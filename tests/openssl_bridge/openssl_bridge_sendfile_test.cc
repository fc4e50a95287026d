// SSL_sendfile() on a bridged SSL where sendfile(2) reaches ktls, as under the LD_PRELOAD
// interposer: this executable defines sendfile() itself, so libssl's call binds to it
// (the linker exports it because libssl refers to it). The bridge then exposes the
// descriptor to SSL_get_wfd() and OpenSSL's own SSL_sendfile() goes through our engine.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "api/linux_abi.h"
#include "openssl/bridge.h"
#include "openssl_bridge/bridge_test_util.h"

namespace {
std::atomic<int> g_engine_sendfiles{0};
}  // namespace

// The interposer's sendfile(2): ours when the socket has keys, the kernel's otherwise.
extern "C" ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  const ssize_t result = ktls::api::linux_abi::Sendfile(out_fd, in_fd, offset, count);
  if (result == ktls::api::linux_abi::kNotHandled) {
    return syscall(SYS_sendfile, out_fd, in_fd, offset, count);
  }
  g_engine_sendfiles.fetch_add(1);
  if (result < 0) {
    errno = static_cast<int>(-result);
    return -1;
  }
  return result;
}

namespace ktls::testing {
namespace {

std::vector<uint8_t> MakeFile(int fd, size_t size) {
  std::vector<uint8_t> contents(size);
  for (size_t i = 0; i < size; ++i) contents[i] = static_cast<uint8_t>(i * 29 + (i >> 13));
  size_t done = 0;
  while (done < size) {
    const ssize_t n = write(fd, contents.data() + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return contents;
}

std::string VersionName(const ::testing::TestParamInfo<int>& info) {
  return info.param == TLS1_2_VERSION ? "Tls12" : "Tls13";
}

class SslSendfileTest : public ::testing::TestWithParam<int> {};

TEST_P(SslSendfileTest, GoesThroughTheEngine) {
  ASSERT_TRUE(openssl::SendfileReachesKtls());
  TlsConfig config;
  config.version = GetParam();
  std::unique_ptr<TlsPair> pair = ConnectTls(config);
  ASSERT_TRUE(pair->client && pair->server);
  ASSERT_EQ(BIO_get_ktls_send(SSL_get_wbio(pair->server.get())), 1);
  EXPECT_EQ(SSL_get_wfd(pair->server.get()), pair->tcp.server);

  char name[] = "/tmp/ktls-sslsendfile-XXXXXX";
  const int file = mkstemp(name);
  ASSERT_GE(file, 0);
  unlink(name);
  const std::vector<uint8_t> contents = MakeFile(file, 3 * 1024 * 1024 + 77);
  const int calls_before = g_engine_sendfiles.load();
  const uint64_t tx_before = CountersOf(pair->tcp.server).tx_bytes;

  std::vector<uint8_t> received(contents.size());
  bool read_ok = true;
  std::thread reader([&] {
    size_t done = 0;
    while (done < received.size()) {
      const int n = SSL_read(pair->client.get(), received.data() + done,
                             static_cast<int>(received.size() - done));
      if (n <= 0) {
        read_ok = false;
        return;
      }
      done += static_cast<size_t>(n);
    }
  });
  size_t sent = 0;
  while (sent < contents.size()) {
    const ossl_ssize_t n =
        SSL_sendfile(pair->server.get(), file, static_cast<off_t>(sent), contents.size() - sent, 0);
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
  }
  reader.join();
  close(file);
  ASSERT_TRUE(read_ok);
  EXPECT_EQ(received, contents);
  EXPECT_GT(g_engine_sendfiles.load(), calls_before);
  EXPECT_GE(CountersOf(pair->tcp.server).tx_bytes - tx_before, contents.size());
  EXPECT_TRUE(Exchange(pair->client.get(), pair->server.get(), 100000));
  ExpectCloseNotify(pair->client.get(), pair->server.get());
}

INSTANTIATE_TEST_SUITE_P(Versions, SslSendfileTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION), VersionName);

}  // namespace
}  // namespace ktls::testing
