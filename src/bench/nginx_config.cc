#include "bench/nginx_config.h"

#include <unistd.h>

#include <sstream>

#include "bench/socket_address.h"

namespace ktls::bench {

std::string NginxConfig(const NginxSite& site) {
  const std::string& w = site.work_dir;
  std::ostringstream c;
  // In the foreground, so the benchmark owns the master process; `user root` only
  // matters when run as root, where nginx would otherwise switch to www-data.
  c << "daemon off;\nmaster_process on;\nworker_processes " << site.workers << ";\n"
    << "worker_rlimit_nofile " << site.worker_connections * 2 + 64 << ";\n"
    << "pid " << w << "/nginx.pid;\n"
    << "error_log " << w << "/error.log" << (site.debug_log ? " debug" : " warn") << ";\n";
  if (geteuid() == 0) c << "user root;\n";
  c << "events { worker_connections " << site.worker_connections << "; }\n"
    << "http {\n"
    << "  access_log off;\n"
    << "  sendfile on;\n"
    << "  tcp_nopush on;\n"
    << "  keepalive_requests 1000000;\n"
    << "  keepalive_timeout 60s;\n"
    << "  default_type application/octet-stream;\n";
  for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    c << "  " << temp << "_temp_path " << w << "/tmp;\n";
  }
  c << "  server {\n"
    << "    listen " << HostPort(site.address, site.port) << (site.tls ? " ssl" : "") << ";\n"
    << "    root " << site.root << ";\n";
  if (site.tls) {
    c << "    ssl_certificate " << site.cert_file << ";\n"
      << "    ssl_certificate_key " << site.key_file << ";\n"
      << "    ssl_protocols TLSv1.3;\n"
      << "    ssl_conf_command Ciphersuites " << site.ciphersuites << ";\n";
    if (site.ktls) c << "    ssl_conf_command Options KTLS;\n";
  }
  c << "  }\n}\n";
  return c.str();
}

}  // namespace ktls::bench
