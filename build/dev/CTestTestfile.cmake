# CMake generated Testfile for 
# Source directory: /work/wt-dnat
# Build directory: /work/wt-dnat/build/dev
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("vpp-plugins/common")
subdirs("vpp-plugins/calico_dnat")
subdirs("vpp-plugins/calico_policy")
