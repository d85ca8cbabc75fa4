"""Confining the full-trust child process before user code runs in it (Linux).

Three layers, applied by `worker.py` in each job's child process:

1. **An audit hook** (`sys.addaudithook`, always): opening, listing or linking anything under
   the escrow's directories, network sockets, starting programs, signalling another process,
   reading other processes' `/proc` entries, connecting SQLite to the store and walking the
   interpreter's objects (`gc.get_objects`) stop the process at once. It sees what Python code
   does; it names what was refused.
2. **Landlock** (kernel >= 5.13, when enabled): the filesystem is read-only and limited to the
   Python installation and system libraries, plus one private scratch folder; the escrow's
   directories are not among them, so a library that opens files itself (pyarrow, DuckDB,
   `ctypes`) is refused by the kernel too. From Landlock ABI 4 TCP is refused, from ABI 6
   signals to processes outside the child.
3. **seccomp** (x86-64 and arm64): the system calls that reach past the child are refused:
   sockets, ptrace and reading other processes' memory, io_uring, mounting, namespaces, kernel
   keys and modules, BPF, opening files by handle, SysV IPC (it outlives the process),
   starting processes (fork, vfork, clone other than for a thread), changing files' metadata
   (modes, owners, extended attributes, time stamps, inode flags: Landlock does not cover
   them), and file locks, leases and change watches (channels to a job running beside it).

`available()` says which layers this kernel offers; `docs/security.md` says what each one covers.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2

# Landlock filesystem rights (bit numbers): ABI 1 has 0..12, ABI 2 adds REFER, 3 TRUNCATE, 5 IOCTL_DEV.
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI_BITS = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}
_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def landlock_abi() -> int:
    """The Landlock ABI version of this kernel (0: none)."""
    if sys.platform != "linux":
        return 0
    try:
        r = _lib().syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                           ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(0, int(r))


# System calls refused outright, by machine: sockets, ptrace and reading other processes' memory,
# io_uring, mounting, namespaces, kernel keys and modules, BPF, opening files by handle; SysV
# IPC (shared memory, semaphores and message queues outlive the process: one job could leave an
# owner's data there for the next); fork and vfork (a process that outlives the job); changing
# a file's metadata, which Landlock does not cover (modes, owners, extended attributes, time
# stamps: they outlive the job, and a mode change opens the escrow's files to everyone); file
# locks and file-change watches (a job running beside another could signal to it through a
# lock on, or a read of, a library file both may read); the machine's names, swap, accounting and
# clocks (kernel state: refused to a child that kept capabilities too).
_DENIED = {
    "x86_64": [41, 101, 310, 311, 438, 312, 425, 426, 427, 321, 298, 323, 165, 166, 155, 161, 308, 272,
               250, 248, 249, 175, 313, 176, 246, 320, 304, 303, 300, 169,
               29, 30, 31, 67, 64, 65, 66, 220, 68, 69, 70, 71,  # SysV shm, sem, msg
               57, 58,  # fork, vfork
               90, 91, 268, 452, 92, 93, 94, 260,  # chmod, fchmod, fchmodat(2), chown family
               188, 189, 190, 197, 198, 199, 463, 466,  # set/remove extended attributes
               132, 235, 280, 261,  # utime, utimes, utimensat, futimesat
               73, 253, 254, 255, 294, 301,  # flock, inotify, fanotify_mark
               170, 171, 167, 168, 163, 164, 227, 159, 305],  # host/domain name, swap, acct, clocks
    "aarch64": [198, 117, 270, 271, 438, 272, 425, 426, 427, 280, 241, 282, 40, 39, 41, 51, 268, 97,
                219, 217, 218, 105, 273, 106, 104, 294, 265, 264, 262, 142,
                194, 195, 196, 197, 190, 191, 192, 193, 186, 187, 188, 189,  # SysV shm, sem, msg
                52, 53, 452, 55, 54,  # fchmod, fchmodat(2), fchown, fchownat
                5, 6, 7, 14, 15, 16, 463, 466,  # set/remove extended attributes
                88,  # utimensat
                32, 26, 27, 28, 263,  # flock, inotify, fanotify_mark
                161, 162, 224, 225, 89, 170, 112, 171, 266],  # host/domain name, swap, acct, clocks
}
_DENIED["arm64"] = _DENIED["aarch64"]
_ARCH = {"x86_64": (0xC000003E, 0x40000000), "aarch64": (0xC00000B7, 0), "arm64": (0xC00000B7, 0)}
_CLONE = {"x86_64": 56, "aarch64": 220, "arm64": 220}  # allowed only to start a thread
_CLONE3 = 435  # its flags sit in memory a filter cannot read: refused with ENOSYS, so the C
# library falls back to clone(), whose flags the filter checks
_CLONE_THREAD = 0x00010000
_FCNTL = {"x86_64": 72, "aarch64": 25, "arm64": 25}
_IOCTL = {"x86_64": 16, "aarch64": 29, "arm64": 29}
# fcntl commands refused: record locks (classic and per-open-file), leases, change notices, and
# where SIGIO goes (the rest, descriptor flags and status, Python and libraries need).
_FCNTL_DENIED = (5, 6, 7, 36, 37, 38, 1024, 1025, 1026, 8, 15, 10)
# ioctl commands refused: setting a file's inode flags (immutable, append-only...), its xattr
# flags and project, its generation: metadata that outlives the job.
_IOCTL_DENIED = (0x40086602, 0x40046602, 0x401C5820, 0x40087602, 0x40047602)


def _seccomp_table() -> tuple[int, int, list[int]] | None:
    """(audit arch, x32 bit or 0, denied syscall numbers) for this machine, or None."""
    machine = platform.machine()
    if machine not in _ARCH:
        return None
    arch, x32 = _ARCH[machine]
    return arch, x32, list(_DENIED[machine])


def available() -> dict[str, object]:
    """Which confinement layers this machine offers."""
    return {"audit_hook": True, "landlock_abi": landlock_abi(), "seccomp": sys.platform == "linux"
            and _seccomp_table() is not None}


# ---------------------------------------------------------------- Landlock


def _landlock(read_dirs, write_dirs, abi: int) -> bool:
    fs_all = (1 << _FS_ABI_BITS.get(abi, 16)) - 1
    fields = [fs_all]
    if abi >= 4:
        fields.append(0b11)  # BIND_TCP | CONNECT_TCP, no rule: every TCP bind and connect refused
    if abi >= 6:
        fields.append(0b11)  # scoped: abstract UNIX sockets and signals outside the domain
    attr = struct.pack(f"={len(fields)}Q", *fields)
    lib = _lib()
    fd = lib.syscall(_SYS_LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if fd < 0:
        return False
    try:
        for path, access in [(p, _READ) for p in read_dirs] + [(p, fs_all) for p in write_dirs]:
            try:
                pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    access &= _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | (1 << 14 if abi >= 3 else 0) | (
                        1 << 15 if abi >= 5 else 0)
                rule = struct.pack("=Qi", access & fs_all, pfd)
                lib.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH),
                            rule, ctypes.c_uint32(0))
            finally:
                os.close(pfd)
        return lib.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) == 0
    finally:
        os.close(fd)


# ---------------------------------------------------------------- seccomp


def _program(arch: int, x32: int, denied: list[int], machine: str,
             threads_only: bool = True) -> list[tuple[int, int, int, int]]:
    """The classic-BPF filter: (code, jt, jf, k) instructions; jumps are resolved from labels
    (each at most 255 instructions ahead, as classic BPF requires). `threads_only`: `clone`
    only for a thread (clone3 answered ENOSYS); else both are left alone."""
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    eperm, enosys, allow = 0x00050000 | 1, 0x00050000 | 38, 0x7FFF0000
    args0, args1 = 16, 24  # the low halves of args[0] and args[1] in struct seccomp_data
    prog: list = [(ld, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, eperm), (ld, 0, 0, 0)]
    if x32:
        prog.append((jge, "deny", 0, x32))  # x32 system calls: refused
    prog += [(jeq, "deny", 0, nr) for nr in denied]
    prog += [(jeq, "nosys" if threads_only else "allow", 0, _CLONE3),
             (jeq, "fcntl", 0, _FCNTL[machine]),
             (jeq, "ioctl", 0, _IOCTL[machine]),
             (jeq, 0, "allow", _CLONE[machine]),
             (ld, 0, 0, args0),  # clone's flags
             (jset, "allow", "deny" if threads_only else "allow", _CLONE_THREAD)]
    labels = {"fcntl": len(prog)}
    prog.append((ld, 0, 0, args1))  # fcntl's command
    prog += [(jeq, "deny", 0, cmd) for cmd in _FCNTL_DENIED]
    prog.append((jeq, "allow", "allow", 0))
    labels["ioctl"] = len(prog)
    prog.append((ld, 0, 0, args1))  # ioctl's request
    prog += [(jeq, "deny", 0, req) for req in _IOCTL_DENIED]
    prog.append((jeq, "allow", "allow", 0))
    labels.update({"allow": len(prog), "deny": len(prog) + 1, "nosys": len(prog) + 2})
    prog += [(ret, 0, 0, allow), (ret, 0, 0, eperm), (ret, 0, 0, enosys)]

    def to(target, i: int) -> int:
        if not isinstance(target, str):
            return target
        offset = labels[target] - i - 1
        if not 0 <= offset <= 255:
            raise ValueError("seccomp filter: a jump is out of range")
        return offset

    return [(code, to(jt, i), to(jf, i), k) for i, (code, jt, jf, k) in enumerate(prog)]


def _seccomp() -> bool:
    table = _seccomp_table()
    if table is None:
        return False
    arch, x32, denied = table
    return _install(_program(arch, x32, denied, platform.machine()))


# Refused inside a no-trust container (its runner installs this before user code, on top of
# Docker's own profile): file locks and change watches, the channels between two containers
# running at once through the read-only files they share (the mounted stdlib and runner).
_CONTAINER_DENIED = {"x86_64": [73, 253, 254, 255, 294, 300, 301], "aarch64": [32, 26, 27, 28, 262, 263]}
_CONTAINER_DENIED["arm64"] = _CONTAINER_DENIED["aarch64"]


def container_filter() -> bool:
    """In a no-trust container, before user code: refuse file locks, leases and watches (the
    container's own limits refuse the rest). True when the filter holds."""
    machine = platform.machine()
    if sys.platform != "linux" or machine not in _ARCH:
        return False
    if _lib().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    arch, x32 = _ARCH[machine]
    return _install(_program(arch, x32, list(_CONTAINER_DENIED[machine]), machine, threads_only=False))


def _install(prog) -> bool:
    raw = b"".join(struct.pack("=HBBI", *insn) for insn in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("=HxxxxxxQ", len(prog), ctypes.addressof(buf))
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    return _lib().prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, fbuf, 0, 0) == 0


# ---------------------------------------------------------------- capabilities

_PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
_CAP_VERSION_3 = 0x20080522
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91, "arm64": 91}


def _drop_capabilities(lib) -> bool:
    """An escrow running as root forks children with root's capabilities: renaming the machine,
    its domain name, swap, accounting, clocks, raw devices are kernel state one job could leave
    for the next. The child gives up every capability (bounding set, ambient, effective,
    permitted, inheritable) before user code runs; it keeps its uid, so files it owns stay its."""
    for cap in range(64):
        if lib.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() not in (1, 22):
            return False  # EINVAL: past the last capability; EPERM: not ours to drop (already none)
    lib.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    nr = _SYS_CAPSET.get(platform.machine())
    if nr is None:
        return False
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable}: all empty
    return lib.syscall(nr, ctypes.byref(header), ctypes.byref(data)) == 0


# ---------------------------------------------------------------- the audit hook


_NETWORK = frozenset({"socket.__new__", "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                      "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"})
_PROCESS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                      "os.forkpty"})
_PATHS = frozenset({"open", "os.listdir", "os.scandir", "os.chdir", "os.symlink", "os.link", "os.rename",
                    "os.remove", "os.rmdir", "os.mkdir", "shutil.copyfile"})
_INTROSPECTION = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})


def install_hook(protected, stop) -> None:
    """Refuse, for the rest of this process, what user code must not do (see the module doc).

    `stop(category, event)` reports and ends the process; it must not return. Nothing here can
    be switched off afterwards: the hook reads only what its closure captured now.
    """
    roots = tuple(os.path.realpath(p).rstrip("/") + "/" for p in protected if p)
    me = os.getpid()
    own_proc = (f"/proc/{me}/", "/proc/self/", "/proc/thread-self/")
    realpath, fsdecode, getcwd, join, isabs = (os.path.realpath, os.fsdecode, os.getcwd, os.path.join,
                                               os.path.isabs)

    def inside(path) -> bool:
        if isinstance(path, int) or path is None:
            return False
        try:
            text = fsdecode(path)
        except (TypeError, ValueError):
            return True  # a path that cannot be read as one: refuse rather than guess
        if not isabs(text):
            text = join(getcwd(), text)
        real = realpath(text) + "/"
        if real.startswith("/proc/") and real[6:7].isdigit() and not real.startswith(own_proc):
            return True  # another process's entries: its memory, environment, open files
        return real.startswith(roots)

    def hook(event, args):
        if event in _PATHS:
            if args and (inside(args[0]) or (event in ("os.symlink", "os.link", "os.rename", "shutil.copyfile")
                                             and len(args) > 1 and inside(args[1]))):
                stop("file", event)
        elif event in _NETWORK:
            stop("network", event)
        elif event in _PROCESS:
            stop("process", event)
        elif event in ("os.kill", "os.killpg"):
            if not args or args[0] not in (me, 0):
                stop("process", event)
        elif event == "sqlite3.connect":
            if args and args[0] not in (":memory:", b":memory:", "") and inside(args[0]):
                stop("escrow", event)
        elif event in _INTROSPECTION:
            stop("introspection", event)

    sys.addaudithook(hook)


def confine(read_dirs, scratch: str) -> dict[str, bool]:
    """Apply every layer this kernel offers to the calling process; returns which ones hold."""
    on = {"capabilities_dropped": False, "landlock": False, "seccomp": False}
    if sys.platform != "linux":
        return on
    lib = _lib()
    if lib.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return on
    on["capabilities_dropped"] = _drop_capabilities(lib)
    abi = landlock_abi()
    if abi > 0:
        on["landlock"] = _landlock(read_dirs, [scratch, "/dev/null"], abi)
    on["seccomp"] = _seccomp()
    return on
