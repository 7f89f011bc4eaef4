"""How the worker, the fork server and the child talk: the one definition of both formats.

- Control messages (worker <-> server, over SOCK_SEQPACKET sockets, whose messages are
  atomic) are one JSON object per message: ``send_message`` / ``read_message``.
- The run's payload (worker -> child, over a stream socket) is length-prefixed JSON
  frames: ``frame`` / ``read_frame``.

Standard library only, and no imports from the project: the fork server imports this
module by file (``python -I -S server.py``).
"""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

MAX_PAYLOAD = 256 * 1024 * 1024  # one frame: the program, its assets, or the test inputs
MAX_MESSAGE = 65536  # one control message
_LENGTH = struct.Struct("<Q")


def encode_message(message: dict[str, Any]) -> bytes:
    """One control message as sent."""
    return json.dumps(message).encode()


def send_message(sock: socket.socket, message: dict[str, Any]) -> None:
    """Send one control message; a peer that is gone is not an error here (the reader
    of the other side finds out, and says why)."""
    try:
        sock.send(encode_message(message))
    except OSError:
        pass


def read_message(data: bytes) -> dict[str, Any]:
    """One control message as received; raises ValueError if it is not a JSON object."""
    message = json.loads(data)
    if type(message) is not dict:
        raise ValueError("a control message must be a JSON object")
    return message


def frame(data: dict[str, Any]) -> bytes:
    """One payload frame: its length, then its JSON."""
    body = json.dumps(data).encode()
    return _LENGTH.pack(len(body)) + body


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the worker closed the channel before sending the program")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> Any:
    """The next payload frame from `fd` (blocking)."""
    (size,) = _LENGTH.unpack(_read_exact(fd, _LENGTH.size))
    if size > MAX_PAYLOAD:
        raise ValueError("payload too large")
    return json.loads(_read_exact(fd, size))
