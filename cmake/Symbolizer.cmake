# Debug mode names coroutines by looking their resume functions up in the binary's
# symbol table. Which way this build can do that is chosen here, by source file, so
# the code holds no platform #if (coro/symbolize_elf.cpp says why dladdr() is not
# enough). Sets CORIO_SYMBOLIZER_SOURCES, CORIO_SYMBOLIZER_LIBRARIES and
# CORIO_HAVE_SYMBOLIZER (tests expect coroutine names only when it is ON).
include(CheckIncludeFileCXX)
include(CheckCXXSymbolExists)

check_include_file_cxx(elf.h CORIO_HAVE_ELF_H)
check_include_file_cxx(cxxabi.h CORIO_HAVE_CXXABI_H)
check_cxx_symbol_exists(dl_iterate_phdr link.h CORIO_HAVE_DL_ITERATE_PHDR)

if(CORIO_HAVE_ELF_H AND CORIO_HAVE_CXXABI_H AND CORIO_HAVE_DL_ITERATE_PHDR)
  set(CORIO_SYMBOLIZER_SOURCES coro/symbolize_elf.cpp)
  set(CORIO_SYMBOLIZER_LIBRARIES ${CMAKE_DL_LIBS})
  set(CORIO_HAVE_SYMBOLIZER ON)
else()
  set(CORIO_SYMBOLIZER_SOURCES coro/symbolize_none.cpp)
  set(CORIO_SYMBOLIZER_LIBRARIES "")
  set(CORIO_HAVE_SYMBOLIZER OFF)
endif()
message(STATUS "corio coroutine names in debug mode: ${CORIO_HAVE_SYMBOLIZER}")
