"""The fork server's life, seen from the worker: where its directory goes, starting it
without secrets, stopping it, and removing what killed servers left behind.

The server itself is server.py; the executor (local.py) decides when to start one.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hint_core.sandbox import framing
from hint_core.sandbox.config import SandboxConfig, SandboxError, SandboxUnavailable

SERVER_SCRIPT = str(Path(__file__).with_name("server.py"))
STARTUP_SECONDS = 30.0
STALE_UNLOCKED_SECONDS = 600  # a directory without a lock file: a server still starting, or an old one
PREFIX = "hint-sandbox-"
UID_LOCKS = PREFIX + "uids"
# Where a server's directory may go when the configuration names none, in this order.
FALLBACK_PARENTS = ("/tmp", "/var/tmp", "/dev/shm")


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    sock: socket.socket
    base_dir: str
    info: dict[str, Any]
    owner_pid: int = field(default_factory=os.getpid)

    def usable(self) -> bool:
        """Alive, and ours: in a forked worker process the parent's server is not."""
        return self.owner_pid == os.getpid() and self.proc.poll() is None

    def stop(self) -> None:
        """Close the socket (the server kills its runs and exits), wait, remove its directory."""
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.base_dir, ignore_errors=True)


def _unreachable_part(path: str) -> str | None:
    """The first directory on the way to `path` that other users cannot traverse."""
    parts = os.path.realpath(path).split("/")
    for i in range(2, len(parts) + 1):
        ancestor = "/".join(parts[:i])
        try:
            mode = os.stat(ancestor).st_mode
        except OSError:
            return ancestor
        if not mode & stat.S_IXOTH:
            return ancestor
    return None


def _why_unusable(path: str, per_run_uids: bool) -> str | None:
    if not os.path.isdir(path):
        return "is not a directory"
    if not os.access(path, os.W_OK | os.X_OK):
        return "is not writable by this process"
    if per_run_uids:
        blocked = _unreachable_part(path)
        if blocked is not None:
            mode = stat.S_IMODE(os.stat(blocked).st_mode) if os.path.exists(blocked) else 0
            return (f"cannot be reached by the per-run users: {blocked} is mode {mode:04o}, and every "
                    f"directory on the way needs search permission for others (o+x)")
    return None


def parent_dir(config: SandboxConfig) -> str:
    """Where the server makes its directory, checked now rather than at the first run.

    Running as root, the runs change to per-run uids, which must traverse every directory
    on the way to their run directory: a private TMPDIR (0700, as ``mktemp -d`` makes and
    many service managers set) cannot be used then, and another temporary directory is.
    An explicit ``tmp_dir`` that cannot be used is refused, naming SANDBOX_TMP_DIR.
    """
    per_run_uids = os.geteuid() == 0 and "uid" not in config.disable
    if config.tmp_dir:
        os.makedirs(config.tmp_dir, mode=0o711, exist_ok=True)
        problem = _why_unusable(config.tmp_dir, per_run_uids)
        if problem:
            raise SandboxUnavailable(f"SANDBOX_TMP_DIR={config.tmp_dir} {problem}; choose another directory")
        return config.tmp_dir
    reasons = []
    for candidate in dict.fromkeys((tempfile.gettempdir(), *FALLBACK_PARENTS)):
        problem = _why_unusable(candidate, per_run_uids)
        if problem is None:
            return candidate
        reasons.append(f"{candidate} {problem}")
    raise SandboxUnavailable("no usable temporary directory for the sandbox (" + "; ".join(reasons)
                             + "); set SANDBOX_TMP_DIR to a directory every user can traverse")


def start(config: SandboxConfig, parent: str) -> ServerProcess:
    """Start a fork server with an empty environment and wait for its report (layers,
    pid). Call from the keeper thread (see keeper.py)."""
    sweep_dead_servers(parent)
    base_dir = tempfile.mkdtemp(prefix=PREFIX, dir=parent)
    os.chmod(base_dir, 0o711)  # per-run uids must traverse it to reach their own dir
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", SERVER_SCRIPT, str(theirs.fileno()), str(os.getpid()),
             json.dumps(sorted(config.disable))],
            env={},  # no secrets, from process start: /proc/PID/environ of every run is empty
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=None,
            pass_fds=(theirs.fileno(),), cwd="/", start_new_session=True,
        )
    except BaseException:
        shutil.rmtree(base_dir, ignore_errors=True)
        raise
    finally:
        theirs.close()
    server = ServerProcess(proc, ours, base_dir, {})
    try:
        ours.settimeout(STARTUP_SECONDS)
        framing.send_message(ours, {
            "base_dir": base_dir, "disable": sorted(config.disable), "uid_base": config.uid_base,
            "uid_blocks": config.uid_blocks, "lock_dir": os.path.join(parent, UID_LOCKS),
        })
        reply = ours.recv(framing.MAX_MESSAGE)
        if not reply:
            raise SandboxError("the sandbox server exited during start-up (see its messages on stderr)")
        server.info = framing.read_message(reply)
        server.info["pid"] = proc.pid  # inside its own PID namespace the server may be pid 1
        server.info["base_dir"] = base_dir
        ours.settimeout(None)
    except BaseException:
        server.stop()
        raise
    return server


def sweep_dead_servers(parent: str) -> None:
    """Remove the directories of servers that died without cleaning up (SIGKILL): each
    live server holds an flock on its ``server.lock``."""
    try:
        entries = os.scandir(parent)
    except OSError:
        return
    with entries:
        for entry in entries:
            if entry.name.startswith(PREFIX) and entry.name != UID_LOCKS:
                _remove_if_dead(entry)


def _remove_if_dead(entry: os.DirEntry) -> None:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        return
    try:
        lock = os.open(os.path.join(entry.path, "server.lock"), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        # No lock: a server still starting (its directory is empty until it takes the
        # lock), or what an interrupted removal left, its lock already gone (run
        # directories can stay busy for a moment after their run died).
        if time.time() - st.st_mtime > STALE_UNLOCKED_SECONDS or _only_runs_left(entry.path):
            _remove_dead_dir(entry.path)
        return
    except OSError:
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        return  # its server is alive
    try:
        _remove_dead_dir(entry.path)
    finally:
        os.close(lock)


def _remove_dead_dir(path: str) -> None:
    """Everything but the lock first, then the lock: a directory that cannot be emptied
    yet (the mount of a run that just died can stay busy for a moment) keeps its lock
    file, so that the next sweep tries again instead of leaving it for ten minutes."""
    for attempt in range(5):
        try:
            for name in os.listdir(path):
                target = os.path.join(path, name)
                if name == "server.lock":
                    continue
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    _unlink(target)
            if set(os.listdir(path)) <= {"server.lock"}:
                _unlink(os.path.join(path, "server.lock"))
                os.rmdir(path)
                return
        except FileNotFoundError:
            return  # another worker's sweep was quicker
        except OSError:
            pass
        time.sleep(0.05 * (attempt + 1))


def _only_runs_left(path: str) -> bool:
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return bool(names) and all(name.startswith("run-") for name in names)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
