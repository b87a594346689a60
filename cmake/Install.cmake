# `cmake --install build/<preset> --prefix P`: the public headers, the two static
# libraries, a CMake package (find_package(corio CONFIG) -> corio::corio) and a
# pkg-config file (corio.pc). Only the libraries need to be built; tests, examples and
# benchmarks have no install rules. tests/install/check_install.sh builds a consumer
# against the result both ways.
include(CMakePackageConfigHelpers)

set(CORIO_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/corio"
    CACHE STRING "Where corioConfig.cmake goes, relative to the prefix")

install(DIRECTORY include/corio TYPE INCLUDE FILES_MATCHING PATTERN "*.hpp")
install(TARGETS corio corio_reactor EXPORT corioTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT corioTargets NAMESPACE corio:: DESTINATION ${CORIO_INSTALL_CMAKEDIR})

# The libraries are static, so their private link dependencies (Threads, liburing when
# the io_uring backend is built, libdl for the symbolizer) become the consumer's: the
# exported targets name them, and the package config below finds them again.
if("io_uring" IN_LIST CORIO_BACKENDS)
  set(CORIO_WITH_LIBURING ON)
else()
  set(CORIO_WITH_LIBURING OFF)
endif()
configure_package_config_file(cmake/corioConfig.cmake.in
  ${PROJECT_BINARY_DIR}/corioConfig.cmake
  INSTALL_DESTINATION ${CORIO_INSTALL_CMAKEDIR})
# SameMajorVersion: find_package(corio 0.1) accepts 0.1 or any later 0.x, not 1.x. A
# major release is where the API may break, so AnyNewerVersion (which would accept 1.x)
# promises too much.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/corioConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/corioConfig.cmake
              ${PROJECT_BINARY_DIR}/corioConfigVersion.cmake
        DESTINATION ${CORIO_INSTALL_CMAKEDIR})

# corio.pc. The static archives' dependencies go in Libs/Requires, not in the .private
# fields: `pkg-config --libs corio` must link without --static.
set(CORIO_PC_REQUIRES "")
if(CORIO_WITH_LIBURING)
  set(CORIO_PC_REQUIRES "liburing")
endif()
if(CORIO_WITH_OPENSSL)
  string(APPEND CORIO_PC_REQUIRES " openssl")
  string(STRIP "${CORIO_PC_REQUIRES}" CORIO_PC_REQUIRES)
endif()
set(CORIO_PC_LIBS "${CMAKE_THREAD_LIBS_INIT}")  # empty where libc has the threads
foreach(lib IN LISTS CMAKE_DL_LIBS)
  string(APPEND CORIO_PC_LIBS " -l${lib}")
endforeach()
string(STRIP "${CORIO_PC_LIBS}" CORIO_PC_LIBS)
# The target's -foptimize-sibling-calls is guarded by compiler id; a .pc file cannot be,
# so it carries the flag for every GCC-compatible build: GCC needs it (see the corio
# target), clang accepts it and tail-calls anyway.
set(CORIO_PC_CFLAGS "")
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  set(CORIO_PC_CFLAGS "-foptimize-sibling-calls")
endif()
foreach(dir IN ITEMS LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(CORIO_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(CORIO_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
# The prefix is only known at install time (`--prefix P` overrides the configured
# one), so the file is configured twice: everything but the prefix now, the prefix by
# the install script just before the file is installed.
set(CORIO_PC_PREFIX "@CMAKE_INSTALL_PREFIX@")
configure_file(cmake/corio.pc.in ${PROJECT_BINARY_DIR}/corio.pc.in @ONLY)
install(CODE "configure_file(\"${PROJECT_BINARY_DIR}/corio.pc.in\"
                             \"${PROJECT_BINARY_DIR}/corio.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/corio.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
