"""The CPU device's native executor: oneDNN primitives created at compile time and called directly (through
ctypes, no build step), without torch.

A plan runs natively when every op of the specialized graph has a native lowering (ops.py) over f32 values;
otherwise the CPU device builds its torch plan (IRFORGE_CPU_EXECUTOR: auto, native, torch). What it buys: no
`import torch` on the way to the first result (over a second and ~200 MB here), weights held once in the
primitives' formats (the mapped .bin released), activations in a static memory plan (buffers reused by
lifetime, Reshape/Squeeze/Slice/Split as views), and one C call per step at run time."""
