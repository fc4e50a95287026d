// The directory a server publishes, and the only way to open files under it.
//
// A request path (request_path.h) is joined to the root and resolved with realpath(3);
// the result must still lie under the root's own real path, so a symbolic link that
// leads out of the root answers 403 while links between files inside it work. After
// open(2), the descriptor's path is checked once more, which closes the window in which
// a directory could be swapped for a link between the two steps.
//
// Directories are answered with their index.html when they have one; listings are
// never generated (403). Only regular files are served.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "base/result.h"
#include "server/unique_fd.h"

namespace ktls::server {

struct ResolvedFile {
  int status = 200;  // 200, or 403 / 404 with no file
  UniqueFd fd;
  struct stat st = {};
  std::string path;  // the real path, for the MIME type
};

class DocumentRoot {
 public:
  // ENOENT, ENOTDIR, EACCES, ... from realpath(3) and stat(2).
  static Result<DocumentRoot> Open(const std::string& directory);

  // `relative` as DecodeTargetPath produced it ("" for the root).
  ResolvedFile Resolve(std::string_view relative) const;

  const std::string& path() const { return root_; }

 private:
  explicit DocumentRoot(std::string root) : root_(std::move(root)) {}
  bool Contains(std::string_view real_path) const;
  ResolvedFile ResolveOnce(std::string_view relative, bool allow_index) const;

  std::string root_;  // real path, no trailing slash (except "/" itself)
};

}  // namespace ktls::server
