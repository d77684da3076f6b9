#include "sockets/launcher/program_kind.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

namespace lrp::launcher {

namespace {

// The file mapped read-only for the length of one inspection.
class Mapped {
 public:
  explicit Mapped(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
      void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const uint8_t*>(p);
        size_ = static_cast<size_t>(st.st_size);
      }
    }
    close(fd);
  }
  ~Mapped() {
    if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
  }
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool has(uint64_t offset, uint64_t length) const {
    return offset <= size_ && length <= size_ - offset;
  }
  template <class T>
  bool read(uint64_t offset, T* out) const {
    if (!has(offset, sizeof(T))) return false;
    std::memcpy(out, data_ + offset, sizeof(T));
    return true;
  }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

constexpr uint32_t kGoBuildIdNote = 4;  // NT_GO_BUILD_ID, owner "Go"

// Notes in [offset, offset + length): true when one is Go's build id.
bool has_go_note(const Mapped& f, uint64_t offset, uint64_t length) {
  if (!f.has(offset, length)) return false;
  uint64_t at = offset;
  const uint64_t end = offset + length;
  while (at + sizeof(Elf64_Nhdr) <= end) {
    Elf64_Nhdr n;
    if (!f.read(at, &n)) return false;
    const uint64_t name_at = at + sizeof(n);
    const uint64_t name_len = (n.n_namesz + 3u) & ~3u;
    const uint64_t desc_len = (n.n_descsz + 3u) & ~3u;
    if (name_at + name_len + desc_len > end) return false;
    if (n.n_type == kGoBuildIdNote && n.n_namesz == 3 &&
        std::memcmp(f.data() + name_at, "Go\0", 3) == 0)
      return true;
    at = name_at + name_len + desc_len;
  }
  return false;
}

template <class Ehdr, class Phdr, class Shdr>
ProgramInfo inspect(const Mapped& f) {
  Ehdr h;
  if (!f.read(0, &h)) return {ProgramKind::NotElf, "truncated ELF header"};
  bool interp = false, dynamic = false;
  for (uint16_t i = 0; i < h.e_phnum; ++i) {
    Phdr p;
    if (!f.read(h.e_phoff + uint64_t{i} * h.e_phentsize, &p)) break;
    if (p.p_type == PT_INTERP) interp = true;
    if (p.p_type == PT_DYNAMIC) dynamic = true;
    if (p.p_type == PT_NOTE && has_go_note(f, p.p_offset, p.p_filesz))
      return {ProgramKind::Go, "Go build id note"};
  }
  Shdr names;
  if (h.e_shstrndx != SHN_UNDEF &&
      f.read(h.e_shoff + uint64_t{h.e_shstrndx} * h.e_shentsize, &names)) {
    for (uint16_t i = 0; i < h.e_shnum; ++i) {
      Shdr s;
      if (!f.read(h.e_shoff + uint64_t{i} * h.e_shentsize, &s)) break;
      const uint64_t name_at = names.sh_offset + s.sh_name;
      if (!f.has(name_at, 1)) continue;
      const char* name = reinterpret_cast<const char*>(f.data() + name_at);
      const size_t max = f.size() - name_at;
      const std::string_view n(name, strnlen(name, max));
      if (n == ".go.buildinfo" || n == ".note.go.buildid")
        return {ProgramKind::Go, std::string(n) + " section"};
    }
  }
  if (!interp)
    return {ProgramKind::Static,
            dynamic ? "static-pie: no program interpreter" : "no program interpreter"};
  return {ProgramKind::Dynamic, "dynamically linked"};
}

}  // namespace

Result<ProgramInfo> inspect_program(const std::string& path) {
  Mapped f(path);
  if (f.data() == nullptr) return errno_error("read " + path);
  if (f.size() < EI_NIDENT || std::memcmp(f.data(), ELFMAG, SELFMAG) != 0)
    return ProgramInfo{ProgramKind::NotElf, "not an ELF file"};
  if (f.data()[EI_CLASS] == ELFCLASS64) return inspect<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr>(f);
  if (f.data()[EI_CLASS] == ELFCLASS32) return inspect<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr>(f);
  return ProgramInfo{ProgramKind::NotElf, "unknown ELF class"};
}

std::string unsupported_note(const std::string& path, const ProgramInfo& info) {
  switch (info.kind) {
    case ProgramKind::Static:
      return path + " is statically linked (" + info.detail +
             "): the preload library cannot reach its calls, so its UDP sockets stay on the "
             "kernel";
    case ProgramKind::Go:
      return path + " is a Go program (" + info.detail +
             "): Go makes its socket calls without the C library, so its UDP sockets stay on "
             "the kernel";
    case ProgramKind::Dynamic:
    case ProgramKind::NotElf:
      break;
  }
  return {};
}

}  // namespace lrp::launcher
