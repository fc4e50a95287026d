#include "tools/ktls/demo_site.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace ktls::tool {
namespace {

constexpr size_t kRandomFileSize = size_t{1} << 20;
constexpr char kRandomFile[] = "random-1MiB.bin";

constexpr char kIndexHtml[] = R"(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ktls serve</title></head>
<body>
<h1>ktls serve</h1>
<p>This page came over TLS records sealed by ktls, the FreeBSD ktls(4) socket layer
running in user space: OpenSSL did the handshake, then handed both directions' keys to
the socket with <code>TCP_TXTLS_ENABLE</code> and <code>TCP_RXTLS_ENABLE</code>.
The request was read with <code>ktls_recvmsg</code>, this page written with
<code>ktls_write</code>, and files are sent with <code>ktls_sendfile</code>.</p>
<ul>
<li><a href="hello.txt">hello.txt</a>: a short text file</li>
<li><a href="random-1MiB.bin">random-1MiB.bin</a>: 1 MiB of random bytes
(<a href="SHA256SUMS">SHA256SUMS</a>)</li>
</ul>
</body>
</html>
)";

constexpr char kHelloText[] =
    "Hello from ktls serve.\n"
    "These bytes were sealed into a TLS record by the ktls engine, not by OpenSSL.\n";

// mkdir -p with mode 0700 for what it creates.
bool MakeDirectories(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return false;
    if (slash == std::string::npos) break;
  }
  struct stat st = {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && access(path.c_str(), W_OK) == 0;
}

bool Exists(const std::string& path) {
  return access(path.c_str(), F_OK) == 0;
}

// Writes `data` to `path` through a temporary file and a rename.
bool WriteFile(const std::string& path, const void* data, size_t len) {
  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const auto* bytes = static_cast<const char*>(data);
  size_t done = 0;
  while (done < len) {
    const ssize_t n = write(fd, bytes + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = close(fd) == 0 && done == len;
  if (!ok || rename(temporary.c_str(), path.c_str()) != 0) {
    unlink(temporary.c_str());
    return false;
  }
  return true;
}

std::string Sha256Hex(const std::vector<unsigned char>& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(byte, sizeof(byte), "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

}  // namespace

Result<DemoPaths> ChooseDemoPaths(std::string* error) {
  std::vector<std::string> candidates;
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime) {
    candidates.push_back(std::string(runtime) + "/ktls");
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
    candidates.push_back(std::string(home) + "/.cache/ktls");
  }
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) != nullptr) candidates.push_back(std::string(cwd) + "/ktls-demo");
  for (const std::string& state : candidates) {
    if (!MakeDirectories(state)) continue;
    return DemoPaths{state, state + "/demo", state + "/cert.pem", state + "/key.pem"};
  }
  *error = "no writable state directory ($XDG_RUNTIME_DIR/ktls, ~/.cache/ktls, ./ktls-demo)";
  return Status::Error(EACCES);
}

Status PrepareDemoSite(const DemoPaths& paths, std::string* error) {
  const std::string& site = paths.site_dir;
  if (!MakeDirectories(site)) {
    *error = "cannot create " + site + ": " + std::strerror(errno);
    return Status::Error(errno != 0 ? errno : EACCES);
  }
  auto fail = [&](const std::string& name) {
    *error = "cannot write " + site + "/" + name + ": " + std::strerror(errno);
    return Status::Error(errno != 0 ? errno : EIO);
  };
  if (!Exists(site + "/index.html") &&
      !WriteFile(site + "/index.html", kIndexHtml, sizeof(kIndexHtml) - 1)) {
    return fail("index.html");
  }
  if (!Exists(site + "/hello.txt") &&
      !WriteFile(site + "/hello.txt", kHelloText, sizeof(kHelloText) - 1)) {
    return fail("hello.txt");
  }
  const std::string random_path = site + "/" + kRandomFile;
  if (!Exists(random_path) || !Exists(site + "/SHA256SUMS")) {
    std::vector<unsigned char> random(kRandomFileSize);
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
      *error = "RAND_bytes failed";
      return Status::Error(EIO);
    }
    const std::string sums = Sha256Hex(random) + "  " + kRandomFile + "\n";
    if (!WriteFile(random_path, random.data(), random.size())) return fail(kRandomFile);
    if (!WriteFile(site + "/SHA256SUMS", sums.data(), sums.size())) return fail("SHA256SUMS");
  }
  return Status::Ok();
}

}  // namespace ktls::tool
