"""Small helpers shared by test modules (fixtures live in the conftest files)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A local port nobody listens on right now (the OS picks it): for gloo rendezvous and test servers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
