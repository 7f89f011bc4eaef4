"""The fork server: one per worker process, started without secrets, one fork per run.

The worker starts this script once (``python -I -S server.py FD`` with an empty
environment, so neither ``os.environ`` nor ``/proc/self/environ`` of any run holds a
secret) and talks to it over a Unix SOCK_SEQPACKET socket. Every request carries three
descriptors (SCM_RIGHTS): a per-run control socket, the record socket the child answers
on, and the pipe for the child's printed output. The server forks one child per request
and goes straight back to its loop, so runs proceed concurrently; it never sees expected
values, only inputs and limits, and the worker talks to the child directly.

In the child, before the program is loaded, layers are applied in this order (each one
only if detected at start and not disabled by the operator):

    new PID namespace (the child is its init: when it dies, everything it left dies)
    new network, IPC and mount namespaces; a size-capped tmpfs as the work directory
    rlimits; a per-run unprivileged uid (then the parent-death signal again: the uid
    change clears it); the work directory and its assets; no_new_privs; Landlock;
    seccomp; then the harness in child.py.

The server itself is a child subreaper with a parent-death signal, and exits when the
worker's end of the socket closes, killing every run it still has.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import gc
import json
import os
import resource
import select
import signal
import socket
import stat
import sys
import sysconfig
import time
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import child  # noqa: E402
import confine  # noqa: E402
import framing  # noqa: E402
import wire  # noqa: E402

del sys.path[0]

# `python -S` has no exit()/quit(), which ordinary student programs call: add them back.
import site  # noqa: E402

site.setquit()

# Modules student programs commonly import, loaded once here so no run pays for them.
PRELOAD = ("math", "collections", "itertools", "functools", "re", "string", "heapq", "bisect",
           "random", "typing", "dataclasses", "copy", "operator", "fractions", "decimal",
           "statistics", "datetime")
for _name in PRELOAD:
    __import__(_name)

UID_BLOCK = 64  # uids (and so concurrent runs) per server


def log(message: str) -> None:
    try:
        os.write(2, f"hint-sandbox-server[{os.getpid()}]: {message}\n".encode())
    except OSError:
        pass


# --- start-up: what this machine allows -----------------------------------------------


def _probe(action: Callable[[], object]) -> bool:
    """Try `action` in a throwaway child: layers are detected by doing, not by guessing."""
    pid = os.fork()
    if pid == 0:
        try:
            action()
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return status == 0


def _other_can_read(path: str) -> bool:
    """Whether a uid with no relation to the files could read `path` (DAC only)."""
    path = os.path.realpath(path)
    parts = path.split("/")
    for i in range(2, len(parts) + 1):
        try:
            mode = os.stat("/".join(parts[:i]) or "/").st_mode
        except OSError:
            return False
        if not mode & 0o001:
            return False
    return bool(os.stat(path).st_mode & 0o004)


def _try_uid(uid: int) -> Callable[[], None]:
    def action() -> None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    return action


def detect(disabled: set[str], uid_probe: int | None) -> tuple[set[str], int]:
    have = {"process"}
    if _probe(lambda: confine.set_rlimits({"CORE": 0})):
        have.add("rlimits")
    if _probe(confine.set_no_new_privs):
        have.add("no_new_privs")
    abi = confine.landlock_abi()
    if abi and "no_new_privs" in have and _probe(
            lambda: (confine.set_no_new_privs(), confine.apply_landlock(abi, ["/"], []))):
        have.add("landlock")
    if confine.seccomp_supported() and "no_new_privs" in have and _probe(
            lambda: (confine.set_no_new_privs(),
                     confine.apply_seccomp(confine.seccomp_program(os.getpid())))):
        have.add("seccomp")
    for name, flag in (("pidns", confine.CLONE_NEWPID), ("netns", confine.CLONE_NEWNET),
                       ("ipcns", confine.CLONE_NEWIPC), ("mountns", confine.CLONE_NEWNS)):
        if _probe(lambda flag=flag: confine.unshare(flag)):
            have.add(name)
    if os.geteuid() == 0 and uid_probe is not None and _probe(_try_uid(uid_probe)):
        # The sandbox uid must be able to read the interpreter's library for imports
        # the program makes; if it cannot (a pyenv under /root, say), the library is
        # bind-mounted somewhere readable in the run's mount namespace.
        if all(_other_can_read(p) for p in sys.path if os.path.exists(p)) or "mountns" in have - disabled:
            have.add("uid")
    return have - set(disabled), abi


# --- the server -----------------------------------------------------------------------


class Run:
    __slots__ = ("pid", "ctl", "deadline", "slot", "reason", "killed", "started")

    def __init__(self, pid: int, ctl: socket.socket, deadline: float, slot: int) -> None:
        self.pid, self.ctl, self.deadline, self.slot = pid, ctl, deadline, slot
        self.reason = None
        self.killed = False
        self.started = time.monotonic()


class Server:
    def __init__(self, sock: socket.socket, user_namespace: bool = False) -> None:
        self.sock = sock
        self.user_namespace = user_namespace
        self.server_pid = os.getpid()
        self.runs = {}  # pid -> Run
        self.by_ctl = {}  # ctl fd -> Run
        self.pending = []  # requests waiting for a uid slot
        config = framing.read_message(sock.recv(framing.MAX_MESSAGE))
        self.base_dir = config["base_dir"]
        # Held while we live: a worker that finds this directory with the lock free knows
        # its server is dead and removes it (a SIGKILL leaves no chance to clean up).
        self.base_lock = os.open(os.path.join(self.base_dir, "server.lock"),
                                 os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        fcntl.flock(self.base_lock, fcntl.LOCK_EX)
        self.layers, self.abi = detect(set(config.get("disable", [])), config["uid_base"])
        self.uid_base = None
        self.lock_fd = None
        if "uid" in self.layers:
            self.uid_base = self._claim_uid_block(config["uid_base"], config["uid_blocks"],
                                                  config["lock_dir"])
            if self.uid_base is None:
                self.layers.discard("uid")
        self.free_slots = list(range(UID_BLOCK - 1, -1, -1))
        self.seccomp_cache = {}
        self.pidns_fd = None
        if "pidns" in self.layers:
            self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.pyroot = None
        self.prefix = os.path.realpath(sys.base_prefix)
        if "pidns" in self.layers:  # every child is pid 1 in its namespace
            self.seccomp_cache[1] = confine.seccomp_program(1)
        if "uid" in self.layers and not all(_other_can_read(p) for p in sys.path if os.path.exists(p)):
            self.pyroot = os.path.join(self.base_dir, "python")
            os.makedirs(self.pyroot, mode=0o755, exist_ok=True)
        self.read_paths = self._read_paths()
        self.moved_paths = _moved_paths(self.prefix, self.pyroot) if self.pyroot else None
        framing.send_message(sock, {
            "layers": sorted(self.layers), "landlock_abi": self.abi, "pid": os.getpid(),
            "uid_base": self.uid_base, "python": sys.version.split()[0],
            "user_namespace": self.user_namespace, "pyroot": self.pyroot,
        })

    def _claim_uid_block(self, base: int, blocks: int, lock_dir: str) -> int | None:
        """Several worker processes each have a server: each takes its own block of
        uids, held by an flock for the server's lifetime (released when it dies)."""
        os.makedirs(lock_dir, mode=0o700, exist_ok=True)
        st = os.lstat(lock_dir)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            # In a shared /tmp someone else could have made it, with symlinks inside.
            log(f"{lock_dir} is not a private directory of ours; running without a per-run uid")
            return None
        for block in range(blocks):
            fd = os.open(os.path.join(lock_dir, f"block-{block}.lock"),
                         os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.lock_fd = fd
            return base + block * UID_BLOCK
        log("no free block of sandbox uids; running without a per-run uid")
        return None

    def _read_paths(self) -> list[str]:
        """What the program may read: the interpreter's library, shared libraries, time
        zones, a few device files. Nothing is executable; nothing else is readable."""
        paths = [p for p in sys.path if p] + [sysconfig.get_paths()["stdlib"], self.prefix]
        if self.pyroot:
            paths.append(self.pyroot)
        paths += ["/usr/lib", "/lib", "/lib64", "/usr/lib64", "/usr/share/zoneinfo", "/etc/localtime",
                  "/etc/ld.so.cache", "/dev/urandom", "/dev/random", "/dev/zero"]
        out = []
        for p in paths:
            real = os.path.realpath(p)
            if os.path.exists(real) and real not in out:
                out.append(real)
        return out

    # -- loop --------------------------------------------------------------------------

    def serve(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        self.poller = poller
        while True:
            timeout = None
            if self.runs:
                nearest = min(r.deadline for r in self.runs.values() if not r.killed) if any(
                    not r.killed for r in self.runs.values()) else None
                if nearest is not None:
                    timeout = max(0, int((nearest - time.monotonic()) * 1000) + 1)
            for fd, _event in poller.poll(timeout):
                if fd == self.sock.fileno():
                    if not self._accept():
                        self._shutdown()
                        return
                elif fd == wake_r:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                    self._reap()
                elif fd in self.by_ctl:
                    self._control(self.by_ctl[fd])
            now = time.monotonic()
            for run in list(self.runs.values()):
                if not run.killed and now >= run.deadline:
                    self._kill(run, "timeout")
            self._reap()

    def _accept(self) -> bool:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(self.sock, framing.MAX_MESSAGE, 3)
        except InterruptedError:
            return True
        if not msg and not fds:
            return False  # the worker is gone
        try:
            request = framing.read_message(msg)
            if len(fds) != 3:
                raise ValueError("expected 3 descriptors")
        except ValueError as exc:
            log(f"bad request: {exc}")
            for fd in fds:
                os.close(fd)
            return True
        self.pending.append((request, fds))
        self._start_pending()
        return True

    def _start_pending(self) -> None:
        while self.pending and self.free_slots:
            request, fds = self.pending.pop(0)
            slot = self.free_slots.pop()
            ctl_fd, data_fd, out_fd = fds
            ctl = socket.socket(fileno=ctl_fd)
            try:
                pid = self._fork(request, data_fd, out_fd, slot)
            except OSError as exc:
                log(f"fork failed: {exc}")
                self.free_slots.append(slot)
                framing.send_message(ctl, {"error": f"fork failed: {exc}"})
                ctl.close()
                continue
            finally:
                os.close(data_fd)
                os.close(out_fd)
            run = Run(pid, ctl, time.monotonic() + float(request["limits"]["wall_seconds"]), slot)
            framing.send_message(ctl, {"started": pid})  # the worker's clock starts now, not while queued
            self.runs[pid] = run
            self.by_ctl[ctl.fileno()] = run
            self.poller.register(ctl.fileno(), select.POLLIN)

    def _fork(self, request: dict[str, Any], data_fd: int, out_fd: int, slot: int) -> int:
        if self.pidns_fd is not None:
            confine.unshare(confine.CLONE_NEWPID)  # for the next child only ...
        try:
            pid = os.fork()
        except BaseException:
            if self.pidns_fd is not None:
                confine.setns(self.pidns_fd, confine.CLONE_NEWPID)
            raise
        if pid == 0:
            self._child(request, data_fd, out_fd, slot)  # never returns
        if self.pidns_fd is not None:
            confine.setns(self.pidns_fd, confine.CLONE_NEWPID)  # ... so back to our own
        return pid

    def _control(self, run: Run) -> None:
        try:
            data = run.ctl.recv(4096)
        except OSError:
            data = b""
        if not data:  # the worker gave up on this run
            self.poller.unregister(run.ctl.fileno())
            del self.by_ctl[run.ctl.fileno()]
            run.ctl.close()
            run.ctl = None
            self._kill(run, "cancelled")
            return
        try:
            message = framing.read_message(data)
        except ValueError:
            return
        if "kill" in message:
            self._kill(run, str(message["kill"]))

    def _kill(self, run: Run, reason: str) -> None:
        if run.reason is None:
            run.reason = reason
        run.killed = True
        for target in (lambda: os.kill(run.pid, signal.SIGKILL), lambda: os.killpg(run.pid, signal.SIGKILL)):
            try:
                target()
            except OSError:
                pass

    def _reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            run = self.runs.pop(pid, None)
            if run is not None:
                self._finish(run, status, usage)
            # else: an orphan reparented to us (we are a subreaper), now reaped

    def _finish(self, run: Run, status: int, usage: resource.struct_rusage) -> None:
        if "pidns" not in self.layers:
            # Without a PID namespace, what the run left must be found: its process
            # group, its uid, and orphans that were reparented to us.
            try:
                os.killpg(run.pid, signal.SIGKILL)
            except OSError:
                pass
            if "uid" in self.layers:
                _probe(lambda: (_try_uid(self.uid_base + run.slot)(), os.kill(-1, signal.SIGKILL)))
            if "seccomp" not in self.layers:
                self._kill_orphans()
        self.free_slots.append(run.slot)
        if run.ctl is not None:
            self.poller.unregister(run.ctl.fileno())
            del self.by_ctl[run.ctl.fileno()]
            framing.send_message(run.ctl, {"status": status, "cpu": usage.ru_utime + usage.ru_stime,
                            "maxrss_kb": usage.ru_maxrss, "reason": run.reason,
                            "elapsed": time.monotonic() - run.started})
            run.ctl.close()
        self._start_pending()

    def _kill_orphans(self) -> None:
        me = str(os.getpid())
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in self.runs:
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass

    def _shutdown(self) -> None:
        for run in list(self.runs.values()):
            self._kill(run, "shutdown")
        deadline = time.monotonic() + 2
        while self.runs and time.monotonic() < deadline:
            try:
                pid, _status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.runs.pop(pid, None)
        _remove_tree(self.base_dir)

    # -- in the child ------------------------------------------------------------------

    def _child(self, request: dict[str, Any], data_fd: int, out_fd: int, slot: int) -> NoReturn:
        """Confine this freshly forked process, then run the harness. Never returns."""
        status = 70
        record_fd = 3
        student_started = False
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG errors, not a silent death
            confine.set_pdeathsig(signal.SIGKILL)
            os.setsid()  # our own process group and session: one killpg stops them all
            # Descriptors: stdin /dev/null, stdout and stderr the output pipe, 3 the
            # record socket, and nothing else (not the server's sockets, not its locks).
            devnull, out_fd, data_fd = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
                                        for fd in (self.devnull, out_fd, data_fd))
            os.dup2(devnull, 0)
            os.dup2(out_fd, 1)
            os.dup2(out_fd, 2)
            os.dup2(data_fd, record_fd)
            os.closerange(record_fd + 1, 1 << 20)
            payload = framing.read_frame(record_fd)  # the program and its assets; the inputs come later
            limits = request["limits"]
            uid = self.uid_base + slot if "uid" in self.layers else None
            flags = 0
            for name, flag in (("netns", confine.CLONE_NEWNET), ("ipcns", confine.CLONE_NEWIPC),
                               ("mountns", confine.CLONE_NEWNS)):
                if name in self.layers:
                    flags |= flag
            if flags:
                confine.unshare(flags)
            workdir = request["workdir"]
            os.mkdir(workdir, 0o700)
            if "mountns" in self.layers:
                confine.mount(None, "/", None, confine.MS_REC | confine.MS_PRIVATE)
                owner = f",uid={uid},gid={uid}" if uid is not None else ""
                confine.mount("tmpfs", workdir, "tmpfs",
                              confine.MS_NOSUID | confine.MS_NODEV | confine.MS_NOEXEC,
                              f"size={int(request['disk_bytes'])},nr_inodes={int(request['disk_inodes'])},"
                              f"mode=0700{owner}")
                if self.pyroot:
                    confine.mount(self.prefix, self.pyroot, None, confine.MS_BIND | confine.MS_REC)
                    read_only = confine.MS_REMOUNT | confine.MS_BIND | confine.MS_RDONLY | confine.MS_NOSUID \
                        | confine.MS_NODEV
                    confine.mount(None, self.pyroot, None, read_only)
            elif uid is not None:
                os.chown(workdir, uid, uid)
            rlimits = {"AS": int(limits["memory_mb"]) << 20, "FSIZE": int(limits["file_size_kb"]) << 10,
                       "NOFILE": int(limits["open_files"]), "CORE": 0, "STACK": 8 << 20,
                       "CPU": max(1, int(-(-float(limits["cpu_seconds"]) // 1)))}
            if uid is not None:
                rlimits["NPROC"] = int(limits["max_processes"])  # per uid: only meaningful with our own uid
            if "rlimits" in self.layers:
                confine.set_rlimits(rlimits)
            if uid is not None:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                confine.set_pdeathsig(signal.SIGKILL)  # the uid change cleared it
            confine.drop_capabilities()  # root without a uid change, or root of a user namespace
            if "pidns" not in self.layers and os.getppid() != self.server_pid:
                os._exit(71)  # the server died before the death signal was set
            os.chdir(workdir)
            for rel, content in payload.pop("assets").items():
                _write_asset(rel, base64.b64decode(content))
            if self.moved_paths:
                _use_moved_paths(*self.moved_paths)
            if "no_new_privs" in self.layers:
                confine.set_no_new_privs()
            if "landlock" in self.layers:
                confine.apply_landlock(self.abi, self.read_paths, [os.getcwd(), "/dev/null"])
            if "seccomp" in self.layers:
                program = self.seccomp_cache.get(os.getpid()) or confine.seccomp_program(os.getpid())
                confine.apply_seccomp(program)
            student_started = True
            child.run(payload, record_fd, lambda: framing.read_frame(record_fd)["inputs"])
            status = 0
        except BaseException as exc:  # noqa: BLE001
            if not student_started:
                # Only our own code has run: this record is trustworthy, and the worker
                # treats it as a fault of the sandbox, not of the program.
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                try:
                    os.write(record_fd, wire.dumps_record({"setup_error": detail[:2000]}))
                except OSError:
                    pass
        finally:
            os._exit(status)


def _remove_tree(path: str) -> None:
    """shutil is not loaded here; run directories are empty mount points or small."""
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                pass
        for name in dirs:
            try:
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _write_asset(rel: str, content: bytes) -> None:
    parts = [p for p in rel.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"bad asset path {rel!r}")
    for i in range(1, len(parts)):
        try:
            os.mkdir("/".join(parts[:i]), 0o700)
        except FileExistsError:
            pass
    fd = os.open("/".join(parts), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _moved_paths(prefix: str, pyroot: str) -> tuple[list[str], list[tuple[list[str], list[str]]]]:
    """sys.path and the loaded packages' __path__ as seen through the bind mount of the
    interpreter's library; computed once here, applied in every child."""
    def moved(path: str) -> str:
        real = os.path.realpath(path)
        if real == prefix or real.startswith(prefix + "/"):
            return pyroot + real[len(prefix):]
        return path

    packages = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__path__", None)
        if type(path) is list:
            packages.append((path, [moved(p) for p in path]))
    return [moved(p) if p else p for p in sys.path], packages


def _use_moved_paths(sys_path: list[str], packages: list[tuple[list[str], list[str]]]) -> None:
    """Import from the readable bind mount of the interpreter's library from now on."""
    sys.path[:] = sys_path
    for path, new in packages:
        path[:] = new
    sys.path_importer_cache.clear()


def _become_namespace_root(sock_fd: int, disabled: set[str]) -> bool:
    """Unprivileged, the server can still give its runs namespaces: it becomes root of
    its own user namespace, then the init of a PID namespace that this user namespace
    owns (so that it may re-enter it after creating one for each child). The original
    process stays as the parent, relays the exit status, and holds nothing else."""
    if os.geteuid() == 0 or {"pidns", "netns", "ipcns", "mountns"} <= disabled:
        return False
    try:
        confine.enter_user_namespace()
        confine.unshare(confine.CLONE_NEWPID)
    except OSError as exc:
        log(f"no user namespace ({exc}); running without namespaces")
        return False
    pid = os.fork()
    if pid:
        os.close(sock_fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0x7F)
    confine.set_pdeathsig(signal.SIGKILL)  # when the original process dies
    return True


def main() -> None:
    fd = int(sys.argv[1])
    parent = int(sys.argv[2])
    confine.set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent:
        return  # the worker died before the death signal was set
    disabled = set(json.loads(sys.argv[3])) if len(sys.argv) > 3 else set()
    user_namespace = _become_namespace_root(fd, disabled)
    confine.set_child_subreaper()
    # Started with an empty environment; Python still adds LC_CTYPE when it coerces the
    # C locale. Nothing at all is what a program should find.
    os.environ.clear()
    confine.set_malloc_arena_max(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    server = Server(sock, user_namespace)
    child.warm_up()
    # Children inherit every object; a collection in a child would touch them all and
    # copy every page. Frozen objects are never examined by the collector.
    gc.freeze()
    try:
        server.serve()
    except BaseException:
        log("crashed:\n" + traceback.format_exc())
        server._shutdown()
        raise


if __name__ == "__main__":
    try:
        main()
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
