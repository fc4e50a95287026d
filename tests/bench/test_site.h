// What the bench clients' tests download from: a throwaway directory with a document
// root and a self-signed certificate, and `ktls serve` over it, in this process or as
// the real binary.
#pragma once

#include <memory>
#include <string>

#include "server/server.h"

namespace ktls::bench {

// /tmp/ktls-NAME-XXXXXX with site/ (empty), cert.pem and key.pem; removed with everything
// in it when destroyed. A step that fails is a test failure (ADD_FAILURE).
class TestSite {
 public:
  explicit TestSite(const std::string& name);
  ~TestSite();
  TestSite(const TestSite&) = delete;
  TestSite& operator=(const TestSite&) = delete;

  const std::string& dir() const { return dir_; }
  std::string root() const { return dir_ + "/site"; }
  std::string cert_file() const { return dir_ + "/cert.pem"; }
  std::string key_file() const { return dir_ + "/key.pem"; }

  // `ktls serve` over root() in this process, on 127.0.0.1 and a port the kernel picks
  // (server::PortOf(server->address())); null, with a test failure, if it did not start.
  // Destroying it stops it.
  std::unique_ptr<server::Server> StartServer(int threads) const;

 private:
  std::string dir_;
};

}  // namespace ktls::bench
