"""Layout: the meaning of each axis of a tensor (`NCHW`, `[N,C,H,W]`, `NC...`), as OpenVINO's `ov.Layout`."""
