"""Hostile contract functions for the adversarial suite (run only inside the sandbox)."""

import ctypes
import os
import socket


def benign(table, column):
    return float(table[column].sum())


def connect_out():
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    return "connected"


def connect_out_raw():
    """Bypasses Python's audit hooks: only the container's network namespace stands in the way."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM
    addr = (ctypes.c_ubyte * 16)(2, 0, 0, 53, 1, 1, 1, 1)  # sockaddr_in 1.1.1.1:53
    rc = libc.connect(fd, addr, 16)
    return {"connected": rc == 0, "errno": ctypes.get_errno()}


def read_path(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def read_path_raw(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.open(path.encode(), 0)
    if fd < 0:
        return {"opened": False, "errno": ctypes.get_errno()}
    buf = ctypes.create_string_buffer(4096)
    n = libc.read(fd, buf, 4096)
    return {"opened": True, "data": buf.raw[:max(n, 0)].decode(errors="replace")}


def read_other_de(key):
    from datastation.runtime.app_api import read_data

    return int(len(read_data(key)))


def write_path(path):
    with open(path, "w") as f:
        f.write("pwned")
    return "written"


def write_path_raw(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.open(path.encode(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    if fd < 0:
        return {"written": False, "errno": ctypes.get_errno()}
    libc.write(fd, b"pwned", 5)
    return {"written": True}


def fork_bomb():
    os.fork()
    return "forked"


def fork_bomb_raw():
    """fork() straight from libc (no audit event): only the pids limit and the wall time stop it."""
    libc = ctypes.CDLL(None)
    while True:
        libc.fork()


def allocate_10gb():
    blob = b"x" * (10 << 30)
    return len(blob)


def loop_forever():
    n = 0
    while True:
        n += 1


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/pwned",))


def return_exploit():
    return Exploit()


def return_pickle_bytes():
    import pickle

    return pickle.dumps(Exploit())


def return_pickle_in_json():
    import base64
    import pickle

    return {"payload": base64.b64encode(pickle.dumps(Exploit())).decode()}


def unpickle_inside():
    import pickle

    return pickle.loads(pickle.dumps(Exploit()))


def print_gigabytes():
    chunk = "x" * (1 << 20)
    for _ in range(4096):
        print(chunk)
    return "printed"


def print_gigabytes_swallowed():
    chunk = b"x" * (1 << 20)
    for _ in range(4096):
        try:
            os.write(1, chunk)
        except OSError:
            pass
    return "printed"


def forge_frame():
    """Writes a fake 'pickle' result straight into the runner's result channel, then dies."""
    import __main__

    os.write(__main__._out_fd, b'{"status":"ok","kind":"pickle","size":4}\ncos\n')
    os._exit(0)


def read_other_de_swallowed(key):
    """Catches everything: a short-circuit still stops it (the process ends at the read)."""
    from datastation.runtime.app_api import read_data

    try:
        read_data(key)
    except BaseException:  # noqa: BLE001
        pass
    return "survived"


def count_runs(table):
    from datastation.runtime.app_api import load_state, store_state

    runs = load_state("runs", 0) + 1
    store_state("runs", runs)
    return {"runs": runs, "rows": int(len(table))}
