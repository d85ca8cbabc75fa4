"""A module whose top level opens a network connection (run only inside the sandbox)."""

import socket
socket.create_connection(("1.1.1.1", 53), timeout=1)

def f():
    return 1
