# CMake generated Testfile for 
# Source directory: /work/wt-dnat/vpp-plugins/calico_dnat
# Build directory: /work/wt-dnat/build/dev/vpp-plugins/calico_dnat
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("core")
