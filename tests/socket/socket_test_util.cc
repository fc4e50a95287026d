#include "socket/socket_test_util.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ktls::testing {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
}

void Sha256::Update(ConstBytes bytes) {
  if (!bytes.empty() && EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) != 1) std::abort();
}

std::string Sha256::Finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, digest, &len) != 1) std::abort();
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(byte, sizeof(byte), "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

std::string Sha256Hex(ConstBytes bytes) {
  Sha256 hash;
  hash.Update(bytes);
  return hash.Finish();
}

uint64_t ByteStream::Next64() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void ByteStream::Fill(uint8_t* out, size_t len) {
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const uint64_t word = Next64();
    std::memcpy(out + i, &word, 8);
  }
  if (i < len) {
    const uint64_t word = Next64();
    std::memcpy(out + i, &word, len - i);
  }
}

std::vector<uint8_t> ByteStream::Take(size_t len) {
  std::vector<uint8_t> out(len);
  Fill(out.data(), len);
  return out;
}

void SetSocketTimeouts(int fd, int recv_ms, int send_ms) {
  if (recv_ms > 0) {
    struct timeval tv = {recv_ms / 1000, (recv_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  if (send_ms > 0) {
    struct timeval tv = {send_ms / 1000, (send_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
}

void SetSmallBuffers(int fd, int bytes) {
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

bool Contains(ConstBytes haystack, ConstBytes needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

ReferenceStreamReader::ReferenceStreamReader(int fd, const TlsEnableBuilder& session)
    : fd_(fd),
      params_(session.reference()),
      tls10_(session.is_tls10()),
      iv_(session.tls10_iv()),
      sequence_(session.sequence()) {}

bool ReferenceStreamReader::Fill(std::chrono::steady_clock::time_point deadline) {
  constexpr size_t kChunk = 256 * 1024;
  if (head_ > 0 && head_ == buffer_.size()) {
    buffer_.clear();
    head_ = 0;
  } else if (head_ > kChunk) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(head_));
    head_ = 0;
  }
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error_ = "timed out waiting for record bytes";
      return false;
    }
    struct pollfd pfd = {fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      error_ = std::string("poll: ") + std::strerror(errno);
      return false;
    }
    if (ready == 0) continue;
    const size_t old = buffer_.size();
    buffer_.resize(old + kChunk);
    const ssize_t n = recv(fd_, buffer_.data() + old, kChunk, MSG_DONTWAIT);
    buffer_.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n > 0) {
      wire_bytes_ += static_cast<uint64_t>(n);
      wire_hash_.Update(buffer_.data() + old, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR || errno == EAGAIN) continue;
    error_ = std::string("recv: ") + std::strerror(errno);
    return false;
  }
}

ReferenceStreamReader::Status ReferenceStreamReader::Next(
    ReferenceOpened* record, std::chrono::steady_clock::time_point deadline) {
  auto available = [&] { return buffer_.size() - head_; };
  while (available() < 5) {
    if (!Fill(deadline)) {
      if (!error_.empty()) return Status::kError;
      if (available() == 0) return Status::kEnd;
      error_ = "EOF inside a record header";
      return Status::kError;
    }
  }
  const size_t body = (size_t{buffer_[head_ + 3]} << 8) | buffer_[head_ + 4];
  while (available() < 5 + body) {
    if (!Fill(deadline)) {
      if (error_.empty()) error_ = "EOF inside a record";
      return Status::kError;
    }
  }
  const ConstBytes raw(buffer_.data() + head_, 5 + body);
  *record = ReferenceOpen(params_, sequence_, raw, iv_);
  if (!record->ok()) {
    error_ = "record " + std::to_string(records_) + " (seq " + std::to_string(sequence_) +
             ") failed to open: " + std::string(ReferenceErrorName(record->error));
    return Status::kError;
  }
  if (tls10_) iv_ = NextTls10Iv(raw);
  head_ += raw.size();
  ++sequence_;
  ++records_;
  return Status::kRecord;
}

}  // namespace ktls::testing
