// Finds out whether this Linux kernel can do TLS itself (the "tls" TCP upper-layer
// protocol, CONFIG_TLS), by looking at /proc and by really trying it on a socket.
#pragma once

#include <string>

namespace ktls::platform {

struct KernelTlsProbe {
  // /proc/sys/net/ipv4/tcp_available_ulp, whitespace-trimmed; empty if unreadable.
  std::string available_ulps;
  bool ulp_list_readable = false;
  bool ulp_listed = false;        // "tls" appears in available_ulps (before the test below)
  bool tls_stat_present = false;  // /proc/net/tls_stat exists (tls.ko is loaded)
  // The real test: a connected TCP pair on 127.0.0.1 and setsockopt(TCP_ULP, "tls").
  bool loopback_ok = false;    // the pair could be built at all
  std::string loopback_error;  // why not, when !loopback_ok
  int setsockopt_errno = 0;    // 0 when the ULP attached
  bool ulp_attached = false;
  // The attach made the kernel load tls.ko on demand (it was not listed before).
  bool autoloaded = false;
  // One line for people: why kernel TLS is or is not usable here.
  std::string explanation;
};

KernelTlsProbe ProbeKernelTls();

}  // namespace ktls::platform
