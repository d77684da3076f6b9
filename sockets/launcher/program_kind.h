// What kind of program lrp-run is asked to start, read from its ELF file:
// the preload library reaches only programs whose socket calls go through
// the dynamically linked C library. A statically linked program (no
// PT_INTERP: the dynamic loader never runs, so LD_PRELOAD is never read) and
// a Go program (its runtime makes system calls itself, with or without cgo)
// keep every socket on the kernel.
#pragma once

#include <string>

#include "lrp/result.h"

namespace lrp::launcher {

enum class ProgramKind {
  Dynamic,  // dynamically linked: the library can serve it
  Static,   // no dynamic loader
  Go,       // a Go build id note or a .go.buildinfo section
  NotElf,   // a script or another format: whatever it runs decides
};

struct ProgramInfo {
  ProgramKind kind = ProgramKind::NotElf;
  std::string detail;  // what showed it
};

Result<ProgramInfo> inspect_program(const std::string& path);

// The sentence lrp-run prints for a program it cannot serve; empty for the rest.
std::string unsupported_note(const std::string& path, const ProgramInfo& info);

}  // namespace lrp::launcher
