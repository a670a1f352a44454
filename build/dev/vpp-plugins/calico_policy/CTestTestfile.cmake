# CMake generated Testfile for 
# Source directory: /work/wt-dnat/vpp-plugins/calico_policy
# Build directory: /work/wt-dnat/build/dev/vpp-plugins/calico_policy
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
