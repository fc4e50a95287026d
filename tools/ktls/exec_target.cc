#include "tools/ktls/exec_target.h"

#include <elf.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace ktls::tool {
namespace {

std::string FindInPath(const std::string& command) {
  if (command.find('/') != std::string::npos) {
    return access(command.c_str(), F_OK) == 0 ? command : "";
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
    struct stat st = {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

// The loader's secure mode, decided at exec from the file's set-id bits and
// capabilities (as seen by a caller that is not root).
std::string SecureModeProblem(const std::string& path) {
  struct stat st = {};
  if (stat(path.c_str(), &st) != 0) return "";
  if ((st.st_mode & S_ISUID) != 0 && st.st_uid != getuid()) {
    return "it is set-user-ID: the dynamic loader ignores LD_PRELOAD for it";
  }
  if ((st.st_mode & S_ISGID) != 0 && st.st_gid != getgid()) {
    return "it is set-group-ID: the dynamic loader ignores LD_PRELOAD for it";
  }
  if (getuid() != 0 && getxattr(path.c_str(), "security.capability", nullptr, 0) > 0) {
    return "it has file capabilities: the dynamic loader ignores LD_PRELOAD for it";
  }
  return "";
}

std::string ElfProblem(const std::string& path, int depth) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return "cannot read it: " + std::string(std::strerror(errno));
  char head[2] = {};
  file.read(head, 2);
  if (file.gcount() == 2 && head[0] == '#' && head[1] == '!') {
    // A script: what matters is its interpreter.
    std::string line;
    std::getline(file, line);
    std::istringstream words(line);
    std::string interpreter;
    words >> interpreter;
    if (interpreter.empty() || depth > 2) return "";
    const std::string problem = ElfProblem(interpreter, depth + 1);
    return problem.empty() ? "" : "its interpreter " + interpreter + ": " + problem;
  }
  file.seekg(0);
  Elf64_Ehdr ehdr = {};
  file.read(reinterpret_cast<char*>(&ehdr), sizeof(ehdr));
  if (file.gcount() < EI_NIDENT || std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0) {
    return "";  // not ELF: leave the verdict to execvp
  }
  if (ehdr.e_ident[EI_CLASS] != ELFCLASS64) {
    return "it is a 32-bit program; the interposer is 64-bit";
  }
  if (file.gcount() != sizeof(ehdr) || ehdr.e_phentsize != sizeof(Elf64_Phdr)) return "";
  std::vector<Elf64_Phdr> headers(ehdr.e_phnum);
  file.seekg(static_cast<std::streamoff>(ehdr.e_phoff));
  file.read(reinterpret_cast<char*>(headers.data()),
            static_cast<std::streamsize>(headers.size() * sizeof(Elf64_Phdr)));
  if (!file) return "";
  for (const Elf64_Phdr& header : headers) {
    if (header.p_type == PT_INTERP) return "";
  }
  return "it is statically linked: without a dynamic loader, LD_PRELOAD has no effect";
}

}  // namespace

ExecTarget InspectExecTarget(const std::string& command) {
  ExecTarget target;
  target.path = FindInPath(command);
  if (target.path.empty()) return target;
  target.problem = SecureModeProblem(target.path);
  if (target.problem.empty()) target.problem = ElfProblem(target.path, 0);
  return target;
}

}  // namespace ktls::tool
