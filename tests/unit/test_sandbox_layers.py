"""Isolation layers: what is detected, what each one does on its own, what the operator can
demand, how the sandbox degrades, and the fork server's own lifecycle."""

from __future__ import annotations

import ast
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from hint_core.sandbox import (
    ALL_LAYERS,
    ForkServerExecutor,
    SandboxConfig,
    SandboxUnavailable,
    parse_layers,
)
from hint_core.sandbox.confine import landlock_abi
from tests.unit.test_sandbox import FACTORIAL, fn_problem

ROOT = Path(__file__).resolve().parents[2]
ANY = fn_problem(((0,), "unreachable"))
OPTIONAL = frozenset(ALL_LAYERS) - {"process", "rlimits"}


@pytest.fixture(scope="module")
def full():
    ex = ForkServerExecutor()
    yield ex
    ex.close()


def executor_without(*layers: str) -> ForkServerExecutor:
    return ForkServerExecutor(SandboxConfig(disable=frozenset(layers)))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# --- detection ------------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0 or landlock_abi() < 6, reason="needs root and Landlock ABI 6+")
def test_every_layer_is_detected_here(full) -> None:
    info = full.info()
    assert set(info["layers"]) == set(ALL_LAYERS)
    assert info["landlock_abi"] >= 6


def test_the_child_is_confined(full) -> None:
    program = textwrap.dedent("""
        import ctypes, os
        libc = ctypes.CDLL(None)
        def f(x):
            fds = []
            for fd in range(64):
                try:
                    os.fstat(fd)
                    fds.append(fd)
                except OSError:
                    pass
            return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "pid": os.getpid(),
                    "no_new_privs": libc.prctl(39, 0, 0, 0, 0), "seccomp": libc.prctl(21, 0, 0, 0, 0),
                    "fds": fds, "cwd_mode": oct(os.stat(".").st_mode & 0o777)}
    """)
    result = full.run(ANY, program)
    seen = ast.literal_eval(result.tests[0].actual)
    assert seen["fds"] == [0, 1, 2, 3]  # /dev/null, output, output, records: nothing inherited
    assert seen["no_new_privs"] == 1 and seen["seccomp"] == 2
    assert seen["cwd_mode"] == "0o700"
    if "uid" in full.info()["layers"]:
        base = full.info()["uid_base"]
        assert base <= seen["uid"] < base + 64 and seen["gid"] == seen["uid"] and seen["groups"] == []
    if "pidns" in full.info()["layers"]:
        assert seen["pid"] == 1


def test_the_server_holds_no_secret_and_no_inherited_descriptor(tmp_path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("password")
    held = open(secret_file)
    os.environ["HINT_SANDBOX_TEST_SECRET"] = "s3cret"
    ex = ForkServerExecutor()
    try:
        pid = ex.info()["pid"]
        with open(f"/proc/{pid}/environ", "rb") as f:
            assert f.read() == b""
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert b"s3cret" not in f.read()
        targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        assert str(secret_file) not in targets
    finally:
        ex.close()
        held.close()
        del os.environ["HINT_SANDBOX_TEST_SECRET"]


# --- each layer on its own -------------------------------------------------------------------------


CONNECT = textwrap.dedent("""
    import socket
    def f(x):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=1)
            return "connected"
        except OSError as exc:
            return type(exc).__name__
""")


@pytest.mark.parametrize("keep", ["seccomp", "landlock", "netns"])
def test_each_network_layer_alone_blocks_connections(full, keep: str) -> None:
    if keep not in full.info()["layers"]:
        pytest.skip(f"{keep} is not available here")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    ex = executor_without(*({"seccomp", "landlock", "netns"} - {keep}))
    try:
        result = ex.run(ANY, CONNECT.replace("PORT", str(server.getsockname()[1])))
        assert result.tests[0].status == "wrong_answer"
        assert result.tests[0].actual != "'connected'"
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        ex.close()
        server.close()


@pytest.mark.parametrize("keep", ["landlock", "uid"])
def test_each_file_layer_alone_protects_private_files(full, keep: str, tmp_path) -> None:
    if keep not in full.info()["layers"]:
        pytest.skip(f"{keep} is not available here")
    private = tmp_path / "private.txt"
    private.write_text("secret")
    os.chmod(private, 0o600)
    ex = executor_without(*({"landlock", "uid"} - {keep}))
    try:
        result = ex.run(ANY, f"def f(x):\n    return open({str(private)!r}).read()\n")
        assert result.tests[0].status == "exception"
        assert result.tests[0].error.startswith("PermissionError")
    finally:
        ex.close()


def test_mount_namespace_gives_a_size_capped_private_tmpfs(full) -> None:
    if "mountns" not in full.info()["layers"]:
        pytest.skip("mountns is not available here")
    program = "import os\ndef f(x):\n    st = os.statvfs('.')\n    return st.f_blocks * st.f_frsize\n"
    result = full.run(fn_problem(((0,), 0), file_size_kb=256), program)
    assert 0 < int(result.tests[0].actual) <= 4 * 256 * 1024 + (64 << 10) + 4096


def test_the_start_line_lists_the_layers_in_force(caplog) -> None:
    ex = executor_without("ipcns")
    try:
        with caplog.at_level(logging.INFO, logger="hint_core.sandbox"):
            ex.info()
        messages = [(r.levelno, r.getMessage()) for r in caplog.records]
        started = [m for level, m in messages if level == logging.INFO and "started" in m]
        assert len(started) == 1
        in_force = started[0].split("layers: ")[1].split(";")[0].split(" (")[0].split(", ")
        assert set(in_force) == set(ex.info()["layers"]) and "ipcns" not in in_force
        assert "required: none" in started[0] and ex._get_server().base_dir in started[0]
        warned = [m for level, m in messages if level == logging.WARNING]
        assert warned == [f"sandbox runs without: {', '.join(sorted(set(ALL_LAYERS) - set(in_force)))}"]
    finally:
        ex.close()


# --- operator's demands ---------------------------------------------------------------------------


def test_require_refuses_to_run_weaker() -> None:
    ex = ForkServerExecutor(SandboxConfig(require=frozenset({"seccomp", "netns"}),
                                          disable=frozenset({"seccomp"})))
    with pytest.raises(SandboxUnavailable,
                       match="SANDBOX_REQUIRE demands seccomp.*SANDBOX_DISABLE switches off"):
        ex.run(FACTORIAL, FACTORIAL.solutions[0])
    with pytest.raises(SandboxUnavailable):  # and keeps refusing, without starting a server again
        ex.run(FACTORIAL, FACTORIAL.solutions[0])
    ex.close()


def test_require_satisfied_runs(full) -> None:
    layers = frozenset(full.info()["layers"])
    ex = ForkServerExecutor(SandboxConfig(require=layers))
    try:
        assert ex.run(FACTORIAL, FACTORIAL.solutions[0]).correct
    finally:
        ex.close()


def test_layer_lists_are_parsed_once_for_every_variable() -> None:
    assert parse_layers("Landlock, seccomp,netns", "SANDBOX_REQUIRE") == {"landlock", "seccomp", "netns"}
    assert parse_layers("all", "SANDBOX_REQUIRE") == set(ALL_LAYERS)
    assert parse_layers(None, "SANDBOX_REQUIRE") == parse_layers(" , ", "SANDBOX_REQUIRE") == frozenset()
    with pytest.raises(ValueError, match="SANDBOX_DISABLE: unknown sandbox layer.*landlok"):
        parse_layers("landlok", "SANDBOX_DISABLE")


def test_a_bad_config_names_the_variable() -> None:
    with pytest.raises(ValueError, match="SANDBOX_REQUIRE: unknown sandbox layer.*landlok"):
        SandboxConfig(require=frozenset({"landlok"}))
    with pytest.raises(ValueError, match="SANDBOX_UID_BASE"):
        SandboxConfig(uid_base=0)


def test_the_sandbox_reads_no_environment(full) -> None:
    code = textwrap.dedent("""
        from hint_core.sandbox import ForkServerExecutor
        ex = ForkServerExecutor()
        print(sorted(ex.config.require), sorted(ex.config.disable), "netns" in ex.info()["layers"])
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SANDBOX_REQUIRE": "landlok", "SANDBOX_DISABLE": "netns"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "[]", str("netns" in full.info()["layers"])]


# --- degraded modes ---------------------------------------------------------------------------------


UNPRIVILEGED = textwrap.dedent("""
    from hint_core.problems import Limits, Problem, TestCase
    from hint_core.sandbox import ForkServerExecutor
    p = Problem(id="x", title="x", description="", template="", kind="function", function="f",
                tests=(TestCase(name="t", args=(3,), expected=6),), solutions=(),
                limits=Limits(wall_seconds=1))
    ex = ForkServerExecutor()
    print(" ".join(ex.info()["layers"]))
    for program in ["def f(x):\\n    return 2 * x\\n",
                    "import os\\ndef f(x):\\n    return dict(os.environ)\\n",
                    "def f(x):\\n    return open('/etc/hostname').read()\\n",
                    "import socket\\ndef f(x):\\n    socket.socket()\\n",
                    "import os\\ndef f(x):\\n    os.fork()\\n",
                    "import time\\ndef f(x):\\n    time.sleep(10)\\n"]:
        r = ex.run(p, program)
        print(r.status, r.tests[0].actual or r.tests[0].error)
    ex.close()
""")


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3").exists() or not shutil.which("setpriv"),
                    reason="needs root (to become nobody), /usr/bin/python3 and setpriv")
def test_unprivileged_worker() -> None:
    """As an ordinary user (here nobody, with the system's Python, which can read its own
    library), the server takes its own user namespace: every layer but the per-run uid."""
    stubs = Path(tempfile.mkdtemp(prefix="hint-stubs-"))  # pytest's tmp_path is private to root
    os.chmod(stubs, 0o755)
    for name in ("yaml", "requests"):  # imported by hint_core.problems, unused here
        (stubs / f"{name}.py").write_text("")
    try:
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
             UNPRIVILEGED],
            env={"PYTHONPATH": f"{ROOT}:{stubs}", "PATH": "/usr/bin:/bin"}, cwd="/",
            capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(stubs)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    layers = set(lines[0].split())
    assert {"process", "rlimits", "no_new_privs", "landlock", "seccomp"} <= layers
    assert "uid" not in layers
    if Path("/proc/sys/user/max_user_namespaces").read_text().strip() != "0":
        assert {"pidns", "netns", "ipcns", "mountns"} <= layers
    assert lines[1:] == [
        "passed 6", "wrong_answer {}",
        "exception PermissionError: [Errno 13] Permission denied: '/etc/hostname' (line 2)",
        "exception PermissionError: [Errno 1] Operation not permitted (line 3)",
        "exception PermissionError: [Errno 1] Operation not permitted (line 3)",
        "timeout time limit exceeded (1 s of wall time)",
    ]


def test_minimal_sandbox_still_judges_and_hides_the_environment() -> None:
    ex = executor_without(*OPTIONAL)
    try:
        assert set(ex.info()["layers"]) == {"process", "rlimits"}
        assert ex.run(FACTORIAL, FACTORIAL.solutions[0]).correct
        assert ex.run(ANY, "import os\ndef f(x):\n    return dict(os.environ)\n").tests[0].actual == "{}"
        started = time.monotonic()
        assert ex.run(fn_problem(((0,), 1), wall_seconds=1.0), "import time\ndef f(x):\n    time.sleep(60)\n"
                      ).status == "timeout"
        assert time.monotonic() - started < 3
    finally:
        ex.close()


DAEMON = textwrap.dedent("""
    import os, time
    def f(x):
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                with open("daemon.pid", "w") as fh:
                    fh.write(str(os.getpid()))
                time.sleep(60)
            os._exit(0)
        os.waitpid(pid, 0)
        for _ in range(200):
            if os.path.exists("daemon.pid") and open("daemon.pid").read():
                break
            time.sleep(0.01)
        return [int(open("daemon.pid").read())]
""")


@pytest.mark.parametrize("without", [("seccomp", "pidns", "landlock"),
                                     ("seccomp", "pidns", "landlock", "uid", "mountns")])
def test_daemons_are_killed_without_a_pid_namespace(full, without: tuple[str, ...]) -> None:
    """With no PID namespace and no seccomp, a setsid daemon escapes the process group;
    the per-uid kill (with a uid) or the subreaper's orphan sweep (without) finds it."""
    if "uid" not in without and "uid" not in full.info()["layers"]:
        pytest.skip("uid is not available here")
    ex = executor_without(*without)
    try:
        result = ex.run(fn_problem(((0,), [])), DAEMON)
        daemon = ast.literal_eval(result.tests[0].actual)  # [pid]: no PID namespace, so a host pid
        assert daemon, result.tests[0].describe()
        assert wait_until(lambda: not alive(daemon[0]), 3), f"daemon {daemon[0]} survived the run"
    finally:
        ex.close()


# --- the fork server's lifecycle ----------------------------------------------------------------------


WORKER = textwrap.dedent("""
    import sys, threading, time
    from hint_core.sandbox import ForkServerExecutor
    from tests.unit.test_sandbox import fn_problem
    ex = ForkServerExecutor()
    problem = fn_problem(((0,), 1), wall_seconds=60.0, cpu_seconds=60.0)
    threading.Thread(target=ex.run, args=(problem, "import time\\ndef f(x):\\n    time.sleep(60)\\n")).start()
    time.sleep(0.5)
    print(ex.info()["pid"], ex._get_server().base_dir, flush=True)
    time.sleep(60)
""")


def test_the_server_and_its_runs_die_with_the_worker() -> None:
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        server_pid, base_dir = worker.stdout.readline().split()
        server_pid = int(server_pid)
        assert Path(base_dir, "server.lock").exists()
        assert alive(server_pid)
        runs = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == server_pid]
        assert runs, "the sleeping run should be under way"
    finally:
        worker.kill()
        worker.wait()
    assert wait_until(lambda: not alive(server_pid), 5), "the server outlived its worker"
    assert wait_until(lambda: not any(alive(p) for p in runs), 5), "a run outlived its server"
    # Killed, the server could not clean up; the next server to start removes its directory.
    ex = ForkServerExecutor()
    try:
        ex.info()
        assert not Path(base_dir).exists()
    finally:
        ex.close()


def test_a_worker_that_exits_without_closing_leaves_nothing() -> None:
    code = ("from hint_core.sandbox import ForkServerExecutor\n"
            "print(ForkServerExecutor()._get_server().base_dir)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    base_dir = done.stdout.strip()
    assert base_dir and not Path(base_dir).exists()


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return -1


def test_a_dead_server_is_replaced() -> None:
    ex = ForkServerExecutor()
    try:
        first = ex.info()["pid"]
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: not alive(first), 3)
        assert ex.run(FACTORIAL, FACTORIAL.solutions[0]).correct
        assert ex.info()["pid"] != first
    finally:
        ex.close()


def test_a_forked_worker_gets_its_own_server(full) -> None:
    parent_server = full.info()["pid"]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            ok = full.run(FACTORIAL, FACTORIAL.solutions[0]).correct and full.info()["pid"] != parent_server
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"
    assert full.run(FACTORIAL, FACTORIAL.solutions[0]).correct and full.info()["pid"] == parent_server


def test_closing_the_executor_removes_its_directory() -> None:
    ex = ForkServerExecutor()
    base = Path(ex._get_server().base_dir)
    pid = ex.info()["pid"]
    ex.run(FACTORIAL, FACTORIAL.solutions[0])
    ex.close()
    assert not base.exists()
    assert wait_until(lambda: not alive(pid), 3)
    assert tempfile.gettempdir()  # nothing else to clean: runs used only the base directory


# --- where the server's directory goes ------------------------------------------------------------------


PRIVATE_TMPDIR = textwrap.dedent("""
    from hint_core.sandbox import ForkServerExecutor
    from tests.unit.test_sandbox import FACTORIAL
    ex = ForkServerExecutor()
    result = ex.run(FACTORIAL, FACTORIAL.solutions[0])
    server = ex._get_server()
    print(result.correct, result.first_failure_text(), server.base_dir, "uid" in ex.info()["layers"])
    ex.close()
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="per-run uids (and so the need to traverse TMPDIR) need root")
def test_a_private_tmpdir_does_not_stop_the_runs() -> None:
    """TMPDIR set to a 0700 directory (as `mktemp -d` makes, and service managers set):
    the per-run uids cannot traverse it, so the server puts its directory elsewhere."""
    private = Path(tempfile.mkdtemp(prefix="hint-private-tmp-"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    try:
        done = subprocess.run([sys.executable, "-c", PRIVATE_TMPDIR], cwd=ROOT, capture_output=True,
                              text=True,
                              timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(private)})
        assert done.returncode == 0, done.stderr[-2000:]
        correct, first_failure, base_dir, uid = done.stdout.split()
        assert (correct, first_failure, uid) == ("True", "None", "True")
        assert not base_dir.startswith(str(private))
    finally:
        shutil.rmtree(private)


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="per-run uids (and so the need to traverse the directory) need root")
def test_an_unreachable_sandbox_tmp_dir_is_refused_naming_the_setting(tmp_path) -> None:
    private = tmp_path / "private"  # pytest's tmp_path is itself under a 0700 directory
    ex = ForkServerExecutor(SandboxConfig(tmp_dir=str(private)))
    try:
        with pytest.raises(SandboxUnavailable,
                           match=f"SANDBOX_TMP_DIR={private} cannot be reached by the per-run"):
            ex.run(FACTORIAL, FACTORIAL.solutions[0])
    finally:
        ex.close()
    # Without per-run uids the same directory is fine.
    ex = ForkServerExecutor(SandboxConfig(tmp_dir=str(private), disable=frozenset({"uid"})))
    try:
        assert ex.run(FACTORIAL, FACTORIAL.solutions[0]).correct
        assert ex._get_server().base_dir.startswith(str(private))
    finally:
        ex.close()
