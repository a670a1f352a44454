# cp_api_generate(module api_file): generate, at build time, from a plugin's .api file
# (pycontrol.vppapi, the project's vppapigen-compatible generator):
#   <build>/api-gen/<module>.api_wire.h   packed structs, message ids, endian converters
#   <build>/api-gen/<module>.api.json     what vpp_papi loads (vppapigen's format)
#   <build>/api-gen/<module>.api.cdef     cffi declarations of the messages
# Sets CP_API_<module>_HEADER, _JSON, _DIR in the caller's scope. When VPP's .api files
# are installed (vnet/ip/ip_types.api under /usr/include), imports resolve to them;
# otherwise to the generator's built-in definitions (same layouts and CRCs).
if(NOT CP_API_PYTHON)
  if(Python_EXECUTABLE)
    set(CP_API_PYTHON ${Python_EXECUTABLE})
  else()
    find_package(Python3 3.9 REQUIRED COMPONENTS Interpreter)
    set(CP_API_PYTHON ${Python3_EXECUTABLE})
  endif()
  set(CP_API_PYTHON ${CP_API_PYTHON} CACHE FILEPATH "Python running pycontrol.vppapi")
endif()

function(cp_api_generate module api_file)
  set(dir ${CMAKE_BINARY_DIR}/api-gen)
  set(hdr ${dir}/${module}.api_wire.h)
  set(json ${dir}/${module}.api.json)
  set(cdef ${dir}/${module}.api.cdef)
  file(GLOB gen_sources ${CMAKE_SOURCE_DIR}/pycontrol/vppapi/*.py)
  add_custom_command(
    OUTPUT ${hdr} ${json} ${cdef}
    COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${CMAKE_SOURCE_DIR}
            ${CP_API_PYTHON} -m pycontrol.vppapi ${api_file}
            --c-header ${hdr} --json ${json} --cdef ${cdef}
    DEPENDS ${api_file} ${gen_sources}
    COMMENT "pycontrol.vppapi: ${module}.api -> wire header, .api.json, cdef"
    VERBATIM)
  add_custom_target(${module}_api_gen DEPENDS ${hdr} ${json} ${cdef})
  if(SKBUILD)
    install(FILES ${api_file} ${json} DESTINATION pycontrol/vppapi/api)
  endif()
  set(CP_API_${module}_HEADER ${hdr} PARENT_SCOPE)
  set(CP_API_${module}_JSON ${json} PARENT_SCOPE)
  set(CP_API_${module}_DIR ${dir} PARENT_SCOPE)
endfunction()

# The reply collector and framing helpers (cp/api.h) for pycontrol._native: declared
# once, by whichever plugin's api/ registers first.
function(cp_api_ffi_common)
  get_property(done GLOBAL PROPERTY CP_API_FFI_COMMON)
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY CP_API_FFI_COMMON ON)
  cp_ffi(CDEF ${CMAKE_SOURCE_DIR}/cmake/cp_api.cdef INCLUDE cp/api.h LIBS cp_common)
endfunction()
