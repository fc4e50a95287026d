// Whether a program will honour LD_PRELOAD: it must be found, be a dynamically linked
// ELF file of our own class, and not run in the loader's secure mode (setuid, setgid
// or file capabilities), where LD_PRELOAD is ignored.
#pragma once

#include <string>

namespace ktls::tool {

struct ExecTarget {
  std::string path;  // resolved through PATH as execvp(3) would; empty if not found
  // Empty when the interposer can load into the program; otherwise why not.
  std::string problem;
};

ExecTarget InspectExecTarget(const std::string& command);

}  // namespace ktls::tool
