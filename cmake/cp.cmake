# Helpers shared by every component's CMakeLists.txt.

# Project warning discipline for our own targets (not for generated cffi code).
function(cp_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
                                           -Wmissing-prototypes)
  if(CP_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# cp_library(name SOURCES ... INCLUDE dir LIBS ...): a static library of portable C.
function(cp_library name)
  cmake_parse_arguments(A "" "" "SOURCES;INCLUDE;LIBS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${A_INCLUDE})
  target_link_libraries(${name} PUBLIC ${A_LIBS})
  cp_warnings(${name})
endfunction()

# cp_c_test(name SOURCES ... LIBS ...): a C unit test run by ctest.
function(cp_c_test name)
  if(NOT BUILD_TESTING OR SKBUILD OR CP_FUZZ)
    return()
  endif()
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/vpp-plugins/common/tests)
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  cp_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
endfunction()

# cp_fuzzer(name SOURCES ... LIBS ... [CORPUS dir]): a libFuzzer target and a bounded
# ctest run of it under the same name (names start with fuzz_), built only with
# -DCP_FUZZ=ON.
function(cp_fuzzer name)
  if(NOT CP_FUZZ)
    return()
  endif()
  cmake_parse_arguments(A "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/vpp-plugins/common/fuzz)
  cp_warnings(${name})
  set(corpus ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
  file(MAKE_DIRECTORY ${corpus})
  set(seeds)
  if(A_CORPUS)
    set(seeds ${A_CORPUS})
  endif()
  add_test(NAME ${name}
           COMMAND ${name} -max_total_time=${CP_FUZZ_SECONDS} -rss_limit_mb=2048
                   -print_final_stats=1 ${corpus} ${seeds})
endfunction()

# cp_ffi(CDEF file INCLUDE header ... LIBS target ...): contribute declarations, headers
# and libraries to the cffi extension pycontrol._native.
function(cp_ffi)
  cmake_parse_arguments(A "" "" "CDEF;INCLUDE;LIBS" ${ARGN})
  foreach(f ${A_CDEF})
    get_filename_component(abs ${f} ABSOLUTE)
    set_property(GLOBAL APPEND PROPERTY CP_FFI_CDEFS ${abs})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY CP_FFI_INCLUDES ${A_INCLUDE})
  set_property(GLOBAL APPEND PROPERTY CP_FFI_LIBS ${A_LIBS})
endfunction()
