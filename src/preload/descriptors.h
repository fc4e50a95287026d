// Which of the application's descriptor numbers are sockets we emulate kTLS on.
//
// The socket layer's table maps a number to its KtlsSocket. On top of it this keeps,
// per emulated connection, every number that refers to it (dup, dup2, F_DUPFD), so
// that closing one number keeps the others working and closing the last one closes
// the connection the way the kernel would (queued records still go out).
//
// Until the first socket takes the emulated ULP, every query is one relaxed atomic
// load: processes that never use kTLS pay nothing else.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "socket/ktls_socket.h"

namespace ktls::preload {

using socket::KtlsSocket;

namespace internal {
extern std::atomic<bool> any_emulated;
}  // namespace internal

// True once a socket of this process took the emulated ULP. Inline: every wrapper
// asks, on every call.
inline bool AnyEmulated() {
  return internal::any_emulated.load(std::memory_order_relaxed);
}

// The emulated socket behind `fd`, or null.
std::shared_ptr<KtlsSocket> Emulated(int fd);

// `fd` has just taken the emulated ULP (the socket table already holds it).
void Adopt(int fd);
// `new_fd` was just made a duplicate of a descriptor of `socket`.
void AddAlias(int new_fd, const std::shared_ptr<KtlsSocket>& socket);

enum class Release {
  kNotOurs,  // nothing to do for us, or only bookkeeping: make the real call
  kClosed,   // we closed the descriptor (the result is in *result)
};
// The application's number `fd` stops referring to its connection: close(fd), or the
// number is replaced (dup2/dup3 onto it) or closed in bulk (close_range). With
// `number_stays` the number itself is never closed here: the caller's real call does
// that atomically, so another thread cannot be handed the number in between.
Release ReleaseNumber(int fd, bool number_stays, int* result);

// The kernel handed out `fd` for a new descriptor (socket, accept, dup...): whatever
// we remembered about that number belonged to a descriptor closed behind our back.
void ForgetStale(int fd);

// Emulated descriptor numbers in [first, last].
std::vector<int> EmulatedInRange(unsigned int first, unsigned int last);
// Every emulated connection that still has a number.
std::vector<std::shared_ptr<KtlsSocket>> LiveSockets();

// pthread_atfork handlers.
void DescriptorsPrepareFork();
void DescriptorsParentAfterFork();
void DescriptorsChildAfterFork();

}  // namespace ktls::preload
