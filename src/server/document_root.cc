#include "server/document_root.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

namespace ktls::server {
namespace {

constexpr char kIndexFile[] = "index.html";

ResolvedFile Refuse(int status) {
  ResolvedFile file;
  file.status = status;
  return file;
}

// A missing file is 404; everything else that stops us (permissions, link loops, a
// path too long to be one of ours) is 403.
int StatusForErrno(int error) {
  return error == ENOENT || error == ENOTDIR ? 404 : 403;
}

std::optional<std::string> RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> real(realpath(path.c_str(), nullptr), &std::free);
  if (!real) return std::nullopt;
  return std::string(real.get());
}

}  // namespace

Result<DocumentRoot> DocumentRoot::Open(const std::string& directory) {
  std::optional<std::string> real = RealPath(directory);
  if (!real) return Status::Error(errno);
  struct stat st = {};
  if (stat(real->c_str(), &st) != 0) return Status::Error(errno);
  if (!S_ISDIR(st.st_mode)) return Status::Error(ENOTDIR);
  return DocumentRoot(std::move(*real));
}

bool DocumentRoot::Contains(std::string_view real_path) const {
  if (real_path == root_) return true;
  if (root_ == "/") return real_path.starts_with('/');
  return real_path.size() > root_.size() && real_path.starts_with(root_) &&
         real_path[root_.size()] == '/';
}

ResolvedFile DocumentRoot::Resolve(std::string_view relative) const {
  return ResolveOnce(relative, /*allow_index=*/true);
}

ResolvedFile DocumentRoot::ResolveOnce(std::string_view relative, bool allow_index) const {
  std::string joined = root_;
  if (!relative.empty()) {
    if (joined.back() != '/') joined.push_back('/');
    joined.append(relative);
  }
  std::optional<std::string> real = RealPath(joined);
  if (!real) return Refuse(StatusForErrno(errno));
  if (!Contains(*real)) return Refuse(403);

  ResolvedFile file;
  // O_NONBLOCK: opening a FIFO someone left in the tree must not stall the event loop.
  file.fd.Reset(open(real->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!file.fd.valid()) return Refuse(StatusForErrno(errno));
  if (fstat(file.fd.get(), &file.st) != 0) return Refuse(403);
  // What the descriptor really refers to, after any swap since realpath().
  char link[64];
  char opened[PATH_MAX];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", file.fd.get());
  const ssize_t n = readlink(link, opened, sizeof(opened) - 1);
  if (n > 0) {
    opened[n] = '\0';
    if (!Contains(opened)) return Refuse(403);
  }
  if (S_ISDIR(file.st.st_mode)) {
    if (!allow_index) return Refuse(403);
    std::string index(relative);
    if (!index.empty()) index.push_back('/');
    index.append(kIndexFile);
    ResolvedFile indexed = ResolveOnce(index, /*allow_index=*/false);
    // A directory without an index is not listed.
    return indexed.status == 404 ? Refuse(403) : std::move(indexed);
  }
  if (!S_ISREG(file.st.st_mode)) return Refuse(403);
  file.path = std::move(*real);
  return file;
}

}  // namespace ktls::server
