"""Every fast lowering of the CPU device; importing this package registers them (one module per op family)."""
from irforge.runtime.devices.cpu.lowerings import (  # noqa: F401
    attention,
    control_flow,
    conv,
    convert,
    eltwise,
    indexing,
    matmul,
    movement,
    norm,
    pooling,
    quantized,
    reduce,
    resize,
    rnn,
    unary,
)
