#include "test_site.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "server/listen_address.h"
#include "server/self_signed_cert.h"

namespace ktls::bench {

TestSite::TestSite(const std::string& name) {
  std::string pattern = "/tmp/ktls-" + name + "-XXXXXX";
  std::vector<char> path(pattern.begin(), pattern.end());
  path.push_back('\0');
  if (mkdtemp(path.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
    return;
  }
  dir_ = path.data();
  if (mkdir(root().c_str(), 0755) != 0) {
    ADD_FAILURE() << "mkdir " << root() << ": " << std::strerror(errno);
  }
  Result<server::CertificateFiles> files =
      server::EnsureSelfSignedCertificate(cert_file(), key_file());
  if (!files.ok()) ADD_FAILURE() << "self-signed certificate: " << std::strerror(files.error());
}

TestSite::~TestSite() {
  if (dir_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::unique_ptr<server::Server> TestSite::StartServer(int threads) const {
  server::ServerOptions options;
  options.root = root();
  Result<server::ListenAddress> listen = server::ParseListenAddress("127.0.0.1:0");
  if (!listen.ok()) {
    ADD_FAILURE() << "listen address: " << std::strerror(listen.error());
    return nullptr;
  }
  options.listen = *listen;
  options.threads = threads;
  options.tls = {cert_file(), key_file()};
  options.shutdown_timeout = std::chrono::seconds(5);
  auto server = std::make_unique<server::Server>(options);
  std::string error;
  if (!server->Start(&error).ok()) {
    ADD_FAILURE() << "ktls serve did not start: " << error;
    return nullptr;
  }
  return server;
}

}  // namespace ktls::bench
