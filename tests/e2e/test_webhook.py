"""End-to-end tests of the bundled webhook plugin against a recording server.

Each test starts wharfd with only webhook.so in its plugins dir and a
Recorder on 127.0.0.1, creates a webhook connector pointing at the recorder
and drives it through POST /api/v1/connectors/{id}/test, which sends one
sample message and returns the per-message results once the request is done.
"""

import email.utils
import json
import socket
import threading
import time
import unittest

import harness
from recorder import Recorder

AUTHORIZATION = "Bearer SECRET-TOKEN-123"
# The part of the header value that must never be shown or logged.
TOKEN = "SECRET-TOKEN-123"

CONNECTORS_PATH = "/api/v1/connectors"

CONCURRENT_TESTS = 8
SEQUENTIAL_TESTS = 5
CONNECTION_LIMIT = 2
RECORDER_DELAY_SECONDS = 0.3


def connector_path(connector_id, suffix=""):
    return "%s/%s%s" % (CONNECTORS_PATH, connector_id, suffix)


def closed_port():
    """Return a loopback port that was just bound and closed, so nothing listens on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebhookTestCase(harness.ServiceTestCase):
    """Starts a Recorder and wharfd (debug logs) with the webhook plugin only.

    Every API response goes through call(), which fails the test when the
    secret token appears in it. After each test wharfd's stderr is checked too.
    """

    def setUp(self):
        self.recorder = Recorder().start()
        self.addCleanup(self.recorder.shutdown)
        plugins_dir = harness.make_plugins_dir(self, bundled=["webhook"])
        self.service = self.start_wharfd(plugins_dir=plugins_dir,
                                         args=["--log-level", "debug"])
        self.addCleanup(self.assert_no_token_in_stderr)

    def assert_no_token_in_stderr(self):
        self.assertNotIn(TOKEN, self.service.stderr_text(),
                         "the Authorization header value appeared on wharfd's stderr")

    def call(self, method, path, body=None, timeout=10):
        status, _, response_body = self.service.request(method, path, body=body,
                                                        timeout=timeout)
        text = json.dumps(response_body) if not isinstance(response_body, bytes) \
            else response_body.decode("utf-8", errors="replace")
        self.assertNotIn(TOKEN, text, "%s %s returned the secret header value: %s"
                         % (method, path, text))
        return status, response_body

    def hook_url(self):
        return self.recorder.url + "/hook"

    def webhook_body(self, name="hook", headers=True, max_connections=None, **settings):
        """Build a webhook connector body. Keyword settings override url and the Authorization header."""
        values = {"url": self.hook_url()}
        if headers:
            values["headers"] = {"Authorization": AUTHORIZATION}
        values.update(settings)
        body = {"plugin": "webhook", "name": name, "settings": values}
        if max_connections is not None:
            body["max_connections"] = max_connections
        return body

    def create_webhook(self, **kwargs):
        status, body = self.call("POST", CONNECTORS_PATH, self.webhook_body(**kwargs))
        self.assertEqual(status, 201, body)
        return body

    def run_test_message(self, connector_id, timeout=10):
        """Run POST .../test and return (message, its only result)."""
        status, body = self.call("POST", connector_path(connector_id, "/test"),
                                 timeout=timeout)
        self.assertEqual(status, 200, body)
        self.assertIsInstance(body.get("message"), dict, body)
        self.assertEqual(len(body["results"]), 1, body)
        return body["message"], body["results"][0]

    def assert_rejected(self, body, setting):
        status, response = self.call("POST", CONNECTORS_PATH, body)
        self.assertEqual(status, 400, response)
        self.assertIn(setting, response.get("error", ""), response)
        return response["error"]


class WebhookDeliveryTest(WebhookTestCase):

    def test_success_posts_json_array(self):
        created = self.create_webhook()
        self.assertEqual(created["status"], "active", created)
        self.assertEqual(created["settings"], {"url": self.hook_url(), "batch_size": 100,
                                               "timeout_ms": 10000})
        self.assertEqual(created["secret_settings"], ["headers"])

        message, result = self.run_test_message(created["id"])

        self.assertEqual(result["result"], "success", result)
        self.assertEqual(result["status_code"], 200)
        self.assertIsNone(result["retry_after_ms"])
        self.assertIsNone(result["reason"])

        requests = self.recorder.requests
        self.assertEqual(len(requests), 1, requests)
        request = requests[0]
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/hook")
        self.assertEqual(request.headers.get("Content-Type", "").split(";")[0].strip(),
                         "application/json")
        self.assertEqual(request.headers.get("Authorization"), AUTHORIZATION)
        self.assertEqual(request.json(), [message])
        self.assertEqual(message["type"], "user")
        self.assertIn("message_id", message)

    def test_secret_header_hidden_in_responses(self):
        created = self.create_webhook()
        connector_id = created["id"]

        status, fetched = self.call("GET", connector_path(connector_id))
        self.assertEqual(status, 200, fetched)
        self.assertNotIn("headers", fetched["settings"])
        status, listed = self.call("GET", CONNECTORS_PATH)
        self.assertEqual(status, 200, listed)
        self.assertEqual([c["id"] for c in listed["connectors"]], [connector_id])
        status, updated = self.call("PUT", connector_path(connector_id),
                                    self.webhook_body(name="renamed", timeout_ms=5000))
        self.assertEqual(status, 200, updated)
        self.assertNotIn("headers", updated["settings"])
        self.assertEqual(updated["secret_settings"], ["headers"])

        # A failing request logs its reason, which must not contain the header value.
        self.recorder.push_response(400, body="rejected")
        self.run_test_message(connector_id)

    def test_secret_header_kept_by_put_and_restart(self):
        created = self.create_webhook()
        connector_id = created["id"]

        status, updated = self.call("PUT", connector_path(connector_id),
                                    self.webhook_body(name="renamed", headers=False))
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["secret_settings"], ["headers"])
        _, result = self.run_test_message(connector_id)
        self.assertEqual(result["result"], "success", result)
        self.assertEqual(self.recorder.requests[-1].headers.get("Authorization"),
                         AUTHORIZATION, "PUT without headers dropped the stored headers")

        self.assert_no_token_in_stderr()
        self.service.restart()
        _, result = self.run_test_message(connector_id)
        self.assertEqual(result["result"], "success", result)
        self.assertEqual(self.recorder.requests[-1].headers.get("Authorization"),
                         AUTHORIZATION, "the stored headers were lost on restart")

        # An explicit null removes the secret, so the header is no longer sent.
        body = self.webhook_body(name="renamed", headers=False)
        body["settings"]["headers"] = None
        status, cleared = self.call("PUT", connector_path(connector_id), body)
        self.assertEqual(status, 200, cleared)
        _, result = self.run_test_message(connector_id)
        self.assertEqual(result["result"], "success", result)
        self.assertNotIn("Authorization", self.recorder.requests[-1].headers)


class WebhookResultTest(WebhookTestCase):

    def setUp(self):
        super().setUp()
        self.connector_id = self.create_webhook()["id"]

    def result_for(self, status, body=b"", headers=None):
        self.recorder.push_response(status, body=body, headers=headers)
        _, result = self.run_test_message(self.connector_id)
        return result

    def test_500_is_retry(self):
        result = self.result_for(500, body="internal error")

        self.assertEqual(result["result"], "retry", result)
        self.assertEqual(result["status_code"], 500)
        self.assertIsNone(result["retry_after_ms"])
        self.assertIn("500", result["reason"])

    def test_429_retry_after_seconds(self):
        result = self.result_for(429, headers={"Retry-After": "7"})

        self.assertEqual(result["result"], "retry", result)
        self.assertEqual(result["status_code"], 429)
        self.assertEqual(result["retry_after_ms"], 7000)

    def test_503_retry_after_http_date(self):
        # HTTP dates have whole seconds, so the delay lies between about 4
        # and 5 seconds, minus the time the request took.
        retry_at = email.utils.formatdate(time.time() + 5, usegmt=True)

        result = self.result_for(503, headers={"Retry-After": retry_at})

        self.assertEqual(result["result"], "retry", result)
        self.assertEqual(result["status_code"], 503)
        self.assertIsInstance(result["retry_after_ms"], int, result)
        self.assertGreaterEqual(result["retry_after_ms"], 3000, result)
        self.assertLessEqual(result["retry_after_ms"], 6000, result)

    def test_408_is_retry(self):
        result = self.result_for(408)

        self.assertEqual(result["result"], "retry", result)
        self.assertEqual(result["status_code"], 408)

    def test_400_is_error_with_body(self):
        result = self.result_for(400, body="bad field email")

        self.assertEqual(result["result"], "error", result)
        self.assertEqual(result["status_code"], 400)
        self.assertIsNone(result["retry_after_ms"])
        self.assertIn("400", result["reason"])
        self.assertIn("bad field email", result["reason"])

    def test_long_error_body_cut(self):
        body = "x" * 150 + "y" * 150

        result = self.result_for(422, body=body)

        self.assertEqual(result["result"], "error", result)
        self.assertIn("x" * 150 + "y" * 50, result["reason"])
        self.assertNotIn("y" * 51, result["reason"])

    def test_301_is_error_not_followed(self):
        result = self.result_for(301, headers={"Location": self.recorder.url + "/moved"})

        self.assertEqual(result["result"], "error", result)
        self.assertEqual(result["status_code"], 301)
        self.assertIn("301", result["reason"])
        self.assertEqual([r.path for r in self.recorder.requests], ["/hook"])

    def test_204_is_success(self):
        result = self.result_for(204)

        self.assertEqual(result["result"], "success", result)
        self.assertEqual(result["status_code"], 204)


class WebhookTransportTest(WebhookTestCase):

    def test_connection_refused_is_retry(self):
        created = self.create_webhook(url="http://127.0.0.1:%d/hook" % closed_port())

        _, result = self.run_test_message(created["id"])

        self.assertEqual(result["result"], "retry", result)
        self.assertIn("transport", result["reason"])
        self.assertIsNone(result["retry_after_ms"])

    def test_timeout_is_retry(self):
        created = self.create_webhook(timeout_ms=300)
        self.recorder.push_response(200, delay=2.0)

        started = time.monotonic()
        _, result = self.run_test_message(created["id"])
        elapsed = time.monotonic() - started

        self.assertEqual(result["result"], "retry", result)
        reason = result["reason"].lower()
        self.assertTrue("timed out" in reason or "timeout" in reason, result)
        self.assertLess(elapsed, harness.scaled(1.8),
                        "the /test call took %.2f s; the 300 ms timeout was not applied"
                        % elapsed)

    def test_dropped_connection_is_retry(self):
        created = self.create_webhook()
        self.recorder.push_response(close_without_response=True)

        _, result = self.run_test_message(created["id"])

        self.assertEqual(result["result"], "retry", result)
        self.assertIn("transport", result["reason"])


class WebhookSettingsTest(WebhookTestCase):

    def test_non_http_url_rejected(self):
        error = self.assert_rejected(self.webhook_body(url="ftp://x"), "url")
        self.assertIn("http://", error)

    def test_batch_size_out_of_range(self):
        for value in (0, 1001):
            with self.subTest(batch_size=value):
                error = self.assert_rejected(self.webhook_body(batch_size=value), "batch_size")
                self.assertIn(str(value), error)

    def test_batch_size_limits_accepted(self):
        for value in (1, 1000):
            with self.subTest(batch_size=value):
                created = self.create_webhook(batch_size=value)
                self.assertEqual(created["settings"]["batch_size"], value)

    def test_missing_url_rejected(self):
        body = self.webhook_body()
        del body["settings"]["url"]

        error = self.assert_rejected(body, "url")

        self.assertIn("required", error)

    def test_header_value_not_in_error(self):
        # A line break in a header value is rejected, and call() checks
        # that the error names the header without echoing its value.
        body = self.webhook_body(headers=False)
        body["settings"]["headers"] = {"Authorization": TOKEN + "\r\nX-Injected: 1"}

        error = self.assert_rejected(body, "headers")

        self.assertIn("Authorization", error)

    def test_rejected_settings_leave_no_connector(self):
        self.assert_rejected(self.webhook_body(url="ftp://x"), "url")

        status, listed = self.call("GET", CONNECTORS_PATH)
        self.assertEqual(status, 200, listed)
        self.assertEqual(listed["connectors"], [])


class WebhookConnectionLimitTest(WebhookTestCase):

    def test_limit_and_keep_alive(self):
        created = self.create_webhook(max_connections=CONNECTION_LIMIT)
        self.recorder.set_default(200, body=b"{}", delay=RECORDER_DELAY_SECONDS)
        outcomes = [None] * CONCURRENT_TESTS

        def run_one(index):
            try:
                outcomes[index] = self.service.request(
                    "POST", connector_path(created["id"], "/test"), timeout=20)
            except Exception as error:  # reported by the assertions below
                outcomes[index] = error

        threads = [threading.Thread(target=run_one, args=(i,), name="test-call-%d" % i)
                   for i in range(CONCURRENT_TESTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(harness.scaled(30))
            self.assertFalse(thread.is_alive(), "a concurrent /test call did not finish")

        for index, outcome in enumerate(outcomes):
            with self.subTest(call=index):
                self.assertIsInstance(outcome, tuple, outcome)
                status, _, body = outcome
                self.assertEqual(status, 200, body)
                self.assertEqual([r["result"] for r in body["results"]], ["success"], body)
        self.assertEqual(len(self.recorder.requests), CONCURRENT_TESTS)
        self.assertLessEqual(self.recorder.max_concurrent, CONNECTION_LIMIT)
        self.assertLessEqual(self.recorder.connection_count, CONNECTION_LIMIT)
        connections_after_burst = self.recorder.connection_count

        self.recorder.set_default(200, body=b"{}")
        for index in range(SEQUENTIAL_TESTS):
            with self.subTest(sequential_call=index):
                _, result = self.run_test_message(created["id"])
                self.assertEqual(result["result"], "success", result)

        self.assertEqual(len(self.recorder.requests), CONCURRENT_TESTS + SEQUENTIAL_TESTS)
        self.assertEqual(self.recorder.connection_count, connections_after_burst,
                         "sequential requests opened new connections instead of reusing")


if __name__ == "__main__":
    unittest.main()
