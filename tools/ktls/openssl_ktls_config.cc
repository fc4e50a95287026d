#include "tools/ktls/openssl_ktls_config.h"

#include <fcntl.h>
#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace ktls::tool {
namespace {

using Sections = std::map<std::string, std::map<std::string, std::string>>;

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

// Enough of OpenSSL's config syntax to follow openssl_conf -> ssl_conf ->
// system_default: sections, `name = value`, comments. Includes are not followed.
Sections ParseConfig(const std::string& path) {
  Sections sections;
  std::ifstream file(path);
  std::string section = "default";
  std::string line;
  while (std::getline(file, line)) {
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty() || line[0] == '.') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(line.substr(1, line.size() - 2));
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    sections[section][Trim(line.substr(0, eq))] = Trim(line.substr(eq + 1));
  }
  return sections;
}

std::string Lookup(const Sections& sections, const std::string& section, const std::string& key,
                   const std::string& fallback) {
  auto it = sections.find(section);
  if (it == sections.end()) return fallback;
  auto value = it->second.find(key);
  return value == it->second.end() || value->second.empty() ? fallback : value->second;
}

bool HasKtlsFlag(const std::string& options) {
  std::istringstream flags(options);
  std::string flag;
  while (std::getline(flags, flag, ',')) {
    if (Trim(flag) == "KTLS") return true;
  }
  return false;
}

std::string BaseConfigPath() {
  char* path = CONF_get1_default_config_file();
  if (path == nullptr) return "";
  std::string result = path;
  OPENSSL_free(path);
  return access(result.c_str(), R_OK) == 0 ? result : "";
}

uint64_t Fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

// $XDG_RUNTIME_DIR/ktls, else $TMPDIR/ktls-UID: created 0700 and checked to be ours,
// since another user could otherwise plant a configuration for us in /tmp.
std::string PrivateDirectory(std::string* error) {
  std::string dir;
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime) {
    dir = std::string(runtime) + "/ktls";
  } else {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/ktls-" + std::to_string(getuid());
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot create " + dir + ": " + std::strerror(errno);
    return "";
  }
  struct stat st = {};
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 077) != 0) {
    *error = dir + " is not a private directory of this user";
    return "";
  }
  return dir;
}

}  // namespace

OpensslKtlsConfig MakeOpensslKtlsConfig() {
  OpensslKtlsConfig config;
  config.base = BaseConfigPath();
  const Sections sections = config.base.empty() ? Sections() : ParseConfig(config.base);
  const std::string init = Lookup(sections, "default", "openssl_conf", "ktls_openssl_init");
  const std::string ssl = Lookup(sections, init, "ssl_conf", "ktls_ssl_module");
  const std::string defaults = Lookup(sections, ssl, "system_default", "ktls_system_default");
  std::string options = Lookup(sections, defaults, "Options", "");
  if (!HasKtlsFlag(options)) options = options.empty() ? "KTLS" : options + ",KTLS";

  std::ostringstream text;
  text << "# Written by `ktls run`: ";
  text << (config.base.empty() ? "OpenSSL's defaults" : config.base);
  text << " plus kernel TLS (Options = KTLS)\n"
       << "# for every SSL_CTX that takes the system defaults.\n"
       << "openssl_conf = " << init << "\n";
  if (!config.base.empty()) text << ".include " << config.base << "\n";
  text << "\n[" << init << "]\nssl_conf = " << ssl << "\n"
       << "\n[" << ssl << "]\nsystem_default = " << defaults << "\n"
       << "\n[" << defaults << "]\nOptions = " << options << "\n";
  config.text = text.str();
  return config;
}

std::string WriteOpensslKtlsConfig(const OpensslKtlsConfig& config, std::string* error) {
  const std::string dir = PrivateDirectory(error);
  if (dir.empty()) return "";
  char name[64];
  std::snprintf(name, sizeof(name), "/openssl-ktls-%016llx.cnf",
                static_cast<unsigned long long>(Fnv1a(config.text)));
  std::string path = dir + name;
  // Write beside it and rename: concurrent runs never see a half-written file.
  const std::string temporary = path + "." + std::to_string(getpid());
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << config.text;
    if (!file.flush()) {
      *error = "cannot write " + temporary;
      return "";
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + temporary + ": " + std::strerror(errno);
    unlink(temporary.c_str());
    return "";
  }
  return path;
}

}  // namespace ktls::tool
