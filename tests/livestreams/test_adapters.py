"""The private parts of other libraries the rooms touch, all in livestreams/realtime/adapters.py,
pinned: an upgrade that moves one fails here, by name, instead of somewhere in a room."""

from __future__ import annotations

import functools
import inspect
import socket

from livestreams.realtime import adapters


def test_the_private_apis_the_adapters_use_are_there():
    from asgiref.sync import SyncToAsync
    from autobahn.websocket.protocol import PreparedMessage, WebSocketProtocol
    from channels.sessions import InstanceSessionWrapper
    from daphne.server import Server
    from daphne.ws_protocol import WebSocketProtocol as DaphneProtocol
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache, RedisCacheClient
    from twisted.internet import abstract, tcp

    assert hasattr(SyncToAsync, "threadlocal")
    assert hasattr(caches, "create_connection")
    assert "_servers" in vars(RedisCache("redis://x:1/0", {})) and "_cache" in dir(RedisCache)
    assert hasattr(RedisCacheClient, "get_client")
    assert "real_send" in InstanceSessionWrapper.__init__.__code__.co_names
    assert "handle_reply" in vars(Server) and issubclass(DaphneProtocol, WebSocketProtocol)
    assert {"sendPreparedMessage", "registerProducer"} <= set(dir(DaphneProtocol))
    autobahn = inspect.getsource(WebSocketProtocol)  # set when a connection is made
    assert "self._perMessageCompress = None" in autobahn and "self.send_queue = deque()" in autobahn
    assert hasattr(DaphneProtocol, "STATE_OPEN")
    assert PreparedMessage(b"hi", False, False, False).payloadHybi == b"\x81\x02hi"
    fd = abstract.FileDescriptor()
    assert fd.dataBuffer == b"" and fd._tempDataLen == 0
    assert hasattr(tcp.Connection, "getHandle")


def test_the_session_wrapper_is_seen_through():
    async def server_send(message):
        return None

    daphne_send = functools.partial(server_send, "protocol")

    class Wrapper:  # as channels.sessions.InstanceSessionWrapper holds the server's send
        def __init__(self):
            self.real_send = daphne_send

        async def send(self, message):
            return await self.real_send(message)

    assert adapters.server_send(Wrapper().send) is daphne_send
    assert adapters.server_send(server_send) is server_send
    assert adapters.direct_writer(server_send, lambda: None) is None  # not daphne's: ASGI send


class _Transport:
    """Twisted's TCP transport, as _write sees it."""

    def __init__(self, sock):
        self.socket = sock
        self.dataBuffer = b""
        self._tempDataLen = 0
        self.disconnecting = False
        self.connected = True
        self.written: list[bytes] = []

    def getHandle(self):  # noqa: N802 - Twisted's name
        return self.socket

    def write(self, data):
        self.written.append(data)
        self._tempDataLen += len(data)


def test_a_frame_goes_out_at_once_when_nothing_waits_else_through_twisted():
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    try:
        transport = _Transport(ours)
        adapters._write(transport, b"frame-1")
        assert theirs.recv(100) == b"frame-1" and transport.written == []
        transport._tempDataLen = 5  # Twisted holds data for it: in order, behind that
        adapters._write(transport, b"frame-2")
        assert transport.written == [b"frame-2"]
        transport._tempDataLen = 0
        big = b"x" * (8 << 20)  # more than the socket takes: the rest to Twisted's buffer
        adapters._write(transport, big)
        assert transport.written[-1] and len(transport.written[-1]) < len(big)
        assert big.endswith(transport.written[-1])
    finally:
        ours.close()
        theirs.close()
