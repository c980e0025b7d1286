"""AsyncInferQueue: a pool of infer requests kept busy on a compiled model's streams (OpenVINO's API).
`start_async` takes the next idle request (waiting for one when all are busy); the callback receives the
request and the job's userdata in the stream's thread once the job is done."""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from irforge.openvino_names import OpenVINONames
from irforge.runtime.infer_request import InferRequest
from irforge.runtime.properties import OPTIMAL_NUMBER_OF_INFER_REQUESTS

if TYPE_CHECKING:
    from irforge.runtime.compiled_model import CompiledModel


class AsyncInferQueue(OpenVINONames):
    def __init__(self, compiled: "CompiledModel", jobs: int = 0) -> None:
        """`jobs` requests (0: the compiled model's OPTIMAL_NUMBER_OF_INFER_REQUESTS, its number of streams)."""
        if jobs < 0:
            from irforge.errors import OptionError

            raise OptionError(f"AsyncInferQueue: jobs must be 0 (automatic) or positive, got {jobs}")
        n = jobs or int(compiled.get_property(OPTIMAL_NUMBER_OF_INFER_REQUESTS))
        self._requests = [compiled.create_infer_request() for _ in range(n)]
        self._userdata: list[Any] = [None] * n
        self._idle: deque[int] = deque(range(n))
        self._cond = threading.Condition()
        self._callback: Callable[[InferRequest, Any], None] | None = None
        self._errors: list[BaseException] = []
        for i, request in enumerate(self._requests):
            request._callback = self._make_callback(i)
            request._released = self._make_release(i)

    def set_callback(self, callback: Callable[[InferRequest, Any], None] | None) -> None:
        """`callback(request, userdata)` after each job (in the stream's thread); errors it raises are re-raised
        by `wait_all`."""
        self._callback = callback

    def start_async(self, inputs: Any = None, userdata: Any = None, share_inputs: bool = False) -> None:
        """Run one job on the next idle request (blocks while all are busy). `inputs` None reuses the tensors set
        on that request."""
        with self._cond:
            while not self._idle:
                self._cond.wait()
            i = self._idle.popleft()
        self._userdata[i] = userdata
        try:
            self._requests[i].start_async(inputs, share_inputs=share_inputs)
        except BaseException:
            with self._cond:
                self._idle.appendleft(i)
                self._cond.notify_all()
            raise

    def get_idle_request_id(self) -> int:
        """The id of an idle request, waiting for one when all are busy."""
        with self._cond:
            while not self._idle:
                self._cond.wait()
            return self._idle[0]

    def is_ready(self) -> bool:
        """Whether a request is idle (start_async would not block)."""
        with self._cond:
            return bool(self._idle)

    def wait_all(self) -> None:
        """Block until every job finished; re-raise the first error a job or the callback raised."""
        with self._cond:
            while len(self._idle) < len(self._requests):
                self._cond.wait()
            errors, self._errors = self._errors, []
        if errors:
            raise errors[0]

    @property
    def userdata(self) -> list[Any]:
        return list(self._userdata)

    def __len__(self) -> int:
        return len(self._requests)

    def __iter__(self) -> Iterator[InferRequest]:
        return iter(self._requests)

    def __getitem__(self, index: int) -> InferRequest:
        return self._requests[index]

    def _make_callback(self, i: int) -> Callable[[Any], None]:
        def callback(_: Any) -> None:
            if self._callback is not None:
                self._callback(self._requests[i], self._userdata[i])

        return callback

    def _make_release(self, i: int) -> Callable[[InferRequest], None]:
        def release(request: InferRequest) -> None:
            error, request._error = request._error, None
            with self._cond:
                if error is not None:
                    self._errors.append(error)
                self._idle.append(i)
                self._cond.notify_all()

        return release
