"""End-to-end tests of the HTTP server's limits in the real wharfd.

Each limit is set low through its config file key, then a client on
127.0.0.1 goes over it. The cases are oversized headers (431), an oversized
body (413), a client that sends one byte a second (408, then closed), a
silent client (closed), and more connections than allowed (closed at
accept). After each case wharfd still serves other clients. The open file
limit is checked under prlimit (util-linux).
"""

import http.client
import os
import socket
import time
import unittest

import harness
from harness import run_wharfd

LIMITS_CONFIG = """\
max_header_size = 2048
max_body_size = 1024
max_connections = 4
request_timeout_ms = 1500
idle_timeout_ms = 1000
"""

# Every socket read in these tests gives up after this long.
SOCKET_TIMEOUT_SECONDS = 10

DEFAULTS = {
    "--max-header-size": "default 81920",
    "--max-body-size": "default 8388608",
    "--max-connections": "default 1024",
    "--request-timeout-ms": "default 30000",
    "--idle-timeout-ms": "default 60000",
    "--shutdown-timeout-ms": "default 10000",
}


def connect(service):
    client = socket.create_connection(("127.0.0.1", service.port),
                                      timeout=harness.scaled(SOCKET_TIMEOUT_SECONDS))
    return client


def read_until_closed(client):
    """Read everything until the server closes the connection; return the bytes."""
    received = b""
    while True:
        try:
            chunk = client.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def status_of(raw):
    """The status code of the first response in raw, or None when there is none."""
    if not raw.startswith(b"HTTP/1.1 "):
        return None
    return int(raw[9:12])


class HttpLimitsTest(harness.ServiceTestCase):

    def setUp(self):
        self.service = self.start_wharfd(config_text=LIMITS_CONFIG)

    def assert_still_serving(self):
        status, body = self.service.get("/healthz")
        self.assertEqual(status, 200, body)

    def test_oversized_headers_get_431(self):
        client = connect(self.service)
        with client:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: "
                           + b"a" * 3000 + b"\r\n\r\n")
            raw = read_until_closed(client)

        self.assertEqual(status_of(raw), 431, raw[:300])
        self.assertIn(b"larger than the limit of 2048 bytes", raw)
        status, body = self.service.get("/healthz", headers={"X-Padding": "a" * 1500})
        self.assertEqual(status, 200, body)

    def test_oversized_body_gets_413(self):
        status, body = self.service.post("/api/v1/segments", "x" * 2000)

        self.assertEqual(status, 413, body)
        self.assertIn("larger than the limit of 1024 bytes", body["error"])
        self.assert_still_serving()

        status, body = self.service.post("/api/v1/segments", {"name": "a", "type": "users",
                                                              "query": {"all": []}})
        self.assertNotEqual(status, 413, body)

    def test_one_byte_a_second_cut_off(self):
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        client = connect(self.service)
        started = time.monotonic()
        sent = 0
        with client:
            # Bounded: the whole request would take 40 s at this pace.
            for byte in request:
                try:
                    client.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += 1
                client.settimeout(1.0)
                try:
                    if client.recv(1, socket.MSG_PEEK):
                        break
                except socket.timeout:
                    continue
                finally:
                    client.settimeout(harness.scaled(SOCKET_TIMEOUT_SECONDS))
            raw = read_until_closed(client)
        elapsed = time.monotonic() - started

        self.assertEqual(status_of(raw), 408, raw[:300])
        self.assertIn(b"within 1500 ms", raw)
        self.assertLess(sent, len(request))
        self.assertGreaterEqual(elapsed, 1.4)
        self.assertLess(elapsed, harness.scaled(8))
        self.assert_still_serving()

    def test_silent_client_closed(self):
        client = connect(self.service)
        started = time.monotonic()
        with client:
            raw = read_until_closed(client)
        elapsed = time.monotonic() - started

        self.assertEqual(raw, b"")
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, harness.scaled(8))
        self.assert_still_serving()

    def test_connections_over_limit_closed(self):
        mark = self.service.log_mark()
        clients = [connect(self.service) for _ in range(4)]
        try:
            # Each of the four is served, so wharfd has accepted all of them.
            for client in clients:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                response = client.recv(65536)
                self.assertEqual(status_of(response), 200, response[:200])

            # The fifth is closed at once, without a response.
            extra = connect(self.service)
            with extra:
                raw = read_until_closed(extra)
            self.assertEqual(raw, b"")
            line = self.service.wait_for_log("max_connections (4)", since=mark)
            self.assertIn("raise max_connections", line)
        finally:
            for client in clients:
                client.close()

        # Once wharfd has seen the others go, new clients are served again;
        # until then a new client is still closed at accept.
        def served():
            try:
                return self.service.get("/healthz")[0] == 200
            except (ConnectionError, http.client.RemoteDisconnected):
                return False

        self.service.wait_until(served, timeout=10)


class FileLimitWharfd(harness.Wharfd):
    """A Wharfd started under prlimit (util-linux) with the given open file limits."""

    def __init__(self, soft, hard, **kwargs):
        super().__init__(**kwargs)
        self.soft = soft
        self.hard = hard

    def command(self):
        return ["prlimit", "--nofile=%d:%d" % (self.soft, self.hard), "--", *super().command()]


def open_file_limit(pid):
    """The soft open file limit of process pid, from /proc/PID/limits."""
    with open("/proc/%d/limits" % pid, encoding="utf-8") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no \"Max open files\" line in /proc/%d/limits" % pid)


class OpenFileLimitTest(harness.ServiceTestCase):

    def start_limited(self, soft, hard, max_connections):
        service = FileLimitWharfd(soft, hard, args=["--max-connections", str(max_connections)])
        service.__enter__()
        self.addCleanup(service.__exit__, None, None, None)
        return service

    def test_soft_limit_raised_to_hard(self):
        service = self.start_limited(soft=512, hard=4096, max_connections=1024)

        self.assertEqual(open_file_limit(service.process.pid), 4096)
        self.assertEqual(service.log_lines_matching("open file limit"), [])

    def test_low_hard_limit_warned(self):
        service = self.start_limited(soft=512, hard=1024, max_connections=1024)

        line = service.wait_for_log("open file limit")
        self.assertIn("open file limit (1024) is below max_connections (1024)", line)
        self.assertIn("LimitNOFILE=", line)
        status, body = service.get("/healthz")
        self.assertEqual(status, 200, body)


class LimitSettingsTest(unittest.TestCase):

    def test_help_states_defaults(self):
        code, stdout, stderr = run_wharfd(["--help"])

        self.assertEqual(code, 0, stderr)
        for flag, default in DEFAULTS.items():
            with self.subTest(flag=flag):
                start = stdout.index(flag)
                self.assertIn(default, stdout[start:start + 250])

    def test_bad_config_value_named(self):
        directory = harness.make_temp_dir(self)
        path = os.path.join(directory, "wharfd.conf")
        with open(path, "w", encoding="utf-8") as config_file:
            config_file.write("listen = 127.0.0.1:0\nmax_body_size = 0\n")

        code, _, stderr = run_wharfd(["--config", path, "--data-dir",
                                      os.path.join(directory, "data")])

        self.assertEqual(code, 2, stderr)
        self.assertIn("%s:2: key max_body_size" % path, stderr)
        self.assertIn("expected 1 to 1073741824 bytes", stderr)

    def test_bad_flag_value_named(self):
        for flag, value, expected in [
                ("--request-timeout-ms", "5", "expected 100 to 3600000 milliseconds"),
                ("--idle-timeout-ms", "soon", "invalid value \"soon\""),
                ("--max-header-size", "512", "expected 1024 to 1048576 bytes"),
                ("--max-connections", "0", "expected 1 to 1000000 connections"),
                ("--shutdown-timeout-ms", "-1", "invalid value \"-1\"")]:
            with self.subTest(flag=flag):
                code, _, stderr = run_wharfd(["--listen", "127.0.0.1:0", flag, value])
                self.assertEqual(code, 2, stderr)
                self.assertIn(flag, stderr)
                self.assertIn(expected, stderr)


if __name__ == "__main__":
    unittest.main()
