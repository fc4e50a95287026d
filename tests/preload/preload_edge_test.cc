// Interposer edge cases in a process that has libktls-preload.so preloaded (ctest sets
// LD_PRELOAD and KTLS_PRELOAD_MODE=sw): plain libc calls on a TCP socket whose TLS 1.3
// keys were installed through the Linux kTLS ABI, checked on the peer socket with the
// independent reference record implementation (never with src/record).
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testlib/record_reference.h"
#include "testlib/tcp_pair.h"

namespace ktls::testing {
namespace {

constexpr uint8_t kData = 23;

std::vector<uint8_t> Bytes(const std::string& text) {
  return {text.begin(), text.end()};
}

std::vector<uint8_t> Pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> out(len);
  for (size_t i = 0; i < len; ++i) out[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
  return out;
}

// One direction's TLS 1.3 AES-128-GCM keys, as the peer's reference implementation
// and as the app's setsockopt see them.
struct Direction {
  ReferenceParams params;
  uint64_t seq = 0;

  explicit Direction(uint8_t seed) {
    params.cipher = RefCipher::kAes128Gcm;
    params.version = kRefTls13;
    params.key = Pattern(16, seed);
    params.iv = Pattern(12, static_cast<uint8_t>(seed + 100));
  }

  struct tls12_crypto_info_aes_gcm_128 CryptoInfo() const {
    struct tls12_crypto_info_aes_gcm_128 info = {};
    info.info.version = TLS_1_3_VERSION;
    info.info.cipher_type = TLS_CIPHER_AES_GCM_128;
    std::memcpy(info.key, params.key.data(), sizeof(info.key));
    std::memcpy(info.salt, params.iv.data(), sizeof(info.salt));
    std::memcpy(info.iv, params.iv.data() + sizeof(info.salt), sizeof(info.iv));
    return info;
  }
};

// A TCP pair whose client end (`app`) gets the emulated ULP; the server end (`peer`)
// stays plain and speaks records through the reference implementation.
class Connection {
 public:
  Connection() : app(pair_.client), peer(pair_.server) {}

  void Offload(bool tx, bool rx) {
    ASSERT_EQ(setsockopt(app, SOL_TCP, TCP_ULP, "tls", 4), 0) << std::strerror(errno);
    if (tx) {
      const auto info = to_peer_.CryptoInfo();
      ASSERT_EQ(setsockopt(app, SOL_TLS, TLS_TX, &info, sizeof(info)), 0) << std::strerror(errno);
    }
    if (rx) {
      const auto info = from_peer_.CryptoInfo();
      ASSERT_EQ(setsockopt(app, SOL_TLS, TLS_RX, &info, sizeof(info)), 0) << std::strerror(errno);
    }
  }

  // The next record the app sent, opened; empty with `eof` set at the end of stream.
  std::vector<uint8_t> PeerRead(bool* eof = nullptr, int timeout_ms = 10000) {
    const std::vector<uint8_t> record = ReadRawRecord(peer, timeout_ms);
    if (eof != nullptr) *eof = record.empty();
    if (record.empty()) return {};
    const ReferenceOpened opened = ReferenceOpen(to_peer_.params, to_peer_.seq++, record);
    EXPECT_TRUE(opened.ok()) << ReferenceErrorName(opened.error);
    EXPECT_EQ(opened.type, kData);
    return opened.payload;
  }

  // A record from the peer to the app (sealed, not sent).
  std::vector<uint8_t> PeerSeal(const std::vector<uint8_t>& payload) {
    return ReferenceSeal(from_peer_.params, from_peer_.seq++, kData, payload);
  }
  void PeerSend(const std::vector<uint8_t>& bytes) {
    ASSERT_TRUE(WriteAll(peer, bytes.data(), bytes.size()));
  }

  // The app closed (or replaced) its number itself.
  void Forget(int fd) { pair_.Release(fd); }

  // Bytes the kernel holds for the app (what our read-ahead has not taken yet).
  int KernelQueued() const {
    int queued = -1;
    ioctl(app, FIONREAD, &queued);
    return queued;
  }

 private:
  TcpPair pair_;
  Direction to_peer_{1};
  Direction from_peer_{2};

 public:
  const int app;
  const int peer;
};

std::string ReadString(int fd, size_t max) {
  std::string out(max, '\0');
  const ssize_t n = read(fd, out.data(), out.size());
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

std::string AsString(const std::vector<uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

TEST(PreloadTest, InterposerHandlesTheUlp) {
  Connection c;
  c.Offload(true, true);
  char name[16] = {};
  socklen_t len = sizeof(name);
  ASSERT_EQ(getsockopt(c.app, SOL_TCP, TCP_ULP, name, &len), 0);
  EXPECT_STREQ(name, "tls");
  // A second attach fails like the kernel's.
  EXPECT_EQ(setsockopt(c.app, SOL_TCP, TCP_ULP, "tls", 4), -1);
  EXPECT_EQ(errno, EEXIST);
}

TEST(PreloadTest, WriteAndReadGoThroughRecords) {
  Connection c;
  c.Offload(true, true);
  ASSERT_EQ(write(c.app, "hello", 5), 5);
  EXPECT_EQ(AsString(c.PeerRead()), "hello");
  c.PeerSend(c.PeerSeal(Bytes("world")));
  EXPECT_EQ(ReadString(c.app, 64), "world");
}

TEST(PreloadTest, ConnectUnspecIsRefused) {
  Connection c;
  c.Offload(true, false);
  struct sockaddr addr = {};
  addr.sa_family = AF_UNSPEC;
  EXPECT_EQ(connect(c.app, &addr, sizeof(addr)), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
}

// dup, F_DUPFD_CLOEXEC and dup2 give numbers for the same TLS connection; closing
// one leaves the others working, and closing the last ends the connection.
TEST(PreloadTest, DuplicatesShareTheConnection) {
  Connection c;
  c.Offload(true, true);
  const int b = dup(c.app);
  const int d = fcntl(c.app, F_DUPFD_CLOEXEC, 100);
  const int e = dup2(c.app, 200);
  ASSERT_GE(b, 0);
  ASSERT_GE(d, 100);
  ASSERT_EQ(e, 200);

  ASSERT_EQ(write(b, "one", 3), 3);
  ASSERT_EQ(send(d, "two", 3, 0), 3);
  EXPECT_EQ(AsString(c.PeerRead()), "one");
  EXPECT_EQ(AsString(c.PeerRead()), "two");

  // The number the socket layer used goes away: the others carry on.
  ASSERT_EQ(close(c.app), 0);
  c.Forget(c.app);
  ASSERT_EQ(write(e, "three", 5), 5);
  EXPECT_EQ(AsString(c.PeerRead()), "three");
  c.PeerSend(c.PeerSeal(Bytes("back")));
  EXPECT_EQ(ReadString(b, 64), "back");

  ASSERT_EQ(close(b), 0);
  ASSERT_EQ(close(d), 0);
  ASSERT_EQ(write(e, "four", 4), 4);
  EXPECT_EQ(AsString(c.PeerRead()), "four");
  ASSERT_EQ(close(e), 0);
  bool eof = false;
  EXPECT_TRUE(c.PeerRead(&eof).empty());
  EXPECT_TRUE(eof);
}

// dup2 onto an emulated number closes that connection (queued records first) and
// makes the number a plain descriptor again.
TEST(PreloadTest, Dup2OntoAnEmulatedNumberReplacesIt) {
  Connection c;
  c.Offload(true, false);
  ASSERT_EQ(write(c.app, "last", 4), 4);
  TcpPair plain;
  ASSERT_EQ(dup2(plain.client, c.app), c.app);
  c.Forget(c.app);
  ASSERT_EQ(write(c.app, "clear", 5), 5);
  char got[5] = {};
  ASSERT_TRUE(ReadExactly(plain.server, reinterpret_cast<uint8_t*>(got), 5));
  EXPECT_EQ(std::string(got, 5), "clear");
  EXPECT_EQ(AsString(c.PeerRead()), "last");
  bool eof = false;
  c.PeerRead(&eof);
  EXPECT_TRUE(eof);
  close(c.app);
}

// Fills the kernel and our queue (the peer does not read), then returns how many
// plaintext bytes the app's non-blocking writes had accepted.
size_t FillUntilFull(Connection& c) {
  // Small enough to fill quickly, not so small that window updates crawl.
  int send_buffer = 16384;
  int receive_buffer = 65536;
  setsockopt(c.app, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof(send_buffer));
  setsockopt(c.peer, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  SetNonBlocking(c.app, true);
  const std::vector<uint8_t> chunk = Pattern(16384, 9);
  size_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    const ssize_t n = write(c.app, chunk.data(), chunk.size());
    if (n < 0) {
      EXPECT_EQ(errno, EAGAIN);
      break;
    }
    total += static_cast<size_t>(n);
  }
  return total;
}

// Reads records until the end of stream; returns the plaintext byte count and checks
// the bytes against the pattern FillUntilFull wrote.
size_t DrainAll(Connection& c) {
  const std::vector<uint8_t> chunk = Pattern(16384, 9);
  size_t total = 0;
  for (;;) {
    bool eof = false;
    const std::vector<uint8_t> payload = c.PeerRead(&eof);
    if (eof) break;
    for (size_t i = 0; i < payload.size(); ++i) {
      if (payload[i] != chunk[(total + i) % chunk.size()]) {
        ADD_FAILURE() << "byte " << total + i << " differs";
        return total;
      }
    }
    total += payload.size();
  }
  return total;
}

TEST(PreloadTest, CloseWithQueuedRecordsStillDeliversThem) {
  Connection c;
  c.Offload(true, false);
  const size_t written = FillUntilFull(c);
  ASSERT_GT(written, 0u);
  ASSERT_EQ(close(c.app), 0);  // returns at once; the records go out afterwards
  c.Forget(c.app);
  EXPECT_EQ(DrainAll(c), written);
}

TEST(PreloadTest, CloseRangeWithQueuedRecordsStillDeliversThem) {
  Connection c;
  c.Offload(true, false);
  const size_t written = FillUntilFull(c);
  ASSERT_GT(written, 0u);
  const auto number = static_cast<unsigned int>(c.app);
  ASSERT_EQ(close_range(number, number, 0), 0);
  c.Forget(c.app);
  EXPECT_EQ(fcntl(c.app, F_GETFD), -1);  // the number itself is closed
  EXPECT_EQ(DrainAll(c), written);
}

// Half a record is never "readable": not for poll, ppoll, select or pselect.
TEST(PreloadTest, PollAndSelectNeverReportAPartialRecord) {
  Connection c;
  c.Offload(false, true);
  const std::vector<uint8_t> record = c.PeerSeal(Pattern(300, 3));
  c.PeerSend({record.begin(), record.begin() + 100});

  struct pollfd pfd = {c.app, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 200), 0);
  struct timespec ts = {0, 100000000};
  EXPECT_EQ(ppoll(&pfd, 1, &ts, nullptr), 0);
  fd_set set;
  FD_ZERO(&set);
  FD_SET(c.app, &set);
  struct timeval tv = {0, 100000};
  EXPECT_EQ(select(c.app + 1, &set, nullptr, nullptr, &tv), 0);
  FD_SET(c.app, &set);
  EXPECT_EQ(pselect(c.app + 1, &set, nullptr, nullptr, &ts, nullptr), 0);

  c.PeerSend({record.begin() + 100, record.end()});
  EXPECT_EQ(poll(&pfd, 1, 5000), 1);
  EXPECT_EQ(pfd.revents, POLLIN);
  FD_SET(c.app, &set);
  tv = {5, 0};
  EXPECT_EQ(select(c.app + 1, &set, nullptr, nullptr, &tv), 1);
  EXPECT_TRUE(FD_ISSET(c.app, &set));
  std::vector<uint8_t> got(400);
  EXPECT_EQ(read(c.app, got.data(), got.size()), 300);
}

// A program that polls but has not read yet: the record it was told about stays
// readable although the kernel's queue is empty (we took the ciphertext).
TEST(PreloadTest, PollKeepsReportingARecordNobodyRead) {
  Connection c;
  c.Offload(false, true);
  c.PeerSend(c.PeerSeal(Bytes("pending")));
  struct pollfd pfd = {c.app, POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 5000), 1);
  EXPECT_EQ(c.KernelQueued(), 0);
  for (int i = 0; i < 3; ++i) {
    pfd.revents = 0;
    EXPECT_EQ(poll(&pfd, 1, 0), 1);
    EXPECT_EQ(pfd.revents, POLLIN);
  }
  EXPECT_EQ(ReadString(c.app, 64), "pending");
  EXPECT_EQ(poll(&pfd, 1, 100), 0);
}

TEST(PreloadTest, EpollLevelTriggered) {
  Connection c;
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(epfd, 0);
  // Registered before kTLS is on, as servers do at accept time.
  struct epoll_event event = {};
  event.events = EPOLLIN;
  event.data.u64 = 0x1234;
  ASSERT_EQ(epoll_ctl(epfd, EPOLL_CTL_ADD, c.app, &event), 0);
  c.Offload(false, true);

  const std::vector<uint8_t> record = c.PeerSeal(Pattern(100, 5));
  c.PeerSend({record.begin(), record.begin() + 30});
  struct epoll_event got[4] = {};
  EXPECT_EQ(epoll_wait(epfd, got, 4, 200), 0);
  c.PeerSend({record.begin() + 30, record.end()});
  ASSERT_EQ(epoll_wait(epfd, got, 4, 5000), 1);
  EXPECT_EQ(got[0].data.u64, 0x1234u);
  EXPECT_EQ(got[0].events, static_cast<uint32_t>(EPOLLIN));

  // Part of the record read: the rest is ours to hold, and still readable.
  char part[10];
  ASSERT_EQ(read(c.app, part, sizeof(part)), 10);
  EXPECT_EQ(c.KernelQueued(), 0);
  ASSERT_EQ(epoll_wait(epfd, got, 4, 0), 1);
  EXPECT_EQ(got[0].data.u64, 0x1234u);
  std::vector<uint8_t> rest(200);
  EXPECT_EQ(read(c.app, rest.data(), rest.size()), 90);
  EXPECT_EQ(epoll_wait(epfd, got, 4, 100), 0);
  close(epfd);
}

TEST(PreloadTest, EpollEdgeTriggeredNonBlocking) {
  Connection c;
  c.Offload(false, true);
  SetNonBlocking(c.app, true);
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event event = {};
  event.events = EPOLLIN | EPOLLET;
  event.data.fd = c.app;
  ASSERT_EQ(epoll_ctl(epfd, EPOLL_CTL_ADD, c.app, &event), 0);

  std::vector<uint8_t> two = c.PeerSeal(Pattern(1000, 1));
  const std::vector<uint8_t> second = c.PeerSeal(Pattern(2000, 2));
  two.insert(two.end(), second.begin(), second.end());
  c.PeerSend(two);
  struct epoll_event got[4] = {};
  ASSERT_EQ(epoll_wait(epfd, got, 4, 5000), 1);
  EXPECT_EQ(got[0].data.fd, c.app);
  EXPECT_EQ(epoll_wait(epfd, got, 4, 100), 0);  // no new edge
  size_t total = 0;
  std::vector<uint8_t> buffer(512);
  for (;;) {
    const ssize_t n = read(c.app, buffer.data(), buffer.size());
    if (n < 0) {
      EXPECT_EQ(errno, EAGAIN);
      break;
    }
    total += static_cast<size_t>(n);
  }
  EXPECT_EQ(total, 3000u);

  const std::vector<uint8_t> record = c.PeerSeal(Pattern(500, 3));
  c.PeerSend({record.begin(), record.begin() + 200});
  EXPECT_EQ(epoll_wait(epfd, got, 4, 200), 0);
  char byte;
  EXPECT_EQ(read(c.app, &byte, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
  c.PeerSend({record.begin() + 200, record.end()});
  ASSERT_EQ(epoll_wait(epfd, got, 4, 5000), 1);
  EXPECT_EQ(read(c.app, buffer.data(), buffer.size()), 500);
  close(epfd);
}

// A one-shot registration the kernel fired for half a record is re-armed: the rest
// of the record must still wake the application.
TEST(PreloadTest, EpollOneShotSurvivesAPartialRecord) {
  Connection c;
  c.Offload(false, true);
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event event = {};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.u64 = 7;
  ASSERT_EQ(epoll_ctl(epfd, EPOLL_CTL_ADD, c.app, &event), 0);
  const std::vector<uint8_t> record = c.PeerSeal(Pattern(100, 4));
  c.PeerSend({record.begin(), record.begin() + 50});
  struct epoll_event got[2] = {};
  EXPECT_EQ(epoll_wait(epfd, got, 2, 200), 0);
  c.PeerSend({record.begin() + 50, record.end()});
  ASSERT_EQ(epoll_wait(epfd, got, 2, 5000), 1);
  EXPECT_EQ(got[0].data.u64, 7u);
  // Fired: nothing more until EPOLL_CTL_MOD, although the record is still unread.
  EXPECT_EQ(epoll_wait(epfd, got, 2, 100), 0);
  ASSERT_EQ(epoll_ctl(epfd, EPOLL_CTL_MOD, c.app, &event), 0);
  EXPECT_EQ(epoll_wait(epfd, got, 2, 1000), 1);
  close(epfd);
}

// fork: the child inherits the connection and may use it (the parent no longer
// writes to it; two writers would repeat sequence numbers).
TEST(PreloadTest, ForkedChildWritesThroughTheInheritedSocket) {
  Connection c;
  c.Offload(true, false);
  ASSERT_EQ(write(c.app, "parent", 6), 6);
  EXPECT_EQ(AsString(c.PeerRead()), "parent");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) std::exit(write(c.app, "child", 5) == 5 ? 0 : 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(AsString(c.PeerRead()), "child");
}

// Records the parent had queued at fork time are sent once, by the parent: a child
// that closes its copy and exits sends none of them.
TEST(PreloadTest, ForkedChildLeavesTheParentsQueueAlone) {
  Connection c;
  c.Offload(true, false);
  const size_t written = FillUntilFull(c);
  ASSERT_GT(written, 0u);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(c.app);
    std::exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(close(c.app), 0);
  c.Forget(c.app);
  EXPECT_EQ(DrainAll(c), written);
}

TEST(PreloadTest, RawSyscallWriteBecomesARecord) {
  Connection c;
  c.Offload(true, false);
  ASSERT_EQ(syscall(SYS_write, c.app, "raw", 3), 3);
  EXPECT_EQ(AsString(c.PeerRead()), "raw");
}

TEST(PreloadTest, IoUringIsRefusedOnceASocketIsEmulated) {
  Connection c;
  c.Offload(true, false);
  struct io_uring_params params = {};
  EXPECT_EQ(syscall(SYS_io_uring_setup, 4, &params), -1);
  EXPECT_EQ(errno, ENOSYS);
}

TEST(PreloadTest, SpliceFromAPipeBecomesRecords) {
  Connection c;
  c.Offload(true, false);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  ASSERT_EQ(write(pipe_fds[1], "spliced", 7), 7);
  EXPECT_EQ(splice(pipe_fds[0], nullptr, c.app, nullptr, 7, 0), 7);
  EXPECT_EQ(AsString(c.PeerRead()), "spliced");
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

TEST(PreloadTest, SpliceIntoAPipeCarriesPlaintext) {
  Connection c;
  c.Offload(false, true);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  c.PeerSend(c.PeerSeal(Bytes("to the pipe")));
  EXPECT_EQ(splice(c.app, nullptr, pipe_fds[1], nullptr, 100, 0), 11);
  EXPECT_EQ(ReadString(pipe_fds[0], 100), "to the pipe");
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

TEST(PreloadTest, SendfileBecomesMaximumSizeRecords) {
  Connection c;
  c.Offload(true, false);
  char path[] = "/tmp/ktls-preload-sendfile.XXXXXX";
  const int file = mkstemp(path);
  ASSERT_GE(file, 0);
  unlink(path);
  const std::vector<uint8_t> content = Pattern(40000, 8);
  ASSERT_EQ(write(file, content.data(), content.size()), 40000);
  off_t offset = 0;
  EXPECT_EQ(sendfile(c.app, file, &offset, content.size()), 40000);
  EXPECT_EQ(offset, 40000);
  std::vector<uint8_t> got;
  while (got.size() < content.size()) {
    const std::vector<uint8_t> payload = c.PeerRead();
    ASSERT_FALSE(payload.empty());
    EXPECT_LE(payload.size(), 16384u);
    got.insert(got.end(), payload.begin(), payload.end());
  }
  EXPECT_EQ(got, content);
  close(file);
}

TEST(PreloadTest, VectoredAndBatchedCallsBecomeRecords) {
  Connection c;
  c.Offload(true, true);
  char a[] = "vec";
  char b[] = "tor";
  struct iovec iov[2] = {{a, 3}, {b, 3}};
  ASSERT_EQ(writev(c.app, iov, 2), 6);
  EXPECT_EQ(AsString(c.PeerRead()), "vector");
  struct iovec one = {a, 3};
  struct iovec two = {b, 3};
  struct mmsghdr msgs[2] = {};
  msgs[0].msg_hdr.msg_iov = &one;
  msgs[0].msg_hdr.msg_iovlen = 1;
  msgs[1].msg_hdr.msg_iov = &two;
  msgs[1].msg_hdr.msg_iovlen = 1;
  ASSERT_EQ(sendmmsg(c.app, msgs, 2, 0), 2);
  EXPECT_EQ(AsString(c.PeerRead()), "vec");
  EXPECT_EQ(AsString(c.PeerRead()), "tor");
  c.PeerSend(c.PeerSeal(Bytes("abcdef")));
  char x[3];
  char y[10];
  struct iovec in[2] = {{x, 3}, {y, 10}};
  ASSERT_EQ(readv(c.app, in, 2), 6);
  EXPECT_EQ(std::string(x, 3) + std::string(y, 3), "abcdef");
}

}  // namespace
}  // namespace ktls::testing

// The fortified entry points (what _FORTIFY_SOURCE builds call) take the same path.
extern "C" ssize_t __read_chk(int fd, void* buf, size_t len, size_t buf_len);
extern "C" ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buf_len, int flags);
extern "C" int __poll_chk(struct pollfd* fds, nfds_t nfds, int timeout, size_t fds_len);

namespace ktls::testing {
namespace {

TEST(PreloadTest, FortifiedVariantsGoThroughRecords) {
  Connection c;
  c.Offload(false, true);
  c.PeerSend(c.PeerSeal(Bytes("fortified")));
  struct pollfd pfd = {c.app, POLLIN, 0};
  EXPECT_EQ(__poll_chk(&pfd, 1, 5000, sizeof(pfd)), 1);
  char buf[32] = {};
  EXPECT_EQ(__read_chk(c.app, buf, 4, sizeof(buf)), 4);
  EXPECT_EQ(__recv_chk(c.app, buf + 4, 20, sizeof(buf) - 4, 0), 5);
  EXPECT_STREQ(buf, "fortified");
}

}  // namespace
}  // namespace ktls::testing
