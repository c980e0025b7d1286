"""Typed exceptions. Every user-facing failure is one of these, with a one-line message naming the culprit."""


class IRForgeError(Exception):
    """Base of all irforge errors; the CLI prints the message and exits with status 2."""


class GraphError(IRForgeError):
    """A malformed graph or a failed type/shape inference (names the node)."""


class UnsupportedOpsError(IRForgeError):
    """The source model uses ops (or attribute values) irforge cannot convert; lists every one."""


class ModelReadError(IRForgeError):
    """A model file that is missing, not of the expected format, truncated or inconsistent."""


class InferenceError(IRForgeError):
    """Bad inputs to a compiled model (names the input, the expected and the given)."""


class OptionError(IRForgeError):
    """A malformed or inconsistent option (names the option and the expected form)."""


class OutputError(IRForgeError):
    """An output file or folder that cannot be written (names the path and the reason); nothing is written."""


class NotSupportedError(IRForgeError, NotImplementedError, AttributeError):
    """A name of OpenVINO's API that irforge does not implement (yet): a NotImplementedError naming it. It is an
    AttributeError too, so `hasattr()` and duck typing see the name as absent."""
