"""(f) Keep-alive connections survive a reload: request, reload, request
on the same TCP connection, both 200, the second on the new code."""
import socket

from mqtest import HostTestCase, read_response


def read_raw_response(f):
    """(status line, body) of one Content-Length response from a socket file."""
    status = f.readline()
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    return status, f.read(length)


class KeepaliveTest(HostTestCase):
    def start_on_a(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so"])
        h.publish("002-b", ["hello_v2.so"])
        h.set_current("001-a")
        h.start()
        return h

    def test_keepalive__request_reload_request__same_socket_new_version(self):
        h = self.start_on_a()
        conn = h.connection()
        self.addCleanup(conn.close)
        conn.request("GET", "/fx/hello")
        r1 = read_response(conn)
        sock = conn.sock
        self.assertIsNotNone(sock, "the host closed the connection after the first response")
        local = sock.getsockname()

        h.switch("002-b")

        conn.request("GET", "/fx/hello")
        r2 = read_response(conn)
        self.assertEqual((r1.status, r2.status), (200, 200))
        self.assertIs(conn.sock, sock, "http.client had to reconnect")
        self.assertEqual(conn.sock.getsockname(), local)
        self.assertEqual(r1.json()["version"], "1.0.0")
        self.assertEqual(r2.json()["version"], "2.0.0")

    def test_keepalive__idle_raw_connection_across_two_reloads__still_served(self):
        h = self.start_on_a()
        s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
        self.addCleanup(s.close)
        f = s.makefile("rb")

        def ask():
            s.sendall(b"GET /fx/hello HTTP/1.1\r\nHost: t\r\n\r\n")
            return read_raw_response(f)

        st1, b1 = ask()
        h.switch("002-b")
        h.switch("001-a")
        st2, b2 = ask()

        self.assertIn(b" 200 ", st1)
        self.assertIn(b" 200 ", st2)
        self.assertIn(b'"1.0.0"', b1)
        self.assertIn(b'"1.0.0"', b2)

    def test_keepalive__connection_opened_before_reload_first_used_after__served(self):
        h = self.start_on_a()
        conn = h.connection()
        self.addCleanup(conn.close)
        conn.connect()

        h.switch("002-b")

        conn.request("GET", "/fx/hello")
        r = read_response(conn)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["version"], "2.0.0")

    def test_keepalive__pipelined_behind_suspended_request_across_reload__both_answered(self):
        h = self.start_on_a()
        s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
        self.addCleanup(s.close)
        base = h.inflight()
        s.sendall(b"GET /fx/slow?ms=500 HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /fx/hello HTTP/1.1\r\nHost: t\r\n\r\n")
        h.wait_inflight_above(base)

        h.switch("002-b")

        f = s.makefile("rb")
        st1, b1 = read_raw_response(f)
        st2, b2 = read_raw_response(f)
        self.assertIn(b" 200 ", st1)
        self.assertIn(b" 200 ", st2)
        self.assertIn(b'"slept_ms":500', b1)
        self.assertIn(b'"version":"1.0.0"', b1)
        # Read only after the first answer, so by the generation serving then.
        self.assertIn(b'"version":"2.0.0"', b2)
