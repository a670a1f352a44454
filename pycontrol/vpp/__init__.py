"""Running VPP with this project's plugins: the process, packet-generator traffic."""
