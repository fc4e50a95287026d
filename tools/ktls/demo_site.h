// The built-in demo of `ktls serve` without arguments: a small site and a self-signed
// certificate kept in a per-user state directory, created on first use and reused.
#pragma once

#include <string>

#include "base/result.h"

namespace ktls::tool {

struct DemoPaths {
  std::string state_dir;  // $XDG_RUNTIME_DIR/ktls, ~/.cache/ktls or ./ktls-demo
  std::string site_dir;   // <state>/demo
  std::string cert_file;  // <state>/cert.pem
  std::string key_file;   // <state>/key.pem (mode 0600)
};

// The first state directory that exists or can be created (mode 0700). `error` says
// why none could be.
Result<DemoPaths> ChooseDemoPaths(std::string* error);

// Creates what is missing of the site: index.html, hello.txt, random-1MiB.bin and its
// SHA256SUMS. Files already there are left alone.
Status PrepareDemoSite(const DemoPaths& paths, std::string* error);

}  // namespace ktls::tool
