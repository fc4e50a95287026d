// libc's descriptor and socket calls, reached without passing through any interposer in
// front of the caller: the next definition after this object (dlsym RTLD_NEXT), which
// is libc's own unless another preloaded library wraps the call too.
//
// The LD_PRELOAD interposer exports read(), send(), close(), epoll_wait()... itself, so
// inside it a plain call to one of those names would come straight back to the
// interposer. Everything below the API layer therefore calls these instead. In a normal
// build (libktls.so, the tool, the tests) they are simply libc's functions.
//
// Each function resolves its symbol on first use, without locks. A call made while
// dlsym itself is running on the same thread (dlsym never does this in glibc, but an
// unusual libc might) does not resolve again: it goes to the kernel through syscall(2).
// The results and errno are those of the libc function.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>

namespace ktls::platform::libc {

ssize_t Read(int fd, void* buf, size_t len);
ssize_t Write(int fd, const void* buf, size_t len);
ssize_t Readv(int fd, const struct iovec* iov, int iovcnt);
ssize_t Writev(int fd, const struct iovec* iov, int iovcnt);
ssize_t Preadv2(int fd, const struct iovec* iov, int iovcnt, off_t offset, int flags);
ssize_t Pwritev2(int fd, const struct iovec* iov, int iovcnt, off_t offset, int flags);

ssize_t Recv(int fd, void* buf, size_t len, int flags);
ssize_t Recvfrom(int fd, void* buf, size_t len, int flags, struct sockaddr* addr,
                 socklen_t* addr_len);
ssize_t Recvmsg(int fd, struct msghdr* msg, int flags);
int Recvmmsg(int fd, struct mmsghdr* msgs, unsigned int vlen, int flags, struct timespec* timeout);
ssize_t Send(int fd, const void* buf, size_t len, int flags);
ssize_t Sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* addr,
               socklen_t addr_len);
ssize_t Sendmsg(int fd, const struct msghdr* msg, int flags);
int Sendmmsg(int fd, struct mmsghdr* msgs, unsigned int vlen, int flags);
ssize_t Sendfile(int out_fd, int in_fd, off_t* offset, size_t count);
ssize_t Splice(int fd_in, off_t* off_in, int fd_out, off_t* off_out, size_t len,
               unsigned int flags);

int Close(int fd);
int CloseRange(unsigned int first, unsigned int last, int flags);
void Closefrom(int lowfd);
int Dup(int fd);
int Dup2(int old_fd, int new_fd);
int Dup3(int old_fd, int new_fd, int flags);
// fcntl(2); `arg` carries an int or a pointer, as the command needs.
int Fcntl(int fd, int cmd, uintptr_t arg);

int Socket(int domain, int type, int protocol);
int Accept(int fd, struct sockaddr* addr, socklen_t* addr_len);
int Accept4(int fd, struct sockaddr* addr, socklen_t* addr_len, int flags);
int Connect(int fd, const struct sockaddr* addr, socklen_t addr_len);
int Listen(int fd, int backlog);
int Shutdown(int fd, int how);
int Setsockopt(int fd, int level, int name, const void* value, socklen_t len);
int Getsockopt(int fd, int level, int name, void* value, socklen_t* len);

int Poll(struct pollfd* fds, nfds_t nfds, int timeout_ms);
int Ppoll(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout, const sigset_t* sigmask);
int Select(int nfds, fd_set* read_fds, fd_set* write_fds, fd_set* except_fds,
           struct timeval* timeout);
int Pselect(int nfds, fd_set* read_fds, fd_set* write_fds, fd_set* except_fds,
            const struct timespec* timeout, const sigset_t* sigmask);
int EpollCtl(int epfd, int op, int fd, struct epoll_event* event);
int EpollWait(int epfd, struct epoll_event* events, int max_events, int timeout_ms);
int EpollPwait(int epfd, struct epoll_event* events, int max_events, int timeout_ms,
               const sigset_t* sigmask);
int EpollPwait2(int epfd, struct epoll_event* events, int max_events,
                const struct timespec* timeout, const sigset_t* sigmask);

// syscall(3) with six arguments (extra ones are ignored by the kernel).
long Syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

}  // namespace ktls::platform::libc
