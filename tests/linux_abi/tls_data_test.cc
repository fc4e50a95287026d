// The `tls` fixture of Linux's selftest (linux-ktls.md §4.2), data path: send, recv,
// sendmsg, recvmsg, sendfile, MSG_MORE, peek, SO_RCVLOWAT, poll and threaded transfers.
// TX keys on `fd`, RX keys on `cfd`, over every (version, cipher) our engine runs.
#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ktls/freebsd.h"
#include "linux_abi/linux_abi_test_util.h"
#include "testlib/tcp_pair.h"

namespace ktls::linux_abi_test {
namespace {

class TlsTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    ASSERT_EQ(AttachUlp(fd()), 0);
    ASSERT_EQ(AttachUlp(cfd()), 0);
    ASSERT_EQ(SetTx(fd(), info_), 0);
    ASSERT_EQ(SetRx(cfd(), info_), 0);
  }

  int fd() const { return pair_.fd; }
  int cfd() const { return pair_.cfd; }

  // Receives exactly `len` bytes with one MSG_WAITALL recv and compares them.
  void ExpectReceive(ConstBytes expected) {
    std::vector<uint8_t> got(expected.size() + 1);
    ASSERT_EQ(Recv(cfd(), got.data(), expected.size(), MSG_WAITALL),
              static_cast<ssize_t>(expected.size()));
    got.resize(expected.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin()));
  }

  SocketPair pair_;
  CryptoInfo info_{GetParam().version, GetParam().cipher};
};

constexpr std::string_view kTestRead = std::string_view("test_read", 10);  // with its NUL

TEST_P(TlsTest, Sendfile) {
  const std::vector<uint8_t> content = Pattern(70000);
  const int file = TempFileWith(content);
  EXPECT_EQ(SendFile(fd(), file, nullptr, content.size()), static_cast<ssize_t>(content.size()));
  // Without an offset pointer the file position moves.
  EXPECT_EQ(lseek(file, 0, SEEK_CUR), static_cast<off_t>(content.size()));
  ExpectReceive(content);
  close(file);
}

TEST_P(TlsTest, SendThenSendfile) {
  const std::vector<uint8_t> content = Pattern(40000, 2);
  const int file = TempFileWith(content);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  off_t offset = 0;
  EXPECT_EQ(SendFile(fd(), file, &offset, content.size()), static_cast<ssize_t>(content.size()));
  // With an offset pointer the pointer moves and the file position does not.
  EXPECT_EQ(offset, static_cast<off_t>(content.size()));
  EXPECT_EQ(lseek(file, 0, SEEK_CUR), 0);
  std::vector<uint8_t> expected(kTestRead.begin(), kTestRead.end());
  expected.insert(expected.end(), content.begin(), content.end());
  ExpectReceive(expected);
  close(file);
}

TEST_P(TlsTest, MultiChunkSendfile) {
  for (const size_t file_size :
       {size_t{1}, size_t{4096}, size_t{16384}, size_t{16385}, size_t{65536 + 123}}) {
    for (const size_t chunk : {size_t{1000}, size_t{4096}, size_t{16384}, size_t{32768}}) {
      SCOPED_TRACE(::testing::Message() << "file " << file_size << " chunk " << chunk);
      const std::vector<uint8_t> content = Pattern(file_size, static_cast<uint32_t>(chunk));
      const int file = TempFileWith(content);
      off_t offset = 0;
      while (static_cast<size_t>(offset) < file_size) {
        const size_t want = std::min(chunk, file_size - static_cast<size_t>(offset));
        ASSERT_EQ(SendFile(fd(), file, &offset, want), static_cast<ssize_t>(want));
      }
      // Past the end of the file: nothing more, not an error.
      EXPECT_EQ(SendFile(fd(), file, &offset, chunk), 0);
      ExpectReceive(content);
      close(file);
      if (HasFailure()) return;
    }
  }
}

TEST_P(TlsTest, RecvMax) {
  const std::vector<uint8_t> data = Pattern(kMaxPayload);
  ASSERT_EQ(Send(fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  std::vector<uint8_t> got(kMaxPayload);
  // One record: a plain recv returns all of it.
  ASSERT_EQ(Recv(cfd(), got.data(), got.size()), static_cast<ssize_t>(kMaxPayload));
  EXPECT_EQ(got, data);
}

TEST_P(TlsTest, RecvSmall) {
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[10] = {};
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
}

TEST_P(TlsTest, MsgMore) {
  ASSERT_EQ(SendText(fd(), kTestRead, MSG_MORE), 10);
  char buf[20] = {};
  // The record is still open: the peer has nothing to read.
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_WAITALL), 20);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  EXPECT_EQ(std::string_view(buf + 10, 10), kTestRead);
}

TEST_P(TlsTest, CmsgMsgMore) {
  EXPECT_EQ(SendRecord(fd(), kControlType, kTestRead.data(), 10, MSG_MORE), -EINVAL);
  // Nothing was sent.
  char buf[10];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
}

TEST_P(TlsTest, MsgMoreThenCmsg) {
  ASSERT_EQ(SendText(fd(), kTestRead, MSG_MORE), 10);
  ASSERT_EQ(SendRecord(fd(), kControlType, "ctrl", 4), 4);
  char buf[64] = {};
  // The open data record went out first, on its own.
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), -EIO);
  int type = 0;
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf)), 4);
  EXPECT_EQ(type, kControlType);
  EXPECT_EQ(std::string_view(buf, 4), "ctrl");
}

TEST_P(TlsTest, MsgMoreUnsent) {
  ASSERT_EQ(SendText(fd(), kTestRead, MSG_MORE), 10);
  char buf[10];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
  EXPECT_EQ(Poll(cfd(), POLLIN, 20), 0);
}

TEST_P(TlsTest, MsgEor) {
  ASSERT_EQ(SendText(fd(), kTestRead, MSG_EOR), 10);
  char buf[10] = {};
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_WAITALL), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  // A record cannot be both continued and ended.
  EXPECT_EQ(SendText(fd(), kTestRead, MSG_MORE | MSG_EOR), -EINVAL);
}

TEST_P(TlsTest, SendFlagsOutsideTheListFail) {
  EXPECT_EQ(SendText(fd(), kTestRead, MSG_OOB), -EOPNOTSUPP);
  EXPECT_EQ(SendText(fd(), kTestRead, MSG_DONTWAIT | MSG_NOSIGNAL), 10);
  ExpectReceive(ConstBytes(reinterpret_cast<const uint8_t*>(kTestRead.data()), 10));
}

TEST_P(TlsTest, SendmsgSingle) {
  const std::string text = "test_sendmsg";
  struct iovec iov = {const_cast<char*>(text.data()), text.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ASSERT_EQ(SendMsg(fd(), &msg, 0), static_cast<ssize_t>(text.size()));
  char buf[32] = {};
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), static_cast<ssize_t>(text.size()));
  EXPECT_EQ(std::string_view(buf, text.size()), text);
}

TEST_P(TlsTest, SendmsgFragmented) {
  constexpr size_t kFragment = 13;
  for (size_t frags = 1; frags <= 64; ++frags) {
    const std::vector<uint8_t> data = Pattern(frags * kFragment, static_cast<uint32_t>(frags));
    std::vector<struct iovec> iov(frags);
    for (size_t i = 0; i < frags; ++i) {
      iov[i] = {const_cast<uint8_t*>(data.data() + i * kFragment), kFragment};
    }
    struct msghdr msg = {};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    ASSERT_EQ(SendMsg(fd(), &msg, 0), static_cast<ssize_t>(data.size()));
    ExpectReceive(data);
    if (HasFailure()) return;
  }
}

TEST_P(TlsTest, SendmsgLarge) {
  constexpr int kSends = 128;
  std::thread sender([&] {
    for (int i = 0; i < kSends; ++i) {
      const std::vector<uint8_t> data = Pattern(kMaxPayload, static_cast<uint32_t>(i));
      struct iovec iov = {const_cast<uint8_t*>(data.data()), data.size()};
      struct msghdr msg = {};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      if (SendMsg(fd(), &msg, 0) != static_cast<ssize_t>(kMaxPayload)) {
        ADD_FAILURE() << "sendmsg " << i;
        return;
      }
    }
  });
  std::vector<uint8_t> got(kMaxPayload);
  for (int i = 0; i < kSends; ++i) {
    ASSERT_EQ(Recv(cfd(), got.data(), got.size(), MSG_WAITALL), static_cast<ssize_t>(kMaxPayload));
    ASSERT_EQ(got, Pattern(kMaxPayload, static_cast<uint32_t>(i))) << i;
  }
  sender.join();
}

TEST_P(TlsTest, SendmsgMultiple) {
  const std::vector<std::string> parts = {"test_sendmsg_multiple", "hello", "a", "",
                                          std::string(300, 'x')};
  std::vector<struct iovec> iov;
  std::string all;
  for (const std::string& part : parts) {
    iov.push_back({const_cast<char*>(part.data()), part.size()});
    all += part;
  }
  struct msghdr msg = {};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  ASSERT_EQ(SendMsg(fd(), &msg, 0), static_cast<ssize_t>(all.size()));
  ExpectReceive(ConstBytes(reinterpret_cast<const uint8_t*>(all.data()), all.size()));
}

TEST_P(TlsTest, SendmsgMultipleStress) {
  constexpr size_t kIovs = 1024;
  constexpr size_t kEach = 21;
  const std::vector<uint8_t> data = Pattern(kIovs * kEach, 7);
  std::vector<struct iovec> iov(kIovs);
  for (size_t i = 0; i < kIovs; ++i) {
    iov[i] = {const_cast<uint8_t*>(data.data() + i * kEach), kEach};
  }
  struct msghdr msg = {};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  ASSERT_EQ(SendMsg(fd(), &msg, 0), static_cast<ssize_t>(data.size()));
  ExpectReceive(data);
}

TEST_P(TlsTest, RecvmsgSingle) {
  ASSERT_EQ(SendText(fd(), "hello world"), 11);
  char buf[11] = {};
  struct iovec iov = {buf, sizeof(buf)};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ASSERT_EQ(RecvMsg(cfd(), &msg, 0), 11);
  EXPECT_EQ(std::string_view(buf, 11), "hello world");
  // The whole record was consumed.
  EXPECT_NE(msg.msg_flags & MSG_EOR, 0);
}

TEST_P(TlsTest, RecvmsgSingleMax) {
  const std::vector<uint8_t> data = Pattern(kMaxPayload, 3);
  ASSERT_EQ(Send(fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  std::vector<uint8_t> got(kMaxPayload);
  struct iovec iov = {got.data(), got.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ASSERT_EQ(RecvMsg(cfd(), &msg, 0), static_cast<ssize_t>(kMaxPayload));
  EXPECT_EQ(got, data);
}

TEST_P(TlsTest, RecvmsgMultiple) {
  constexpr size_t kIovs = 1024;
  constexpr size_t kEach = 16;
  const std::vector<uint8_t> data = Pattern(kIovs * kEach, 4);
  ASSERT_EQ(Send(fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  std::vector<uint8_t> got(data.size());
  std::vector<struct iovec> iov(kIovs);
  for (size_t i = 0; i < kIovs; ++i) iov[i] = {got.data() + i * kEach, kEach};
  struct msghdr msg = {};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  ASSERT_EQ(RecvMsg(cfd(), &msg, MSG_WAITALL), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(got, data);
}

TEST_P(TlsTest, SingleSendMultipleRecv) {
  const std::vector<uint8_t> data = Pattern(2 * kMaxPayload, 5);
  ASSERT_EQ(Send(fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  std::vector<uint8_t> got(kMaxPayload);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(Recv(cfd(), got.data(), got.size()), static_cast<ssize_t>(kMaxPayload));
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + i * kMaxPayload));
  }
}

TEST_P(TlsTest, MultipleSendSingleRecv) {
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[20] = {};
  // Two records, one WAITALL read.
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_WAITALL), 20);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  EXPECT_EQ(std::string_view(buf + 10, 10), kTestRead);
}

TEST_P(TlsTest, SingleSendMultipleRecvNonAlign) {
  const std::string text = "test_read_nonal";  // 15 bytes
  ASSERT_EQ(SendText(fd(), text), 15);
  char buf[32] = {};
  ASSERT_EQ(Recv(cfd(), buf, 10), 10);
  ASSERT_EQ(Recv(cfd(), buf + 10, sizeof(buf) - 10), 5);
  EXPECT_EQ(std::string_view(buf, 15), text);
}

TEST_P(TlsTest, RecvPartial) {
  const std::string text = "test_read_partial";
  ASSERT_EQ(SendText(fd(), text), static_cast<ssize_t>(text.size()));
  char buf[32] = {};
  ASSERT_EQ(Recv(cfd(), buf, 8, MSG_WAITALL), 8);
  ASSERT_EQ(Recv(cfd(), buf + 8, text.size() - 8, MSG_WAITALL),
            static_cast<ssize_t>(text.size() - 8));
  EXPECT_EQ(std::string_view(buf, text.size()), text);
}

TEST_P(TlsTest, RecvNonblock) {
  char buf[16];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
  testing::SetNonBlocking(cfd(), true);
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), -EAGAIN);
}

TEST_P(TlsTest, RecvPeek) {
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[10] = {};
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  std::memset(buf, 0, sizeof(buf));
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
}

TEST_P(TlsTest, RecvPeekMultiple) {
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[10] = {};
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK), 10) << i;
  }
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
}

TEST_P(TlsTest, RecvPeekMultipleRecords) {
  const std::string first = "test_read_peek";
  const std::string second = "_mult_recs";
  const std::string all = first + second;
  ASSERT_EQ(SendText(fd(), first), static_cast<ssize_t>(first.size()));
  ASSERT_EQ(SendText(fd(), second), static_cast<ssize_t>(second.size()));
  char buf[64] = {};
  ASSERT_EQ(Recv(cfd(), buf, first.size(), MSG_PEEK), static_cast<ssize_t>(first.size()));
  EXPECT_EQ(std::string_view(buf, first.size()), first);
  ASSERT_EQ(Recv(cfd(), buf, all.size(), MSG_WAITALL), static_cast<ssize_t>(all.size()));
  EXPECT_EQ(std::string_view(buf, all.size()), all);

  // MSG_MORE makes one record of both sends: one peek sees all of it.
  ASSERT_EQ(SendText(fd(), first, MSG_MORE), static_cast<ssize_t>(first.size()));
  ASSERT_EQ(SendText(fd(), second), static_cast<ssize_t>(second.size()));
  std::memset(buf, 0, sizeof(buf));
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK), static_cast<ssize_t>(all.size()));
  EXPECT_EQ(std::string_view(buf, all.size()), all);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), static_cast<ssize_t>(all.size()));
}

TEST_P(TlsTest, RecvPeekLargeBufMultRecs) {
  const std::string first = "test_read_peek";
  const std::string second = "_mult_recs";
  const std::string all = first + second;
  ASSERT_EQ(SendText(fd(), first), static_cast<ssize_t>(first.size()));
  ASSERT_EQ(SendText(fd(), second), static_cast<ssize_t>(second.size()));
  char buf[64] = {};
  ASSERT_EQ(Recv(cfd(), buf, all.size(), MSG_PEEK | MSG_WAITALL), static_cast<ssize_t>(all.size()));
  EXPECT_EQ(std::string_view(buf, all.size()), all);
  std::memset(buf, 0, sizeof(buf));
  ASSERT_EQ(Recv(cfd(), buf, all.size(), MSG_WAITALL), static_cast<ssize_t>(all.size()));
  EXPECT_EQ(std::string_view(buf, all.size()), all);
}

// A WAITALL peek waits for its target like a WAITALL read (tls_sw_recvmsg's loop), even
// when the second record arrives later.
TEST_P(TlsTest, RecvPeekWaitallWaitsForLaterRecord) {
  const std::string first = "first_record";
  const std::string second = "second_record";
  ASSERT_EQ(SendText(fd(), first), static_cast<ssize_t>(first.size()));
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(SendText(fd(), second), static_cast<ssize_t>(second.size()));
  });
  char buf[64] = {};
  const size_t total = first.size() + second.size();
  EXPECT_EQ(Recv(cfd(), buf, total, MSG_PEEK | MSG_WAITALL), static_cast<ssize_t>(total));
  EXPECT_EQ(std::string_view(buf, total), first + second);
  late.join();
  ASSERT_EQ(Recv(cfd(), buf, total, MSG_WAITALL), static_cast<ssize_t>(total));
}

// The end of the stream ends a WAITALL peek too.
TEST_P(TlsTest, RecvPeekWaitallStopsAtEof) {
  ASSERT_EQ(SendText(fd(), "tail"), 4);
  ASSERT_EQ(Shutdown(fd(), SHUT_WR), 0);
  char buf[64] = {};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK | MSG_WAITALL), 4);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(kTimeoutMs / 2));
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_WAITALL), 4);
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), 0);
}

TEST_P(TlsTest, RecvLowat) {
  const char data[] = "abcdefghij";
  ASSERT_EQ(Send(fd(), data, 10), 10);
  ASSERT_EQ(Send(fd(), data, 5), 5);
  const int lowat = 8;
  ASSERT_EQ(SetOpt(cfd(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)), 0);
  char buf[20] = {};
  ASSERT_EQ(Recv(cfd(), buf, 1, MSG_WAITALL), 1);
  ASSERT_EQ(Recv(cfd(), buf + 1, 6), 6);
  // 3 bytes are left of the first record: the low-water mark pulls in the second.
  ASSERT_EQ(Recv(cfd(), buf + 7, 10), 8);
  EXPECT_EQ(std::string_view(buf, 15), "abcdefghijabcde");
}

// A blocking read below SO_RCVLOWAT waits for the next record instead of returning early.
TEST_P(TlsTest, RecvLowatWaitsForLaterRecord) {
  const int lowat = 8;
  ASSERT_EQ(SetOpt(cfd(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)), 0);
  ASSERT_EQ(SendText(fd(), "abcd"), 4);
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(SendText(fd(), "efghij"), 6);
  });
  char buf[20] = {};
  const ssize_t got = Recv(cfd(), buf, sizeof(buf));
  late.join();
  EXPECT_EQ(got, 10);
  EXPECT_EQ(std::string_view(buf, 10), "abcdefghij");
}

TEST_P(TlsTest, Bidir) {
  ASSERT_EQ(SetRx(fd(), info_), 0);
  ASSERT_EQ(SetTx(cfd(), info_), 0);
  char buf[10] = {};
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  std::memset(buf, 0, sizeof(buf));
  ASSERT_EQ(SendText(cfd(), kTestRead), 10);
  ASSERT_EQ(Recv(fd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
}

TEST_P(TlsTest, Pollin) {
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  short revents = 0;
  EXPECT_EQ(Poll(cfd(), POLLIN, kTimeoutMs, &revents), 1);
  EXPECT_NE(revents & POLLIN, 0);
  char buf[10];
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  // Nothing left: the poll times out.
  EXPECT_EQ(Poll(cfd(), POLLIN, 20), 0);
}

TEST_P(TlsTest, PollWait) {
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(SendText(fd(), kTestRead), 10);
  });
  short revents = 0;
  EXPECT_EQ(Poll(cfd(), POLLIN, kTimeoutMs, &revents), 1);
  EXPECT_NE(revents & POLLIN, 0);
  late.join();
  char buf[10];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
}

TEST_P(TlsTest, PollWaitSplit) {
  const std::vector<uint8_t> data = Pattern(20);
  ASSERT_EQ(Send(fd(), data.data(), data.size()), 20);
  char buf[20];
  ASSERT_EQ(Recv(cfd(), buf, 15), 15);
  // The kernel queue is empty; the rest of the record is still readable.
  short revents = 0;
  EXPECT_EQ(Poll(cfd(), POLLIN, 0, &revents), 1);
  EXPECT_NE(revents & POLLIN, 0);
  ASSERT_EQ(Recv(cfd(), buf + 15, 5), 5);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), reinterpret_cast<uint8_t*>(buf)));
}

TEST_P(TlsTest, Blocking) {
  constexpr size_t kTotal = 100000;
  const std::vector<uint8_t> data = Pattern(kTotal, 9);
  std::thread sender([&] {
    size_t sent = 0;
    while (sent < kTotal) {
      const size_t chunk = std::min<size_t>(kTotal - sent, 7000);
      const ssize_t n = Send(fd(), data.data() + sent, chunk);
      if (n <= 0) {
        ADD_FAILURE() << "send: " << n;
        return;
      }
      sent += static_cast<size_t>(n);
    }
  });
  std::vector<uint8_t> got(kTotal);
  size_t received = 0;
  while (received < kTotal) {
    const ssize_t n = Recv(cfd(), got.data() + received, kTotal - received);
    ASSERT_GT(n, 0) << "after " << received;
    received += static_cast<size_t>(n);
  }
  sender.join();
  EXPECT_EQ(got, data);
}

// Both ends non-blocking with a tiny SO_SNDBUF: each must see EAGAIN, and the stream
// still arrives whole.
TEST_P(TlsTest, Nonblocking) {
  const int small = 100;
  ASSERT_EQ(SetOpt(fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  testing::SetNonBlocking(fd(), true);
  testing::SetNonBlocking(cfd(), true);
  constexpr size_t kMaxTotal = 16 << 20;
  const std::vector<uint8_t> chunk = Pattern(kMaxPayload, 11);

  // The reader has nothing yet.
  char probe[16];
  ASSERT_EQ(Recv(cfd(), probe, sizeof(probe)), -EAGAIN);
  // The writer fills our queue and the kernel's until it is refused.
  size_t sent = 0;
  bool writer_blocked = false;
  while (!writer_blocked && sent < kMaxTotal) {
    const ssize_t n = Send(fd(), chunk.data(), chunk.size());
    if (n == -EAGAIN) {
      writer_blocked = true;
    } else {
      ASSERT_GT(n, 0);
      sent += static_cast<size_t>(n);
    }
  }
  ASSERT_TRUE(writer_blocked) << "no EAGAIN after " << sent << " bytes";
  const size_t total = sent + 3 * kMaxPayload;

  std::atomic<bool> reader_ok{true};
  std::thread reader([&] {
    std::vector<uint8_t> buf(8192);
    size_t received = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (received < total && std::chrono::steady_clock::now() < deadline) {
      const ssize_t n = Recv(cfd(), buf.data(), buf.size());
      if (n == -EAGAIN) {
        Poll(cfd(), POLLIN, 100);
        continue;
      }
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != chunk[(received + i) % kMaxPayload]) reader_ok = false;
      }
      received += static_cast<size_t>(n);
    }
    if (received != total) reader_ok = false;
  });
  size_t offset = sent % kMaxPayload;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sent < total && std::chrono::steady_clock::now() < deadline) {
    const size_t len = std::min(kMaxPayload - offset, total - sent);
    const ssize_t n = Send(fd(), chunk.data() + offset, len);
    if (n == -EAGAIN) {
      Poll(fd(), POLLOUT, 100);
      continue;
    }
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
    offset = (offset + static_cast<size_t>(n)) % kMaxPayload;
  }
  reader.join();
  EXPECT_EQ(sent, total);
  EXPECT_TRUE(reader_ok);
}

// The selftest's mutliproc_* cases with threads instead of processes: several writers
// and readers share one connection; every byte arrives exactly once.
void RunShared(int fd, int cfd, int writers, int readers, bool use_sendfile) {
  constexpr size_t kTotal = 240 * 1024;
  ASSERT_EQ(kTotal % writers, 0u);
  ASSERT_EQ(kTotal % readers, 0u);
  const std::vector<uint8_t> content = Pattern(kTotal / writers, 12);
  std::atomic<size_t> received{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&] {
      size_t left = kTotal / readers;
      char buf[4096];
      while (left > 0) {
        const ssize_t n = Recv(cfd, buf, std::min(left, sizeof(buf)));
        if (n <= 0) {
          ADD_FAILURE() << "recv: " << n;
          return;
        }
        left -= static_cast<size_t>(n);
        received += static_cast<size_t>(n);
      }
    });
  }
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      if (use_sendfile) {
        const int file = TempFileWith(content);
        off_t offset = 0;
        while (static_cast<size_t>(offset) < content.size()) {
          const ssize_t n = SendFile(fd, file, &offset, 3000);
          if (n <= 0) {
            ADD_FAILURE() << "sendfile: " << n;
            break;
          }
        }
        close(file);
        return;
      }
      size_t sent = 0;
      while (sent < content.size()) {
        const ssize_t n =
            Send(fd, content.data() + sent, std::min<size_t>(3000, content.size() - sent));
        if (n <= 0) {
          ADD_FAILURE() << "send: " << n;
          return;
        }
        sent += static_cast<size_t>(n);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(received.load(), kTotal);
}

TEST_P(TlsTest, SharedEven) {
  RunShared(fd(), cfd(), 6, 6, false);
}
TEST_P(TlsTest, SharedReaders) {
  RunShared(fd(), cfd(), 12, 4, false);
}
TEST_P(TlsTest, SharedWriters) {
  RunShared(fd(), cfd(), 2, 10, false);
}
TEST_P(TlsTest, SharedSendfileEven) {
  RunShared(fd(), cfd(), 6, 6, true);
}
TEST_P(TlsTest, SharedSendfileReaders) {
  RunShared(fd(), cfd(), 12, 4, true);
}
TEST_P(TlsTest, SharedSendfileWriters) {
  RunShared(fd(), cfd(), 2, 10, true);
}

TEST_P(TlsTest, Shutdown) {
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[10];
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(Shutdown(fd(), SHUT_RDWR), 0);
  EXPECT_EQ(Shutdown(cfd(), SHUT_RDWR), 0);
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), 0);
}

// linux-ktls.md §3.9 (UNVERIFIED there): shutdown goes straight to TCP, so an open
// MSG_MORE record is never sent; the peer sees the end of the stream.
TEST_P(TlsTest, ShutdownUnsent) {
  ASSERT_EQ(SendText(fd(), kTestRead, MSG_MORE), 10);
  EXPECT_EQ(Shutdown(fd(), SHUT_RDWR), 0);
  char buf[10];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), 0);
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), 0);
}

// Records already sealed still precede the FIN.
TEST_P(TlsTest, ShutdownAfterData) {
  const std::vector<uint8_t> data = Pattern(3 * kMaxPayload, 13);
  ASSERT_EQ(Send(fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(Shutdown(fd(), SHUT_WR), 0);
  ExpectReceive(data);
  char buf[10];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), 0);
}

// linux-ktls.md §3.9 (UNVERIFIED there): close frees the open record unsent.
TEST_P(TlsTest, CloseDropsOpenRecord) {
  ASSERT_EQ(SendText(fd(), "sealed"), 6);
  ASSERT_EQ(SendText(fd(), kTestRead, MSG_MORE), 10);
  ASSERT_EQ(ktls_close(fd()), 0);
  pair_.fd = -1;
  char buf[32];
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 6);
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), 0);
}

INSTANTIATE_TEST_SUITE_P(Linux, TlsTest, ::testing::ValuesIn(AllVariants()), VariantName);

}  // namespace
}  // namespace ktls::linux_abi_test
