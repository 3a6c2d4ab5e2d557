"""A recording HTTP/1.1 server that stands in for a connector's destination.

Tests start a Recorder on 127.0.0.1, point a connector at Recorder.url, script
the responses with push_response() and read back every request that arrived.
The server speaks HTTP/1.1 with keep-alive, so connection reuse and the number
of parallel connections a connector opens are observable.
"""

import collections.abc
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A handler thread closes a keep-alive connection that stays silent for this
# many seconds, so a connection that a test leaves open ends by itself.
IDLE_CONNECTION_TIMEOUT_SECONDS = 30


class CaseInsensitiveDict(collections.abc.Mapping):
    """Header mapping whose lookups ignore case; repeated names are joined with ", "."""

    def __init__(self, pairs=()):
        self._items = {}
        for name, value in pairs:
            key = name.lower()
            if key in self._items:
                original_name, earlier = self._items[key]
                self._items[key] = (original_name, earlier + ", " + value)
            else:
                self._items[key] = (name, value)

    def __getitem__(self, name):
        return self._items[name.lower()][1]

    def __iter__(self):
        return (original_name for original_name, _ in self._items.values())

    def __len__(self):
        return len(self._items)

    def __contains__(self, name):
        return isinstance(name, str) and name.lower() in self._items

    def __repr__(self):
        return repr(dict(self.items()))


class Request:
    """One request as the recorder received it.

    path is the request target without the query; query is the raw query
    string without "?" ("" when absent) and params its parsed form
    (name -> list of values). connection_id numbers TCP connections from 1 in
    the order they were accepted, so two requests with the same id shared a
    connection.
    """

    def __init__(self, method, target, headers, body, connection_id, received_at):
        split = urllib.parse.urlsplit(target)
        self.method = method
        self.target = target
        self.path = split.path
        self.query = split.query
        self.params = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.connection_id = connection_id
        self.received_at = received_at

    def json(self):
        """Parse the body as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self):
        return "Request(%s %s, %d bytes, connection %d)" % (
            self.method, self.target, len(self.body), self.connection_id)


class Response:
    """A scripted response: status, body, headers, delay before answering.

    close_without_response=True drops the connection after reading the
    request instead of answering, which a client sees as a transport error.
    """

    def __init__(self, status=200, body=b"{}", headers=None, delay=0.0,
                 close_without_response=False):
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            self.body = json.dumps(body).encode("utf-8")
            self.headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            self.body = body.encode("utf-8")
        else:
            self.body = bytes(body)
        self.delay = delay
        self.close_without_response = close_without_response


class _RecorderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_TIMEOUT_SECONDS

    def setup(self):
        super().setup()
        self.connection_id = self.server.recorder._connection_opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.recorder._connection_closed(self.connection)

    def log_message(self, format, *args):
        # The default handler writes every request to stderr; tests read
        # Recorder.requests instead.
        pass

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailer section ends with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()

        length = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        recorder = self.server.recorder
        body = self._read_body()
        headers = CaseInsensitiveDict(self.headers.items())
        request = Request(self.command, self.path, headers, body,
                          self.connection_id, time.monotonic())

        response = recorder._begin_request(request)
        try:
            if response.delay > 0:
                time.sleep(response.delay)

            if response.close_without_response:
                self.close_connection = True
                return

            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            self.wfile.flush()
        finally:
            recorder._end_request()

    do_GET = _handle
    do_HEAD = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle
    do_OPTIONS = _handle


class _RecorderServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, recorder):
        self.recorder = recorder
        super().__init__(("127.0.0.1", 0), _RecorderHandler)


class Recorder:
    """Recording HTTP/1.1 server on 127.0.0.1 with a random port.

    Use it as a context manager. Every attribute and method is thread-safe.
    """

    def __init__(self):
        self._lock = threading.Condition()
        self._requests = []
        self._responses = []
        self._default = Response()
        self._open_sockets = set()
        self._connection_count = 0
        self._in_flight = 0
        self._max_concurrent = 0
        self._server = None
        self._thread = None

    def start(self):
        self._server = _RecorderServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="recorder", daemon=True)
        self._thread.start()
        return self

    def shutdown(self):
        """Stop accepting, close every open connection and join the server thread."""
        if self._server is None:
            return

        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets = list(self._open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, traceback):
        self.shutdown()
        return False

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        """Base URL without a trailing slash, such as http://127.0.0.1:40123."""
        return "http://127.0.0.1:%d" % self.port

    @property
    def requests(self):
        """Snapshot of the requests received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def connection_count(self):
        """Number of TCP connections accepted since start."""
        with self._lock:
            return self._connection_count

    @property
    def max_concurrent(self):
        """Peak number of requests being handled at the same time."""
        with self._lock:
            return self._max_concurrent

    def push_response(self, status=200, body=b"", headers=None, delay=0.0,
                      close_without_response=False):
        """Queue one scripted response; queued responses are used in order."""
        with self._lock:
            self._responses.append(Response(status, body, headers, delay,
                                            close_without_response))

    def set_default(self, status=200, body=b"{}", headers=None, delay=0.0,
                    close_without_response=False):
        """Set the response used when the queue is empty (initially 200 "{}")."""
        with self._lock:
            self._default = Response(status, body, headers, delay,
                                     close_without_response)

    def clear(self):
        """Forget the recorded requests (counters and queued responses stay)."""
        with self._lock:
            self._requests.clear()

    def wait_for_requests(self, count, timeout=5):
        """Block until at least count requests arrived; return them.

        Raises AssertionError naming the count seen when timeout seconds pass.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        "recorder expected %d requests within %.1f s, got %d: %r"
                        % (count, timeout, len(self._requests), self._requests))
                self._lock.wait(remaining)
            return list(self._requests)

    def _connection_opened(self, sock):
        with self._lock:
            self._connection_count += 1
            self._open_sockets.add(sock)
            return self._connection_count

    def _connection_closed(self, sock):
        with self._lock:
            self._open_sockets.discard(sock)

    def _begin_request(self, request):
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self._max_concurrent = max(self._max_concurrent, self._in_flight)
            response = self._responses.pop(0) if self._responses else self._default
            self._lock.notify_all()
            return response

    def _end_request(self):
        with self._lock:
            self._in_flight -= 1
