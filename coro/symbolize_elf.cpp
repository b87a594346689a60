// symbolize() for ELF systems (CMake builds this file when <elf.h>, <link.h> with
// dl_iterate_phdr and <cxxabi.h> are there; else symbolize_none.cpp).
//
// Why not dladdr(): it searches only the dynamic symbol table, and the functions we
// name are never in it. A coroutine's resume function ("f [clone .actor]" for GCC,
// "f.resume" for Clang) is a local symbol even when f is exported, so only the full
// .symtab knows it. We read that table from the binary on disk, once per module; a
// stripped binary has none, and then names are simply unknown.
#include <cxxabi.h>
#include <elf.h>
#include <link.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coro/debug.hpp"

namespace corio::detail {
namespace {

struct Module {
  std::uintptr_t bias = 0;  // load address minus link-time address
  std::string path;
};

struct Search {
  std::uintptr_t address;
  Module module;
  bool found = false;
};

int find_module(dl_phdr_info* info, std::size_t /*size*/, void* data) {
  auto& search = *static_cast<Search*>(data);
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (search.address >= start && search.address < start + ph.p_memsz) {
      search.module.bias = info->dlpi_addr;
      // The main program has no name here; the kernel's link to it always opens.
      const bool main_program = info->dlpi_name == nullptr || info->dlpi_name[0] == '\0';
      search.module.path = main_program ? "/proc/self/exe" : info->dlpi_name;
      search.found = true;
      return 1;
    }
  }
  return 0;
}

/// The function symbols of one ELF file, sorted by address.
class SymbolTable {
 public:
  explicit SymbolTable(const std::string& path) { load(path); }

  /// The mangled name of the function containing link-time address `at`, or nullptr.
  [[nodiscard]] const char* find(std::uintptr_t at) const {
    auto it = std::upper_bound(symbols_.begin(), symbols_.end(), at,
                               [](std::uintptr_t a, const Symbol& s) { return a < s.start; });
    if (it == symbols_.begin()) return nullptr;
    --it;
    if (at >= it->end) return nullptr;
    return names_.data() + it->name;
  }

 private:
  struct Symbol {
    std::uintptr_t start;
    std::uintptr_t end;
    std::size_t name;  // offset into names_
  };

  template <class T>
  static bool read_at(std::ifstream& in, std::uint64_t offset, T* out, std::size_t count) {
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(sizeof(T) * count));
    return static_cast<bool>(in);
  }

  void load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    ElfW(Ehdr) eh{};
    if (!in || !read_at(in, 0, &eh, 1)) return;
    constexpr unsigned char kClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != kClass ||
        eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shnum == 0) {
      return;
    }
    std::vector<ElfW(Shdr)> sections(eh.e_shnum);
    if (!read_at(in, eh.e_shoff, sections.data(), sections.size())) return;
    // The full table if the binary was not stripped, else the exported symbols.
    const ElfW(Shdr)* table = nullptr;
    for (const ElfW(Shdr) & sh : sections) {
      if (sh.sh_type == SHT_SYMTAB) table = &sh;
    }
    for (const ElfW(Shdr) & sh : sections) {
      if (table == nullptr && sh.sh_type == SHT_DYNSYM) table = &sh;
    }
    if (table == nullptr || table->sh_link >= sections.size()) return;
    const ElfW(Shdr)& strings = sections[table->sh_link];
    names_.resize(strings.sh_size + 1);
    if (!read_at(in, strings.sh_offset, names_.data(), strings.sh_size)) return;
    std::vector<ElfW(Sym)> syms(table->sh_size / sizeof(ElfW(Sym)));
    if (!read_at(in, table->sh_offset, syms.data(), syms.size())) return;
    for (const ElfW(Sym) & sym : syms) {
      // The low four bits of st_info are the type in both ELF classes.
      if ((sym.st_info & 0xf) != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_value == 0 ||
          sym.st_name >= strings.sh_size) {
        continue;
      }
      const std::uintptr_t start = sym.st_value;
      symbols_.push_back({start, start + std::max<std::uintptr_t>(sym.st_size, 1), sym.st_name});
    }
    std::sort(symbols_.begin(), symbols_.end(),
              [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
  }

  std::vector<Symbol> symbols_;
  std::vector<char> names_;
};

}  // namespace

// Called with the name table's lock held, which also guards this cache.
std::string symbolize(const void* address) {
  if (address == nullptr) return {};
  Search search{reinterpret_cast<std::uintptr_t>(address), {}, false};
  dl_iterate_phdr(&find_module, &search);
  if (!search.found) return {};
  static auto* tables = new std::map<std::string, std::unique_ptr<SymbolTable>>;
  std::unique_ptr<SymbolTable>& table = (*tables)[search.module.path];
  if (!table) table = std::make_unique<SymbolTable>(search.module.path);
  const char* mangled = table->find(search.address - search.module.bias);
  if (mangled == nullptr) return {};
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(mangled);
}

}  // namespace corio::detail
