"""PrePostProcessor: declare what the user feeds and gets, and the steps between; `build()` adds them to the
model as ops, in place, and returns the same model (as OpenVINO's `ov.preprocess.PrePostProcessor`)."""
from __future__ import annotations

from irforge.errors import GraphError
from irforge.ir.graph import Model
from irforge.ir.layout import LayoutError
from irforge.mo.reshape import reinfer
from irforge.preprocess.common import PreprocessError
from irforge.preprocess.guard import ModelGuard
from irforge.preprocess.info import InputInfo, OutputInfo
from irforge.preprocess.input_build import build_input, describe_input, input_name
from irforge.preprocess.output_build import build_output, describe_output, output_name


class PrePostProcessor:
    """Pre- and postprocessing of `model`'s inputs and outputs, built into the model by `build()`."""

    def __init__(self, model: Model) -> None:
        if not isinstance(model, Model):
            raise PreprocessError(f"PrePostProcessor: expected an irforge Model, got {type(model).__name__}")
        self._model = model
        self._inputs = [InputInfo(p) for p in model.parameters]
        self._outputs = [OutputInfo(r) for r in model.results]

    def input(self, key: int | str | None = None) -> InputInfo:
        """The only input, the input at an index, or the input with a tensor name."""
        names = [input_name(i.param) for i in self._inputs]
        if key is None:
            if len(self._inputs) != 1:
                raise PreprocessError(f"PrePostProcessor.input(): the model has {len(self._inputs)} inputs "
                                      f"({', '.join(names)}); give an index or a name")
            return self._inputs[0]
        if isinstance(key, str):
            for info in self._inputs:
                if key in info.param.output(0).names:
                    return info
            raise PreprocessError(f"PrePostProcessor.input('{key}'): the model has no input named '{key}' "
                                  f"(inputs: {', '.join(names)})")
        return self._inputs[self._index(key, len(self._inputs), "input")]

    def output(self, key: int | str | None = None) -> OutputInfo:
        """The only output, the output at an index, or the output with a tensor name."""
        names = [output_name(o) for o in self._outputs]
        if key is None:
            if len(self._outputs) != 1:
                raise PreprocessError(f"PrePostProcessor.output(): the model has {len(self._outputs)} outputs "
                                      f"({', '.join(names)}); give an index or a name")
            return self._outputs[0]
        if isinstance(key, str):
            for info in self._outputs:
                if key in info.result.inputs[0].names:
                    return info
            raise PreprocessError(f"PrePostProcessor.output('{key}'): the model has no output named '{key}' "
                                  f"(outputs: {', '.join(names)})")
        return self._outputs[self._index(key, len(self._outputs), "output")]

    @staticmethod
    def _index(key: object, count: int, kind: str) -> int:
        try:
            index = int(key)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise PreprocessError(f"PrePostProcessor.{kind}({key!r}): expected an index or a tensor name") from None
        if not 0 <= index < count:
            raise PreprocessError(f"PrePostProcessor.{kind}({index}): the model has {count} {kind}(s)")
        return index

    def build(self) -> Model:
        """Add every declared step to the model (in place) and return it. On any error the model is left as it
        was."""
        model = self._model
        guard = ModelGuard(model)
        try:
            self._build_inputs(model)
            for info in self._outputs:
                build_output(info)
        except BaseException:
            guard.restore()
            raise
        return model

    def _build_inputs(self, model: Model) -> None:
        built = []
        for info in self._inputs:
            if info.param not in model.parameters:
                raise PreprocessError(f"PrePostProcessor.build: input '{input_name(info.param)}' was replaced by an "
                                      "earlier build(); make a new PrePostProcessor for the built model")
            built.append((info.param, *build_input(info)))
        for old, new, value in built:
            for consumer, i in list(old.output(0).uses):
                consumer.set_input(i, value)
            model.parameters[model.parameters.index(old)] = new
        try:
            reinfer(model)
        except GraphError as e:
            raise PreprocessError(f"PrePostProcessor.build: the model does not take the new inputs: {e}") from None

    def __str__(self) -> str:
        lines: list[str] = []
        try:
            for info in self._inputs:
                describe_input(info, lines)
            for out in self._outputs:
                describe_output(out, lines)
        except (PreprocessError, LayoutError, GraphError) as e:
            return "\n".join(lines) + f"\nError occurred: {e}"
        return "".join(line + "\n" for line in lines)

    def __repr__(self) -> str:
        return f"<PrePostProcessor: {self}>"
