# Helpers for the VPP plugins (vpp-plugins/<plugin>/vpp), used after find_package(VPP).

# VPP's plugin macros expect targets that only exist inside VPP's own tree.
macro(cp_vpp_prepare)
  if(NOT TARGET api_headers)
    add_custom_target(api_headers)
  endif()
  # VPP's install places plugins under ${VPP_LIBRARY_DIR}/vpp_plugins (lib/<multiarch>)
  if(NOT VPP_LIBRARY_DIR)
    set(VPP_LIBRARY_DIR ${CMAKE_INSTALL_LIBDIR})
  endif()
endmacro()

# Compile settings of a plugin target <name>_plugin: the glue's include paths (the
# generated message headers sit one directory above vpp/ because the .api is there), the
# shared glue header, warnings as VPP builds its own plugins.
function(cp_vpp_plugin_settings name)
  set(t ${name}_plugin)
  get_filename_component(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/.. ABSOLUTE)
  target_include_directories(${t} PRIVATE ${gen_dir} ${CMAKE_CURRENT_SOURCE_DIR}
                             ${CMAKE_SOURCE_DIR}/vpp-plugins/common/vpp)
  target_compile_options(${t} PRIVATE -Wall -Wno-address-of-packed-member)
  if(CP_WERROR)
    target_compile_options(${t} PRIVATE -Werror)
  endif()
  # VPP's headers are GNU C (typeof, asm, statement expressions): -std=gnu11 for the glue
  set_target_properties(${t} PROPERTIES C_EXTENSIONS ON
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/vpp_plugins)
  # the cores' static libraries are linked into the .so without exporting their symbols:
  # only the plugin registration and the symbols other plugins look up are visible
  target_link_options(${t} PRIVATE -Wl,--exclude-libs,ALL)
endfunction()
