"""The RFC 6455 client against a real WebSocket server (the `websockets` library)."""

import json
import os
import socket
import threading
import time
import unittest

import helpers
from collector import FakeCollector

from routelens import _ws


class FrameCodecTest(unittest.TestCase):
    def test_masking_is_an_involution_and_matches_a_plain_xor(self):
        for size in (0, 1, 3, 4, 63, 64, 65, 1000, 70000):
            data = os.urandom(size)
            key = os.urandom(4)
            masked = _ws.mask_payload(key, data)
            self.assertEqual(masked, bytes(b ^ key[i % 4] for i, b in enumerate(data)))
            self.assertEqual(_ws.mask_payload(key, masked), data)

    def test_length_encodings_round_trip(self):
        for size in (0, 125, 126, 65535, 65536, 200000):
            payload = os.urandom(size)
            frame = _ws.encode_frame(_ws.OP_TEXT, payload, mask=False)
            fin, opcode, decoded, consumed = _ws.parse_frame(bytearray(frame))
            self.assertTrue(fin)
            self.assertEqual(opcode, _ws.OP_TEXT)
            self.assertEqual(decoded, payload)
            self.assertEqual(consumed, len(frame))

    def test_a_partial_frame_waits_for_more_bytes(self):
        frame = _ws.encode_frame(_ws.OP_TEXT, b"x" * 300, mask=False)
        for cut in (1, 2, 3, 5, len(frame) - 1):
            self.assertIsNone(_ws.parse_frame(bytearray(frame[:cut])))

    def test_client_frames_are_masked(self):
        frame = _ws.encode_frame(_ws.OP_TEXT, b"hello")
        self.assertTrue(frame[1] & 0x80)
        self.assertNotEqual(frame[6:], b"hello")


class ClientAgainstWebsocketsTest(unittest.TestCase):
    def setUp(self):
        self.collector = FakeCollector().start()

    def tearDown(self):
        self.collector.stop()

    def connect(self):
        client = _ws.WebSocketClient(self.collector.url, timeout=2)
        client.connect()
        self.addCleanup(client.abort)
        return client

    def test_handshake_headers_and_hello_welcome(self):
        client = self.connect()
        client.send_text(json.dumps({"v": 1, "type": "hello", "resource": {"service.name": "x"}}))
        replies = client.receive(2.0)
        self.assertEqual(json.loads(replies[0])["type"], "welcome")
        path, headers = self.collector.request_headers[0]
        self.assertEqual(path, "/v1/ws")
        self.assertEqual(headers["host"], "127.0.0.1:%d" % self.collector.port)
        self.assertNotIn("origin", headers)
        self.assertEqual(headers["sec-websocket-version"], "13")

    def test_large_messages_arrive_intact(self):
        # 126..65535 bytes use the 16-bit length, larger ones the 64-bit length; the
        # server unmasks both and would fail the connection on a malformed frame.
        client = self.connect()
        client.send_text(json.dumps({"v": 1, "type": "hello", "resource": {}}))
        client.receive(2.0)
        texts = []
        for size in (200, 70000, 300000):
            text = json.dumps({"v": 1, "type": "announce", "pad": "é" * (size // 2)})
            texts.append(text)
            client.send_text(text)
        got = self.collector.wait_for(
            lambda: len([t for _, t in self.collector.raw_frames if "announce" in t]) == 3, timeout=15)
        self.assertTrue(got, "not every message arrived")
        received = [t for _, t in self.collector.raw_frames if "announce" in t]
        self.assertEqual([len(t) for t in received], [len(t) for t in texts])
        self.assertTrue(received == texts, "a message arrived altered")

    def test_server_pings_are_answered(self):
        client = self.connect()
        self.collector.wait_for(lambda: self.collector._active)
        pongs = self.collector.ping_all(timeout=5.0)
        deadline = time.monotonic() + 6
        while not pongs.done() and time.monotonic() < deadline:
            client.receive(0.05)
        self.assertTrue(pongs.result(1), "no pong came back")
        client.send_text(json.dumps({"v": 1, "type": "hello", "resource": {}}))
        replies = client.receive(2.0)
        self.assertEqual(json.loads(replies[0])["type"], "welcome")

    def test_fragmented_server_message_is_reassembled(self):
        client = self.connect()
        self.collector.wait_for(lambda: self.collector._active)
        self.collector.send_to_all(["{\"v\":1,", "\"type\":\"ack\",", "\"seq\":3}"])
        replies = client.receive(2.0)
        self.assertEqual(json.loads(replies[0]), {"v": 1, "type": "ack", "seq": 3})

    def test_server_close_is_reported_with_its_code(self):
        client = self.connect()
        self.collector.wait_for(lambda: self.collector._active)
        closing = self.collector.close_all(1001, "shutting down")
        with self.assertRaises(_ws.ConnectionClosed) as caught:
            for _ in range(50):
                client.receive(0.1)
        self.assertEqual(caught.exception.code, 1001)
        self.assertTrue(client.closed)
        # The client echoed the close frame, so the server's closing handshake completes.
        closing.result(5)

    def test_dropped_connection_is_reported(self):
        client = self.connect()
        self.collector.wait_for(lambda: self.collector._active)
        self.collector.drop_connections()
        with self.assertRaises(_ws.ConnectionClosed):
            for _ in range(50):
                client.receive(0.1)


class HandshakeRefusalTest(unittest.TestCase):
    def serve_once(self, response):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        self.addCleanup(server.close)

        def answer():
            conn, _ = server.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(response)

        threading.Thread(target=answer, daemon=True).start()
        return server.getsockname()[1]

    def test_http_403_is_an_error(self):
        port = self.serve_once(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        client = _ws.WebSocketClient("ws://127.0.0.1:%d/v1/ws" % port, timeout=2)
        with self.assertRaises(_ws.WebSocketError) as caught:
            client.connect()
        self.assertIn("403", str(caught.exception))

    def test_wrong_accept_key_is_an_error(self):
        port = self.serve_once(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               b"Connection: Upgrade\r\nSec-WebSocket-Accept: bogus\r\n\r\n")
        client = _ws.WebSocketClient("ws://127.0.0.1:%d/v1/ws" % port, timeout=2)
        with self.assertRaises(_ws.WebSocketError):
            client.connect()

    def test_nothing_listening_is_an_oserror(self):
        port = helpers.free_port()
        client = _ws.WebSocketClient("ws://127.0.0.1:%d/v1/ws" % port, timeout=1)
        with self.assertRaises(OSError):
            client.connect()


if __name__ == "__main__":
    unittest.main()
