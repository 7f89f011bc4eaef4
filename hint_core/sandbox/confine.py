"""Kernel confinement for the sandbox child: Landlock, seccomp, namespaces, rlimits.

A small ctypes layer over the raw system calls, so that nothing beyond the standard
library is needed. It is imported by the fork server (``server.py``), which runs outside
the project with ``python -I -S``: this module must import only the standard library.

Only x86_64 system call numbers are known; on another architecture ``seccomp_supported``
is false and the layer is reported missing instead of being applied wrongly.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import stat
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

X86_64 = platform.machine() == "x86_64"


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


# --- prctl -------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def set_pdeathsig(sig: int) -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "PR_SET_PDEATHSIG")


def set_child_subreaper() -> None:
    """Orphaned descendants are reparented to us, not to init, so we can kill them."""
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "PR_SET_CHILD_SUBREAPER")


def set_no_new_privs() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def set_malloc_arena_max(n: int) -> None:
    """Each thread may otherwise reserve a 64 MiB malloc arena against RLIMIT_AS."""
    try:
        _libc.mallopt(-8, n)  # M_ARENA_MAX
    except AttributeError:  # not glibc
        pass


def drop_capabilities() -> None:
    """Empty the effective, permitted and inheritable capability sets. A uid change from
    root does this by itself; root without a uid change, or root of a user namespace,
    must do it explicitly. Nothing can bring them back: the child never executes."""
    header = struct.pack("<Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # two {effective, permitted, inheritable} u32 triples, all zero
    _check(_libc.syscall(126, ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")


def enter_user_namespace() -> None:
    """Become root of a new user namespace that maps only our own uid and gid: an
    unprivileged process then owns the namespaces it creates (not the host's)."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


# --- namespaces and mounts ---------------------------------------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RDONLY = 1


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


# --- rlimits -----------------------------------------------------------------------


def set_rlimits(limits: dict[str, int]) -> None:
    """Soft limit equals hard limit, so the program cannot raise any of them. For CPU
    that means SIGKILL at the limit: the init of a PID namespace ignores SIGXCPU."""
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, "RLIMIT_" + name), (value, value))


# --- Landlock ----------------------------------------------------------------------

SYS_landlock_create_ruleset = 444
SYS_landlock_add_rule = 445
SYS_landlock_restrict_self = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

READ = FS_READ_FILE | FS_READ_DIR
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is unavailable."""
    result = _libc.syscall(SYS_landlock_create_ruleset, None, ctypes.c_size_t(0),
                           LANDLOCK_CREATE_RULESET_VERSION)
    return max(int(result), 0)


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def apply_landlock(abi: int, read_only: list[str], read_write: list[str]) -> None:
    """Allow reading `read_only` paths and everything in `read_write`; deny all other
    file access, every TCP bind/connect (ABI 4+), and signals or abstract Unix sockets
    to processes outside this domain (ABI 6+). Nothing is executable: no path gets the
    execute right. Missing paths are skipped."""
    fs = _handled_fs(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("<QQQ", fs, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    buf = ctypes.create_string_buffer(attr[:size], size)
    ruleset = _check(_libc.syscall(SYS_landlock_create_ruleset, buf, ctypes.c_size_t(size), 0),
                     "landlock_create_ruleset")
    try:
        rw = fs & ~(FS_EXECUTE | FS_MAKE_CHAR | FS_MAKE_BLOCK | FS_MAKE_SOCK | FS_MAKE_FIFO | FS_IOCTL_DEV)
        for paths, rights in ((read_only, READ), (read_write, rw)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = rights
                    if not stat.S_ISDIR(os.fstat(fd).st_mode):
                        allowed &= FILE_RIGHTS & fs
                    rule = ctypes.create_string_buffer(struct.pack("<Qi", allowed, fd), 12)
                    _check(_libc.syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, rule, 0),
                           f"landlock_add_rule {path}")
                finally:
                    os.close(fd)
        _check(_libc.syscall(SYS_landlock_restrict_self, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)


# --- seccomp -----------------------------------------------------------------------
# A classic BPF program over struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6]}.
# It denies, with EPERM so the program sees an ordinary PermissionError, every system
# call that could leave the sandbox: sockets, exec, process creation (threads stay
# allowed), signals to other processes, tracing, namespaces, mounts, bpf, io_uring,
# keyrings, kernel modules and the like. Other architectures' calling conventions
# (i386 via int 0x80, x32) are killed outright: the numbers below mean nothing there.

AUDIT_ARCH_X86_64 = 0xC000003E
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = 0x7E020000 | 0x00000080  # NEWNS, NEWCGROUP..NEWNET; NEWTIME (clone3 only)

_DENIED_X86_64 = {
    # network
    "socket": 41, "connect": 42, "accept": 43, "bind": 49, "listen": 50, "socketpair": 53,
    "accept4": 288,
    # new programs and processes (clone is checked separately; clone3's flags live in
    # memory BPF cannot read, so it gets ENOSYS and glibc falls back to clone)
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
    # other processes
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "tkill": 200, "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438,
    "process_madvise": 440, "process_mrelease": 448,
    # sessions, identities
    "setpgid": 109, "setsid": 112, "setuid": 105, "setgid": 106, "setreuid": 113,
    "setregid": 114, "setgroups": 116, "setresuid": 117, "setresgid": 119,
    "setfsuid": 122, "setfsgid": 123, "personality": 135,
    # namespaces, mounts
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
    "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442, "open_tree_attr": 467,
    "name_to_handle_at": 303, "open_by_handle_at": 304,
    # kernel facilities a program has no business with
    "bpf": 321, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "perf_event_open": 298, "userfaultfd": 323, "keyctl": 250, "add_key": 248,
    "request_key": 249, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "kexec_load": 246, "kexec_file_load": 320, "reboot": 169, "swapon": 167,
    "swapoff": 168, "acct": 163, "quotactl": 179, "quotactl_fd": 443, "syslog": 103,
    "uselib": 134, "ustat": 136, "sysfs": 139, "vhangup": 153, "modify_ldt": 154,
    "_sysctl": 156, "adjtimex": 159, "settimeofday": 164, "clock_settime": 227,
    "clock_adjtime": 305, "sethostname": 170, "setdomainname": 171, "iopl": 172,
    "ioperm": 173, "lookup_dcookie": 212, "fanotify_init": 300, "migrate_pages": 256,
    "move_pages": 279, "memfd_secret": 447,
}
_SYS_clone, _SYS_clone3, _SYS_kill, _SYS_tgkill = 56, 435, 62, 234

_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_supported() -> bool:
    return X86_64


def seccomp_program(own_pid: int) -> bytes:
    """Assemble the filter. `own_pid` is the pid the child sees for itself: kill and
    tgkill are allowed only towards it (Python and glibc signal their own process)."""
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    enosys = SECCOMP_RET_ERRNO | errno.ENOSYS
    prog: list[tuple[int, int, int, int]] = []

    def ins(code: int, jt: int = 0, jf: int = 0, k: int = 0) -> None:
        prog.append((code, jt, jf, k))

    ins(_LD_W_ABS, k=4)  # arch
    ins(_JEQ, 1, 0, AUDIT_ARCH_X86_64)
    ins(_RET, k=SECCOMP_RET_KILL_PROCESS)
    ins(_LD_W_ABS, k=0)  # nr
    ins(_JGE, 0, 1, 0x40000000)  # x32 ABI
    ins(_RET, k=SECCOMP_RET_KILL_PROCESS)
    for nr in sorted(set(_DENIED_X86_64.values())):
        ins(_JEQ, 0, 1, nr)
        ins(_RET, k=deny)
    ins(_JEQ, 0, 1, _SYS_clone3)
    ins(_RET, k=enosys)
    # clone: a thread (CLONE_THREAD, no new namespace) or nothing
    ins(_JEQ, 0, 5, _SYS_clone)
    ins(_LD_W_ABS, k=16)  # args[0], low half: the flags
    ins(_JSET, 2, 0, CLONE_NAMESPACES)
    ins(_JSET, 0, 1, CLONE_THREAD)
    ins(_RET, k=SECCOMP_RET_ALLOW)
    ins(_RET, k=deny)
    # kill / tgkill: only towards our own pid (pid_t is 32 bits: the low half is all
    # the kernel reads)
    ins(_JEQ, 1, 0, _SYS_kill)
    ins(_JEQ, 0, 4, _SYS_tgkill)
    ins(_LD_W_ABS, k=16)
    ins(_JEQ, 0, 1, own_pid)
    ins(_RET, k=SECCOMP_RET_ALLOW)
    ins(_RET, k=deny)
    ins(_RET, k=SECCOMP_RET_ALLOW)
    return b"".join(struct.pack("<HBBI", *i) for i in prog)


def apply_seccomp(program: bytes) -> None:
    """Install the filter (needs no_new_privs first). The process must be single-threaded."""
    count = len(program) // 8
    filt = ctypes.create_string_buffer(program, len(program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(count, ctypes.addressof(filt))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0), "seccomp")
