"""CPU: runs the IR with oneDNN primitives and ATen kernels through PyTorch's CPU operators.

Compile (`CPUExecutable`): the model is cloned with concrete input shapes and everything the inputs do not
decide is folded with the reference kernels (specialize.py); each remaining op is matched by its registered
lowering (registry.py, lowerings/*: one entry per op type), which may absorb the nodes after it (fusion.py:
bias, activation, residual Add); unmatched ops run their NumPy reference kernel (fallback.py). The result is a
Plan (plan.py): a flat list of prebound steps over slots, slots reused once their value is dead (memory.py),
weights prepacked for the plan's shapes and thread count. Runs of torch-lowered steps holding convolutions or
matrix products are then traced into TorchScript with oneDNN Graph fusion at their first execution and run
compiled by rule, not by a timing race (segments.py): a compiled partition skips the primitive-descriptor setup an
eager oneDNN call repeats (~40 us per convolution) and fuses more (1x1 + depthwise convolutions, squeeze-excite
gates, layer norms, GEMM epilogues).

Layout: activations of convolutions are channels-last (NHWC) torch tensors with logical NCHW shapes, the layout
OpenVINO's CPU plugin also uses on AVX2, so every op sees logical axes and stays correct; layout changes happen at
the model's edges (outputs are returned C-contiguous) and where an op needs them (a Reshape across channels and
spatial axes makes its result contiguous; a 1x1 convolution feeding such a Reshape is computed planar directly).
Trace functions keep that layout: convolutions are traced with channels-last weights, so oneDNN Graph partitions
hand NHWC tensors to the ATen ops between them (with planar weights a planar model input made every partition
boundary NCHW, a reorder on each side).

Precision: f32, or bf16 with INFERENCE_PRECISION_HINT=bf16 (precision.py; emulated where the CPU lacks bf16). The
default is bf16 where the CPU has native bf16 (AVX512-BF16 or AMX, as OpenVINO decides; config.py), else f32: code
that needs f32 results whatever the CPU (quantization's statistics and validation, `irforge infer`) asks for f32.

NaN (one rule for f32 and bf16; bf16 rounding keeps NaN): NaN propagates as on REF. Every op gives NaN where REF
does (element-wise ops, Sign, ReLU/Clamp/HSigmoid run by ATen, Maximum/Minimum, reductions, Softmax, normalizations,
convolutions and matrix products with their bias and Sigmoid/HSwish/Swish/PReLU/GELU activations), and MaxPool skips
NaN as REF and OpenVINO do: a NaN never wins its window, a window of NaN only gives the lowest finite value
(lowerings/pooling.py; oneDNN's pooling does the same in a compiled segment). ONNX Runtime differs from REF there
(its ReduceMax/ReduceMin skip NaN, its MaxPool keeps a NaN only when it opens the window). The one exception: a
ReLU, Clamp or HSigmoid that oneDNN computes returns a bound for NaN, as OpenVINO's CPU plugin does for every
ReLU/Clamp: fused into a convolution as its post-op (ReLU 0, Clamp its min, HSigmoid 1), or anywhere inside a
compiled oneDNN Graph segment (also after a matrix product or an element-wise op; HSigmoid gates are traced as
clamp(y / 6 + 0.5, 0, 1): 0). oneDNN's max/min-based kernels return the bound for NaN, and oneDNN Graph has no
NaN-propagating ReLU, so propagating would mean unfusing every ReLU (MobileNetV2 at 224, 1 thread, eager steps:
5.3 -> 6.0 ms) and taking them out of the compiled partitions. A segment compiles on its plan's first inference
and each compiled piece must reproduce the eager steps, NaN positions included: a ReLU that meets NaN in that
first inference stays in ATen (propagating) for good. tests/runtime/cpu/test_nan.py holds the rule.

Threads (measured with torch 2.13 / GNU OpenMP on this 2-core AVX2 machine):
* torch's intra-op thread count is per OS thread: `torch.set_num_threads(n)` sets the calling thread's OpenMP
  ICV (and a process-wide default) and leaves threads that already ran a parallel op alone. A thread reads the
  process-wide default lazily, on its first parallel op or first `torch.get_num_threads()`, which then overrides
  an earlier `set_num_threads` in that thread; a runner therefore calls `get_num_threads()` before setting its
  count, in the thread that runs it, before every run (~0.2 us). Two runners with 1 thread each in two Python
  threads then run truly in parallel (torch releases the GIL inside ops; 1-thread OpenMP regions run inline).
* oneDNN's brgconv kernels pick their weight blocking from the thread count, so weights prepacked under 2 threads
  are reordered on every call by a 1-thread runner (3x slower). Plans are keyed by (input shapes, threads).
* GNU OpenMP's default spin-then-sleep waiting (300000 spins) collapses when the machine is oversubscribed: a
  parallel region waits for a descheduled worker, and spinning workers steal the cores (ResNet-50 at 2 threads
  took 2.4x its 1-thread time at load 3-5). Sleeping at once (OMP_WAIT_POLICY=PASSIVE, this package's earlier
  default) costs every back-to-back primitive a wake-up instead: the native executor's BERT-mini at 2 threads took
  9.5-10.4 ms passive, 4.3 ms with a short spin, 4.25 ms always spinning (OpenVINO 4.2 ms), while ResNet-50 at 2
  threads beside two busy processes stayed within the noise of passive (63-96 ms passive, 66-72 ms with 2000-5000
  spins, 100 ms with 20000). This package sets GOMP_SPINCOUNT=5000 (a few microseconds of spinning) when it is
  imported before torch and the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT; libgomp reads them when it
  loads (with torch, or with libdnnl), so a process that imports torch first must export them itself.
* glibc malloc is tuned once to keep freed activation memory mapped (allocator.py; IRFORGE_CPU_MALLOPT=0
  disables)."""
import os
import sys

SPIN_COUNT = "5000"  # GNU OpenMP's spins before a waiting thread sleeps (see Threads above)

if "torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)

from irforge.runtime.devices.cpu.executable import CPUExecutable  # noqa: E402

__all__ = ["CPUExecutable"]
