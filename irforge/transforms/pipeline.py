"""The default optimization pipeline, in order. `--list-passes` prints it; `--disable-pass NAME` skips one.

The order follows OpenVINO's MOC transformations: clean up and fold constants first (so patterns see Constants and
static shapes) and give run-time-computed Reshape targets constant ones; fuse decomposed activations,
normalizations and attention while their Divide/Subtract spellings are intact; then fold Pads into the
next op and BatchNorm and the per-channel Multiply/Add chains into the weights; and clean up again."""
from __future__ import annotations

from collections.abc import Callable

from irforge.transforms.base import Pass
from irforge.transforms.batchnorm import BatchNormDecomposition
from irforge.transforms.cleanup import CommonSubexpressionElimination, DeadCodeElimination
from irforge.transforms.constant_folding import ConstantFolding
from irforge.transforms.fusions_activation import ACTIVATION_FUSIONS
from irforge.transforms.fusions_structure import (
    DepthToSpaceFusion, MVNFusion, NormalizeL2Fusion, ShuffleChannelsFusion, SoftmaxFusion)
from irforge.transforms.if_folding import FoldConstantIf
from irforge.transforms.linear_folding import (
    AddBeforeWeightsFusion, ConvertSubtractDivideWithConstant, LinOpSequenceFusion, MultiplyAfterWeightsFusion,
    MultiplyBeforeWeightsFusion)
from irforge.transforms.nop_elimination import NopElimination
from irforge.transforms.pad_fusion import PadFusion
from irforge.transforms.reshape_simplification import SimplifyReshapeTarget
from irforge.transforms.reverse_channels import ReverseInputChannelsFusion
from irforge.transforms.sdpa_fusion import SDPAFusion
from irforge.transforms.transpose_fusion import TransposeFusion

# Each entry makes a fresh pass (passes carry their own counters). A name may appear more than once (a pass
# run again after the fusions); disabling a name disables every occurrence.
PIPELINE: list[Callable[[], Pass]] = [
    DeadCodeElimination,  # nodes left by --output cuts or unused in the source would block fusions
    ConstantFolding,
    FoldConstantIf,
    NopElimination,
    ReverseInputChannelsFusion,
    CommonSubexpressionElimination,
    ConstantFolding,
    NopElimination,
    SimplifyReshapeTarget,
    *ACTIVATION_FUSIONS,
    MVNFusion,
    NormalizeL2Fusion,
    SoftmaxFusion,
    SDPAFusion,
    TransposeFusion,
    DepthToSpaceFusion,
    ShuffleChannelsFusion,
    BatchNormDecomposition,
    PadFusion,
    ConvertSubtractDivideWithConstant,
    LinOpSequenceFusion,
    MultiplyAfterWeightsFusion,
    AddBeforeWeightsFusion,
    MultiplyBeforeWeightsFusion,
    LinOpSequenceFusion,
    ConstantFolding,
    NopElimination,
    CommonSubexpressionElimination,
    DeadCodeElimination,
]


def default_passes() -> list[Pass]:
    return [make() for make in PIPELINE]


def pass_descriptions() -> list[tuple[str, str]]:
    """(name, description) of each distinct pass, in pipeline order."""
    seen: dict[str, str] = {}
    for p in default_passes():
        seen.setdefault(p.name, p.description)
    return list(seen.items())
