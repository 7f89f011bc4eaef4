"""The local executor: runs programs in confined children of a per-process fork server.

    executor = ForkServerExecutor(SandboxConfig(require=frozenset({"landlock", "seccomp"})))
    result = executor.run(problem, program)   # -> RunResult; never raises for the program

A run: the request and payload (request.py) go through the run's own channels
(channel.py); the child checks the program statically (static.py) before it runs it;
the verdict is computed from the records (verdict.py). The server (fork_server.py,
server.py) starts on the first run, from the keeper thread (keeper.py), and is replaced
when it dies; the only lock is held while a server starts, so runs from many threads
proceed side by side.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from typing import Any

from hint_core.problems import Problem, TestCase
from hint_core.sandbox import channel, fork_server, request, static, verdict
from hint_core.sandbox.config import SandboxConfig, SandboxError, SandboxUnavailable
from hint_core.sandbox.keeper import KEEPER, track
from hint_core.sandbox.layers import ALL_LAYERS
from hint_core.sandbox.results import RunResult, Status

log = logging.getLogger("hint_core.sandbox")

__all__ = ["ALL_LAYERS", "ForkServerExecutor", "SandboxConfig", "SandboxError", "SandboxUnavailable"]


class ForkServerExecutor:
    """Runs programs against a problem's tests; one fork server per executor and process."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._server: fork_server.ServerProcess | None = None
        self._refusal: SandboxUnavailable | None = None  # the machine will not change
        track(self)

    # -- the server ---------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Layers in force, Landlock ABI, server pid, Python version (starts the server)."""
        return dict(self._get_server().info)

    @property
    def layers(self) -> frozenset[str]:
        return frozenset(self.info()["layers"])

    def _get_server(self) -> fork_server.ServerProcess:
        with self._lock:
            if self._refusal is not None:
                raise self._refusal
            if self._server is None or not self._server.usable():
                if self._server is not None and self._server.owner_pid == os.getpid():
                    self._server.stop()
                self._server = None  # in a forked process, the parent's server is not ours
                try:
                    self._server = self._start()
                except SandboxUnavailable as exc:
                    log.error("sandbox refuses to run programs: %s", exc)
                    self._refusal = exc
                    raise
            return self._server

    def _start(self) -> fork_server.ServerProcess:
        parent = fork_server.parent_dir(self.config)
        server = KEEPER.call(lambda: fork_server.start(self.config, parent))
        try:
            self._check(server)
        except BaseException:
            server.stop()
            raise
        return server

    def _check(self, server: fork_server.ServerProcess) -> None:
        """Log the start line, enforce the required layers, and run the self-test."""
        layers = set(server.info["layers"])
        abi = server.info.get("landlock_abi")
        log.info("sandbox server %s started; layers: %s%s; required: %s; directory %s",
                 server.info.get("pid"), ", ".join(sorted(layers)),
                 f" (Landlock ABI {abi})" if "landlock" in layers else "",
                 ", ".join(sorted(self.config.require)) or "none", server.base_dir)
        missing = sorted(set(ALL_LAYERS) - layers)
        if missing:
            log.warning("sandbox runs without: %s", ", ".join(missing))
        lacking = sorted(self.config.require - layers)
        if lacking:
            disabled = sorted(self.config.disable & set(lacking))
            why = f" (SANDBOX_DISABLE switches off {', '.join(disabled)})" if disabled else ""
            raise SandboxUnavailable(
                f"SANDBOX_REQUIRE demands {', '.join(lacking)}, which this machine does not provide{why} "
                f"(available: {', '.join(sorted(layers))}); refusing to run programs")
        result = self._run_on(server, _SELF_TEST, _SELF_TEST_PROGRAM)
        if not result.correct:
            raise SandboxError(f"sandbox self-test failed: {result.first_failure_text()} "
                               f"{result.output[:500]}")

    def close(self) -> None:
        with self._lock:
            if self._server is not None and self._server.owner_pid == os.getpid():
                self._server.stop()
            self._server = None

    def after_fork_in_child(self) -> None:
        """In a forked worker process: a fresh lock (the parent's may be held by a thread
        that does not exist here); the parent's server is left to the parent."""
        self._lock = threading.Lock()

    # -- a run ---------------------------------------------------------------------------

    def run(self, problem: Problem, program: str) -> RunResult:
        """Run `program` against every test of `problem`, confined. Never raises for
        anything the program does; SandboxError only when the sandbox itself fails."""
        too_long = static.too_long(program)  # not even sent; the rest is checked in the child
        if too_long:
            return verdict.not_run(problem, Status.TOO_COMPLEX, too_long)
        return self._run(problem, program)

    def _run(self, problem: Problem, program: str) -> RunResult:
        for attempt in range(2):
            server = self._get_server()
            try:
                return self._run_on(server, problem, program)
            except channel.ServerGone as exc:
                with self._lock:
                    if self._server is server:
                        server.stop()
                        self._server = None
                if attempt:
                    raise SandboxError(f"the sandbox server is gone: {exc}") from exc
        raise AssertionError("unreachable")

    def _run_on(self, server: fork_server.ServerProcess, problem: Problem, program: str) -> RunResult:
        payload = request.child_payload(problem, program)
        workdir = os.path.join(server.base_dir, "run-" + uuid.uuid4().hex)
        started = time.monotonic()
        try:
            collected = channel.exchange(server.sock, request.server_request(problem, workdir), payload,
                                         problem.limits, request.max_records(problem))
        finally:
            _remove(workdir)
        return verdict.build_result(problem, collected, time.monotonic() - started)


def _remove(workdir: str) -> None:
    try:
        os.rmdir(workdir)  # empty on this side when the run had its own tmpfs
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(workdir, ignore_errors=True)


# A run at start-up that exercises the whole path: a stdlib module the server did not
# preload (so the per-run uid must be able to read the interpreter's library), an asset
# in the work directory, and the verdict machinery.
_SELF_TEST = Problem(
    id="sandbox-self-test", title="self-test", description="", template="", kind="function",
    function="probe", tests=(TestCase(name="probe", args=(), expected=[[0.0, 1.0, 1.0], "ok\n"]),),
    solutions=(), assets={"assets/probe.txt": b"ok\n"},
)
_SELF_TEST_PROGRAM = """
def probe():
    import colorsys
    with open("assets/probe.txt") as f:
        return [list(colorsys.rgb_to_hsv(1.0, 0.0, 0.0)), f.read()]
"""
