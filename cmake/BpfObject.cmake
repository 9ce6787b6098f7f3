# SPDX-License-Identifier: Apache-2.0
# Compiles an XDP/BPF C file with clang and turns the object into a libbpf skeleton header.
# The skeleton embeds the object, so the daemon and the simulator run exactly the bytes built here.
find_program(XLB_CLANG NAMES clang clang-14 REQUIRED)
find_program(XLB_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

# xlb_bpf_object(<target> SOURCE <file.bpf.c> NAME <skeleton name> DEPENDS <headers...>)
# Defines <target>, an INTERFACE library whose include directory holds <name>.skel.h.
function(xlb_bpf_object target)
  cmake_parse_arguments(B "" "SOURCE;NAME" "DEPENDS" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target})
  set(obj ${out}/${B_NAME}.bpf.o)
  set(skel ${out}/${B_NAME}.skel.h)
  set(arch_inc /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
  if(NOT CMAKE_LIBRARY_ARCHITECTURE)
    set(arch_inc /usr/include/x86_64-linux-gnu)
  endif()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    # -g: BTF for libbpf and libxdp. -O2: the verifier needs optimised code.
    COMMAND ${XLB_CLANG} -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86
            -I${arch_inc} -I${PROJECT_SOURCE_DIR}/bpf -c ${B_SOURCE} -o ${obj}
    DEPENDS ${B_SOURCE} ${B_DEPENDS}
    COMMENT "BPF ${B_NAME}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${XLB_BPFTOOL} gen skeleton ${obj} name ${B_NAME} > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${B_NAME}.skel.h")
  add_custom_target(${target}_gen DEPENDS ${skel} ${obj})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} SYSTEM INTERFACE ${out})
  set_property(TARGET ${target} PROPERTY XLB_BPF_OBJECT ${obj})
endfunction()
