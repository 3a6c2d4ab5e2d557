"""Leak and memory-error check of wharfd through a short scenario.

wharfd runs under valgrind's memcheck while it loads and rejects plugins,
hot-loads one more, runs the webhook connector against a recording server
(success, HTTP 500, connection refused, timeout), creates, updates and
deletes connectors, rejects bad input and stops on SIGTERM. The test fails
when wharfd does not exit with code 0 or valgrind reports a definite or
indirect leak or an invalid read or write.

A wharfd built with -DWHARF_SANITIZE=ON cannot run under valgrind, because
AddressSanitizer reserves the address space valgrind needs. For that build the
same scenario runs without valgrind, and AddressSanitizer and LeakSanitizer
catch the memory errors and leaks instead.
"""

import os
import re
import shutil
import socket
import sys
import tempfile
import unittest

import harness
from recorder import Recorder

VALGRIND_EXIT_CODE = 99

# Limit for every wait, because memcheck slows wharfd down many times over.
SLOW_TIMEOUT_SECONDS = 120

# Fixtures that the loader must reject, each for a different reason.
REJECTED_FIXTURES = ["wrong_major", "bad_magic", "no_entry", "null_entry", "null_name",
                     "dup_settings"]
NOT_ELF_FILE = "notes.so"

# Lines that memcheck writes only for a memory error or a definite or indirect leak.
MEMCHECK_ERROR_PATTERN = re.compile(
    r"Invalid (read|write|free)|Mismatched free|uninitialised|"
    r"(definitely|indirectly) lost in|Source and destination overlap")
LEAK_SUMMARY_PATTERN = re.compile(r"(definitely|indirectly) lost: ([\d,]+) bytes")


def valgrind_path():
    return shutil.which("valgrind")


def is_sanitizer_build(binary):
    """Tell whether binary was linked with AddressSanitizer (-DWHARF_SANITIZE=ON)."""
    with open(binary, "rb") as executable:
        return b"__asan_init" in executable.read()


def closed_port():
    """Return a loopback port that was just bound and closed, so nothing listens on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def print_stderr(service):
    sys.stderr.write("---- wharfd stderr ----\n%s---- end of wharfd stderr ----\n"
                     % service.stderr_text())


class MemcheckWharfd(harness.Wharfd):
    """wharfd under valgrind memcheck, writing valgrind's report to log_path.

    The report goes to its own file so that it is not mixed with wharfd's log
    lines, and so that it is complete once valgrind has exited.
    """

    def __init__(self, log_path, **kwargs):
        super().__init__(**kwargs)
        self.log_path = log_path

    def start(self, timeout=SLOW_TIMEOUT_SECONDS):
        return super().start(timeout=timeout)

    def command(self):
        command = super().command()
        # With WHARF_VALGRIND=1 the harness puts its own valgrind command in
        # front, so keep only the wharfd part and add this class's command.
        wharfd_command = command[command.index(harness.WHARFD):]
        return [valgrind_path(), "--leak-check=full",
                "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect",
                "--error-exitcode=%d" % VALGRIND_EXIT_CODE,
                "--num-callers=30",
                "--log-file=" + self.log_path,
                *wharfd_command]


class LeakTest(unittest.TestCase):

    def setUp(self):
        self.work_dir = tempfile.mkdtemp(prefix="wharf-leaks-")
        self.addCleanup(shutil.rmtree, self.work_dir, ignore_errors=True)
        self.plugins_dir = os.path.join(self.work_dir, "plugins")
        os.mkdir(self.plugins_dir)
        self.recorder = Recorder().start()
        self.addCleanup(self.recorder.shutdown)

    def make_plugins(self):
        shutil.copyfile(harness.bundled_plugin_path("webhook"),
                        os.path.join(self.plugins_dir, "webhook.so"))
        for name in ["valid_1_0", "create_fails", *REJECTED_FIXTURES]:
            harness.copy_fixture(name, self.plugins_dir)
        with open(os.path.join(self.plugins_dir, NOT_ELF_FILE), "w", encoding="utf-8") as text:
            text.write("this is a text file, not a shared object\n")

    def test_scenario_has_no_leaks(self):
        self.make_plugins()

        if is_sanitizer_build(harness.WHARFD):
            with harness.Wharfd(plugins_dir=self.plugins_dir, check_exit=False) as service:
                code = self.run_scenario(service)
                report = service.stderr_text()
            for marker in ("Sanitizer", "runtime error:"):
                self.assertNotIn(marker, report, "the sanitizers reported faults in wharfd")
            self.assertEqual(code, 0, "wharfd built with the sanitizers exited with code %s "
                             "after SIGTERM. Its stderr is printed above." % code)
            return

        if valgrind_path() is None:
            self.fail("valgrind is not installed, so wharfd cannot be checked for leaks; "
                      "install it (apt-get install valgrind) and run the test again")

        log_path = os.path.join(self.work_dir, "valgrind.log")
        with MemcheckWharfd(log_path, plugins_dir=self.plugins_dir,
                            check_exit=False) as service:
            code = self.run_scenario(service)
        with open(log_path, encoding="utf-8", errors="replace") as log:
            self.check_memcheck_report(log.read(), code)

    def check_memcheck_report(self, report, code):
        details = "valgrind report:\n%s" % report
        self.assertIn("ERROR SUMMARY: 0 errors", report, details)
        for line in report.splitlines():
            self.assertIsNone(MEMCHECK_ERROR_PATTERN.search(line), details)
            summary = LEAK_SUMMARY_PATTERN.search(line)
            if summary is not None:
                self.assertEqual(summary.group(2), "0", details)
        self.assertNotEqual(code, VALGRIND_EXIT_CODE, details)
        self.assertEqual(code, 0, "wharfd exited with code %s after SIGTERM\n%s"
                         % (code, details))

    def run_scenario(self, service):
        """Drive service through the scenario, stop it with SIGTERM and return its exit code.

        A failed step stops wharfd too, and the harness then prints its stderr.
        """
        try:
            self.check_plugins(service)
            self.hot_load_plugin(service)
            self.run_webhook(service)
            self.run_fixture_connector(service)
            self.send_bad_input(service)
        except BaseException:
            service.stop(timeout=SLOW_TIMEOUT_SECONDS)
            raise

        code = service.stop(timeout=SLOW_TIMEOUT_SECONDS)
        if code != 0:
            print_stderr(service)
        return code

    def request(self, service, method, path, body=None):
        status, _, response = service.request(method, path, body=body,
                                              timeout=SLOW_TIMEOUT_SECONDS)
        return status, response

    def check_plugins(self, service):
        status, listing = self.request(service, "GET", "/api/v1/plugins")
        self.assertEqual(status, 200, listing)

        names = sorted(plugin["name"] for plugin in listing["plugins"])
        self.assertEqual(names, ["fixture-create-fails", "fixture-valid", "webhook"])
        rejected = sorted(os.path.basename(entry["file"]) for entry in listing["rejected"])
        expected = sorted([name + ".so" for name in REJECTED_FIXTURES] + [NOT_ELF_FILE])
        self.assertEqual(rejected, expected)

    def hot_load_plugin(self, service):
        # Copy under another name and rename, so wharfd never loads a partial file.
        staging = harness.copy_fixture("minor_1_1", self.plugins_dir, "minor_1_1.so.partial")
        os.rename(staging, os.path.join(self.plugins_dir, "minor_1_1.so"))

        service.wait_for_log("plugin loaded: fixture-minor", timeout=SLOW_TIMEOUT_SECONDS)

    def run_test_message(self, service, connector_id):
        status, body = self.request(service, "POST",
                                    "/api/v1/connectors/%s/test" % connector_id)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["results"]), 1, body)
        return body["results"][0]

    def run_webhook(self, service):
        status, hook = self.request(service, "POST", "/api/v1/connectors",
                                    {"plugin": "webhook", "name": "hook",
                                     "settings": {"url": self.recorder.url + "/hook",
                                                  "headers": {"Authorization": "Bearer T"}}})
        self.assertEqual(status, 201, hook)

        self.recorder.push_response(200, body="{}")
        self.assertEqual(self.run_test_message(service, hook["id"])["result"], "success")
        self.recorder.push_response(500, body="internal error")
        self.assertEqual(self.run_test_message(service, hook["id"])["result"], "retry")
        self.assertEqual(len(self.recorder.requests), 2)

        # A refused connection and a timeout end their transfers on other
        # code paths than a response does.
        status, refused_hook = self.request(service, "POST", "/api/v1/connectors",
                                       {"plugin": "webhook", "name": "refused",
                                        "settings": {"url": "http://127.0.0.1:%d/hook"
                                                            % closed_port()}})
        self.assertEqual(status, 201, refused_hook)
        self.assertEqual(self.run_test_message(service, refused_hook["id"])["result"], "retry")

        status, slow = self.request(service, "POST", "/api/v1/connectors",
                                    {"plugin": "webhook", "name": "slow",
                                     "settings": {"url": self.recorder.url + "/slow",
                                                  "timeout_ms": 300}})
        self.assertEqual(status, 201, slow)
        self.recorder.push_response(200, delay=2.0)
        result = self.run_test_message(service, slow["id"])
        self.assertEqual(result["result"], "retry", result)

    def run_fixture_connector(self, service):
        status, created = self.request(service, "POST", "/api/v1/connectors",
                                       {"plugin": "fixture-valid", "name": "crm",
                                        "settings": {"api_key": "key-1"}})
        self.assertEqual(status, 201, created)
        path = "/api/v1/connectors/" + created["id"]

        status, updated = self.request(service, "PUT", path,
                                       {"plugin": "fixture-valid", "name": "crm-us",
                                        "settings": {"region": "us"}})
        self.assertEqual(status, 200, updated)
        self.assertEqual(self.run_test_message(service, created["id"])["result"], "success")

        status, body = self.request(service, "DELETE", path)
        self.assertEqual(status, 204, body)

    def send_bad_input(self, service):
        status, body = self.request(service, "POST", "/api/v1/connectors",
                                    {"plugin": "fixture-create-fails", "name": "fails",
                                     "settings": {"api_key": "key-2"}})
        self.assertEqual(status, 400, body)
        self.assertIn("api_key is not valid for this account", body["error"])

        bad_requests = [
            ("POST", "/api/v1/connectors", {"plugin": "fixture-valid", "name": "x",
                                            "settings": {"api_key": "k", "colour": "blue"}},
             400),
            ("POST", "/api/v1/connectors", {"plugin": "fixture-valid", "name": "x",
                                            "settings": {"retries": "three"}}, 400),
            ("POST", "/api/v1/connectors", b'{"plugin": ', 400),
            ("POST", "/api/v1/connectors", {"plugin": "no-such-plugin", "name": "x"}, 400),
            ("GET", "/api/v1/connectors/no-such-id", None, 404),
            ("DELETE", "/api/v1/connectors", None, 405),
            ("GET", "/no-such-route", None, 404),
        ]
        for method, path, body, expected_status in bad_requests:
            with self.subTest(method=method, path=path):
                status, response = self.request(service, method, path, body)
                self.assertEqual(status, expected_status, response)

        status, body = self.request(service, "GET", "/healthz")
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
