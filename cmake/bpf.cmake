# bpf_object(NAME SOURCE): compile SOURCE with clang -target bpf and embed the
# object with `bpftool gen skeleton`. Creates an INTERFACE target NAME_skel whose
# include directory holds NAME.skel.h.
find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

# The system headers for BPF need the multiarch include directory. Ask for
# the multiarch name, not the target triple: clang's triple
# (x86_64-pc-linux-gnu) is not Debian's directory name (x86_64-linux-gnu).
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                OUTPUT_VARIABLE LRP_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT LRP_MULTIARCH)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -dumpmachine
                  OUTPUT_VARIABLE LRP_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64")
  set(LRP_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64")
  set(LRP_BPF_ARCH arm64)
else()
  set(LRP_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

set(LRP_BPF_WERROR "")
if(LRP_WERROR)
  set(LRP_BPF_WERROR -Werror)
endif()

function(bpf_object name source)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}_skel)
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  get_filename_component(src_abs ${source} ABSOLUTE)
  get_filename_component(src_dir ${src_abs} DIRECTORY)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${BPF_CLANG} -O2 -g -Wall ${LRP_BPF_WERROR} -target bpf -D__TARGET_ARCH_${LRP_BPF_ARCH}
            -I/usr/include/${LRP_MULTIARCH} -I${src_dir} -c ${src_abs} -o ${obj}
    DEPENDS ${src_abs} ${ARGN}
    IMPLICIT_DEPENDS C ${src_abs}
    COMMENT "BPF ${name}")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${name}")
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir} ${src_dir})
endfunction()
