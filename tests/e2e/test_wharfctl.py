"""End-to-end tests of wharfctl, the operator's command-line client.

Each test starts wharfd with the bundled webhook plugin and a Recorder on
127.0.0.1 as the webhook's destination. It then runs the real wharfctl
binary (built next to wharfd) against them, and checks the output, the exit
code and what reached the recorder.
"""

import json
import os
import pty
import queue
import re
import select
import signal
import socket
import subprocess
import threading
import time
import unittest

import data_client
import harness
from recorder import Recorder

WHARFCTL = os.path.join(os.path.dirname(harness.WHARFD), "wharfctl")

COMMANDS = ["plugins", "connectors", "segments", "send", "batches", "batch", "logs"]

# Long enough for a sanitizer or valgrind build to send a small batch.
COMMAND_TIMEOUT_SECONDS = 60

# wharfctl logs --follow checks for new lines every second; this leaves room
# for a slow build.
FOLLOW_LINE_SECONDS = 20

SUMMARY_PATTERN = re.compile(
    r"^batch (\S+) (\w+): total (\d+), sent (\d+), skipped (\d+), failed (\d+)$", re.MULTILINE)

# The message names of connector log lines, as wharfd writes them.
LOG_MESSAGES = ["outgoing.%s.%s" % (entity, outcome) for entity in ("user", "account")
                for outcome in ("start", "success", "skip", "retry", "error")]

PRO_USERS = [("pro-%d" % number, "pro%d@example.com" % number) for number in range(1, 8)]
FREE_USERS = [("free-%d" % number, "free%d@example.com" % number) for number in range(1, 4)]


def closed_port():
    """Return a loopback port that was just bound and closed, so nothing listens on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wharfctl_command(args):
    if not os.path.isfile(WHARFCTL):
        raise AssertionError("%s is missing; build the wharfctl target" % WHARFCTL)
    prefix = list(harness.VALGRIND_COMMAND) if harness.VALGRIND else []
    return prefix + [WHARFCTL, *args]


def wharfctl_environment():
    """The test's environment without WHARF_URL, so only --url decides the address."""
    environment = dict(os.environ)
    environment.pop("WHARF_URL", None)
    return environment


def run_wharfctl(args, timeout=COMMAND_TIMEOUT_SECONDS, environment=None):
    """Run wharfctl to completion; return (exit code, stdout, stderr)."""
    try:
        completed = subprocess.run(wharfctl_command(args), capture_output=True, text=True,
                                   stdin=subprocess.DEVNULL,
                                   env=environment or wharfctl_environment(),
                                   timeout=harness.scaled(timeout))
    except subprocess.TimeoutExpired as expired:
        raise AssertionError("wharfctl %s did not exit within %.0f s; stdout:\n%s\nstderr:\n%s"
                             % (" ".join(args), harness.scaled(timeout), expired.stdout,
                                expired.stderr)) from None
    assert_no_sanitizer_report(args, completed.stderr)
    return completed.returncode, completed.stdout, completed.stderr


def assert_no_sanitizer_report(args, stderr):
    """Fail on an ASan, UBSan or LeakSanitizer report, whatever the exit code.

    A report on an error path could otherwise pass unnoticed, because a
    sanitizer's exit code can equal the 1 or 2 that the test expects.
    """
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        if marker in stderr:
            raise AssertionError("wharfctl %s: sanitizer report on stderr:\n%s"
                                 % (" ".join(args), stderr))


def exported_external_ids(recorder, entity="user"):
    """external_ids of the manual-batch messages (is_export) the recorder received."""
    ids = []
    for request in recorder.requests:
        for message in request.json():
            if message.get("is_export") and message.get("type") == entity:
                ids.append(message[entity]["external_id"])
    return ids


def parse_summary(test, stdout):
    """Parse send's "batch ID STATE: total T, sent S, skipped K, failed F" line."""
    match = SUMMARY_PATTERN.search(stdout)
    test.assertIsNotNone(match, "no batch summary line in stdout: %r" % stdout)
    batch_id, state, total, sent, skipped, failed = match.groups()
    return {"id": batch_id, "state": state, "total": int(total), "sent": int(sent),
            "skipped": int(skipped), "failed": int(failed)}


def parse_log_line(line):
    """Split "TIME MESSAGE IDENTITY ENTITY_ID BATCH_ID DATA" into a dict."""
    fields = line.split(None, 5)
    if len(fields) != 6:
        raise AssertionError("log line does not have six fields: %r" % line)
    time_text, message, identity, entity_id, batch_id, data = fields
    return {"time": time_text, "message": message, "identity": identity,
            "entity_id": entity_id, "batch_id": batch_id,
            "data": None if data == "-" else json.loads(data)}


class LineReader:
    """Read a pipe's lines on a thread so that a test can wait for one with a deadline."""

    def __init__(self, stream):
        self.lines = queue.Queue()
        self.seen = []
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for line in iter(stream.readline, ""):
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def join(self, timeout):
        self._thread.join(timeout)

    def wait_for(self, predicate, timeout):
        """Return the first line (after those already seen) for which predicate is true."""
        deadline = time.monotonic() + harness.scaled(timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no matching line within %.0f s; lines so far: %r"
                                     % (harness.scaled(timeout), self.seen))
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("the stream closed before a matching line; lines: %r"
                                     % self.seen)
            self.seen.append(line)
            if predicate(line):
                return line


class WharfctlTestCase(harness.ServiceTestCase):
    """wharfd with the webhook plugin, and a Recorder the connectors point at."""

    plugins = ("webhook",)
    fixtures = ()

    def setUp(self):
        self.recorder = Recorder().start()
        self.addCleanup(self.recorder.shutdown)
        plugins_dir = harness.make_plugins_dir(self, fixtures=self.fixtures,
                                               bundled=self.plugins)
        self.service = self.start_wharfd(plugins_dir=plugins_dir)
        self.work_dir = harness.make_temp_dir(self, prefix="wharfctl-e2e-")

    def wharfctl(self, *args, timeout=COMMAND_TIMEOUT_SECONDS):
        return run_wharfctl(["--url", self.service.url, *args], timeout=timeout)

    def wharfctl_ok(self, *args, timeout=COMMAND_TIMEOUT_SECONDS):
        """Run wharfctl, fail unless it exits with 0, and return its stdout."""
        code, stdout, stderr = self.wharfctl(*args, timeout=timeout)
        self.assertEqual(code, 0, "wharfctl %s exited with %d; stdout:\n%s\nstderr:\n%s"
                         % (" ".join(args), code, stdout, stderr))
        return stdout

    def write_json(self, name, value):
        path = os.path.join(self.work_dir, name)
        with open(path, "w", encoding="utf-8") as file:
            json.dump(value, file)
        return path

    def create_webhook(self, name="hook", **fields):
        """Create a webhook connector to the recorder with wharfctl connectors create; return its id."""
        definition = {"name": name, "plugin": "webhook",
                      "settings": {"url": self.recorder.url + "/hook"}}
        definition.update(fields)
        stdout = self.wharfctl_ok("connectors", "create",
                                  self.write_json(name + ".json", definition))
        return stdout.strip()

    def create_users(self, users, plan):
        """POST users (external_id, email) with the given plan; return external_id -> user id."""
        status, body = self.service.post("/api/v1/users", {"users": [
            {"claims": {"external_id": external_id, "email": email},
             "attributes": {"plan": plan}}
            for external_id, email in users]})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["rejected"], [], body)
        ids = {}
        for accepted in body["accepted"]:
            ids[users[accepted["index"]][0]] = accepted["id"]
        self.assertEqual(len(ids), len(users), body)
        return ids

    def create_pro_segment(self, name="pros"):
        """Pro and free users, and a ready segment of the pro ones; return (segment, pro ids)."""
        pro_ids = self.create_users(PRO_USERS, "pro")
        self.create_users(FREE_USERS, "free")
        segment = data_client.ready_segment(self, self.service, name, "users",
                                            {"attribute": "plan", "op": "eq", "value": "pro"})
        self.assertEqual(segment["size"], len(PRO_USERS), segment)
        return segment, pro_ids

    def wait_for_exported(self, expected, entity="user"):
        """Wait until the recorder got export messages for exactly the expected external_ids."""
        seen = []

        def arrived():
            seen[:] = exported_external_ids(self.recorder, entity)
            return sorted(seen) == sorted(expected)

        try:
            self.service.wait_until(arrived, timeout=10)
        except AssertionError:
            self.fail("recorder got %s messages for %r, expected %r"
                      % (entity, sorted(seen), sorted(expected)))


class HelpAndUsageTest(unittest.TestCase):
    """Help, usage errors and an unreachable wharfd need no running service."""

    def test_help_lists_every_command(self):
        code, stdout, stderr = run_wharfctl(["--help"])
        self.assertEqual(code, 0, stderr)
        for name in COMMANDS:
            self.assertRegex(stdout, r"(?m)^  %s " % name)
        for option in ("--url", "--json", "--timeout", "WHARF_URL"):
            self.assertIn(option, stdout)

    def test_command_help_shows_usage(self):
        for name in COMMANDS:
            with self.subTest(command=name):
                code, stdout, stderr = run_wharfctl([name, "--help"])
                self.assertEqual(code, 0, stderr)
                self.assertIn("Usage: wharfctl %s" % name, stdout)
                self.assertIn("--url URL", stdout)
                self.assertEqual(stderr, "")

    def test_bad_flag_exits_2_with_usage(self):
        url = "http://127.0.0.1:%d" % closed_port()
        cases = [
            (["send", "--bogus"], "unknown option --bogus"),
            (["logs", "hook", "--limit", "many"], "--limit must be an integer"),
            (["logs", "hook", "--follow=yes"], "takes no value"),
            (["send", "--segment", "s"], "missing --to"),
            (["send", "--segment", "s", "--user", "u", "--to", "c"], "exactly one of"),
            (["send", "--to"], "--to needs a value"),
            (["batch"], "one batch id"),
            (["connectors", "rename", "x"], "unknown action"),
            (["--timeout", "soon", "plugins"], "--timeout must be a number"),
            (["frobnicate"], "unknown command"),
            ([], "missing the command"),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                code, stdout, stderr = run_wharfctl(["--url", url, *args])
                self.assertEqual(code, 2, "stdout %r stderr %r" % (stdout, stderr))
                self.assertIn(expected, stderr)
                self.assertIn("Usage: wharfctl", stderr)
                self.assertEqual(stdout, "")

    def test_logs_bad_message_lists_valid_names(self):
        url = "http://127.0.0.1:%d" % closed_port()
        for message in ("outgoing.user.skipped", "OUTGOING.USER.SKIP", ""):
            with self.subTest(message=message):
                code, stdout, stderr = run_wharfctl(["--url", url, "logs", "hook",
                                                     "--message", message])
                self.assertEqual(code, 2, "stdout %r stderr %r" % (stdout, stderr))
                self.assertEqual(stdout, "")
                self.assertIn('invalid --message "%s": expected one of' % message, stderr)
                for name in LOG_MESSAGES:
                    self.assertIn(name, stderr)
                self.assertIn("Usage: wharfctl logs", stderr)

    def test_logs_bad_since_shows_both_forms(self):
        url = "http://127.0.0.1:%d" % closed_port()
        cases = ["yesterday", "30", "5w", "30M", "-5m", "+5m", " 5m", "5m ", "1.5h", "",
                 "3651d", "87601h", "99999999999999999999s", "2026-02-30T00:00:00Z",
                 "2026-12-04 20:00:00Z", "2026-12-04T20:00:00+01:00", "2026-12-04T24:00:00Z",
                 "2026-12-04T20:00Z", "26-12-04T20:00:00Z", "2026-12-04T20:00:00.Z",
                 "1969-12-31T23:59:59Z", "2026-12-04T20:00:00ZZ"]
        for since in cases:
            with self.subTest(since=since):
                code, stdout, stderr = run_wharfctl(["--url", url, "logs", "hook",
                                                     "--since", since])
                self.assertEqual(code, 2, "stdout %r stderr %r" % (stdout, stderr))
                self.assertEqual(stdout, "")
                self.assertIn('invalid --since "%s"' % since, stderr)
                self.assertIn("2026-12-04T20:00:00Z", stderr)
                self.assertIn("30m", stderr)
                self.assertIn("Usage: wharfctl logs", stderr)

    def test_logs_empty_entity_filters_are_usage_errors(self):
        url = "http://127.0.0.1:%d" % closed_port()
        for option in ("--user", "--account", "--batch"):
            with self.subTest(option=option):
                code, stdout, stderr = run_wharfctl(["--url", url, "logs", "hook", option, ""])
                self.assertEqual(code, 2, "stdout %r stderr %r" % (stdout, stderr))
                self.assertIn("%s needs a non-empty value" % option, stderr)

    def test_url_must_be_http(self):
        code, _, stderr = run_wharfctl(["--url", "ftp://127.0.0.1:1", "plugins"])
        self.assertEqual(code, 2)
        self.assertIn('--url must start with http:// or https://, got "ftp://127.0.0.1:1"', stderr)

        environment = wharfctl_environment()
        environment["WHARF_URL"] = "127.0.0.1:8080"
        code, _, stderr = run_wharfctl(["plugins"], environment=environment)
        self.assertEqual(code, 2)
        self.assertIn("WHARF_URL must start with http://", stderr)

    def test_connection_refused_explained(self):
        url = "http://127.0.0.1:%d" % closed_port()
        code, stdout, stderr = run_wharfctl(["--url", url, "segments"])
        self.assertEqual(code, 1)
        self.assertEqual(stdout, "")
        self.assertIn("cannot connect to wharfd at %s" % url, stderr)
        self.assertIn("Connection refused", stderr)
        self.assertIn("start wharfd", stderr)
        self.assertIn("--url", stderr)

    def test_timeout_names_the_limit(self):
        # A socket that listens but never responds: connecting succeeds
        # through the backlog, the response never comes.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(4)
            url = "http://127.0.0.1:%d" % silent.getsockname()[1]
            started = time.monotonic()
            code, _, stderr = run_wharfctl(["--url", url, "--timeout", "0.5", "segments"])
            elapsed = time.monotonic() - started
        self.assertEqual(code, 1, stderr)
        self.assertIn("GET %s/api/v1/segments timed out after 0.5 s" % url, stderr)
        self.assertIn("--timeout", stderr)
        self.assertLess(elapsed, harness.scaled(10))

    def test_wharf_url_environment_used(self):
        url = "http://127.0.0.1:%d" % closed_port()
        environment = wharfctl_environment()
        environment["WHARF_URL"] = url + "/"
        code, _, stderr = run_wharfctl(["plugins"], environment=environment)
        self.assertEqual(code, 1)
        self.assertIn("cannot connect to wharfd at %s:" % url, stderr)


class PluginsTest(WharfctlTestCase):
    fixtures = ("wrong_major",)

    def test_plugins_table_and_rejected_files(self):
        stdout = self.wharfctl_ok("plugins")
        lines = stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "VERSION", "ABI", "BATCH", "POLICY",
                                            "ENTITY", "TYPES"])
        webhook_rows = [line for line in lines if line.startswith("webhook ")]
        self.assertEqual(len(webhook_rows), 1, stdout)
        self.assertEqual(webhook_rows[0].split(), ["webhook", "1.0.0", "1.1", "ignores",
                                                   "whitelist", "users,", "accounts"])

        self.assertIn("Rejected plugin files:", stdout)
        rejected = self.service.plugins()["rejected"]
        self.assertEqual(len(rejected), 1, rejected)
        self.assertIn("  %s: %s" % (rejected[0]["file"], rejected[0]["reason"]), stdout)
        self.assertIn("ABI major 2", stdout)

    def test_plugins_json_is_the_api_body(self):
        stdout = self.wharfctl_ok("plugins", "--json")
        self.assertEqual(json.loads(stdout), self.service.plugins())


class ConnectorsTest(WharfctlTestCase):

    def test_create_list_delete(self):
        connector_id = self.create_webhook("CRM hook")
        self.assertRegex(connector_id, r"^[0-9a-f-]{36}$")
        status, stored = self.service.get("/api/v1/connectors/" + connector_id)
        self.assertEqual(status, 200, stored)
        self.assertEqual(stored["name"], "CRM hook")
        self.assertEqual(stored["settings"]["url"], self.recorder.url + "/hook")

        stdout = self.wharfctl_ok("connectors")
        self.assertEqual(stdout.splitlines()[0].split(),
                         ["ID", "NAME", "PLUGIN", "STATUS", "USER", "WHITELIST", "ACCOUNT",
                          "WHITELIST"])
        row = [line for line in stdout.splitlines() if line.startswith(connector_id)]
        self.assertEqual(len(row), 1, stdout)
        self.assertEqual(row[0].split(), [connector_id, "CRM", "hook", "webhook", "active",
                                          "none", "none"])

        listed = json.loads(self.wharfctl_ok("connectors", "--json"))
        self.assertEqual([c["id"] for c in listed["connectors"]], [connector_id])

        stdout = self.wharfctl_ok("connectors", "delete", "CRM hook")
        self.assertEqual(stdout, "deleted connector %s\n" % connector_id)
        status, _ = self.service.get("/api/v1/connectors/" + connector_id)
        self.assertEqual(status, 404)

    def test_whitelists_shown_by_segment_name(self):
        segment, _ = self.create_pro_segment("Pro users")
        connector_id = self.create_webhook("hook", synchronized_user_segments=[segment["id"]],
                                           synchronized_account_segments=["ALL"])
        stdout = self.wharfctl_ok("connectors")
        row = [line for line in stdout.splitlines() if line.startswith(connector_id)]
        self.assertEqual(len(row), 1, stdout)
        self.assertEqual(row[0].split()[-3:], ["Pro", "users", "ALL"])

    def test_create_rejected_by_api_shows_its_error(self):
        path = self.write_json("bad.json", {"name": "bad", "plugin": "webhook",
                                            "settings": {"url": "ftp://nowhere"}})
        code, stdout, stderr = self.wharfctl("connectors", "create", path)
        self.assertEqual(code, 1)
        self.assertEqual(stdout, "")
        self.assertRegex(stderr, r"^wharfctl: HTTP 400: .*url")
        status, body = self.service.get("/api/v1/connectors")
        self.assertEqual(body["connectors"], [])

    def test_create_from_bad_file_is_usage_error(self):
        def write_text(name, text):
            path = os.path.join(self.work_dir, name)
            with open(path, "w", encoding="utf-8") as file:
                file.write(text)
            return path

        cases = [
            (os.path.join(self.work_dir, "missing.json"), "cannot read"),
            (write_text("broken.json", '{"name": "x",'), "is not valid JSON"),
            (write_text("two.json", '{}\n{}\n'), "contains more than one JSON value"),
            (write_text("comma.json", '{"name": "x", "plugin": "webhook",}'),
             "is not valid JSON"),
            (write_text("number.json", "123"), "got a JSON int"),
            (self.write_json("list.json", [1, 2]), "must contain one JSON object"),
        ]
        for path, expected in cases:
            with self.subTest(path=path):
                code, _, stderr = self.wharfctl("connectors", "create", path)
                self.assertEqual(code, 2, stderr)
                self.assertIn(expected, stderr)
                self.assertIn(path, stderr)

    def test_delete_unknown_connector(self):
        code, _, stderr = self.wharfctl("connectors", "delete", "nope")
        self.assertEqual(code, 1)
        self.assertIn('connector "nope" not found', stderr)


class SegmentsTest(WharfctlTestCase):

    def test_segments_table(self):
        segment, _ = self.create_pro_segment("Pro users")
        stdout = self.wharfctl_ok("segments")
        lines = stdout.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "NAME", "TYPE", "STATUS", "SIZE"])
        self.assertEqual(len(lines), 2, stdout)
        self.assertEqual(lines[1].split(), [segment["id"], "Pro", "users", "users", "ready",
                                            str(len(PRO_USERS))])
        listed = json.loads(self.wharfctl_ok("--json", "segments"))
        self.assertEqual([s["id"] for s in listed["segments"]], [segment["id"]])


class SendTest(WharfctlTestCase):

    def test_send_segment_delivers_every_member(self):
        segment, pro_ids = self.create_pro_segment()
        connector_id = self.create_webhook()

        code, stdout, stderr = self.wharfctl("send", "--segment", "pros", "--to", "hook")
        self.assertEqual(code, 0, "stdout %r stderr %r" % (stdout, stderr))
        summary = parse_summary(self, stdout)
        self.assertEqual(summary["state"], "done")
        self.assertEqual((summary["total"], summary["sent"], summary["skipped"],
                          summary["failed"]), (len(PRO_USERS), len(PRO_USERS), 0, 0))
        self.wait_for_exported([external_id for external_id, _ in PRO_USERS])

        # stderr is a pipe here: one line per state change, no bar.
        self.assertNotIn("\r", stderr)
        self.assertIn("batch %s: done\n" % summary["id"], stderr)
        state_lines = [line for line in stderr.splitlines() if line.startswith("batch ")]
        self.assertEqual(len(state_lines), len(set(state_lines)), stderr)

        status, view = self.service.get("/api/v1/batches/" + summary["id"])
        self.assertEqual(status, 200, view)
        self.assertEqual(view["segment_id"], segment["id"])
        self.assertEqual(view["connector_id"], connector_id)
        self.assertEqual(view["sent"], len(PRO_USERS))

        stdout = self.wharfctl_ok("batches", "hook")
        rows = [line.split() for line in stdout.splitlines()[1:]]
        self.assertEqual(len(rows), 1, stdout)
        self.assertEqual(rows[0][:8], [summary["id"], "segment", segment["id"], "done",
                                       str(len(PRO_USERS)), str(len(PRO_USERS)), "0", "0"])

        stdout = self.wharfctl_ok("batch", summary["id"])
        self.assertIn("state:      done\n", stdout)
        self.assertIn("sent:       %d\n" % len(PRO_USERS), stdout)
        self.assertIn("target:     segment %s\n" % segment["id"], stdout)
        self.assertEqual(json.loads(self.wharfctl_ok("batch", summary["id"], "--json")), view)

    def test_send_user_by_id_and_external_id(self):
        _, pro_ids = self.create_pro_segment()
        connector_id = self.create_webhook()

        stdout = self.wharfctl_ok("send", "--user", pro_ids["pro-3"], "--to", connector_id)
        summary = parse_summary(self, stdout)
        self.assertEqual((summary["state"], summary["total"], summary["sent"]), ("done", 1, 1))
        self.wait_for_exported(["pro-3"])

        stdout = self.wharfctl_ok("send", "--user", "free2@example.com", "--to", "hook")
        self.assertEqual(parse_summary(self, stdout)["sent"], 1)
        self.wait_for_exported(["pro-3", "free-2"])

        status, view = self.service.get("/api/v1/batches/" + parse_summary(self, stdout)["id"])
        self.assertEqual(status, 200, view)
        status, users = self.service.get("/api/v1/users?external_id=free-2")
        self.assertEqual(view["user_id"], users["users"][0]["id"])

    def test_send_account_by_domain(self):
        status, account = self.service.post("/api/v1/accounts", {
            "claims": {"external_id": "acme", "domain": "acme.example.com"}})
        self.assertEqual(status, 200, account)
        self.create_webhook()

        stdout = self.wharfctl_ok("send", "--account", "acme.example.com", "--to", "hook")
        summary = parse_summary(self, stdout)
        self.assertEqual((summary["state"], summary["sent"]), ("done", 1))
        self.wait_for_exported(["acme"], entity="account")

    def test_send_json_prints_final_view(self):
        self.create_pro_segment()
        self.create_webhook()
        code, stdout, stderr = self.wharfctl("send", "--segment", "pros", "--to", "hook",
                                             "--json")
        self.assertEqual(code, 0, stderr)
        view = json.loads(stdout)
        self.assertEqual(view["state"], "done")
        self.assertEqual(view["sent"], len(PRO_USERS))
        status, stored = self.service.get("/api/v1/batches/" + view["id"])
        self.assertEqual(stored, view)

    def test_send_no_wait_returns_created_batch(self):
        self.create_pro_segment()
        self.create_webhook()
        stdout = self.wharfctl_ok("send", "--segment", "pros", "--to", "hook", "--no-wait")
        summary = parse_summary(self, stdout)
        self.assertIn(summary["state"], ("waiting_for_segment", "sending", "done"))
        self.service.wait_until(
            lambda: self.service.get("/api/v1/batches/" + summary["id"])[1]["state"] == "done",
            timeout=10)

    def test_failed_batch_exits_1_with_error(self):
        self.create_pro_segment()
        self.create_webhook()
        # 400 is final for the webhook plugin: no retry, every message fails.
        self.recorder.set_default(status=400, body={"error": "rejected by the test"})

        code, stdout, stderr = self.wharfctl("send", "--segment", "pros", "--to", "hook")
        self.assertEqual(code, 1, "stdout %r stderr %r" % (stdout, stderr))
        summary = parse_summary(self, stdout)
        self.assertEqual((summary["state"], summary["sent"], summary["failed"]),
                         ("failed", 0, len(PRO_USERS)))
        self.assertIn("wharfctl: batch %s failed: every message failed" % summary["id"], stderr)
        self.assertIn("see why with 'wharfctl logs %s --batch %s'"
                      % (batch_connector(self, summary), summary["id"]), stderr)

    def test_done_with_failures_exits_0_with_hint(self):
        self.create_pro_segment()
        # One message per request, and the first request gets a final 400.
        connector_id = self.create_webhook(settings={"url": self.recorder.url + "/hook",
                                                     "batch_size": 1})
        self.recorder.push_response(status=400, body={"error": "rejected by the test"})

        code, stdout, stderr = self.wharfctl("send", "--segment", "pros", "--to", "hook")
        self.assertEqual(code, 0, "stdout %r stderr %r" % (stdout, stderr))
        summary = parse_summary(self, stdout)
        self.assertEqual((summary["state"], summary["sent"], summary["failed"]),
                         ("done", len(PRO_USERS) - 1, 1))
        self.assertIn("wharfctl: some messages failed; see why with 'wharfctl logs %s --batch %s'"
                      % (connector_id, summary["id"]), stderr)

    def test_progress_bar_on_terminal(self):
        self.create_pro_segment()
        self.create_webhook()
        controller, terminal = pty.openpty()
        try:
            process = subprocess.Popen(
                wharfctl_command(["--url", self.service.url, "send", "--segment", "pros",
                                  "--to", "hook"]),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal,
                env=wharfctl_environment())
        finally:
            os.close(terminal)
        try:
            screen = self.read_terminal(controller, process)
            stdout, _ = process.communicate(timeout=harness.scaled(COMMAND_TIMEOUT_SECONDS))
        finally:
            os.close(controller)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

        assert_no_sanitizer_report(["send (on a terminal)"], screen)
        self.assertEqual(process.returncode, 0, screen)
        self.assertEqual(parse_summary(self, stdout.decode())["state"], "done")
        # A carriage return without a newline redraws the bar in place (the
        # terminal turns every "\n" into "\r\n").
        self.assertRegex(screen, "\r(?!\n)")
        self.assertIn("done [%s] 100%% %d/%d" % ("#" * 24, len(PRO_USERS), len(PRO_USERS)),
                      screen)
        self.assertNotIn("batch %s: done" % parse_summary(self, stdout.decode())["id"], screen)

    def test_ctrl_c_stops_waiting_batch_goes_on(self):
        self.create_pro_segment()
        self.create_webhook()
        # The destination delays every response, so the batch stays in sending.
        self.recorder.set_default(status=200, body={}, delay=harness.scaled(20))

        process = subprocess.Popen(
            wharfctl_command(["--url", self.service.url, "send", "--segment", "pros",
                              "--to", "hook"]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=wharfctl_environment())
        stderr_reader = LineReader(process.stderr)
        self.addCleanup(stop_process, process, [stderr_reader])
        sending = stderr_reader.wait_for(lambda line: ": sending " in line, FOLLOW_LINE_SECONDS)
        batch_id = re.match(r"batch (\S+): sending", sending).group(1)
        self.recorder.wait_for_requests(1, timeout=harness.scaled(10))

        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=harness.scaled(10))
        except subprocess.TimeoutExpired:
            self.fail("wharfctl send did not exit within 10 s of SIGINT")
        stderr_reader.wait_for(lambda line: "stopped waiting" in line, 5)
        self.assertEqual(code, 130, stderr_reader.seen)
        self.assertIn("wharfctl: stopped waiting; batch %s goes on in wharfd: check it with "
                      "'wharfctl batch %s'" % (batch_id, batch_id), stderr_reader.seen)
        self.assertEqual(process.stdout.read(), "")
        status, view = self.service.get("/api/v1/batches/" + batch_id)
        self.assertEqual((status, view["state"]), (200, "sending"))

    @staticmethod
    def read_terminal(controller, process):
        """Everything written to the pseudo-terminal until the process closes it."""
        chunks = []
        deadline = time.monotonic() + harness.scaled(COMMAND_TIMEOUT_SECONDS)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(controller, 4096)
            except OSError:
                # Linux raises EIO once the last writer closed the terminal.
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks).decode("utf-8", errors="replace")

    def test_names_unknown_and_ambiguous(self):
        self.create_pro_segment()
        # Segment names are unique, so the ambiguous name is a connector's.
        data_client.ready_segment(self, self.service, "twice", "users", {"all": []})
        status, body = self.service.post("/api/v1/segments", {
            "name": "twice", "type": "users", "query": {"all": []}})
        self.assertEqual(status, 409, body)
        self.create_webhook()
        self.create_webhook(name="twin")
        self.create_webhook(name="twin")

        cases = [
            (["--segment", "nope", "--to", "hook"],
             'segment "nope" not found: no segment has that id or name'),
            (["--segment", "pros", "--to", "twin"],
             'connector name "twin" is ambiguous: 2 connectors have it'),
            (["--segment", "pros", "--to", "nowhere"],
             'connector "nowhere" not found'),
            (["--user", "nobody@example.com", "--to", "hook"],
             'user "nobody@example.com" not found: no user has that id, external_id or email'),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                code, stdout, stderr = self.wharfctl("send", *args)
                self.assertEqual(code, 1, stderr)
                self.assertIn(expected, stderr)
                self.assertEqual(stdout, "")
        self.assertEqual(self.recorder.requests, [])


class RequiresWhitelistTest(WharfctlTestCase):
    plugins = ()
    fixtures = ("requires_whitelist",)

    def test_rejected_batch_exits_1_naming_setting(self):
        segment, _ = self.create_pro_segment()
        path = self.write_json("strict.json", {"name": "strict",
                                               "plugin": "fixture-requires-whitelist"})
        self.wharfctl_ok("connectors", "create", path)

        code, stdout, stderr = self.wharfctl("send", "--segment", "pros", "--to", "strict")
        self.assertEqual(code, 1, "stdout %r stderr %r" % (stdout, stderr))
        summary = parse_summary(self, stdout)
        self.assertEqual((summary["state"], summary["sent"]), ("rejected", 0))
        self.assertIn("wharfctl: batch %s rejected:" % summary["id"], stderr)
        self.assertIn(segment["id"], stderr)
        self.assertIn("synchronized_user_segments", stderr)


class ErrorsTest(WharfctlTestCase):

    def test_api_404_shown_as_given(self):
        code, stdout, stderr = self.wharfctl("batch", "no-such-batch")
        self.assertEqual(code, 1)
        self.assertEqual(stdout, "")
        self.assertEqual(stderr, 'wharfctl: HTTP 404: batch "no-such-batch" not found\n')

    def test_malformed_since_is_usage_error(self):
        self.create_webhook()
        code, stdout, stderr = self.wharfctl("logs", "hook", "--since", "yesterday")
        self.assertEqual(code, 2, stderr)
        self.assertEqual(stdout, "")
        self.assertTrue(stderr.startswith(
            'wharfctl: invalid --since "yesterday": give an ISO 8601 UTC time such as '
            '2026-12-04T20:00:00Z, or an age such as 90s, 30m, 2h or 7d (at most 3650d)\n'), stderr)
        self.assertNotIn("HTTP 400", stderr)


class LogsTest(WharfctlTestCase):

    def send_segment(self):
        stdout = self.wharfctl_ok("send", "--segment", "pros", "--to", "hook")
        return parse_summary(self, stdout)

    def test_logs_show_success_lines(self):
        _, pro_ids = self.create_pro_segment()
        self.create_webhook()
        batch = self.send_segment()

        stdout = self.wharfctl_ok("logs", "hook", "--message", "outgoing.user.success")
        lines = [parse_log_line(line) for line in stdout.splitlines()]
        self.assertEqual(sorted(line["identity"] for line in lines),
                         sorted(external_id for external_id, _ in PRO_USERS))
        for line in lines:
            self.assertEqual(line["message"], "outgoing.user.success")
            self.assertEqual(line["entity_id"], pro_ids[line["identity"]])
            self.assertEqual(line["batch_id"], batch["id"])
            self.assertEqual(line["data"]["status_code"], 200)
            self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertEqual([line["time"] for line in lines], sorted(line["time"] for line in lines))

    def test_logs_filters(self):
        _, pro_ids = self.create_pro_segment()
        self.create_webhook()
        batch = self.send_segment()

        stdout = self.wharfctl_ok("logs", "hook", "--user", pro_ids["pro-2"], "--batch",
                                  batch["id"])
        messages = [parse_log_line(line)["message"] for line in stdout.splitlines()]
        self.assertEqual(messages, ["outgoing.user.start", "outgoing.user.success"])

        stdout = self.wharfctl_ok("logs", "hook", "--message", "outgoing.user.success",
                                  "--limit", "2")
        self.assertEqual(len(stdout.splitlines()), 2, stdout)

        stdout = self.wharfctl_ok("logs", "hook", "--message", "outgoing.user.success",
                                  "--since", "1h")
        self.assertEqual(len(stdout.splitlines()), len(PRO_USERS), stdout)
        stdout = self.wharfctl_ok("logs", "hook", "--since", "2999-01-01T00:00:00Z")
        self.assertEqual(stdout, "")

        body = json.loads(self.wharfctl_ok("logs", "hook", "--json", "--message",
                                           "outgoing.user.success"))
        status, expected = self.service.get(
            "/api/v1/connectors/%s/logs?message=outgoing.user.success"
            % batch_connector(self, batch))
        self.assertEqual(status, 200)
        self.assertEqual(body, expected)

    def test_logs_user_by_external_id_or_email(self):
        _, pro_ids = self.create_pro_segment()
        self.create_webhook()
        batch = self.send_segment()

        by_id = self.wharfctl_ok("logs", "hook", "--user", pro_ids["pro-2"], "--batch",
                                 batch["id"])
        self.assertEqual([parse_log_line(line)["message"] for line in by_id.splitlines()],
                         ["outgoing.user.start", "outgoing.user.success"])
        for reference in ("pro-2", "pro2@example.com"):
            with self.subTest(reference=reference):
                stdout = self.wharfctl_ok("logs", "hook", "--user", reference, "--batch",
                                          batch["id"])
                self.assertEqual(stdout, by_id)

    def test_logs_account_by_external_id_or_domain(self):
        status, account = self.service.post("/api/v1/accounts", {
            "claims": {"external_id": "acme", "domain": "acme.example.com"}})
        self.assertEqual(status, 200, account)
        self.create_webhook()
        self.wharfctl_ok("send", "--account", "acme", "--to", "hook")

        by_id = self.wharfctl_ok("logs", "hook", "--account", account["id"], "--message",
                                 "outgoing.account.success")
        lines = [parse_log_line(line) for line in by_id.splitlines()]
        self.assertEqual([(line["identity"], line["entity_id"]) for line in lines],
                         [("acme", account["id"])])
        for reference in ("acme", "acme.example.com"):
            with self.subTest(reference=reference):
                stdout = self.wharfctl_ok("logs", "hook", "--account", reference, "--message",
                                          "outgoing.account.success")
                self.assertEqual(stdout, by_id)

    def test_logs_unknown_user_or_account_not_found(self):
        self.create_pro_segment()
        self.create_webhook()
        self.send_segment()
        cases = [
            (["--user", "nobody@example.com"],
             'user "nobody@example.com" not found: no user has that id, external_id or email'),
            (["--user", "pro-99"], 'user "pro-99" not found'),
            (["--account", "nowhere.example.com"],
             'account "nowhere.example.com" not found: no account has that id, external_id '
             'or domain'),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                code, stdout, stderr = self.wharfctl("logs", "hook", *args)
                self.assertEqual(code, 1, "stdout %r stderr %r" % (stdout, stderr))
                self.assertEqual(stdout, "")
                self.assertIn(expected, stderr)
                self.assertIn("give its id", stderr)

    def test_logs_unknown_id_kept_as_filter(self):
        _, pro_ids = self.create_pro_segment()
        self.create_webhook()
        self.send_segment()
        # An id that no user has, such as that of a user merged away, still
        # filters: it matches no line here, and is not an error.
        missing = "00000000-0000-4000-8000-000000000000"
        self.assertNotIn(missing, pro_ids.values())
        for option in ("--user", "--account"):
            with self.subTest(option=option):
                code, stdout, stderr = self.wharfctl("logs", "hook", option, missing)
                self.assertEqual((code, stdout, stderr), (0, "", ""))

    def test_logs_user_with_uuid_external_id(self):
        external_id = "5f0c6d1e-8a43-4b8e-9a51-2d7e3f6a9b10"
        ids = self.create_users([(external_id, "uuid@example.com")], "pro")
        self.create_webhook()
        self.wharfctl_ok("send", "--user", external_id, "--to", "hook")

        stdout = self.wharfctl_ok("logs", "hook", "--user", external_id, "--message",
                                  "outgoing.user.success")
        lines = [parse_log_line(line) for line in stdout.splitlines()]
        self.assertEqual(len(lines), 1, stdout)
        self.assertEqual(lines[0]["entity_id"], ids[external_id])

    def test_logs_since_forms_accepted(self):
        self.create_pro_segment()
        self.create_webhook()
        self.send_segment()
        for since in ("2000-01-01T00:00:00Z", "2000-01-01T00:00:00.250Z",
                      "2000-01-01T00:00:00", "3650d", "1h"):
            with self.subTest(since=since):
                stdout = self.wharfctl_ok("logs", "hook", "--message",
                                          "outgoing.user.success", "--since", since)
                self.assertEqual(len(stdout.splitlines()), len(PRO_USERS), stdout)
        stdout = self.wharfctl_ok("logs", "hook", "--since", "2999-12-31T23:59:59.999Z")
        self.assertEqual(stdout, "")

    def test_follow_prints_new_lines_until_sigint(self):
        _, pro_ids = self.create_pro_segment()
        self.create_webhook()
        self.wharfctl_ok("send", "--user", pro_ids["pro-1"], "--to", "hook")

        process = subprocess.Popen(
            wharfctl_command(["--url", self.service.url, "logs", "hook", "--message",
                              "outgoing.user.success", "--follow"]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=wharfctl_environment())
        reader = LineReader(process.stdout)
        self.addCleanup(stop_process, process, [reader])

        # The line written before the start comes first: following has begun.
        reader.wait_for(lambda line: pro_ids["pro-1"] in line, FOLLOW_LINE_SECONDS)

        stdout = self.wharfctl_ok("send", "--user", pro_ids["pro-5"], "--to", "hook")
        batch = parse_summary(self, stdout)
        line = reader.wait_for(lambda line: pro_ids["pro-5"] in line, FOLLOW_LINE_SECONDS)
        parsed = parse_log_line(line)
        self.assertEqual((parsed["message"], parsed["identity"], parsed["batch_id"]),
                         ("outgoing.user.success", "pro-5", batch["id"]))

        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=harness.scaled(10))
        except subprocess.TimeoutExpired:
            self.fail("wharfctl logs --follow did not exit within 10 s of SIGINT")
        stderr = process.stderr.read()
        assert_no_sanitizer_report(["logs --follow"], stderr)
        self.assertEqual(code, 0, stderr)
        self.assertEqual(len([seen for seen in reader.seen if pro_ids["pro-1"] in seen]), 1,
                         reader.seen)



def stop_process(process, readers):
    """Kill process if it still runs, let readers reach the end of their pipes, close the pipes."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    for reader in readers:
        reader.join(10)
    process.stdout.close()
    process.stderr.close()


def batch_connector(test, batch):
    status, view = test.service.get("/api/v1/batches/" + batch["id"])
    test.assertEqual(status, 200, view)
    return view["connector_id"]


if __name__ == "__main__":
    unittest.main()
