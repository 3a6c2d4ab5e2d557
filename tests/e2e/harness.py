"""Start the real wharfd for end-to-end tests and talk to its HTTP API.

ctest sets these environment variables (see tests/e2e/CMakeLists.txt):
  WHARFD              path of the wharfd binary
  WHARF_PLUGINS_DIR   directory of the bundled plugins in the build tree
  WHARF_FIXTURES_DIR  directory of the built fixture plugins (NAME.so)
  WHARF_SOURCE_DIR    top of the source tree
With WHARF_VALGRIND=1, wharfd runs under valgrind's leak checker, every
timeout is multiplied by VALGRIND_TIMEOUT_SCALE, and a leak makes wharfd exit
with code 99, which Wharfd.__exit__ reports as a failure.
"""

import http.client
import json
import os
import re
import shutil
import signal as signals
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import weakref

from recorder import CaseInsensitiveDict


def _required_environment(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            "environment variable %s is not set; run the end-to-end tests "
            "through ctest (ctest -L e2e) or set it by hand" % name)
    if not os.path.exists(value):
        raise RuntimeError("%s=%s does not exist; build the project first"
                           % (name, value))
    return os.path.abspath(value)


WHARFD = _required_environment("WHARFD")
PLUGINS_DIR = _required_environment("WHARF_PLUGINS_DIR")
FIXTURES_DIR = _required_environment("WHARF_FIXTURES_DIR")
SOURCE_DIR = _required_environment("WHARF_SOURCE_DIR")

VALGRIND = os.environ.get("WHARF_VALGRIND") == "1"
VALGRIND_COMMAND = ["valgrind", "--leak-check=full",
                    "--errors-for-leak-kinds=definite,indirect",
                    "--error-exitcode=99", "-q"]
VALGRIND_TIMEOUT_SCALE = 10
TIMEOUT_SCALE = VALGRIND_TIMEOUT_SCALE if VALGRIND else 1

LISTENING_PATTERN = re.compile(r"wharfd listening on (http://(?:127\.0\.0\.1|\[::1\]):(\d+))")

# Pass as listen=, data_dir= or plugins_dir= to leave that flag off the
# command line, so that wharfd takes the value from its config file or its
# built-in default.
OMIT = object()


def scaled(seconds):
    """Scale a timeout for the current run (longer under valgrind)."""
    return seconds * TIMEOUT_SCALE


def fixture_path(name):
    """Path of the built fixture plugin NAME.so; fails when it was not built."""
    path = os.path.join(FIXTURES_DIR, name + ".so")
    if not os.path.isfile(path):
        raise AssertionError("fixture plugin %s is missing; build the fixture targets" % path)
    return path


def bundled_plugin_path(name):
    """Path of the bundled plugin NAME.so in the build tree."""
    path = os.path.join(PLUGINS_DIR, name + ".so")
    if not os.path.isfile(path):
        raise AssertionError("bundled plugin %s is missing; build the plugins" % path)
    return path


def copy_fixture(name, directory, file_name=None):
    """Copy fixture NAME.so into directory (as file_name if given); return the new path."""
    destination = os.path.join(directory, file_name or name + ".so")
    shutil.copyfile(fixture_path(name), destination)
    os.chmod(destination, 0o755)
    return destination


def make_temp_dir(test, prefix="wharf-e2e-"):
    """Create a temporary directory that is removed when test finishes."""
    path = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path


def make_plugins_dir(test, fixtures=(), bundled=()):
    """Create a temporary plugins dir holding copies of the named fixture and bundled plugins."""
    directory = make_temp_dir(test, prefix="wharf-plugins-")
    for name in fixtures:
        copy_fixture(name, directory)
    for name in bundled:
        shutil.copyfile(bundled_plugin_path(name), os.path.join(directory, name + ".so"))
    return directory


def run_wharfd(args, timeout=10, cwd=None):
    """Run wharfd to completion (for --help or startup errors).

    Returns (exit code, stdout text, stderr text). Kills wharfd and fails when
    it is still running after timeout seconds.
    """
    command = ([*VALGRIND_COMMAND] if VALGRIND else []) + [WHARFD, *args]
    working_dir = cwd or tempfile.mkdtemp(prefix="wharf-run-")
    try:
        completed = subprocess.run(command, cwd=working_dir, capture_output=True,
                                   timeout=scaled(timeout), text=True)
    except subprocess.TimeoutExpired as expired:
        raise AssertionError("wharfd %s did not exit within %.0f s; stderr:\n%s"
                             % (" ".join(args), scaled(timeout), expired.stderr)) from None
    finally:
        if cwd is None:
            shutil.rmtree(working_dir, ignore_errors=True)
    return completed.returncode, completed.stdout, completed.stderr


def describe_exit(code):
    """Describe a subprocess return code for a failure message."""
    if code is None:
        return "no exit code"
    if code < 0:
        return "signal %s (its default action ran, so wharfd did not handle it)" % (
            signals.Signals(-code).name)
    if VALGRIND and code == 99:
        return "exit code 99 (valgrind found a leak or a memory error)"
    return "exit code %d" % code


class _StreamReader:
    """Drain one pipe on a thread into a list of lines that others can wait on."""

    def __init__(self, stream, name):
        self.lines = []
        self.condition = threading.Condition()
        self.closed = False
        self._stream = stream
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self):
        for raw_line in iter(self._stream.readline, b""):
            line = raw_line.decode("utf-8", errors="replace").rstrip("\n")
            with self.condition:
                self.lines.append(line)
                self.condition.notify_all()
        with self.condition:
            self.closed = True
            self.condition.notify_all()
        self._stream.close()

    def join(self, timeout):
        self._thread.join(timeout)

    def text(self):
        with self.condition:
            return "".join(line + "\n" for line in self.lines)


def _line_matches(pattern, line):
    if isinstance(pattern, re.Pattern):
        return pattern.search(line) is not None
    return pattern in line


class Wharfd:
    """One wharfd process listening on 127.0.0.1 with a random port.

    plugins_dir defaults to the bundled plugins. data_dir defaults to a fresh
    temporary directory that is removed on exit; a data_dir passed in is kept.
    config_text, if given, is written to a file passed with --config. args
    are extra command-line arguments, env extra environment variables.
    check_exit=True makes __exit__ fail when wharfd did not exit with code 0
    after SIGTERM (a crash on shutdown, or a leak under valgrind or ASan).
    admin_token, if given, is sent as "Authorization: Bearer TOKEN" by
    request() unless the caller passes its own Authorization header; it does
    not configure wharfd, which the caller does with args or config_text.
    """

    def __init__(self, plugins_dir=None, data_dir=None, args=(), config_text=None,
                 env=None, listen="127.0.0.1:0", check_exit=True, admin_token=None):
        self._work_dir = tempfile.mkdtemp(prefix="wharfd-")
        # Removes the work dir also for callers that use start() and stop()
        # without the context manager.
        self._work_dir_finalizer = weakref.finalize(self, shutil.rmtree, self._work_dir,
                                                    ignore_errors=True)
        if data_dir is None:
            data_dir = os.path.join(self._work_dir, "data")
            os.mkdir(data_dir)
        self.data_dir = data_dir
        self.plugins_dir = PLUGINS_DIR if plugins_dir is None else plugins_dir
        self.listen = listen
        self.extra_args = list(args)
        self.env = dict(env or {})
        self.check_exit = check_exit
        self.admin_token = admin_token
        self.config_path = None
        if config_text is not None:
            self.config_path = os.path.join(self._work_dir, "wharfd.conf")
            with open(self.config_path, "w", encoding="utf-8") as config_file:
                config_file.write(config_text)

        self.process = None
        self.port = None
        self.url = None
        self.exit_code = None
        self._stderr = None
        self._stdout = None
        self._previous_stderr = []

    # ---- process lifetime -------------------------------------------------

    def command(self):
        """The command line this instance starts."""
        command = [*VALGRIND_COMMAND] if VALGRIND else []
        command.append(WHARFD)
        if self.listen is not OMIT:
            command += ["--listen", self.listen]
        if self.data_dir is not OMIT:
            command += ["--data-dir", self.data_dir]
        if self.plugins_dir is not OMIT:
            command += ["--plugins-dir", self.plugins_dir]
        if self.config_path is not None:
            command += ["--config", self.config_path]
        command += self.extra_args
        return command

    def start(self, timeout=15):
        """Start wharfd and wait until it logs the address it listens on."""
        environment = dict(os.environ)
        environment.update(self.env)
        self.exit_code = None
        self.process = subprocess.Popen(self.command(), cwd=self._work_dir, env=environment,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self._stderr = _StreamReader(self.process.stderr, "wharfd-stderr")
        self._stdout = _StreamReader(self.process.stdout, "wharfd-stdout")

        try:
            line = self.wait_for_log(LISTENING_PATTERN, timeout=timeout)
        except AssertionError as error:
            self._kill()
            raise AssertionError("wharfd did not start (it stopped with %s): %s"
                                 % (describe_exit(self.exit_code), error)) from None
        match = LISTENING_PATTERN.search(line)
        self.url = match.group(1)
        self.port = int(match.group(2))
        return self

    def stop(self, signal=signals.SIGTERM, timeout=15):
        """Send signal, wait for wharfd to exit and return its exit code.

        Kills wharfd and raises AssertionError if it is still running after
        timeout seconds.
        """
        if self.process is None:
            return self.exit_code
        if self.process.poll() is None:
            self.process.send_signal(signal)
            try:
                self.process.wait(timeout=scaled(timeout))
            except subprocess.TimeoutExpired:
                self._kill()
                raise AssertionError("wharfd did not exit within %.0f s of signal %s; stderr:\n%s"
                                     % (scaled(timeout), signals.Signals(signal).name,
                                        self.stderr_text())) from None
        return self._reap()

    def _kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reap()

    def _reap(self):
        self.exit_code = self.process.returncode
        self._stderr.join(5)
        self._stdout.join(5)
        self.process = None
        return self.exit_code

    def restart(self, timeout=15):
        """Stop with SIGTERM (which must succeed with exit code 0) and start again.

        The data dir, plugins dir and arguments stay the same.
        """
        code = self.stop()
        if code != 0:
            raise AssertionError("wharfd stopped with %s on restart; stderr:\n%s"
                                 % (describe_exit(code), self.stderr_text()))
        self._previous_stderr.append(self.stderr_text())
        return self.start(timeout=timeout)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            # The error from start() already contains wharfd's stderr.
            self._remove_work_dir()
            raise

    def __exit__(self, exc_type, exc, traceback):
        try:
            was_running = self.process is not None
            exited_by_itself = was_running and self.process.poll() is not None
            code = self.stop()
            if exc_type is not None:
                self._print_stderr()
            elif self.check_exit and exited_by_itself:
                self._print_stderr()
                raise AssertionError("wharfd exited during the test with %s; it should run "
                                     "until it gets a signal" % describe_exit(code))
            elif self.check_exit and was_running and code != 0:
                self._print_stderr()
                raise AssertionError("wharfd stopped with %s after SIGTERM, expected exit code 0"
                                     % describe_exit(code))
        finally:
            self._remove_work_dir()
        return False

    def _remove_work_dir(self):
        # A data dir passed in by the caller lives outside the work dir and stays.
        self._work_dir_finalizer()

    def _print_stderr(self):
        text = "".join(self._previous_stderr) + (self.stderr_text() if self._stderr else "")
        sys.stderr.write("---- wharfd stderr (%s) ----\n%s---- end of wharfd stderr ----\n"
                         % (" ".join(self.command()), text))

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    # ---- logs -------------------------------------------------------------

    def stderr_text(self):
        """Everything wharfd wrote to stderr since the last start."""
        return self._stderr.text() if self._stderr else ""

    def stderr_lines(self):
        with self._stderr.condition:
            return list(self._stderr.lines)

    def stdout_text(self):
        return self._stdout.text() if self._stdout else ""

    def log_mark(self):
        """Number of stderr lines so far; pass it as since= to wait for later lines only."""
        with self._stderr.condition:
            return len(self._stderr.lines)

    def wait_for_log(self, pattern, timeout=5, since=0):
        """Wait for a stderr line containing pattern (a string or compiled regex).

        Looks at lines from index since onwards and returns the first match.
        Raises AssertionError with the stderr so far on timeout or when
        wharfd exits first.
        """
        deadline = time.monotonic() + scaled(timeout)
        reader = self._stderr
        with reader.condition:
            index = since
            while True:
                while index < len(reader.lines):
                    if _line_matches(pattern, reader.lines[index]):
                        return reader.lines[index]
                    index += 1
                remaining = deadline - time.monotonic()
                if reader.closed or remaining <= 0:
                    break
                reader.condition.wait(remaining)
        pattern_text = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        reason = "wharfd exited" if reader.closed else "%.1f s passed" % scaled(timeout)
        raise AssertionError("no stderr line matching %r (%s); stderr:\n%s"
                             % (pattern_text, reason, reader.text()))

    def log_lines_matching(self, pattern):
        return [line for line in self.stderr_lines() if _line_matches(pattern, line)]

    # ---- HTTP -------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=10):
        """Send one request on a new connection.

        body: dict or list is sent as JSON, bytes or str as they are.
        Returns (status, headers as a case-insensitive dict, body) where body
        is the parsed JSON for a JSON response, None for an empty one and the
        raw bytes otherwise.
        """
        request_headers = dict(headers or {})
        if self.admin_token is not None and not any(
                name.lower() == "authorization" for name in request_headers):
            request_headers["Authorization"] = "Bearer " + self.admin_token
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode("utf-8")
            request_headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            payload = body.encode("utf-8")
        else:
            payload = body

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))
        try:
            connection.request(method, path, body=payload, headers=request_headers)
            response = connection.getresponse()
            raw = response.read()
            response_headers = CaseInsensitiveDict(response.getheaders())
            status = response.status
        finally:
            connection.close()

        if not raw:
            return status, response_headers, None
        if "json" in response_headers.get("Content-Type", ""):
            try:
                return status, response_headers, json.loads(raw.decode("utf-8"))
            except ValueError:
                raise AssertionError("%s %s returned Content-Type %s with a body that is "
                                     "not JSON: %r" % (method, path,
                                                       response_headers["Content-Type"], raw[:500]))
        return status, response_headers, raw

    def get(self, path, **kwargs):
        status, _, body = self.request("GET", path, **kwargs)
        return status, body

    def post(self, path, body=None, **kwargs):
        status, _, response_body = self.request("POST", path, body=body, **kwargs)
        return status, response_body

    def put(self, path, body=None, **kwargs):
        status, _, response_body = self.request("PUT", path, body=body, **kwargs)
        return status, response_body

    def delete(self, path, **kwargs):
        status, _, body = self.request("DELETE", path, **kwargs)
        return status, body

    # ---- polling ----------------------------------------------------------

    def wait_until(self, predicate, timeout=5, interval=0.05, message=None):
        """Call predicate until it returns a true value and return that value.

        Raises AssertionError (with message, if given) after timeout seconds.
        """
        deadline = time.monotonic() + scaled(timeout)
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(message or "condition %r not met within %.1f s"
                                     % (getattr(predicate, "__name__", predicate), scaled(timeout)))
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError("wharfd exited with code %s while waiting; stderr:\n%s"
                                     % (self.process.returncode, self.stderr_text()))
            time.sleep(interval)

    # ---- API shortcuts ----------------------------------------------------

    def plugins(self):
        """GET /api/v1/plugins and return its JSON body (fails on a non-200 status)."""
        status, body = self.get("/api/v1/plugins")
        if status != 200:
            raise AssertionError("GET /api/v1/plugins returned %s: %r" % (status, body))
        return body

    def create_connector(self, plugin, name, settings=None, **fields):
        """POST /api/v1/connectors; return (status, body)."""
        body = {"plugin": plugin, "name": name, "settings": settings or {}}
        body.update(fields)
        return self.post("/api/v1/connectors", body)


class ServiceTestCase(unittest.TestCase):
    """TestCase whose start_wharfd() stops wharfd after the test.

    When a test fails, the stderr of every wharfd it started is printed.
    """

    def start_wharfd(self, **kwargs):
        service = Wharfd(**kwargs)
        service.__enter__()
        self._started_services.append(service)
        self.addCleanup(service.__exit__, None, None, None)
        return service

    def run(self, result=None):
        self._started_services = []
        if result is None:
            result = self.defaultTestResult()
        problems_before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > problems_before:
            for service in self._started_services:
                service._print_stderr()
        return outcome
