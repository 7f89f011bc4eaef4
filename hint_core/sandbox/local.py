"""Local executor: the worker's side of the fork server (see server.py for the other).

One fork server per worker process, started lazily, with an empty environment. Each run
gets its own channels (a control socket to the server, a record socket and an output
pipe to the child), so concurrent runs from several threads never wait on each other:
the only lock is held while a server starts.

The verdict is computed here, from the records the child sent and nothing else the
child says: not its exit status, not its output. A test passes only if exactly one
well-formed record arrived for it and its value equals the expected one, which never
left this process.
"""

from __future__ import annotations

import atexit
import base64
import concurrent.futures
import fcntl
import json
import logging
import os
import queue
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hint_core.problems import Problem, TestCase
from hint_core.sandbox import wire
from hint_core.sandbox.results import RunResult, TestResult, error_text, judge

log = logging.getLogger("hint_core.sandbox")

SERVER = str(Path(__file__).with_name("server.py"))
ALL_LAYERS = ("process", "rlimits", "no_new_privs", "landlock", "seccomp", "uid", "pidns", "netns",
              "ipcns", "mountns")
GRACE_SECONDS = 10.0  # beyond the wall limit, before the server is deemed unresponsive
DRAIN_SECONDS = 1.0  # after the child ended, to read what it had already sent
STARTUP_SECONDS = 30.0
QUEUE_SECONDS = 600.0  # a run waiting for one of the server's 64 slots


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program): retry later or alert an operator."""


class SandboxUnavailable(SandboxError):
    """An isolation layer the operator requires (SANDBOX_REQUIRE) is missing here."""


def _names(text: str | None, what: str) -> frozenset[str]:
    names = {n.strip().lower() for n in (text or "").split(",") if n.strip()}
    if "all" in names:
        names = (names - {"all"}) | set(ALL_LAYERS)
    unknown = names - set(ALL_LAYERS)
    if unknown:
        raise ValueError(f"{what}: unknown sandbox layer(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(ALL_LAYERS)}, all")
    return frozenset(names)


@dataclass(frozen=True)
class SandboxConfig:
    """Operator settings: layers to demand or to switch off, and the uid range."""

    require: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()
    uid_base: int = 40000  # per-run uids are uid_base + 64 * block + slot
    uid_blocks: int = 300
    tmp_dir: str | None = None  # where run directories are made (default: the system's)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SandboxConfig:
        env = dict(os.environ if env is None else env)
        require = _names(env.get("SANDBOX_REQUIRE"), "SANDBOX_REQUIRE")
        disable = _names(env.get("SANDBOX_DISABLE"), "SANDBOX_DISABLE")
        if require & disable:
            raise ValueError(f"SANDBOX_REQUIRE and SANDBOX_DISABLE both name {', '.join(sorted(require & disable))}")
        return cls(require=require, disable=disable, uid_base=int(env.get("SANDBOX_UID_BASE", 40000)),
                   tmp_dir=env.get("SANDBOX_TMP_DIR") or None)


class _Keeper:
    """Starts fork servers from one thread that lives as long as the process.

    The server's parent-death signal fires when the *thread* that started it exits, not
    the process; Dramatiq or a test may call us from a short-lived thread.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Also called in a forked child: the parent's queue may hold its keeper's waiter,
        # and a lock may have been held by a thread that does not exist here.
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._running = False

    def call(self, fn: Any) -> Any:
        with self._lock:
            if not self._running:
                self._running = True
                threading.Thread(target=self._loop, args=(self._queue,), name="sandbox-keeper", daemon=True).start()
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((fn, future))
        return future.result()

    @staticmethod
    def _loop(jobs: queue.Queue) -> None:
        while True:
            fn, future = jobs.get()
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)


_keeper = _Keeper()
_executors: weakref.WeakSet[ForkServerExecutor] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    _keeper._reset()
    for executor in list(_executors):
        executor._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass
class _Server:
    proc: subprocess.Popen
    sock: socket.socket
    base_dir: str
    info: dict[str, Any]
    owner_pid: int = field(default_factory=os.getpid)

    def usable(self) -> bool:
        return self.owner_pid == os.getpid() and self.proc.poll() is None


class _ServerGone(Exception):
    pass


@dataclass
class _Collected:
    records: bytes = b""
    output: bytes = b""
    output_total: int = 0
    exit: dict[str, Any] = field(default_factory=dict)
    records_overflow: bool = False


class ForkServerExecutor:
    """Runs programs in confined children of a per-process fork server."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._refusal: SandboxUnavailable | None = None  # the machine will not change
        _executors.add(self)

    # -- the server ---------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Layers in force, Landlock ABI, server pid, Python version (starts the server)."""
        return dict(self._get_server().info)

    @property
    def layers(self) -> frozenset[str]:
        return frozenset(self.info()["layers"])

    def _get_server(self) -> _Server:
        with self._lock:
            if self._refusal is not None:
                raise self._refusal
            if self._server is None or not self._server.usable():
                if self._server is not None and self._server.owner_pid == os.getpid():
                    self._stop(self._server)
                self._server = None  # in a forked process, the parent's server is not ours
                server = _keeper.call(self._start)
                try:
                    self._check(server)
                except SandboxUnavailable as exc:
                    self._stop(server)
                    self._refusal = exc
                    raise
                except BaseException:
                    self._stop(server)
                    raise
                self._server = server
            return self._server

    def _start(self) -> _Server:
        _sweep_dead_servers(self.config.tmp_dir or tempfile.gettempdir())
        base_dir = tempfile.mkdtemp(prefix="hint-sandbox-", dir=self.config.tmp_dir)
        os.chmod(base_dir, 0o711)  # per-run uids must traverse it to reach their own dir
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", SERVER, str(theirs.fileno()), str(os.getpid()),
                 json.dumps(sorted(self.config.disable))],
                env={},  # no secrets, from process start: /proc/PID/environ of every run is empty
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=None,
                pass_fds=(theirs.fileno(),), cwd="/", start_new_session=True,
            )
        finally:
            theirs.close()
        server = _Server(proc, ours, base_dir, {})
        try:
            ours.settimeout(STARTUP_SECONDS)
            ours.send(json.dumps({
                "base_dir": base_dir, "disable": sorted(self.config.disable), "uid_base": self.config.uid_base,
                "uid_blocks": self.config.uid_blocks,
                "lock_dir": os.path.join(self.config.tmp_dir or tempfile.gettempdir(), "hint-sandbox-uids"),
            }).encode())
            reply = ours.recv(65536)
            if not reply:
                raise SandboxError("the sandbox server exited during start-up (see its messages on stderr)")
            server.info = json.loads(reply)
            server.info["pid"] = proc.pid  # inside its own PID namespace the server may be pid 1
            ours.settimeout(None)
        except BaseException:
            self._stop(server)
            raise
        return server

    def _check(self, server: _Server) -> None:
        layers = set(server.info["layers"])
        missing = sorted(set(ALL_LAYERS) - layers)
        abi = server.info.get("landlock_abi")
        log.info("sandbox server %s started; layers: %s%s", server.info.get("pid"), ", ".join(sorted(layers)),
                 f" (Landlock ABI {abi})" if "landlock" in layers else "")
        if missing:
            log.warning("sandbox runs without: %s", ", ".join(missing))
        lacking = sorted(self.config.require - layers)
        if lacking:
            raise SandboxUnavailable(
                f"SANDBOX_REQUIRE demands {', '.join(lacking)}, which this machine does not provide "
                f"(available: {', '.join(sorted(layers))}); refusing to run programs")
        result = self._run_on(server, _SELF_TEST, _SELF_TEST_PROGRAM)
        if not result.correct:
            raise SandboxError(f"sandbox self-test failed: {result.first_failure_text()} {result.output[:500]}")

    def _stop(self, server: _Server) -> None:
        try:
            server.sock.close()  # the server sees EOF, kills its runs and exits
        except OSError:
            pass
        try:
            server.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
        shutil.rmtree(server.base_dir, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            if self._server is not None and self._server.owner_pid == os.getpid():
                self._stop(self._server)
            self._server = None

    # -- a run ---------------------------------------------------------------------------

    def run(self, problem: Problem, program: str) -> RunResult:
        for attempt in range(2):
            server = self._get_server()
            try:
                return self._run_on(server, problem, program)
            except _ServerGone as exc:
                with self._lock:
                    if self._server is server:
                        self._stop(server)
                        self._server = None
                if attempt:
                    raise SandboxError(f"the sandbox server is gone: {exc}") from exc
        raise AssertionError("unreachable")

    def _run_on(self, server: _Server, problem: Problem, program: str) -> RunResult:
        limits = problem.limits
        payload = _payload(problem, program)
        assets_size = sum(len(v) for v in problem.assets.values())
        workdir = os.path.join(server.base_dir, "run-" + uuid.uuid4().hex)
        request = {
            "workdir": workdir,
            "limits": asdict(limits),
            "disk_bytes": 4 * limits.file_size_kb * 1024 + assets_size + (64 << 10),
            "disk_inodes": 256 + 2 * len(problem.assets),
        }
        ctl, ctl_remote = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        data, data_remote = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        started = time.monotonic()
        try:
            try:
                socket.send_fds(server.sock, [json.dumps(request).encode()],
                                [ctl_remote.fileno(), data_remote.fileno(), out_w])
            except OSError as exc:
                raise _ServerGone(str(exc)) from exc
            finally:
                ctl_remote.close()
                data_remote.close()
                os.close(out_w)
            collected = self._collect(ctl, data, out_r, payload, problem)
        finally:
            ctl.close()
            data.close()
            os.close(out_r)
            _remove(workdir)
        return _build_result(problem, collected, time.monotonic() - started)

    def _collect(self, ctl: socket.socket, data: socket.socket, out_r: int, payload: bytes,
                 problem: Problem) -> _Collected:
        limits = problem.limits
        got = _Collected()
        # What fits in the socket's buffer goes now, so the child finds it when it starts.
        data.setblocking(False)
        try:
            sent = data.send(payload)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = len(payload)  # the child is gone already; its exit status tells why
        # The server may queue the run while all its slots are busy: wait for it to start.
        ctl.settimeout(QUEUE_SECONDS)
        try:
            started = json.loads(ctl.recv(65536) or b"{}")
        except (OSError, ValueError) as exc:
            raise _ServerGone(f"no answer from the sandbox server: {exc}") from exc
        if "error" in started:
            raise SandboxError(f"sandbox server: {started['error']}")
        if "started" not in started:
            raise _ServerGone("the sandbox server closed the run's channel")
        ctl.setblocking(False)
        deadline = time.monotonic() + limits.wall_seconds + GRACE_SECONDS
        if sent < len(payload):  # the child reads the program before it does anything else
            data.settimeout(limits.wall_seconds + GRACE_SECONDS)
            try:
                data.sendall(payload[sent:])
            except OSError:
                pass  # the child is gone already; its exit status tells why
            data.setblocking(False)
        max_records = min(64 << 20, (8 << 20) + (2 << 20) * len(problem.tests))
        records, output = bytearray(), bytearray()
        open_fds = {data.fileno(), out_r}
        poller = select.poll()
        for fd in (ctl.fileno(), data.fileno(), out_r):
            poller.register(fd, select.POLLIN)
        kill_sent = False
        drain_until = None
        while True:
            now = time.monotonic()
            if drain_until is not None:
                if not open_fds or now >= drain_until:
                    break
                timeout = drain_until - now
            else:
                if now >= deadline:
                    raise _ServerGone("no answer from the sandbox server")
                timeout = deadline - now
            for fd, _event in poller.poll(timeout * 1000):
                if fd == out_r:
                    chunk = os.read(out_r, 65536)
                    got.output_total += len(chunk)
                    room = limits.output_bytes - len(output)
                    if room > 0:
                        output += chunk[:room]
                    if got.output_total > limits.output_bytes and not kill_sent:
                        kill_sent = True
                        _send(ctl, {"kill": "output_limit"})
                elif fd == data.fileno():
                    try:
                        chunk = data.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        chunk = b""
                    if len(records) + len(chunk) > max_records:
                        got.records_overflow = True
                        if not kill_sent:
                            kill_sent = True
                            _send(ctl, {"kill": "record_limit"})
                    elif chunk:
                        records += chunk
                else:
                    try:
                        message = ctl.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    if not message:
                        raise _ServerGone("the sandbox server closed the run's channel")
                    got.exit = json.loads(message)
                    if "error" in got.exit:
                        raise SandboxError(f"sandbox server: {got.exit['error']}")
                    drain_until = time.monotonic() + DRAIN_SECONDS
                    poller.unregister(fd)
                    continue
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
        got.records, got.output = bytes(records), bytes(output)
        return got


STALE_UNLOCKED_SECONDS = 600  # a directory without a lock file: a server still starting, or an old one


def _sweep_dead_servers(tmp_dir: str) -> None:
    """Remove the directories of servers that died without cleaning up (SIGKILL)."""
    try:
        entries = os.scandir(tmp_dir)
    except OSError:
        return
    with entries:
        for entry in entries:
            if not entry.name.startswith("hint-sandbox-") or entry.name == "hint-sandbox-uids":
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                if not entry.is_dir(follow_symlinks=False) or st.st_uid != os.geteuid():
                    continue
                lock = os.open(os.path.join(entry.path, "server.lock"), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                if time.time() - st.st_mtime > STALE_UNLOCKED_SECONDS:
                    shutil.rmtree(entry.path, ignore_errors=True)
                continue
            except OSError:
                continue
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its server is alive
            finally:
                os.close(lock)
            shutil.rmtree(entry.path, ignore_errors=True)


def _close_all() -> None:
    for executor in list(_executors):
        try:
            executor.close()
        except Exception:  # noqa: BLE001 - at exit, nothing more to do
            pass


atexit.register(_close_all)


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass


def _remove(workdir: str) -> None:
    try:
        os.rmdir(workdir)  # empty on this side when the run had its own tmpfs
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(workdir, ignore_errors=True)


def _frame(data: dict[str, Any]) -> bytes:
    body = json.dumps(data).encode()
    return struct.pack("<Q", len(body)) + body


def _payload(problem: Problem, program: str) -> bytes:
    """What the child gets, in two frames: the program with its assets (read before it is
    loaded), then the test *inputs* (read after). Never an expected value."""
    try:
        if problem.kind == "function":
            inputs = [{"args": wire.encode(list(t.args)), "kwargs": wire.encode(dict(t.kwargs))}
                      for t in problem.tests]
        else:
            inputs = [{"stdin": t.stdin} for t in problem.tests]
    except wire.BadValue as exc:
        raise ValueError(f"{problem.id}: a test input cannot be sent to the sandbox: {exc}") from exc
    return _frame({
        "program": program, "kind": problem.kind, "function": problem.function,
        "assets": {rel: base64.b64encode(content).decode() for rel, content in problem.assets.items()},
        "recursion_limit": problem.limits.recursion_limit, "output_bytes": problem.limits.output_bytes,
    }) + _frame({"inputs": inputs})


# -- judging ---------------------------------------------------------------------------------


def _valid_error(err: Any) -> bool:
    return (type(err) is dict and set(err) == {"type", "message", "line"} and type(err["type"]) is str
            and type(err["message"]) is str and (err["line"] is None or type(err["line"]) is int))


_MALFORMED = {"malformed": True}


def _parse_records(raw: bytes, count: int) -> tuple[dict[int, list[dict]], dict[str, Any] | None, str | None]:
    """Records per test index (a malformed one counts, so that it fails its test), the
    program-level error if any, and a setup error if the sandbox failed before the
    program was loaded."""
    per_test: dict[int, list[dict]] = {}
    program_error = None
    lines = raw.split(b"\n")
    if raw and not raw.endswith(b"\n"):
        lines[-1] = b"\x00"  # a record cut off mid-way is no record
    for position, line in enumerate(lines):
        if not line:
            continue
        try:
            record = wire.loads_record(line)
        except wire.BadValue:
            continue
        if type(record) is not dict:
            continue
        if position == 0 and set(record) == {"setup_error"}:
            # First on the channel: only the sandbox's own code had run.
            return {}, None, str(record["setup_error"])
        for key in ("compile_error", "load_error"):
            if set(record) == {key} and _valid_error(record[key]) and program_error is None:
                program_error = {"kind": key, **record[key]}
        i = record.get("i")
        if type(i) is not int or not 0 <= i < count or len(record) != 2:
            continue
        parsed = _MALFORMED
        if "value" in record:
            try:
                parsed = {"value": wire.decode(record["value"])}
            except wire.BadValue:
                pass
        elif "error" in record and _valid_error(record["error"]):
            parsed = {"error": record["error"]}
        elif record.get("unsupported").__class__ is str:
            parsed = {"unsupported": record["unsupported"]}
        elif record.get("limit") == "output":
            parsed = {"limit": "output"}
        per_test.setdefault(i, []).append(parsed)
    return per_test, program_error, None


def _missing_cause(problem: Problem, got: _Collected) -> tuple[str, str]:
    """Why a test has no record: from what the server and this process saw, never from
    anything the child claimed."""
    limits = problem.limits
    exit_info = got.exit
    reason = exit_info.get("reason")
    status = int(exit_info.get("status", 0))
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    if got.output_total > limits.output_bytes or reason == "output_limit":
        return "output_limit", f"printed more than {limits.output_bytes} bytes"
    if reason == "timeout":
        return "timeout", f"time limit exceeded ({limits.wall_seconds:g} s of wall time)"
    if got.records_overflow or reason == "record_limit":
        return "crashed", "sent too much result data"
    if sig and int(exit_info.get("maxrss_kb", 0)) * 1024 >= 0.8 * (limits.memory_mb << 20):
        return "memory_limit", f"memory limit exceeded ({limits.memory_mb} MB)"
    # Nobody here sent that SIGKILL: the kernel did, at the CPU limit (whole seconds). The
    # CPU time that wait4 reports can fall a little short of what the limit counted.
    cpu_limit = max(1, -(-limits.cpu_seconds // 1))
    if sig in (signal.SIGKILL, signal.SIGXCPU) and float(exit_info.get("cpu", 0)) >= 0.75 * cpu_limit:
        return "timeout", f"time limit exceeded ({limits.cpu_seconds:g} s of CPU time)"
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return "crashed", f"the program was killed by signal {name}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return "crashed", f"the program ended (exit status {code}) before answering this test"


def _build_result(problem: Problem, got: _Collected, run_time: float) -> RunResult:
    per_test, program_error, setup_error = _parse_records(got.records, len(problem.tests))
    if setup_error is not None:
        raise SandboxError(f"the sandbox failed to set up the run: {setup_error}")
    output = got.output.decode("utf-8", "replace")
    if got.output_total > problem.limits.output_bytes:
        output += f"\n[output truncated: {got.output_total} bytes printed, limit {problem.limits.output_bytes}]"
    missing = None
    tests: list[TestResult] = []
    for i, test in enumerate(problem.tests):
        records = per_test.get(i, [])
        if len(records) == 1 and records[0] is not _MALFORMED:
            tests.append(judge(test, problem, records[0]))
            continue
        result = judge(test, problem, None)
        if records:
            result.error = "the program interfered with the test harness (duplicate or malformed result)"
        elif program_error is not None:
            result.status = "memory_limit" if program_error["type"] == "MemoryError" else "exception"
            result.error, result.line = error_text(program_error), program_error["line"]
        else:
            missing = missing or _missing_cause(problem, got)
            result.status, result.error = missing  # type: ignore[assignment]
        tests.append(result)
    correct = bool(tests) and all(t.passed for t in tests)
    if correct:
        status = "passed"
    elif program_error is not None and program_error["kind"] == "compile_error":
        status = "compile_error"
    else:
        status = next(t.status for t in tests if not t.passed)
    return RunResult(
        correct=correct, status=status, tests=tests, output=output,
        error=error_text(program_error) if program_error else None,
        run_time=run_time, cpu_time=float(got.exit.get("cpu", 0.0)),
    )


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
