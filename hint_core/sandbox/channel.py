"""One run's conversation, seen from the worker: hand the server the run's channels, feed
the child its payload, and gather what comes back until the server reports the end.

Each run has its own channels (a control socket to the server, a record socket and an
output pipe to the child), so concurrent runs from several threads never wait on each
other. Nothing here judges: the records are parsed and judged in verdict.py.
"""

from __future__ import annotations

import os
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from hint_core.problems import Limits
from hint_core.sandbox import framing
from hint_core.sandbox.config import SandboxError

GRACE_SECONDS = 10.0  # beyond the wall limit, before the server is deemed unresponsive
DRAIN_SECONDS = 1.0  # after the child ended, to read what it had already sent
QUEUE_SECONDS = 600.0  # a run waiting for one of the server's 64 slots
CHUNK = 65536


class ServerGone(Exception):
    """The server stopped answering or closed the run's channel: start another and retry."""


@dataclass
class Collected:
    """Everything the run produced, as raw bytes, and the server's report of its end."""

    records: bytes = b""
    output: bytes = b""
    output_total: int = 0  # bytes printed, counting those beyond the limit
    exit: dict[str, Any] = field(default_factory=dict)  # status, cpu, maxrss_kb, reason
    records_overflow: bool = False


def exchange(server: socket.socket, request: dict[str, Any], payload: bytes, limits: Limits,
             max_records: int) -> Collected:
    """Send `request` (with the run's three descriptors) to the server, feed `payload` to
    the child, and collect until the server reports the end. Raises ServerGone when the
    server fails to answer, SandboxError when it reports an error of its own."""
    ctl, ctl_remote = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    data, data_remote = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    out_r, out_w = os.pipe()
    try:
        try:
            socket.send_fds(server, [framing.encode_message(request)],
                            [ctl_remote.fileno(), data_remote.fileno(), out_w])
        except OSError as exc:
            raise ServerGone(str(exc)) from exc
        finally:
            ctl_remote.close()
            data_remote.close()
            os.close(out_w)
        return _Run(ctl, data, out_r, limits, max_records).collect(payload)
    finally:
        ctl.close()
        data.close()
        os.close(out_r)


class _Run:
    def __init__(self, ctl: socket.socket, data: socket.socket, out_r: int, limits: Limits,
                 max_records: int) -> None:
        self.ctl, self.data, self.out_r = ctl, data, out_r
        self.limits = limits
        self.max_records = max_records
        self.got = Collected()
        self.records = bytearray()
        self.output = bytearray()
        self.kill_sent = False
        self.drain_until: float | None = None
        self.open_streams = {data.fileno(), out_r}
        self.poller = select.poll()

    def collect(self, payload: bytes) -> Collected:
        sent = self._send_what_fits(payload)
        self._wait_until_started()
        deadline = time.monotonic() + self.limits.wall_seconds + GRACE_SECONDS
        self._send_rest(payload, sent)
        for fd in (self.ctl.fileno(), self.data.fileno(), self.out_r):
            self.poller.register(fd, select.POLLIN)
        while (timeout := self._time_left(deadline)) is not None:
            for fd, _event in self.poller.poll(timeout * 1000):
                if fd == self.out_r:
                    self._read_output()
                elif fd == self.data.fileno():
                    self._read_records()
                else:
                    self._read_control()
        self.got.records, self.got.output = bytes(self.records), bytes(self.output)
        return self.got

    # -- the payload ---------------------------------------------------------------------

    def _send_what_fits(self, payload: bytes) -> int:
        """What fits in the socket's buffer goes now, so the child finds it when it starts."""
        self.data.setblocking(False)
        try:
            return self.data.send(payload)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return len(payload)  # the child is gone already; its exit status tells why

    def _wait_until_started(self) -> None:
        """The server may queue the run while all its slots are busy: wait for it to start."""
        self.ctl.settimeout(QUEUE_SECONDS)
        try:
            started = framing.read_message(self.ctl.recv(CHUNK) or b"{}")
        except (OSError, ValueError) as exc:
            raise ServerGone(f"no answer from the sandbox server: {exc}") from exc
        if "error" in started:
            raise SandboxError(f"sandbox server: {started['error']}")
        if "started" not in started:
            raise ServerGone("the sandbox server closed the run's channel")
        self.ctl.setblocking(False)

    def _send_rest(self, payload: bytes, sent: int) -> None:
        if sent >= len(payload):
            return
        # The child reads the program before it does anything else, so this cannot block
        # for longer than the run may last.
        self.data.settimeout(self.limits.wall_seconds + GRACE_SECONDS)
        try:
            self.data.sendall(payload[sent:])
        except OSError:
            pass  # the child is gone already; its exit status tells why
        self.data.setblocking(False)

    # -- the loop ------------------------------------------------------------------------

    def _time_left(self, deadline: float) -> float | None:
        """Seconds to wait for the next event; None once the run is fully collected."""
        now = time.monotonic()
        if self.drain_until is not None:
            if not self.open_streams or now >= self.drain_until:
                return None
            return self.drain_until - now
        if now >= deadline:
            raise ServerGone("no answer from the sandbox server")
        return deadline - now

    def _kill(self, reason: str) -> None:
        if not self.kill_sent:
            self.kill_sent = True
            framing.send_message(self.ctl, {"kill": reason})

    def _read_output(self) -> None:
        chunk = os.read(self.out_r, CHUNK)
        self.got.output_total += len(chunk)
        room = self.limits.output_bytes - len(self.output)
        if room > 0:
            self.output += chunk[:room]
        if self.got.output_total > self.limits.output_bytes:
            self._kill("output_limit")
        if not chunk:
            self._closed(self.out_r)

    def _read_records(self) -> None:
        try:
            chunk = self.data.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._closed(self.data.fileno())
        elif len(self.records) + len(chunk) > self.max_records:
            self.got.records_overflow = True
            self._kill("record_limit")
        else:
            self.records += chunk

    def _read_control(self) -> None:
        try:
            message = self.ctl.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        if not message:
            raise ServerGone("the sandbox server closed the run's channel")
        self.got.exit = framing.read_message(message)
        if "error" in self.got.exit:
            raise SandboxError(f"sandbox server: {self.got.exit['error']}")
        self.drain_until = time.monotonic() + DRAIN_SECONDS
        self.poller.unregister(self.ctl.fileno())

    def _closed(self, fd: int) -> None:
        self.poller.unregister(fd)
        self.open_streams.discard(fd)
