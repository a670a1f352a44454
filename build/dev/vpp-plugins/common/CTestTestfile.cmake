# CMake generated Testfile for 
# Source directory: /work/wt-dnat/vpp-plugins/common
# Build directory: /work/wt-dnat/build/dev/vpp-plugins/common
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test("test_cp_csum" "/work/wt-dnat/build/dev/vpp-plugins/common/test_cp_csum")
set_tests_properties("test_cp_csum" PROPERTIES  _BACKTRACE_TRIPLES "/work/wt-dnat/cmake/cp.cmake;31;add_test;/work/wt-dnat/vpp-plugins/common/CMakeLists.txt;6;cp_c_test;/work/wt-dnat/vpp-plugins/common/CMakeLists.txt;0;")
add_test("test_cp_epoch" "/work/wt-dnat/build/dev/vpp-plugins/common/test_cp_epoch")
set_tests_properties("test_cp_epoch" PROPERTIES  _BACKTRACE_TRIPLES "/work/wt-dnat/cmake/cp.cmake;31;add_test;/work/wt-dnat/vpp-plugins/common/CMakeLists.txt;7;cp_c_test;/work/wt-dnat/vpp-plugins/common/CMakeLists.txt;0;")
