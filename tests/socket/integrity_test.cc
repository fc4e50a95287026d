// End-to-end integrity for every valid suite: N bytes of pseudo-random data through
// ktls_write (random sizes 1..1 MiB) and through ktls_sendfile (a temp file in random
// chunks, both offset forms), decrypted at the far end by our RX offload (ktls_recvmsg)
// or, where FreeBSD has no RX (TLS 1.0), by the independent reference; SHA-256 (OpenSSL
// EVP) on both ends must match.
//
// N comes from KTLS_INTEGRITY_BYTES, else KTLS_INTEGRITY_DEFAULT_BYTES (what the ctest
// entry sets for the unit run), else 1 GiB.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ktls/freebsd.h"
#include "socket/ktls_socket.h"
#include "socket/socket_table.h"
#include "socket/socket_test_util.h"
#include "testlib/tcp_pair.h"
#include "testlib/tls_enable_builder.h"

namespace ktls::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr size_t kMaxWrite = 1024 * 1024;
constexpr int kSocketTimeoutMs = 30000;

uint64_t EnvBytes(const char* name) {
  const char* value = getenv(name);
  if (value == nullptr || *value == '\0') return 0;
  return std::strtoull(value, nullptr, 0);
}

uint64_t IntegrityBytes() {
  static const uint64_t bytes = [] {
    if (const uint64_t n = EnvBytes("KTLS_INTEGRITY_BYTES"); n > 0) return n;
    if (const uint64_t n = EnvBytes("KTLS_INTEGRITY_DEFAULT_BYTES"); n > 0) return n;
    return kGiB;
  }();
  return bytes;
}

// Generous: a minute plus 8 MiB/s.
Clock::time_point RunDeadline() {
  return Clock::now() + 60s + std::chrono::seconds(IntegrityBytes() / (8 * 1024 * 1024));
}

// The sendfile source: IntegrityBytes() of stream data in an unlinked temp file, made
// once per process, with its SHA-256.
struct SourceFile {
  int fd = -1;
  std::string sha;
};

const SourceFile& Source() {
  static SourceFile file;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* dir = getenv("TMPDIR");
    std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/ktls-integrity-XXXXXX";
    file.fd = mkstemp(path.data());
    if (file.fd < 0) return;
    unlink(path.c_str());
    ByteStream bytes(0x1f11e);
    Sha256 hash;
    std::vector<uint8_t> buffer(kMaxWrite);
    for (uint64_t done = 0; done < IntegrityBytes();) {
      const size_t len =
          static_cast<size_t>(std::min<uint64_t>(buffer.size(), IntegrityBytes() - done));
      bytes.Fill(buffer.data(), len);
      hash.Update(buffer.data(), len);
      if (!WriteAll(file.fd, buffer.data(), len)) {
        close(file.fd);
        file.fd = -1;
        return;
      }
      done += len;
    }
    file.sha = hash.Finish();
  });
  return file;
}

struct SendOutcome {
  uint64_t bytes = 0;
  std::string sha;
  uint64_t records = 0;  // sequence numbers used
  std::string failure;
};

struct ReceiveOutcome {
  uint64_t bytes = 0;
  std::string sha;
  uint64_t records = 0;
  bool eof = false;
  std::string failure;
};

// ktls_write of N stream bytes in random sizes 1..1 MiB.
void SendByWrite(int fd, uint64_t seed, Clock::time_point deadline, SendOutcome* out) {
  ByteStream bytes(seed);
  ByteStream sizes(seed ^ 0x5a5a5a5a);
  Sha256 hash;
  std::vector<uint8_t> buffer(kMaxWrite);
  const uint64_t total = IntegrityBytes();
  while (out->bytes < total && out->failure.empty()) {
    const size_t len =
        static_cast<size_t>(std::min<uint64_t>(sizes.Uniform(1, kMaxWrite), total - out->bytes));
    bytes.Fill(buffer.data(), len);
    hash.Update(buffer.data(), len);
    for (size_t done = 0; done < len;) {
      const ssize_t n = ktls_write(fd, buffer.data() + done, len - done);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      const int error = n == 0 ? EIO : errno;
      if ((error == EINTR || error == EAGAIN) && Clock::now() < deadline) continue;
      out->failure = "ktls_write: " + std::string(std::strerror(error));
      break;
    }
    out->bytes += len;
  }
  out->sha = hash.Finish();
}

// ktls_sendfile of the whole source file in a random number of random chunks, each
// chunk with the offset-pointer form or the NULL-offset (file position) form.
void SendBySendfile(int fd, uint64_t seed, Clock::time_point deadline, SendOutcome* out) {
  const SourceFile& source = Source();
  const uint64_t total = IntegrityBytes();
  ByteStream rng(seed);
  const uint64_t chunks = rng.Uniform(1, std::min<uint64_t>(64, total));
  std::vector<uint64_t> cuts = {0, total};
  for (uint64_t i = 1; i < chunks; ++i) cuts.push_back(rng.Uniform(1, total - 1));
  std::sort(cuts.begin(), cuts.end());
  auto fail = [&](const std::string& what) {
    if (out->failure.empty()) out->failure = what;
  };
  for (size_t c = 0; c + 1 < cuts.size() && out->failure.empty(); ++c) {
    const auto start = static_cast<off_t>(cuts[c]);
    const auto end = static_cast<off_t>(cuts[c + 1]);
    if (start == end) continue;
    if (rng.Next64() & 1) {
      // Offset form: *offset advances by the count; the file position never moves.
      const auto position = static_cast<off_t>(rng.Uniform(0, total));
      lseek(source.fd, position, SEEK_SET);
      off_t offset = start;
      while (offset < end && out->failure.empty()) {
        const off_t before = offset;
        const ssize_t n = ktls_sendfile(fd, source.fd, &offset, static_cast<size_t>(end - offset));
        if (n <= 0) {
          const int error = n == 0 ? EIO : errno;
          if (n < 0 && (error == EINTR || error == EAGAIN) && Clock::now() < deadline) continue;
          fail("ktls_sendfile(offset): " + std::string(std::strerror(error)));
        } else if (offset != before + n) {
          fail("offset advanced by " + std::to_string(offset - before) + ", returned " +
               std::to_string(n));
        } else if (lseek(source.fd, 0, SEEK_CUR) != position) {
          fail("the offset form moved the file position");
        }
      }
    } else {
      // NULL form: reads from, and advances, the file position.
      lseek(source.fd, start, SEEK_SET);
      off_t position = start;
      while (position < end && out->failure.empty()) {
        const ssize_t n =
            ktls_sendfile(fd, source.fd, nullptr, static_cast<size_t>(end - position));
        if (n <= 0) {
          const int error = n == 0 ? EIO : errno;
          if (n < 0 && (error == EINTR || error == EAGAIN) && Clock::now() < deadline) continue;
          fail("ktls_sendfile(NULL): " + std::string(std::strerror(error)));
          break;
        }
        position += n;
        if (lseek(source.fd, 0, SEEK_CUR) != position) {
          fail("the NULL form did not advance the file position by the count");
        }
      }
    }
    out->bytes = static_cast<uint64_t>(end);
  }
  out->sha = source.sha;
}

// Our RX offload: one record per ktls_recvmsg, each announced by TLS_GET_RECORD.
void ReceiveByOffload(int fd, Clock::time_point deadline, ReceiveOutcome* out) {
  Sha256 hash;
  std::vector<uint8_t> buffer(64 * 1024);
  while (out->failure.empty()) {
    alignas(struct cmsghdr) uint8_t control[CMSG_SPACE(sizeof(struct tls_get_record))];
    struct iovec iov = {buffer.data(), buffer.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ktls_recvmsg(fd, &msg, 0);
    if (n < 0) {
      const int error = errno;
      if ((error == EINTR || error == EAGAIN) && Clock::now() < deadline) continue;
      out->failure = "ktls_recvmsg: " + std::string(std::strerror(error));
      break;
    }
    if (n == 0 && msg.msg_controllen == 0) {
      out->eof = true;
      break;
    }
    const struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == nullptr || cmsg->cmsg_type != TLS_GET_RECORD) {
      out->failure = "record without TLS_GET_RECORD";
      break;
    }
    struct tls_get_record info;
    std::memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
    if (info.tls_type != TLS_RLTYPE_APP || ntohs(info.tls_length) != n ||
        (msg.msg_flags & MSG_EOR) == 0) {
      out->failure = "bad record info";
      break;
    }
    hash.Update(buffer.data(), static_cast<size_t>(n));
    out->bytes += static_cast<uint64_t>(n);
    ++out->records;
  }
  out->sha = hash.Finish();
}

// The reference (for TLS 1.0, which FreeBSD cannot receive): the raw record stream.
void ReceiveByReference(int fd, const TlsEnableBuilder& session, Clock::time_point deadline,
                        ReceiveOutcome* out) {
  ReferenceStreamReader reader(fd, session);
  Sha256 hash;
  while (out->failure.empty()) {
    ReferenceOpened record;
    const auto status = reader.Next(&record, deadline);
    if (status == ReferenceStreamReader::Status::kEnd) {
      out->eof = true;
      break;
    }
    if (status == ReferenceStreamReader::Status::kError) {
      out->failure = reader.error();
      break;
    }
    if (record.type != TLS_RLTYPE_APP) out->failure = "non-application record";
    hash.Update(record.payload);
    out->bytes += record.payload.size();
  }
  out->records = reader.records();
  out->sha = hash.Finish();
}

bool HasRxOffload(const FreeBsdSuite& suite) {
  return suite.minor != TLS_MINOR_VER_ZERO;
}

enum class Path { kWrite, kSendfile };

struct IntegrityCase {
  FreeBsdSuite suite;
  Path path;
};

void PrintTo(const IntegrityCase& c, std::ostream* os) {
  *os << c.suite.name << (c.path == Path::kWrite ? "/write" : "/sendfile");
}

std::string CaseName(const ::testing::TestParamInfo<IntegrityCase>& info) {
  return info.param.suite.name + (info.param.path == Path::kWrite ? "_write" : "_sendfile");
}

std::vector<IntegrityCase> AllCases() {
  std::vector<IntegrityCase> cases;
  for (const FreeBsdSuite& suite : AllValidSuites()) {
    cases.push_back({suite, Path::kWrite});
    cases.push_back({suite, Path::kSendfile});
  }
  return cases;
}

class IntegrityTest : public ::testing::TestWithParam<IntegrityCase> {};

TEST_P(IntegrityTest, Sha256MatchesEndToEnd) {
  const IntegrityCase& param = GetParam();
  const uint64_t total = IntegrityBytes();
  if (param.path == Path::kSendfile) {
    ASSERT_GE(Source().fd, 0) << "temp file for sendfile";
  }

  TcpPair pair;
  const int client = pair.client;
  const int server = pair.server;
  SetSocketTimeouts(client, kSocketTimeoutMs, kSocketTimeoutMs);
  SetSocketTimeouts(server, kSocketTimeoutMs, kSocketTimeoutMs);
  TlsEnableBuilder session(param.suite);
  ASSERT_EQ(ktls_setsockopt(client, IPPROTO_TCP, TCP_TXTLS_ENABLE, &session.get(),
                            sizeof(struct tls_enable)),
            0)
      << std::strerror(errno);
  const bool offload = HasRxOffload(param.suite);
  if (offload) {
    ASSERT_EQ(ktls_setsockopt(server, IPPROTO_TCP, TCP_RXTLS_ENABLE, &session.get(),
                              sizeof(struct tls_enable)),
              0)
        << std::strerror(errno);
  }

  const auto start = Clock::now();
  const auto deadline = RunDeadline();
  uint64_t seed = 0;
  for (char ch : param.suite.name) seed = seed * 31 + static_cast<unsigned char>(ch);
  SendOutcome sent;
  ReceiveOutcome received;
  std::thread sender([&] {
    if (param.path == Path::kWrite) {
      SendByWrite(client, seed, deadline, &sent);
    } else {
      SendBySendfile(client, seed, deadline, &sent);
    }
    sent.records = socket::SocketTable::Get().Find(client)->tx_sequence() - session.sequence();
    ktls_close(client);  // queued records are still delivered, then the FIN
  });
  std::thread receiver([&] {
    if (offload) {
      ReceiveByOffload(server, deadline, &received);
    } else {
      ReceiveByReference(server, session, deadline, &received);
    }
    if (!received.failure.empty()) shutdown(server, SHUT_RDWR);  // unblock the sender
  });
  sender.join();
  receiver.join();
  pair.Release(client);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("[ integrity ] %s %s: %" PRIu64 " bytes, %" PRIu64
              " records in %.2f s (%.0f MiB/s)\n",
              param.suite.name.c_str(), param.path == Path::kWrite ? "write" : "sendfile", total,
              received.records, seconds, static_cast<double>(total) / (1024 * 1024) / seconds);
  if (offload) {
    EXPECT_EQ(socket::SocketTable::Get().Find(server)->rx_sequence() - session.sequence(),
              sent.records);
  }
  ktls_close(server);
  pair.Release(server);

  ASSERT_EQ(sent.failure, "");
  ASSERT_EQ(received.failure, "");
  EXPECT_TRUE(received.eof);
  EXPECT_EQ(sent.bytes, total);
  EXPECT_EQ(received.bytes, total);
  EXPECT_EQ(received.records, sent.records);
  EXPECT_EQ(received.sha, sent.sha);
}

INSTANTIATE_TEST_SUITE_P(AllSuites, IntegrityTest, ::testing::ValuesIn(AllCases()), CaseName);

}  // namespace
}  // namespace ktls::testing
