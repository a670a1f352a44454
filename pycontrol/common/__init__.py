"""Typed Python views of the common C primitives (vpp-plugins/common)."""
