"""A small RFC 6455 WebSocket client on plain sockets.

Only what the agent needs: a client handshake, masked text frames out, text
messages in (fragmented or not), answering pings and close frames. It is used
from a single thread (the exporter's), so it holds no locks.
"""

import base64
import hashlib
import os
import select
import socket
import struct
from urllib.parse import urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_MAX_HANDSHAKE = 16384
# The collector only sends small control messages (welcome, ack, error).
_MAX_INCOMING = 1 << 20


class WebSocketError(Exception):
    pass


class ConnectionClosed(WebSocketError):
    def __init__(self, code=None, reason=""):
        WebSocketError.__init__(self, "connection closed (code %s) %s" % (code, reason))
        self.code = code
        self.reason = reason


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


# XOR tables per key byte, built on first use: 256 bytes each, at most 64 KiB in all.
_xor_tables = [None] * 256


def _xor_table(k):
    table = _xor_tables[k]
    if table is None:
        table = _xor_tables[k] = bytes(v ^ k for v in range(256))
    return table


def _mask_into(out, start, mask):
    """XORs out[start:] with the 4-byte mask in place."""
    # One translate per key byte over every fourth byte: all of it runs in C. (A big-int
    # XOR over the whole payload measured slower: from_bytes/to_bytes cost more.)
    for i in range(4):
        k = mask[i]
        if k:
            part = slice(start + i, None, 4)
            out[part] = out[part].translate(_xor_table(k))


def mask_payload(mask, data):
    if len(data) < 64:
        return bytes(b ^ mask[i & 3] for i, b in enumerate(data))
    out = bytearray(data)
    _mask_into(out, 0, mask)
    return bytes(out)


def encode_frame(opcode, payload, mask=True, fin=True):
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        header = struct.pack("!BB", first, mask_bit | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if not mask:
        return header + payload
    key = os.urandom(4)
    if n < 64:
        return header + key + mask_payload(key, payload)
    # The frame is built and masked in one buffer: a batch is hundreds of kilobytes, and
    # each concatenation would copy it again. (Translating each lane straight from the
    # payload into a preallocated frame measured slower than this.)
    out = bytearray(header)
    out += key
    start = len(out)
    out += payload
    _mask_into(out, start, key)
    return out


def parse_frame(buf):
    """Returns (fin, opcode, payload, consumed) for the first complete frame in buf, or None."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    fin = bool(b0 & 0x80)
    if b0 & 0x70:
        raise WebSocketError("reserved bits set without a negotiated extension")
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    n = b1 & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n = struct.unpack_from("!H", buf, 2)[0]
        pos = 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n = struct.unpack_from("!Q", buf, 2)[0]
        pos = 10
    if n > _MAX_INCOMING:
        raise WebSocketError("incoming frame too large (%d bytes)" % n)
    key = None
    if masked:
        if len(buf) < pos + 4:
            return None
        key = bytes(buf[pos:pos + 4])
        pos += 4
    if len(buf) < pos + n:
        return None
    payload = bytes(buf[pos:pos + n])
    if key is not None:
        payload = mask_payload(key, payload)
    return fin, opcode, payload, pos + n


def _auth_header():
    """The collector's token from ROUTELENS_TOKEN, for collectors that require it for ingest
    (listening beyond loopback for containers, or on a shared machine); nothing when unset or
    not a plain token (it must never be able to add header lines)."""
    token = os.environ.get("ROUTELENS_TOKEN", "").strip()
    if not token or len(token) > 512 or not all(c.isascii() and (c.isalnum() or c in "-._~+/=") for c in token):
        return ""
    return "Authorization: Bearer %s\r\n" % token


class WebSocketClient:
    """One connection. Methods raise WebSocketError or OSError on failure."""

    def __init__(self, url, timeout=2.0, user_agent="routelens-python"):
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise WebSocketError("not a WebSocket URL: %r" % url)
        self.url = url
        self.secure = parts.scheme == "wss"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        self.path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        host_for_header = "[%s]" % self.host if ":" in self.host else self.host
        default_port = 443 if self.secure else 80
        self.host_header = host_for_header if self.port == default_port else "%s:%d" % (host_for_header, self.port)
        self.timeout = timeout
        self.user_agent = user_agent
        self.sock = None
        self.closed = True
        self.close_code = None
        self._buf = bytearray()
        self._fragments = None
        self._fragment_opcode = None
        self._fragment_size = 0

    # -- connection -----------------------------------------------------

    def connect(self):
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.secure:
                import ssl

                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            key = base64.b64encode(os.urandom(16)).decode("ascii")
            # No Origin header: the collector treats one as a browser and refuses it.
            request = (
                "GET %s HTTP/1.1\r\n"
                "Host: %s\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                "User-Agent: %s\r\n"
                "%s"
                "\r\n" % (self.path, self.host_header, key, self.user_agent, _auth_header())
            )
            sock.sendall(request.encode("ascii"))
            response = bytearray()
            while b"\r\n\r\n" not in response:
                chunk = sock.recv(4096)
                if not chunk:
                    raise WebSocketError("connection closed during the handshake")
                response += chunk
                if len(response) > _MAX_HANDSHAKE:
                    raise WebSocketError("handshake response too large")
            head, _, rest = bytes(response).partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = lines[0].split(" ", 2)
            if len(status) < 2 or status[1] != "101":
                raise WebSocketError("handshake refused: %s" % lines[0])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("upgrade", "").lower() != "websocket":
                raise WebSocketError("handshake response lacks Upgrade: websocket")
            if "upgrade" not in headers.get("connection", "").lower():
                raise WebSocketError("handshake response lacks Connection: Upgrade")
            if headers.get("sec-websocket-accept") != accept_key(key):
                raise WebSocketError("bad Sec-WebSocket-Accept")
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.closed = False
        self.close_code = None
        self._buf = bytearray(rest)
        self._fragments = None

    def close(self, code=1000, reason=""):
        if self.sock is None:
            return
        try:
            if not self.closed:
                payload = struct.pack("!H", code) + reason.encode("utf-8")[:120]
                self.sock.settimeout(0.2)
                self.sock.sendall(encode_frame(OP_CLOSE, payload))
        except OSError:
            pass
        self.abort()

    def abort(self):
        """Drops the socket without a closing handshake (also used after fork)."""
        sock, self.sock = self.sock, None
        self.closed = True
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # -- sending --------------------------------------------------------

    def send_text(self, text, timeout=None):
        self._send(OP_TEXT, text.encode("utf-8") if isinstance(text, str) else text, timeout)

    def ping(self, payload=b""):
        self._send(OP_PING, payload)

    def _send(self, opcode, payload, timeout=None):
        if self.closed or self.sock is None:
            raise ConnectionClosed(self.close_code)
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            self.sock.sendall(encode_frame(opcode, payload))
        except OSError:
            self.abort()
            raise

    # -- receiving ------------------------------------------------------

    def receive(self, timeout=0.0):
        """Returns the text messages that arrived, waiting at most `timeout` for the first.

        Control frames are handled here. Raises ConnectionClosed when the peer
        closed or the connection dropped.
        """
        messages = []
        if self.sock is None:
            raise ConnectionClosed(self.close_code)
        self._drain_buffer(messages)
        wait = timeout
        while not messages:
            if not self._fill(wait):
                break
            self._drain_buffer(messages)
            wait = 0.0
        # Whatever else has already arrived is picked up without waiting.
        while self._fill(0.0):
            self._drain_buffer(messages)
        return messages

    def _fill(self, timeout):
        if self.sock is None:
            raise ConnectionClosed(self.close_code)
        if self.sock.fileno() < 0:
            raise ConnectionClosed(self.close_code)
        pending = getattr(self.sock, "pending", None)
        if not (pending and pending()):
            ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
            if not ready:
                return False
        self.sock.settimeout(self.timeout)
        try:
            chunk = self.sock.recv(65536)
        except OSError:
            self.abort()
            raise ConnectionClosed(self.close_code, "connection lost")
        if not chunk:
            self.abort()
            raise ConnectionClosed(self.close_code, "connection lost")
        self._buf += chunk
        return True

    def _drain_buffer(self, messages):
        while True:
            try:
                frame = parse_frame(self._buf)
            except WebSocketError:
                self.close(1002)
                raise
            if frame is None:
                return
            fin, opcode, payload, consumed = frame
            del self._buf[:consumed]
            self._handle_frame(fin, opcode, payload, messages)

    def _handle_frame(self, fin, opcode, payload, messages):
        if opcode == OP_PING:
            self._send(OP_PONG, payload)
            return
        if opcode == OP_PONG:
            return
        if opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.close_code = code
            reason = payload[2:].decode("utf-8", "replace")
            # Echo the close, as RFC 6455 asks, then drop the socket.
            try:
                self.sock.settimeout(0.2)
                self.sock.sendall(encode_frame(OP_CLOSE, payload[:2]))
            except OSError:
                pass
            self.abort()
            self.close_code = code
            raise ConnectionClosed(code, reason)
        if opcode in (OP_TEXT, OP_BINARY):
            if self._fragments is not None:
                self.close(1002)
                raise WebSocketError("new message before the previous one ended")
            if fin:
                if opcode == OP_TEXT:
                    messages.append(payload.decode("utf-8", "replace"))
                return
            self._fragments = [payload]
            self._fragment_opcode = opcode
            self._fragment_size = len(payload)
            return
        if opcode == OP_CONT:
            if self._fragments is None:
                self.close(1002)
                raise WebSocketError("continuation frame without a message")
            self._fragments.append(payload)
            self._fragment_size += len(payload)
            if self._fragment_size > _MAX_INCOMING:
                self.close(1009)
                raise WebSocketError("incoming message too large")
            if fin:
                data = b"".join(self._fragments)
                op = self._fragment_opcode
                self._fragments = None
                if op == OP_TEXT:
                    messages.append(data.decode("utf-8", "replace"))
            return
        self.close(1002)
        raise WebSocketError("unknown opcode %d" % opcode)
