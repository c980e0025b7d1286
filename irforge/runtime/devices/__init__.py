"""Devices: each compiles a Model into something that maps input arrays to output arrays."""
