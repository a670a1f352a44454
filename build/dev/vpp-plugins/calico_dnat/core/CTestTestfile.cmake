# CMake generated Testfile for 
# Source directory: /work/wt-dnat/vpp-plugins/calico_dnat/core
# Build directory: /work/wt-dnat/build/dev/vpp-plugins/calico_dnat/core
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test("test_cdn_maglev" "/work/wt-dnat/build/dev/vpp-plugins/calico_dnat/core/test_cdn_maglev")
set_tests_properties("test_cdn_maglev" PROPERTIES  _BACKTRACE_TRIPLES "/work/wt-dnat/cmake/cp.cmake;31;add_test;/work/wt-dnat/vpp-plugins/calico_dnat/core/CMakeLists.txt;8;cp_c_test;/work/wt-dnat/vpp-plugins/calico_dnat/core/CMakeLists.txt;0;")
add_test("test_cdn_session" "/work/wt-dnat/build/dev/vpp-plugins/calico_dnat/core/test_cdn_session")
set_tests_properties("test_cdn_session" PROPERTIES  _BACKTRACE_TRIPLES "/work/wt-dnat/cmake/cp.cmake;31;add_test;/work/wt-dnat/vpp-plugins/calico_dnat/core/CMakeLists.txt;9;cp_c_test;/work/wt-dnat/vpp-plugins/calico_dnat/core/CMakeLists.txt;0;")
add_test("test_cdn_dnat" "/work/wt-dnat/build/dev/vpp-plugins/calico_dnat/core/test_cdn_dnat")
set_tests_properties("test_cdn_dnat" PROPERTIES  _BACKTRACE_TRIPLES "/work/wt-dnat/cmake/cp.cmake;31;add_test;/work/wt-dnat/vpp-plugins/calico_dnat/core/CMakeLists.txt;10;cp_c_test;/work/wt-dnat/vpp-plugins/calico_dnat/core/CMakeLists.txt;0;")
