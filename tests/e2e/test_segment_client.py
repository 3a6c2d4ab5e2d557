"""The Segment Tracking API of wharfd, driven by the official Segment Node.js
library (@segment/analytics-node, pinned in segment_client/package-lock.json)
and by raw HTTP requests for what the library never sends (gzip bodies,
missing or wrong write keys, invalid messages).

The library is installed with `npm ci` from the npm registry into a
temporary copy of segment_client/ unless segment_client/node_modules
already holds the locked version. node and npm must be on PATH.
"""

import base64
import gzip
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import unittest

from harness import ServiceTestCase, scaled

CLIENT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "segment_client")
WRITE_KEY = "wk_e2e_5f1c9a"
NPM_TIMEOUT = 240
NODE_TIMEOUT = 60


def _locked_version():
    with open(os.path.join(CLIENT_DIR, "package-lock.json"), encoding="utf-8") as lock_file:
        lock = json.load(lock_file)
    return lock["packages"]["node_modules/@segment/analytics-node"]["version"]


def _installed_version(directory):
    path = os.path.join(directory, "node_modules", "@segment", "analytics-node", "package.json")
    try:
        with open(path, encoding="utf-8") as package_file:
            return json.load(package_file)["version"]
    except (OSError, ValueError, KeyError):
        return None


def _require_tool(name):
    path = shutil.which(name)
    if path is None:
        raise AssertionError("%s is not on PATH; install Node.js 20 or later (Debian packages "
                             "nodejs and npm) to run the Segment client test" % name)
    return path


def install_client():
    """Return (directory holding send.js with its node_modules, temp dir to remove or None)."""
    if _installed_version(CLIENT_DIR) == _locked_version():
        return CLIENT_DIR, None

    npm = _require_tool("npm")
    directory = tempfile.mkdtemp(prefix="wharf-segment-client-")
    for name in ("package.json", "package-lock.json", "send.js"):
        shutil.copyfile(os.path.join(CLIENT_DIR, name), os.path.join(directory, name))
    command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline"]
    try:
        completed = subprocess.run(command, cwd=directory, capture_output=True, text=True,
                                   timeout=NPM_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        shutil.rmtree(directory, ignore_errors=True)
        raise AssertionError("npm ci did not finish within %d s; is the npm registry "
                             "reachable?" % NPM_TIMEOUT) from None
    if completed.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise AssertionError("npm ci failed with exit code %d:\n%s%s"
                             % (completed.returncode, completed.stdout, completed.stderr))
    return directory, directory


def basic_authorization(user, password=""):
    token = base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")
    return "Basic " + token


class SegmentClientTest(ServiceTestCase):
    """analytics-node sends identify, group and track calls to wharfd."""

    @classmethod
    def setUpClass(cls):
        cls.node = _require_tool("node")
        cls.client_dir, cls.temp_dir = install_client()

    @classmethod
    def tearDownClass(cls):
        if cls.temp_dir is not None:
            shutil.rmtree(cls.temp_dir, ignore_errors=True)

    def run_client(self, url, write_key, run_id):
        """Run send.js; return (exit code, its JSON report, stderr)."""
        try:
            completed = subprocess.run([self.node, "send.js", url, write_key, run_id],
                                       cwd=self.client_dir, capture_output=True, text=True,
                                       timeout=scaled(NODE_TIMEOUT), stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as expired:
            self.fail("send.js did not finish within %d s; output:\n%s%s"
                      % (scaled(NODE_TIMEOUT), expired.stdout, expired.stderr))
        lines = completed.stdout.strip().splitlines()
        self.assertTrue(lines, "send.js printed no report; stderr:\n%s" % completed.stderr)
        return completed.returncode, json.loads(lines[-1]), completed.stderr

    def lookup_one(self, service, kind, claim, value, timeout=10):
        """Wait until GET /api/v1/KIND?CLAIM=VALUE finds exactly one record and return it."""
        path = "/api/v1/%s?%s=%s" % (kind, claim, value)
        found = {}

        def one_found():
            status, body = service.get(path)
            self.assertEqual(status, 200, "GET %s returned %s: %r" % (path, status, body))
            found["records"] = body[kind]
            return len(body[kind]) == 1

        service.wait_until(one_found, timeout=timeout,
                           message="GET %s did not return one %s" % (path, kind[:-1]))
        return found["records"][0]

    def test_library_calls_arrive(self):
        service = self.start_wharfd(args=["--write-key", WRITE_KEY])
        run_id = "r" + secrets.token_hex(4)

        code, report, stderr = self.run_client(service.url, WRITE_KEY, run_id)
        self.assertEqual(report["errors"], [], "the library reported errors; stderr:\n" + stderr)
        self.assertEqual(report["calls"], 5)
        # flushAt 2 splits five calls into three requests.
        self.assertEqual(report["statuses"], [200, 200, 200])
        self.assertEqual(code, 0, stderr)

        user = self.lookup_one(service, "users", "external_id", run_id + "-user-1")
        attributes = user["attributes"]
        self.assertEqual(user["email"], "jose.muller+%s@example.com" % run_id)
        self.assertEqual(attributes["email"], "Jose.Muller+%s@Example.com" % run_id)
        self.assertEqual(attributes["name"], "Jos\u00e9 M\u00fcller")
        self.assertEqual(attributes["plan"], "pro")
        self.assertEqual(attributes["logins"], 3)
        self.assertEqual(attributes["address"], {"city": "Z\u00fcrich"})

        self.assertIsNotNone(user["account_id"], "the group call did not link the user")
        status, account = service.get("/api/v1/accounts/" + user["account_id"])
        self.assertEqual(status, 200, account)
        self.assertEqual(account["external_id"], run_id + "-acme")
        self.assertEqual(account["domain"], run_id + "-acme.example.com")
        self.assertEqual(account["attributes"]["name"], "Acme")
        self.assertEqual(account["attributes"]["employees"], 120)

        anonymous = self.lookup_one(service, "users", "anonymous_id", run_id + "-anon-1")
        self.assertEqual(anonymous["attributes"]["name"], "\u5c71\u7530\u592a\u90ce")
        self.assertIsNone(anonymous["external_id"])

        def both_events():
            status, body = service.get("/api/v1/users/%s/events" % user["id"])
            self.assertEqual(status, 200, body)
            return body["events"] if len(body["events"]) == 2 else None

        events = service.wait_until(both_events, timeout=10,
                                    message="the two track calls did not arrive as events")
        by_name = {event["event"]: event for event in events}
        self.assertEqual(sorted(by_name), ["Order Completed", "Signed In"])
        order = by_name["Order Completed"]
        self.assertEqual(order["properties"], {"total": 99.5, "currency": "EUR"})
        self.assertEqual(order["timestamp"], "2024-03-05T14:30:00.250Z")
        self.assertEqual(order["message_id"], run_id + "-order-1")
        self.assertEqual(by_name["Signed In"]["properties"], {"method": "password"})

    def test_wrong_write_key_rejected(self):
        service = self.start_wharfd(args=["--write-key", WRITE_KEY])
        run_id = "r" + secrets.token_hex(4)

        code, report, _ = self.run_client(service.url, "not-the-key", run_id)
        self.assertNotEqual(code, 0)
        self.assertEqual(report["statuses"], [401, 401, 401])
        self.assertTrue(report["errors"])

        status, body = service.get("/api/v1/users?external_id=%s-user-1" % run_id)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["users"], [])
        self.assertNotIn("not-the-key", service.stderr_text())


class RawSegmentRequestTest(ServiceTestCase):
    """Requests that the Segment libraries do not make, sent by hand."""

    def setUp(self):
        self.service = self.start_wharfd(args=["--write-key", WRITE_KEY])
        self.run_id = "r" + secrets.token_hex(4)

    def post(self, path, body, authorization=None, headers=None):
        request_headers = dict(headers or {})
        if authorization is not None:
            request_headers["Authorization"] = authorization
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            request_headers.setdefault("Content-Type", "application/json")
        status, _, response = self.service.request("POST", path, body=body,
                                                   headers=request_headers)
        return status, response

    def identify(self, user_id, **traits):
        return {"type": "identify", "userId": user_id, "traits": traits}

    def user_exists(self, external_id):
        status, body = self.service.get("/api/v1/users?external_id=" + external_id)
        self.assertEqual(status, 200, body)
        return len(body["users"]) == 1

    def test_gzip_detected_without_headers(self):
        user_id = self.run_id + "-gz"
        body = gzip.compress(json.dumps({"batch": [self.identify(user_id, plan="gz")]})
                             .encode("utf-8"))
        status, response = self.post("/v1/batch", body, basic_authorization(WRITE_KEY),
                                     headers={"Content-Type": "text/plain"})
        self.assertEqual((status, response), (200, {"success": True}))
        self.service.wait_until(lambda: self.user_exists(user_id), timeout=10)

    def test_truncated_gzip_rejected(self):
        body = gzip.compress(json.dumps({"batch": [self.identify("x")]}).encode("utf-8"))
        status, response = self.post("/v1/batch", body[:-6], basic_authorization(WRITE_KEY),
                                     headers={"Content-Encoding": "gzip"})
        self.assertEqual(status, 400, response)
        self.assertFalse(response["success"])
        self.assertIn("invalid gzip body", response["error"])

    def test_write_key_in_body_accepted(self):
        user_id = self.run_id + "-body-key"
        status, response = self.post("/v1/identify", {"userId": user_id, "writeKey": WRITE_KEY})
        self.assertEqual((status, response), (200, {"success": True}))
        self.service.wait_until(lambda: self.user_exists(user_id), timeout=10)

    def test_missing_or_wrong_key_gets_401(self):
        user_id = self.run_id + "-denied"
        status, response = self.post("/v1/identify", {"userId": user_id})
        self.assertEqual(status, 401, response)
        self.assertIn("missing write key", json.dumps(response))

        status, response = self.post("/v1/identify", {"userId": user_id},
                                     basic_authorization("guess-1234"))
        self.assertEqual(status, 401, response)
        self.assertIn("invalid write key", json.dumps(response))
        self.assertNotIn("guess-1234", json.dumps(response))
        self.assertNotIn(WRITE_KEY, json.dumps(response))
        self.assertFalse(self.user_exists(user_id))

        # An invalid body without a key is unauthenticated before it is invalid.
        status, response = self.post("/v1/batch", b"{\"batch\": [")
        self.assertEqual(status, 401, response)

    def test_rejected_message_reported_by_index(self):
        kept = self.run_id + "-kept"
        status, response = self.post("/v1/batch", {"batch": [
            self.identify(kept, plan="pro"),
            {"type": "track", "userId": kept},
        ]}, basic_authorization(WRITE_KEY))
        self.assertEqual(status, 200, response)
        self.assertTrue(response["success"])
        self.assertEqual(len(response["rejected"]), 1)
        self.assertEqual(response["rejected"][0]["index"], 1)
        self.assertIn("missing event", response["rejected"][0]["error"])
        self.service.wait_until(lambda: self.user_exists(kept), timeout=10)

    def test_invalid_bodies_get_400(self):
        cases = [
            (b"{\"batch\": [", "malformed JSON"),
            (b"[]", "must be a JSON object"),
            (b"{\"batch\": [] }" + b" " * (500 * 1024), "500 KB"),
        ]
        for body, expected in cases:
            with self.subTest(body=body[:20]):
                status, response = self.post("/v1/batch", body, basic_authorization(WRITE_KEY))
                self.assertEqual(status, 400, response)
                self.assertFalse(response["success"])
                self.assertIn(expected, response["error"])


if __name__ == "__main__":
    unittest.main()
