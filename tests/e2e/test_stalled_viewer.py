"""A viewer that stops reading, against a real daphne: the room goes on for everyone else at
full speed, the server's memory stays bounded, and the stalled viewer, once it reads again,
is told to resync instead of being silently skipped ahead (docs/protocol.md)."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

import pytest

from livestreams import realtime
from tests.livestreams.factories import live_stream

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="the test publishes room events from outside the server: rooms on Redis",
    ),
]
FRAMES = 20_000
TEXT = "x" * 2000  # 20,000 frames of 2 KB: 40 MB, were they all kept for the stalled viewer


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


def _stalled_socket(base: str, stream_id: int) -> socket.socket:
    """A websocket handshake by hand on a socket with a tiny receive buffer; the caller then
    reads nothing."""
    url = urlsplit(base)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((url.hostname, url.port))
    sock.sendall(
        (
            f"GET /ws/live/{stream_id}/ HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {base}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: nothing past the handshake is read here
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _frames(sock: socket.socket):
    """Text frames from the server (unmasked), as parsed JSON."""
    sock.settimeout(20)

    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    while True:
        first, second = exactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", exactly(8))[0]
        payload = exactly(length)
        if first & 0x0F == 0x1:
            yield json.loads(payload)


def test_a_stalled_viewer_neither_slows_the_room_nor_grows_the_server(asgi_server):
    import websockets.sync.client

    stream = live_stream(title="Never reads")
    stalled = _stalled_socket(asgi_server, stream.pk)
    seen: list[int] = []
    resyncs: list[int] = []
    chats = [0]
    done = threading.Event()

    def keeps_up():
        ws_url = asgi_server.replace("http://", "ws://") + f"/ws/live/{stream.pk}/"
        with websockets.sync.client.connect(ws_url, origin=asgi_server, max_size=None) as ws:
            for text in ws:
                frame = json.loads(text)
                if frame["type"] == "state":
                    ready.set()
                elif frame["type"] == "resync":
                    resyncs.append(len(seen))
                elif "seq" in frame:  # the chat sent here, and the room's viewer counts
                    seen.append(frame["seq"])
                    chats[0] += frame["type"] == "chat"
                    if chats[0] == FRAMES:
                        done.set()
                        return

    ready = threading.Event()
    reader = threading.Thread(target=keeps_up, daemon=True)
    reader.start()
    assert ready.wait(15)
    pid = asgi_server.proc.pid
    before = _rss_mb(pid)
    began = time.monotonic()
    for i in range(FRAMES):  # 2,000 a second: a busy room, that a reader keeps up with
        realtime.broadcast(stream.pk, {"type": "chat", "id": i, "text": TEXT, "user": {"level": 0}})
        if i % 100 == 99:
            time.sleep(max(0.0, began + (i + 1) / 2000 - time.monotonic()))
    assert done.wait(60), f"the viewer that keeps up got {chats[0]} of {FRAMES}"
    took = time.monotonic() - began
    grown = _rss_mb(pid) - before
    assert not resyncs, f"the viewer that keeps up was told to resync after {resyncs}"
    assert seen == list(range(seen[0], seen[0] + len(seen)))  # every seq, no gaps
    assert took < 40, took
    assert grown < 25, f"the server grew {grown:.0f} MB holding a stalled viewer's frames"

    frames = _frames(stalled)
    kinds = []
    for frame in frames:  # the state, what fit in the buffers, then the resync
        kinds.append(frame["type"])
        if frame["type"] == "resync":
            break
    assert kinds[0] == "state" and kinds[-1] == "resync"
    assert len(kinds) < FRAMES / 2  # most were dropped, and the viewer was told
    stalled.close()
