# Where `cmake --install` puts things, and the hook the folders use for their
# programs. Included before the folders; cmake/package.cmake does the rest.
include(GNUInstallDirs)

# The preload library is loaded, never linked: it gets a directory of its
# own, and lrp-run finds it relative to its own binary.
set(LRP_INSTALL_PRELOAD_DIR ${CMAKE_INSTALL_LIBDIR}/lrp)
file(RELATIVE_PATH LRP_PRELOAD_FROM_BIN ${CMAKE_INSTALL_FULL_BINDIR}
     ${CMAKE_INSTALL_FULL_LIBDIR}/lrp)

# lrp_programs(TARGET... [INSTALL]): programs with a command line. The usage
# test (tests/cli) checks that each answers --help with exit 0 and a bad
# option with exit 2; INSTALL also installs them into bin/.
function(lrp_programs)
  cmake_parse_arguments(P "INSTALL" "" "" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY LRP_PROGRAMS ${P_UNPARSED_ARGUMENTS})
  if(P_INSTALL)
    install(TARGETS ${P_UNPARSED_ARGUMENTS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endfunction()
