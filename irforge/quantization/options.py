"""The options of post-training quantization, checked once with errors that name the option and what it accepts."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from irforge.errors import OptionError

PRESETS = ("performance", "mixed")
RANGE_ESTIMATORS = ("minmax", "mean_minmax", "quantile")
OVERFLOW_FIX = ("auto", "first_layer", "enable", "disable")
FALLBACK_PRECISIONS = ("bf16", "f16", "none")
DROP_TYPES = ("absolute", "relative")
DEVICES = ("auto", "CPU", "REF")


@dataclass
class QuantizationOptions:
    """`preset`: performance = symmetric activations, mixed = asymmetric activations (both: symmetric
    per-channel weights). `range_estimator`: activation ranges from the global min/max, the mean of per-sample
    min/max, or the 1e-4 / 1-1e-4 quantiles. `overflow_fix`: 7-bit weights for the first layers (NNCF's default), for
    all layers, or none; "auto" (the default) is "enable" on a CPU without VNNI/AMX, whose INT8 kernels saturate
    products of 8-bit weights (OpenVINO's and irforge's alike), else "first_layer". `device`: where statistics and validation run
    ("auto": CPU when it runs the model, else REF)."""

    preset: str = "performance"
    subset_size: int = 300
    range_estimator: str = "quantile"
    ignored_types: tuple[str, ...] = ()
    ignored_names: tuple[str, ...] = ()
    fast_bias_correction: bool = True
    overflow_fix: str = "auto"
    quantile_outlier_prob: float = 1e-4
    device: str = "auto"
    batch_size: int = 32  # samples stacked into one inference when the model's batch dimension allows it
    progress: bool = True
    name_patterns: list[re.Pattern[str]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.preset = _choice("preset", self.preset, PRESETS)
        self.range_estimator = _choice("range_estimator", self.range_estimator, RANGE_ESTIMATORS)
        self.overflow_fix = _choice("overflow_fix", self.overflow_fix, OVERFLOW_FIX)
        if self.overflow_fix == "auto":
            from irforge.runtime.host import has_int8_dot_product

            self.overflow_fix = "first_layer" if has_int8_dot_product() else "enable"
        self.device = "auto" if str(self.device).lower() == "auto" else _choice("device", str(self.device).upper(),
                                                                                 DEVICES)
        if not isinstance(self.subset_size, int) or self.subset_size < 1:
            raise OptionError(f"subset_size must be a positive integer, got {self.subset_size!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise OptionError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not 0.0 < float(self.quantile_outlier_prob) < 0.5:
            raise OptionError(f"quantile_outlier_prob must be in (0, 0.5), got {self.quantile_outlier_prob!r}")
        self.ignored_types = tuple(split_list(self.ignored_types))
        self.ignored_names = tuple(split_list(self.ignored_names))
        self.name_patterns = []
        for pattern in self.ignored_names:
            try:
                self.name_patterns.append(re.compile(pattern))
            except re.error as e:
                raise OptionError(f"ignored_names: '{pattern}' is not a valid regular expression ({e})") from e


@dataclass
class AccuracyOptions:
    """The accuracy-aware search: stop when the drop (absolute: fp32 - int8; relative: (fp32 - int8) / fp32) is at
    most `max_drop`; rank groups on the `ranking_subset_size` worst validation items; try reverted layers in
    `fallback_precision` before FP32 ("none": FP32 directly)."""

    max_drop: float = 0.01
    drop_type: str = "absolute"
    ranking_subset_size: int = 100
    fallback_precision: str = "bf16"
    max_reverts: int | None = None

    def __post_init__(self) -> None:
        self.drop_type = _choice("drop_type", self.drop_type, DROP_TYPES)
        self.fallback_precision = _choice("fallback_precision", self.fallback_precision, FALLBACK_PRECISIONS)
        try:
            self.max_drop = float(self.max_drop)
        except (TypeError, ValueError) as e:
            raise OptionError(f"max_drop must be a number, got {self.max_drop!r}") from e
        if not self.max_drop >= 0.0:
            raise OptionError(f"max_drop must be >= 0, got {self.max_drop!r}")
        if not isinstance(self.ranking_subset_size, int) or self.ranking_subset_size < 1:
            raise OptionError(f"ranking_subset_size must be a positive integer, got {self.ranking_subset_size!r}")


def split_list(value: str | Iterable[str] | None) -> list[str]:
    """'a,b' -> ['a', 'b']; a list is taken as it is (so a regular expression may hold a comma); empty entries
    are dropped."""
    if value is None:
        return []
    items = [p for p in value.split(",")] if isinstance(value, str) else [str(v) for v in value]
    return [item.strip() for item in items if item.strip()]


def _choice(option: str, value: object, choices: tuple[str, ...]) -> str:
    text = str(value)
    for c in choices:
        if text.lower() == c.lower():
            return c
    raise OptionError(f"{option} must be one of {', '.join(choices)}, got {value!r}")
