"""Hostile programs: each one's verdict, and the absence of its effect.

The worker process of these tests holds a secret in its environment, exactly as a real
worker holds database passwords and API keys; no program may see it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from hint_core.problems import Compare
from hint_core.problems import TestCase as Case
from hint_core.sandbox import ForkServerExecutor, RunResult, SandboxConfig
from tests.unit.test_sandbox import FACTORIAL, fn_problem, make_problem

SECRET = "hint-test-secret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def executor():
    os.environ["HINT_SANDBOX_TEST_SECRET"] = SECRET  # as if it were DB_PASSWORD
    ex = ForkServerExecutor(SandboxConfig())
    yield ex
    ex.close()
    del os.environ["HINT_SANDBOX_TEST_SECRET"]


@pytest.fixture
def run(executor):
    def go(problem, program: str) -> RunResult:
        result = executor.run(problem, program)
        assert SECRET not in repr(result.to_dict())
        return result
    return go


@pytest.fixture
def outside(tmp_path_factory) -> Path:
    """A directory outside the sandbox, readable by everyone, with a file in it."""
    folder = Path(tempfile.mkdtemp(prefix="hint-outside-"))
    os.chmod(folder, 0o777)
    (folder / "sentinel.txt").write_text("keep me")
    os.chmod(folder / "sentinel.txt", 0o666)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def values(result: RunResult) -> list[str | None]:
    return [t.actual for t in result.tests]


ANY = fn_problem(((0,), "unreachable"))  # a program's return value is shown in `actual`


# --- secrets ----------------------------------------------------------------------------


def test_environment_is_empty(run) -> None:
    result = run(ANY, "import os\ndef f(x):\n    return dict(os.environ)\n")
    assert result.tests[0].actual == "{}"


@pytest.mark.parametrize("path", ["/proc/self/environ", "/proc/1/environ", "/proc/{ppid}/environ",
                                  "/proc/{worker}/environ"])
def test_proc_environ_is_unreadable_or_empty(run, path: str) -> None:
    program = (
        "import os\ndef f(x):\n"
        f"    path = {path!r}.format(ppid=os.getppid(), worker={os.getpid()})\n"
        "    with open(path, 'rb') as fh:\n        return fh.read().decode()\n"
    )
    result = run(ANY, program)
    assert result.tests[0].status in ("exception", "wrong_answer")
    if result.tests[0].status == "wrong_answer":
        assert result.tests[0].actual == "''"


def test_scanning_proc_finds_nothing(run) -> None:
    program = (
        "import os\ndef f(x):\n    found = []\n"
        "    for pid in os.listdir('/proc'):\n"
        "        try:\n            found.append(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "        except OSError:\n            pass\n    return found\n"
    )
    result = run(ANY, program)
    assert result.tests[0].status == "exception"
    assert "PermissionError" in result.tests[0].error


# --- files outside the work directory ---------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/etc/passwd", "/etc/hostname", str(Path(__file__).resolve()),
    str(Path(__file__).resolve().parents[2] / "hint_core/problem_bank/factorial/problem.yaml"),
    "../../../../etc/passwd", "/root/.bashrc", "/work/main/settings.py",
])
def test_reading_outside_the_work_directory_fails(run, path: str) -> None:
    result = run(ANY, f"def f(x):\n    return open({path!r}).read()\n")
    assert result.tests[0].status == "exception"
    assert result.tests[0].error.split(":")[0] in ("PermissionError", "FileNotFoundError")
    assert "root:" not in result.output and "expected" not in (result.tests[0].actual or "")


def test_hidden_tests_cannot_be_listed(run) -> None:
    bank = Path(__file__).resolve().parents[2] / "hint_core/problem_bank"
    result = run(ANY, f"import os\ndef f(x):\n    return os.listdir({str(bank)!r})\n")
    assert result.tests[0].status == "exception"


def test_writing_and_deleting_outside_fail(run, outside: Path) -> None:
    target = outside / "written.txt"
    program = (
        "import os\ndef f(x):\n    errors = []\n"
        f"    for action in (lambda: open({str(target)!r}, 'w').write('x'),\n"
        f"                   lambda: os.remove({str(outside / 'sentinel.txt')!r}),\n"
        f"                   lambda: os.rename({str(outside / 'sentinel.txt')!r}, 'stolen'),\n"
        f"                   lambda: os.symlink({str(outside)!r}, 'link') or open('link/via-link', 'w'),\n"
        "                   lambda: open('/tmp/hint-escape', 'w').write('x'),\n"
        "                   lambda: os.mkdir('/tmp/hint-escape-dir')):\n"
        "        try:\n            action()\n            errors.append('done')\n"
        "        except OSError as exc:\n            errors.append(type(exc).__name__)\n"
        "    return errors\n"
    )
    result = run(ANY, program)
    assert "done" not in result.tests[0].actual
    assert not target.exists()
    assert (outside / "sentinel.txt").read_text() == "keep me"
    assert not (outside / "via-link").exists()
    assert not Path("/tmp/hint-escape").exists() and not Path("/tmp/hint-escape-dir").exists()


def test_filling_the_disk_stops_at_the_quota(run) -> None:
    before = shutil.disk_usage(tempfile.gettempdir()).used
    program = (
        "import os\ndef f(x):\n    chunk = b'x' * (1 << 20)\n"
        "    for i in range(100000):\n"
        "        with open(f'fill{i}', 'wb') as fh:\n            fh.write(chunk)\n"
    )
    started = time.monotonic()
    result = run(fn_problem(((0,), None), file_size_kb=1024), program)
    assert result.status == "exception"
    assert result.tests[0].error.startswith("OSError: [Errno 28] No space left on device") or \
        result.tests[0].error.startswith("OSError: [Errno 27] File too large")
    assert time.monotonic() - started < 2 + 1.5
    assert shutil.disk_usage(tempfile.gettempdir()).used - before < 50 << 20


def test_one_huge_file_stops_at_the_file_size_limit(run) -> None:
    program = "def f(x):\n    with open('big', 'wb') as fh:\n        fh.write(b'x' * (20 << 20))\n"
    result = run(fn_problem(((0,), None), file_size_kb=1024), program)
    assert result.status == "exception"
    assert "File too large" in result.tests[0].error


# --- network ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [("127.0.0.1", 5432), ("127.0.0.1", 5672), ("::1", 6379),
                                    ("10.0.0.1", 80)])
def test_no_sockets(run, target: tuple[str, int]) -> None:
    program = (
        "import socket\ndef f(x):\n"
        f"    s = socket.create_connection({target!r}, timeout=1)\n    return 'connected'\n"
    )
    result = run(ANY, program)
    assert result.status == "exception"
    assert result.tests[0].error.startswith("PermissionError")


def test_no_connection_reaches_a_listening_server(run) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.3)
    port = server.getsockname()[1]
    program = (
        "import socket\ndef f(x):\n    out = []\n"
        "    for family, kind in ((socket.AF_INET, socket.SOCK_STREAM),\n"
        "                         (socket.AF_INET, socket.SOCK_DGRAM),\n"
        "                         (socket.AF_UNIX, socket.SOCK_STREAM),\n"
        "                         (socket.AF_NETLINK, socket.SOCK_RAW)):\n"
        "        try:\n            s = socket.socket(family, kind)\n"
        f"            s.connect(('127.0.0.1', {port}))\n            out.append('connected')\n"
        "        except OSError as exc:\n            out.append(type(exc).__name__)\n"
        "    return out\n"
    )
    result = run(ANY, program)
    assert result.tests[0].actual == str(["PermissionError"] * 4)
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()


# --- processes ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", [
    "import subprocess\n    subprocess.run(['touch', MARK])",
    "import os\n    if os.system('touch ' + MARK) != 0:\n        raise RuntimeError('system failed')",
    "import os\n    os.execv('/usr/bin/touch', ['touch', MARK])",
    "import os\n    os.posix_spawn('/usr/bin/touch', ['touch', MARK], {})",
    "import multiprocessing\n    p = multiprocessing.Process(target=open, args=(MARK, 'w'))\n"
    "    p.start()\n    p.join()",
    "import pty\n    pty.spawn(['touch', MARK])",
])
def test_no_new_programs(run, outside: Path, how: str) -> None:
    mark = outside / "mark"
    program = f"MARK = {str(mark)!r}\ndef f(x):\n    {how}\n    return 'ran'\n"
    result = run(ANY, program)
    assert result.status == "exception", result.tests[0].describe()
    assert not mark.exists()


def test_fork_bomb(run) -> None:
    program = "import os\ndef f(x):\n    while True:\n        os.fork()\n"
    result = run(ANY, program)
    assert result.status == "exception"
    assert result.tests[0].error.startswith("PermissionError")


def test_fork_through_ctypes_and_raw_syscalls(run) -> None:
    program = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "def f(x):\n    out = []\n"
        "    for nr, args in ((57, ()), (58, ()), (56, (17,)), (435, ()), (41, (2, 1, 0)),\n"
        "                     (101, (16, 1)), (105, (0,)), (272, (0x40000000,)), (165, ()),\n"
        "                     (321, ()), (425, ()), (62, (2, 9)),\n"
        "                     (62, (-1, 9)), (62, (0, 9)), (112, ())):\n"
        "        out.append(libc.syscall(nr, *args))\n"
        "    return out\n"
    )
    result = run(ANY, program)
    assert result.tests[0].actual == repr([-1] * 15)


def test_thread_bomb_is_capped(run) -> None:
    program = (
        "import threading, time\ndef f(x):\n    n = 0\n    try:\n        while n < 10000:\n"
        "            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "            n += 1\n    except RuntimeError:\n        pass\n    return n\n"
    )
    started = time.monotonic()
    result = run(fn_problem(((0,), -1), max_processes=16), program)
    assert result.status == "wrong_answer"
    assert int(result.tests[0].actual) <= 16
    assert time.monotonic() - started < 2 + 1.5  # not the threads' 30 s: they died with the run


def test_leaving_a_daemon_behind(run) -> None:
    program = (
        "import os, threading, time\ndef f(x):\n"
        "    try:\n        if os.fork() == 0:\n            os.setsid()\n            time.sleep(60)\n"
        "    except OSError:\n        pass\n"
        "    threading.Thread(target=time.sleep, args=(60,)).start()  # not a daemon thread\n"
        "    return 1\n"
    )
    started = time.monotonic()
    result = run(fn_problem(((0,), 1)), program)
    assert result.correct
    assert time.monotonic() - started < 2 + 1.5  # not the daemon's 60 s


@pytest.mark.parametrize("how", [
    "os.kill(os.getppid(), signal.SIGKILL)", "os.kill(-1, signal.SIGKILL)", "os.killpg(0, signal.SIGKILL)",
    "os.kill({server}, signal.SIGKILL)", "os.kill({worker}, signal.SIGKILL)",
    "os.kill(1, signal.SIGKILL)",
])
def test_killing_the_parent(run, executor, how: str) -> None:
    code = how.format(server=executor.info()["pid"], worker=os.getpid())
    program = f"import os, signal\ndef f(x):\n    {code}\n    return 'survived'\n"
    result = run(ANY, program)
    assert result.status in ("exception", "wrong_answer", "crashed")
    assert run(fn_problem(((0,), 0)), "def f(x):\n    return x\n").correct  # the server lives on
    os.kill(executor.info()["pid"], 0)


def test_ptrace_and_proc_mem_of_others(run, executor) -> None:
    program = (
        "import ctypes\ndef f(x):\n    libc = ctypes.CDLL(None, use_errno=True)\n"
        f"    out = [libc.ptrace(16, {executor.info()['pid']}, 0, 0)]\n"
        "    try:\n"
        f"        open('/proc/{executor.info()['pid']}/mem', 'rb')\n        out.append('opened')\n"
        "    except OSError as exc:\n        out.append(type(exc).__name__)\n    return out\n"
    )
    result = run(ANY, program)
    assert result.tests[0].actual == "[-1, 'PermissionError']"


# --- resources ------------------------------------------------------------------------------


def test_infinite_loop(run) -> None:
    started = time.monotonic()
    result = run(fn_problem(((0,), 1), ((1,), 1), cpu_seconds=1.0, wall_seconds=3.0),
                 "def f(x):\n    while True:\n        pass\n")
    assert result.status == "timeout"
    assert [t.status for t in result.tests] == ["timeout", "timeout"]
    assert result.tests[0].error.startswith("time limit exceeded")  # CPU, or wall on a loaded machine
    assert time.monotonic() - started < 3 + 1.5


def test_long_sleep(run) -> None:
    started = time.monotonic()
    result = run(fn_problem(((0,), 1), wall_seconds=1.0), "import time\ndef f(x):\n    time.sleep(1000)\n")
    assert result.status == "timeout"
    assert "wall" in result.tests[0].error
    assert time.monotonic() - started < 1 + 1.5


def test_earlier_tests_keep_their_verdicts_after_a_timeout(run) -> None:
    problem = fn_problem(((0,), 0), ((1,), 1), ((2,), 2), wall_seconds=1.0)
    result = run(problem, "import time\ndef f(x):\n    if x == 1:\n        time.sleep(100)\n    return x\n")
    assert [t.status for t in result.tests] == ["passed", "timeout", "timeout"]
    assert result.first_failure_text() == "f(1) did not finish in time (expected 1)"


@pytest.mark.parametrize("bomb", [
    "x = bytearray(10 ** 10)", "x = [0] * (10 ** 9)",
    "x = []\n    while True:\n        x.append(' ' * 10 ** 6)",
    "x = '1' * (10 ** 8)\n    y = [x + str(i) for i in range(1000)]",
])
def test_memory_bomb(run, bomb: str) -> None:
    started = time.monotonic()
    result = run(fn_problem(((0,), 1), memory_mb=128), f"def f(x):\n    {bomb}\n    return 1\n")
    assert result.status == "memory_limit", result.tests[0].describe()
    assert result.first_failure_text().endswith("ran out of memory (expected 1)")
    assert time.monotonic() - started < 2 + 1.5


def test_output_flood(run) -> None:
    started = time.monotonic()
    result = run(fn_problem(((0,), 1), output_bytes=10_000, wall_seconds=5.0),
                 "def f(x):\n    while True:\n        print('spam' * 100)\n")
    assert result.status == "output_limit"
    assert time.monotonic() - started < 4  # stopped at the limit, not at the wall time (5 s)
    assert result.output.startswith("spam")
    assert len(result.output) < 10_200
    assert "[output truncated" in result.output


def test_stdio_output_flood(run) -> None:
    problem = make_problem([Case(name="t", stdin="", expected="1\n")], kind="stdio", output_bytes=10_000)
    result = run(problem, "while True:\n    print('spam' * 100)\n")
    assert result.status == "output_limit"


@pytest.mark.parametrize("limit", [None, 10 ** 6, 10 ** 9])
def test_deep_recursion(run, limit: int | None) -> None:
    raise_limit = f"import sys\nsys.setrecursionlimit({limit})\n" if limit else ""
    program = raise_limit + "def f(n):\n    return f(n + 1) + 1\n"
    started = time.monotonic()
    result = run(fn_problem(((0,), 1), memory_mb=128, cpu_seconds=1.0, wall_seconds=2.0), program)
    assert result.status in ("exception", "memory_limit", "timeout"), result.tests[0].describe()
    if limit is None:
        assert "RecursionError" in result.tests[0].error and result.tests[0].line == (4 if limit else 2)
    assert time.monotonic() - started < 3 + 1.5


def test_huge_integer_computation_is_stopped(run) -> None:
    started = time.monotonic()
    result = run(fn_problem(((0,), 1), cpu_seconds=1.0, wall_seconds=2.0),
                 "def f(x):\n    return 7 ** 10 ** 9\n")
    assert result.status in ("timeout", "memory_limit")
    assert time.monotonic() - started < 2 + 1.5


# --- faking success ---------------------------------------------------------------------------


@pytest.mark.parametrize("fake", [
    # exit 0 before anything is answered
    "import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n", "exit()\n",
    "import os\ndef factorial(n):\n    os._exit(0)\n",
    # claims on every channel the child has
    "import os\nfor fd in (1, 2, 3):\n    os.write(fd, b'{\"correct\": true, \"status\": \"passed\"}\\n')\n"
    "    os.write(fd, b'{\"i\": 0, \"passed\": true}\\nPASSED\\n')\nos._exit(0)\n",
    # patching what a naive harness would rely on
    "import builtins, sys\nsys.exit = lambda *a: None\nbuiltins.print = lambda *a, **k: None\n"
    "sys.stderr = None\nbuiltins.AssertionError = type('X', (Exception,), {})\n"
    "builtins.isinstance = lambda *a: True\ndef factorial(n):\n    return 0\n",
    # answers to the record channel, then the real records arrive too: duplicates
    "import os\nfor i in range(20):\n    os.write(3, b'{\"i\": %d, \"value\": 1}\\n' % i)\n"
    "def factorial(n):\n    return 0\n",
    # garbling the record channel
    "import os\nos.write(3, b'{\"i\": 0, \"value\": ')\ndef factorial(n):\n    return 1\n",
    # an answer object that equals everything
    "class Any:\n    def __eq__(self, other):\n        return True\ndef factorial(n):\n    return Any()\n",
    "class Int(int):\n    def __eq__(self, other):\n        return True\n"
    "def factorial(n):\n    return Int(0)\n",
    # closing the channel
    "import os\nos.close(3)\ndef factorial(n):\n    return 1\n",
    # patching the harness modules it can find
    "import sys\nfor m in list(sys.modules.values()):\n"
    "    if hasattr(m, 'encode') and hasattr(m, 'BadValue'):\n"
    "        m.encode = lambda v: 120\ndef factorial(n):\n    return 0\n",
])
def test_faking_success(run, fake: str) -> None:
    result = run(FACTORIAL, fake)
    assert not result.correct
    assert result.status != "passed"
    assert sum(t.passed for t in result.tests) < len(FACTORIAL.tests)


def test_a_forged_record_counts_only_as_an_answer(run) -> None:
    """Writing a record is like returning a value: it never reveals or bypasses expected
    values, and together with the real record it makes the test fail."""
    program = "import os\nos.write(3, b'{\"i\": 0, \"value\": 1}\\n')\ndef factorial(n):\n    return 1\n"
    result = run(FACTORIAL, program)
    assert result.tests[0].status == "crashed"
    assert "interfered" in result.tests[0].error


def test_exiting_early_in_a_stdio_problem(run) -> None:
    problem = make_problem([Case(name="t", stdin="", expected="3\n")], kind="stdio")
    for program in ("import os\nos._exit(0)\n",
                    "import os\nos.write(3, b'{\"i\":0,\"value\":\"3\\\\n\"}\\n')\n"
                    "os._exit(0)\n"):
        result = run(problem, program)
        if result.correct:  # only possible by printing exactly the expected output
            assert "value" in program
        assert result.tests[0].status in ("crashed", "passed")


def test_a_real_crash_is_reported(run) -> None:
    result = run(FACTORIAL, "import ctypes\nctypes.string_at(0)\n")
    assert result.status == "crashed"
    assert result.tests[0].error == "the program was killed by signal SIGSEGV"
    # signalling itself is allowed, and harmless: it is the init of its PID namespace
    assert run(FACTORIAL, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
                          "def factorial(n):\n    return 1 if n < 2 else n * factorial(n - 1)\n").status in (
        "passed", "crashed")


def test_unordered_comparison_is_not_quadratic_on_hostile_answers(run) -> None:
    problem = make_problem([Case(name="t", args=(0,), expected=list(range(50_000)))],
                           compare=Compare(unordered=True))
    started = time.monotonic()
    result = run(problem, "def f(x):\n    return list(range(50_000))[::-1]\n")
    assert result.correct
    assert time.monotonic() - started < 3


def test_many_concurrent_hostile_runs(executor) -> None:
    bombs = ["def f(x):\n    while True:\n        pass\n", "import os\ndef f(x):\n    os.fork()\n",
             "def f(x):\n    return [0] * 10 ** 9\n", "def f(x):\n    return x\n"]
    problem = fn_problem(((0,), 0), cpu_seconds=1.0, wall_seconds=2.0)
    results: list[RunResult] = []
    threads = [threading.Thread(target=lambda p=p: results.append(executor.run(problem,
                                                                               p))) for p in bombs * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == sorted(["timeout", "exception", "memory_limit",
                                                        "passed"] * 3), [
        (r.status, r.tests[0].error, r.cpu_time, r.run_time) for r in results]


def test_signal_handlers_and_alarm_do_not_outlive_the_limits(run) -> None:
    program = (
        "import signal, time\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ndef f(x):\n    while True:\n        pass\n"
    )
    started = time.monotonic()
    assert run(fn_problem(((0,), 1), cpu_seconds=1.0, wall_seconds=2.0), program).status == "timeout"
    assert time.monotonic() - started < 2 + 1.5
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN  # ours untouched
