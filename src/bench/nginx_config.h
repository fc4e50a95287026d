// nginx configurations for the benchmark's comparison servers: one static site on one
// port, everything (pid, logs, temp files) inside a work directory, so Debian's nginx
// runs unprivileged-style next to the system's without touching /etc or /var.
#pragma once

#include <cstdint>
#include <string>

namespace ktls::bench {

struct NginxSite {
  std::string work_dir;  // pid file, error log, temp paths
  std::string root;      // the files served
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  int workers = 1;
  int worker_connections = 1024;
  bool tls = false;  // false: plain HTTP (with sendfile: the ceiling)
  std::string cert_file;
  std::string key_file;
  std::string ciphersuites = "TLS_AES_128_GCM_SHA256";  // TLS 1.3 only
  // `ssl_conf_command Options KTLS`: OpenSSL hands its keys to "the kernel" (under
  // `ktls run`, to our interposer) and nginx sends files with SSL_sendfile.
  bool ktls = false;
  bool debug_log = false;  // error_log at debug level (Debian's nginx has --with-debug)
};

// The whole nginx.conf text for `nginx -p WORK_DIR -c CONF`.
std::string NginxConfig(const NginxSite& site);

}  // namespace ktls::bench
