"""Execution streams (OpenVINO's CPU streams): each stream owns one Runner made with its share of the threads
and a worker thread that takes jobs from the compiled model's queue. A synchronous inference runs on an idle
stream's runner in the caller's thread (no thread hop); when every stream is busy it queues like an async one."""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from irforge.runtime.device import Executable, Runner


class Stream:
    """One runner plus the lock that makes it run one inference at a time."""

    def __init__(self, index: int, runner: Runner, threads: int) -> None:
        self.index = index
        self.runner = runner
        self.threads = threads
        self.lock = threading.Lock()


Job = Callable[[Stream], None]


class StreamExecutor:
    """`len(shares)` streams over one Executable. Worker threads start on the first async job and end when
    `shutdown` is called (CompiledModel does so when it is garbage-collected)."""

    def __init__(self, executable: Executable, shares: Sequence[int], profile: bool) -> None:
        self.streams = [Stream(i, executable.create_runner(profile=profile, threads=n), n)
                        for i, n in enumerate(shares)]
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._closed = False

    def submit(self, job: Job) -> None:
        """Run `job(stream)` on the next free stream's worker thread."""
        if not self._workers:
            self._start_workers()
        if self._closed:
            raise RuntimeError("the compiled model's streams are shut down")
        self._jobs.put(job)

    def run_here(self, job: Callable[..., None], *args: Any) -> None:
        """Run `job(stream, *args)` in the calling thread on an idle stream; queue it and wait when all are busy.
        (`args` rather than a closure: a synchronous inference of a small model pays for every call layer.)"""
        for stream in self.streams:
            if stream.lock.acquire(False):
                try:
                    job(stream, *args)
                finally:
                    stream.lock.release()
                return
        done = threading.Event()
        error: list[BaseException] = []

        def queued(stream: Stream) -> None:
            try:
                job(stream, *args)
            except BaseException as e:  # handed back to the caller below
                error.append(e)
            finally:
                done.set()

        self.submit(queued)
        done.wait()
        if error:
            raise error[0]

    def _start_workers(self) -> None:
        with self._start_lock:
            if self._workers or self._closed:
                return
            for stream in self.streams:
                t = threading.Thread(target=_work, args=(self._jobs, stream), daemon=True,
                                     name=f"irforge-stream-{stream.index}")
                t.start()
                self._workers.append(t)

    def shutdown(self) -> None:
        """Let the worker threads finish the queued jobs and exit."""
        with self._start_lock:
            self._closed = True
            for _ in self._workers:
                self._jobs.put(None)


def _work(jobs: "queue.SimpleQueue[Job | None]", stream: Stream) -> None:
    while True:
        job = jobs.get()
        if job is None:
            return
        with stream.lock:
            try:
                job(stream)
            except Exception:  # jobs report their own errors (InferRequest keeps them for wait())
                pass
        del job  # holds the request (and so the compiled model) while this thread waits for the next job
