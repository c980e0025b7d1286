"""Statistics collection: an instrumented copy of the model (one extra Result per observed tensor) is compiled once
and run over the calibration subset; the observers fold in each batch as it comes."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from irforge.ir.clone import clone_model
from irforge.ir.graph import Model, Output, result
from irforge.quantization.options import QuantizationOptions
from irforge.quantization.placement import Placement
from irforge.quantization.progress import Progress
from irforge.quantization.runner import DevicePolicy, ModelRunner
from irforge.quantization.samples import Sample
from irforge.quantization.statistics import MeanObserver, RangeObserver


@dataclass
class Statistics:
    ranges: dict[int, RangeObserver] = field(default_factory=dict)  # quantizer qid -> its tensor's ranges
    means: dict[int, MeanObserver] = field(default_factory=dict)  # node uid of a biased layer -> mean input
    samples: int = 0
    device: str = ""


def instrument(model: Model, observed: Sequence[Output]) -> Model:
    """A copy of `model` whose outputs are its own followed by `observed` (tensors of the original model)."""
    twin, mapping = clone_model(model)
    extra = [result(mapping[o.node.uid].outputs[o.index], name=f"__observe_{k}") for k, o in enumerate(observed)]
    instrumented = Model([*twin.results, *extra], twin.parameters, f"{model.name}:statistics")
    return instrumented


def collect_statistics(model: Model, placement: Placement, samples: Iterable[Sample],
                       options: QuantizationOptions, policy: DevicePolicy, total: int | None = None) -> Statistics:
    """Run the instrumented model over `samples` (consumed lazily) and fold every batch into the observers."""
    observed: list[Output] = []
    index: dict[int, int] = {}

    def observe(out: Output) -> int:
        if id(out) not in index:
            index[id(out)] = len(observed)
            observed.append(out)
        return index[id(out)]

    stats = Statistics()
    range_slots: list[tuple[RangeObserver, int]] = []
    for q in placement.quantizers:
        obs = RangeObserver(histogram=options.range_estimator == "quantile")
        stats.ranges[q.qid] = obs
        range_slots.append((obs, observe(q.value)))
    mean_slots: list[tuple[MeanObserver, int]] = []
    if options.fast_bias_correction:
        for op in placement.ops:
            w = op.weight
            if w is not None and w.bias is not None:
                obs_mean = MeanObserver(w.data_channel_axis)
                stats.means[op.node.uid] = obs_mean
                mean_slots.append((obs_mean, observe(op.node.inputs[w.data_index])))

    instrumented = instrument(model, observed)
    first = len(model.results)
    runner = ModelRunner(instrumented, policy, options.batch_size, total or options.subset_size)
    with Progress("Statistics collection", total, options.progress) as bar:
        for _, count, outs, counts in runner.run(samples, bar):
            values = outs[first:]
            for obs, k in range_slots:
                _update_range(obs, values[k], counts)
            for obs_mean, k in mean_slots:
                obs_mean.update(values[k])
            stats.samples += count
    stats.device = runner.device
    return stats


def _update_range(obs: RangeObserver, value: np.ndarray, counts: list[int]) -> None:
    if len(counts) == 1:
        obs.update(value, 1)
    elif all(c == 1 for c in counts):
        obs.update(value, len(counts))
    else:
        start = 0
        for c in counts:
            obs.update(value[start:start + c], 1)
            start += c
