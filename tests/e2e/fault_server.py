"""A recording HTTP server on 127.0.0.1 that misbehaves on request.

FaultServer is a Recorder (recorder.py) whose scripted responses may also be
faults: a hang (the request is read and gets no response), a connection reset,
an endless chunked body, or a response computed from the request, such as
per-message results. A Gate holds requests until it opens. Helper functions
build the usual faults: 5xx, 429 with Retry-After in seconds or as an HTTP
date, slow responses, invalid JSON, a redirect loop and a 200 with an error
payload. closed_port() reserves a port on which connections are refused.

Every fault is bounded: a hang, a held request or an endless body ends when
the client disconnects (a hang only), the gate opens, or the server shuts
down, whichever comes first.
"""

import email.utils
import socket
import struct
import sys
import threading
import time

from recorder import (CaseInsensitiveDict, Recorder, Request, Response, _RecorderHandler,
                      _RecorderServer)

RESPOND = "respond"
HANG = "hang"
RESET = "reset"
ENDLESS = "endless"

# Size of each chunk of an endless body, and the pause between chunks, so
# that an endless body streams at most about 1.6 MB/s without spinning a core.
ENDLESS_CHUNK_BYTES = 16 * 1024
ENDLESS_CHUNK_PAUSE_SECONDS = 0.01


class Fault(Response):
    """A scripted response or fault.

    mode is RESPOND (a normal response, after delay seconds), HANG, RESET
    or ENDLESS (status and headers, then a chunked body that never ends).
    responder, when set, is called with the Request and returns the
    Response to send, and overrides status, body and headers.
    """

    def __init__(self, status=200, body=b"{}", headers=None, delay=0.0, mode=RESPOND,
                 responder=None):
        super().__init__(status, body, headers, delay)
        self.mode = mode
        self.responder = responder


def server_error(status=503, body="unavailable"):
    return Fault(status, body, {"Content-Type": "text/plain"})


def too_many_requests_seconds(seconds, body="slow down"):
    return Fault(429, body, {"Retry-After": str(int(seconds))})


def too_many_requests_date(seconds_from_now, body="slow down"):
    """429 with Retry-After as an HTTP date, computed when the request arrives."""
    def respond(request):
        moment = time.time() + seconds_from_now
        return Response(429, body, {"Retry-After": email.utils.formatdate(moment, usegmt=True)})
    return Fault(responder=respond)


def slow(seconds, status=200, body=b"{}"):
    return Fault(status, body, delay=seconds)


def hang():
    return Fault(mode=HANG)


def reset():
    return Fault(mode=RESET)


def endless_body(status=200):
    return Fault(status, headers={"Content-Type": "application/json"}, mode=ENDLESS)


def invalid_json(status=200, body='{"results": [{"status": "ok"'):
    return Fault(status, body, {"Content-Type": "application/json"})


def redirect_loop():
    """302 to the same path, so a client that follows redirects loops."""
    def respond(request):
        return Response(302, "", {"Location": request.target})
    return Fault(responder=respond)


def error_payload(text="quota exceeded", key="error"):
    return Fault(200, {key: text})


def per_message_results(decide, status=200):
    """A response with {"results": [...]}, one entry per message in the request body.

    decide(message) returns the entry for one message, such as
    {"status": "retry", "reason": "busy"}.
    """
    def respond(request):
        entries = [decide(message) for message in request.json()]
        return Response(status, {"results": entries})
    return Fault(responder=respond)


class Gate:
    """A destination that is down until open() is called.

    Requests that arrive while the gate is closed are read and held without
    a response. When the gate opens or the server stops, they and every
    later request get status and body.
    """

    def __init__(self, server, status=200, body=b"{}"):
        self._server = server
        self._opened = threading.Event()
        self._status = status
        self._body = body

    def open(self):
        self._opened.set()

    def fault(self):
        def respond(request):
            while not self._opened.is_set() and not self._server._stopping.is_set():
                self._opened.wait(0.1)
            return Response(self._status, self._body)
        return Fault(responder=respond)


def closed_port():
    """Reserve a loopback port where connections are refused; return (socket, url).

    The socket is bound and never listens, so the kernel refuses
    connections to it and no other program can take the port. Close the
    socket when done.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, "http://127.0.0.1:%d" % sock.getsockname()[1]


class _FaultHandler(_RecorderHandler):
    def _handle(self):
        recorder = self.server.recorder
        body = self._read_body()
        headers = CaseInsensitiveDict(self.headers.items())
        request = Request(self.command, self.path, headers, body, self.connection_id,
                          time.monotonic())

        response = recorder._begin_request(request)
        try:
            if isinstance(response, Fault) and response.responder is not None:
                response = response.responder(request)
            mode = response.mode if isinstance(response, Fault) else RESPOND
            if response.delay > 0:
                recorder._stopping.wait(response.delay)

            if mode == HANG:
                self._hang(recorder)
            elif mode == RESET:
                self._reset()
            elif mode == ENDLESS:
                self._endless(recorder, response)
            elif getattr(response, "close_without_response", False):
                self.close_connection = True
            else:
                self._respond(response)
        finally:
            recorder._end_request()

    do_GET = _handle
    do_HEAD = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle
    do_OPTIONS = _handle

    def _respond(self, response):
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()

    def _hang(self, recorder):
        # Wait until the client gives up (the socket becomes readable at
        # EOF) or the server stops.
        self.close_connection = True
        self.connection.settimeout(0.1)
        while not recorder._stopping.is_set():
            try:
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def _reset(self):
        # SO_LINGER with a zero timeout makes close() send RST.
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.connection.close()

    def _endless(self, recorder, response):
        self.close_connection = True
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"%x\r\n%s\r\n" % (ENDLESS_CHUNK_BYTES, b" " * ENDLESS_CHUNK_BYTES)
        try:
            while not recorder._stopping.is_set():
                self.wfile.write(chunk)
                self.wfile.flush()
                recorder._stopping.wait(ENDLESS_CHUNK_PAUSE_SECONDS)
        except OSError:
            # The client closed the connection, which ends the body.
            return


class _FaultServer(_RecorderServer):
    def __init__(self, recorder):
        self.recorder = recorder
        super(_RecorderServer, self).__init__(("127.0.0.1", 0), _FaultHandler)

    def handle_error(self, request, client_address):
        # A client that disconnects mid-request (wharfd killed, a timeout)
        # is part of the tests, not an error worth a traceback.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FaultServer(Recorder):
    """A Recorder whose responses may be faults; see the module docstring.

    push() queues a Fault for the next request and set_behaviour() sets the
    Fault used when the queue is empty. Recorder.push_response() and
    set_default() still work.
    """

    def __init__(self):
        super().__init__()
        self._stopping = threading.Event()

    def start(self):
        self._stopping.clear()
        self._server = _FaultServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fault-server", daemon=True)
        self._thread.start()
        return self

    def shutdown(self):
        """Release every hang and endless body, then stop like Recorder.shutdown()."""
        self._stopping.set()
        super().shutdown()

    def push(self, fault):
        with self._lock:
            self._responses.append(fault)

    def set_behaviour(self, fault):
        with self._lock:
            self._default = fault

    @property
    def in_flight(self):
        """Requests being handled now (hanging ones included)."""
        with self._lock:
            return self._in_flight

    def messages(self):
        """Every message in the JSON array bodies received so far, with the arrival time.

        Returns a list of (message, received_at) in arrival order; bodies
        that are not JSON arrays are left out.
        """
        result = []
        for request in self.requests:
            try:
                body = request.json()
            except ValueError:
                continue
            if isinstance(body, list):
                result.extend((message, request.received_at) for message in body)
        return result

