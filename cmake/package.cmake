# The native socket API as an installed package, made from the targets the
# folders define (so it follows them as they grow):
#   liblrp.so and liblrp.a: lrp_sockets and every project library under it
#   include/lrp/...: the API's headers and every project header they include,
#                    at the paths the sources use ("sockets/api/stack.h")
#   lrpConfig.cmake: find_package(lrp) with lrp::sockets (shared) and
#                    lrp::sockets_static
#   lrp.pc: pkg-config --cflags --libs lrp
#   the systemd unit of lrpd, when service/lrpd.service exists
include(CMakePackageConfigHelpers)

set(LRP_API_TARGET lrp_sockets)
set(LRP_API_HEADER_DIR sockets/api)

# Outside dependencies lrpConfig.cmake knows how to find. A project library
# that links anything else stops the configuration, so that the installed
# package never lacks a dependency.
set(LRP_KNOWN_EXTERNALS PkgConfig::LIBBPF PkgConfig::LIBXDP Threads::Threads prometheus-cpp::pull
    prometheus-cpp::core civetweb::civetweb)

# Project libraries reachable from ${root}'s links (static, with their
# objects) and the outside libraries they link.
function(lrp_link_closure root internal_out external_out)
  set(todo ${root})
  set(internal "")
  set(external "")
  while(todo)
    list(POP_FRONT todo t)
    if(t IN_LIST internal)
      continue()
    endif()
    list(APPEND internal ${t})
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(links ${t} INTERFACE_LINK_LIBRARIES)
    else()
      get_target_property(links ${t} LINK_LIBRARIES)
    endif()
    if(NOT links)
      continue()
    endif()
    foreach(l IN LISTS links)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" l "${l}")
      # Names with "::" are imported targets, which may be visible only in
      # the folder that found them.
      if(l MATCHES "::")
        list(APPEND external ${l})
      elseif(TARGET ${l})
        list(APPEND todo ${l})
      elseif(l STREQUAL "dl" OR l STREQUAL "${CMAKE_DL_LIBS}")
        list(APPEND external ${l})
      else()
        message(FATAL_ERROR "package.cmake: ${t} links '${l}', which the package cannot name")
      endif()
    endforeach()
  endwhile()
  list(REMOVE_DUPLICATES external)
  set(${internal_out} ${internal} PARENT_SCOPE)
  set(${external_out} ${external} PARENT_SCOPE)
endfunction()

lrp_link_closure(${LRP_API_TARGET} lrp_internal lrp_external)
set(lrp_objects "")
foreach(t IN LISTS lrp_internal)
  get_target_property(type ${t} TYPE)
  if(type STREQUAL "STATIC_LIBRARY" OR type STREQUAL "OBJECT_LIBRARY")
    get_target_property(pic ${t} POSITION_INDEPENDENT_CODE)
    if(NOT pic)
      message(FATAL_ERROR "package.cmake: ${t} is part of liblrp.so and needs "
                          "POSITION_INDEPENDENT_CODE ON")
    endif()
    list(APPEND lrp_objects $<TARGET_OBJECTS:${t}>)
  endif()
endforeach()
foreach(l IN LISTS lrp_external)
  if(NOT l IN_LIST LRP_KNOWN_EXTERNALS AND NOT l STREQUAL "${CMAKE_DL_LIBS}")
    message(FATAL_ERROR "package.cmake: the native API now links ${l}: teach "
                        "cmake/lrpConfig.cmake.in and cmake/lrp.pc.in to find it, then add it "
                        "to LRP_KNOWN_EXTERNALS")
  endif()
endforeach()

# The folders found these in their own scope; the package needs them here.
find_package(prometheus-cpp CONFIG REQUIRED)

# The API's headers use libbpf's and libxdp's (lrp/umem.h includes xdp/xsk.h).
set(lrp_public_externals PkgConfig::LIBBPF PkgConfig::LIBXDP Threads::Threads)
set(lrp_private_externals ${lrp_external})
list(REMOVE_ITEM lrp_private_externals ${lrp_public_externals})

add_library(lrp_native SHARED ${lrp_objects})
add_library(lrp_native_static STATIC ${lrp_objects})
set_target_properties(lrp_native PROPERTIES OUTPUT_NAME lrp EXPORT_NAME sockets
                                            VERSION ${PROJECT_VERSION}
                                            SOVERSION ${PROJECT_VERSION_MAJOR})
set_target_properties(lrp_native_static PROPERTIES OUTPUT_NAME lrp EXPORT_NAME sockets_static)
foreach(t lrp_native lrp_native_static)
  target_link_libraries(${t} PUBLIC ${lrp_public_externals} PRIVATE ${lrp_private_externals})
  target_include_directories(${t} INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/lrp>)
  target_compile_features(${t} INTERFACE cxx_std_20)
endforeach()

# Headers: those of the API's folder and, transitively, every project header
# they include with #include "...". Configuration runs again when one of
# them changes, so the list follows the sources.
file(GLOB lrp_todo RELATIVE ${PROJECT_SOURCE_DIR} CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/${LRP_API_HEADER_DIR}/*.h)
set(lrp_headers "")
while(lrp_todo)
  list(POP_FRONT lrp_todo h)
  if(h IN_LIST lrp_headers)
    continue()
  endif()
  list(APPEND lrp_headers ${h})
  file(STRINGS ${PROJECT_SOURCE_DIR}/${h} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*" "\\1" inc "${line}")
    if(EXISTS ${PROJECT_SOURCE_DIR}/${inc})
      list(APPEND lrp_todo ${inc})
    else()
      message(FATAL_ERROR "package.cmake: ${h} includes \"${inc}\", which is not a project "
                          "header (a generated header cannot be part of the installed API)")
    endif()
  endforeach()
endwhile()
foreach(h IN LISTS lrp_headers)
  get_filename_component(dir ${h} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${h} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lrp/${dir})
  set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                                                               ${PROJECT_SOURCE_DIR}/${h})
endforeach()

set(LRP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/lrp)
install(TARGETS lrp_native lrp_native_static EXPORT lrpTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT lrpTargets NAMESPACE lrp:: DESTINATION ${LRP_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/lrpConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/lrpConfig.cmake
                              INSTALL_DESTINATION ${LRP_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lrpConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lrpConfig.cmake ${PROJECT_BINARY_DIR}/lrpConfigVersion.cmake
        DESTINATION ${LRP_INSTALL_CMAKEDIR})

# lrp.pc finds its prefix from where it lies, so the installed tree can move.
file(RELATIVE_PATH LRP_PC_TO_PREFIX /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
configure_file(${CMAKE_CURRENT_LIST_DIR}/lrp.pc.in ${PROJECT_BINARY_DIR}/lrp.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/lrp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The unit of lrpd. @CMAKE_INSTALL_FULL_BINDIR@ and the like in it are
# replaced by the installed paths.
set(LRP_SYSTEMD_UNIT_DIR lib/systemd/system
    CACHE STRING "Where the systemd unit of lrpd is installed (relative: under the prefix)")
if(EXISTS ${PROJECT_SOURCE_DIR}/service/lrpd.service)
  configure_file(${PROJECT_SOURCE_DIR}/service/lrpd.service ${PROJECT_BINARY_DIR}/lrpd.service
                 @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/lrpd.service DESTINATION ${LRP_SYSTEMD_UNIT_DIR})
endif()
