/* Run-time knobs and statistics of the ktls library, named as on FreeBSD (kern.ipc.tls.*). */
#ifndef KTLS_SYSCTL_H_
#define KTLS_SYSCTL_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ktls_sysctlbyname reads and/or sets one of the library's knobs or counters with the
 * semantics of FreeBSD's sysctlbyname(3): the old value is copied to oldp (whose size
 * is *oldlenp before the call and the number of bytes copied after it; with oldp NULL,
 * *oldlenp receives the size needed), then, if newp is not NULL, the value is set from
 * the newlen bytes at newp. Booleans are one byte (an int is also accepted when
 * setting), "int" and "uint" knobs four, counters eight.
 *
 * It returns 0, or -1 with errno set: ENOENT for an unknown name, ENOMEM when oldp is
 * too small (it receives what fits and nothing is set), EINVAL for a wrong newlen or a
 * value out of range, EPERM when setting a counter or a start-up-only knob (those are
 * set through the KTLS_CONFIG file or the KTLS_SYSCTL environment variable).
 * Changes apply to sessions enabled afterwards.
 */
int ktls_sysctlbyname(const char* name, void* oldp, size_t* oldlenp, const void* newp,
                      size_t newlen);

#ifdef __cplusplus
}
#endif

#endif /* KTLS_SYSCTL_H_ */
