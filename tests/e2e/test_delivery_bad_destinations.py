"""Bad responses from destinations: each message gets a final log line with
a clear reason, failures become dead letters, and wharfd keeps running."""

import unittest

import fault_server
from sync_client import DeliveryTestCase

USERS = ["bad-input-%d" % number for number in range(3)]
SHORT_RETRIES = {"retry_base_ms": 50, "retry_cap_ms": 100, "max_attempts": 2}
FINAL_MESSAGES = ("outgoing.user.success", "outgoing.user.skip", "outgoing.user.error")

# Path of each connector's URL -> the fault the destination responds with.
FAULTS = {
    "/invalid-json": fault_server.invalid_json(),
    "/endless": fault_server.endless_body(),
    "/redirect": fault_server.redirect_loop(),
    "/error-payload": fault_server.error_payload("quota exceeded"),
    "/reset": fault_server.reset(),
}


class BadDestinationTest(DeliveryTestCase):

    def setUp(self):
        super().setUp()

        def route(request):
            fault = FAULTS[request.path]
            return fault.responder(request) if fault.responder is not None else fault

        self.recorder.set_behaviour(fault_server.Fault(responder=route))
        self.hooks = {}
        for path in FAULTS:
            self.hooks[path] = self.create_webhook(path.strip("/"), user_segments=["ALL"],
                                                   url=self.recorder.url + path,
                                                   delivery=SHORT_RETRIES, timeout_ms=5000)
        self.hooks["tls"] = self.create_webhook(
            "tls", user_segments=["ALL"], delivery=SHORT_RETRIES, timeout_ms=5000,
            url=self.recorder.url.replace("http://", "https://") + "/tls")
        self.send([{"type": "identify", "userId": name, "traits": {"plan": "pro"}}
                   for name in USERS])

    def final_lines(self, key):
        """One final line per user for the connector at key, oldest first."""
        lines = self.wait_logs(self.hooks[key]["id"],
                               lambda lines: sum(line["message"] in FINAL_MESSAGES
                                                 for line in lines) >= len(USERS),
                               "a final line per user", timeout=30)
        finals = [line for line in lines if line["message"] in FINAL_MESSAGES]
        self.assertEqual(sorted(line["claims"]["external_id"] for line in finals), USERS)
        return finals

    def assert_dead_letters(self, key, reason_part):
        finals = self.final_lines(key)
        for line in finals:
            self.assertEqual(line["message"], "outgoing.user.error", line)
            self.assertIn(reason_part, line["data"]["reason"], line)
        letters = self.dead_letters(self.hooks[key]["id"])["dead_letters"]
        self.assertEqual(sorted(letter["message"]["user"]["external_id"] for letter in letters),
                         USERS)
        for letter in letters:
            self.assertIn(reason_part, letter["reason"])
        return finals

    def test_invalid_json_retried_then_dead(self):
        finals = self.assert_dead_letters("/invalid-json", "body is not valid JSON")
        for line in finals:
            self.assertIn("gave up after 2 attempts (delivery.max_attempts)",
                          line["data"]["reason"])
            self.assertIn("Content-Type application/json", line["data"]["reason"])

    def test_endless_body_cut_and_status_decides(self):
        finals = self.final_lines("/endless")
        for line in finals:
            self.assertEqual(line["message"], "outgoing.user.success", line)
            self.assertEqual(line["data"]["status_code"], 200, line)
        self.assertTrue(self.service.running)

    def test_redirect_loop_is_error(self):
        finals = self.assert_dead_letters("/redirect", "HTTP 302")
        for line in finals:
            self.assertEqual(line["data"]["attempt"], 1, line)
        requests = [request for request in self.recorder.requests if request.path == "/redirect"]
        self.assertLessEqual(len(requests), len(USERS), "redirects must not be followed")

    def test_error_payload_is_error(self):
        finals = self.assert_dead_letters(
            "/error-payload", 'HTTP 200 with an error payload ("error"): quota exceeded')
        for line in finals:
            self.assertEqual(line["data"]["status_code"], 200, line)

    def test_connection_reset_retried_then_dead(self):
        finals = self.assert_dead_letters("/reset", "transport error")
        for line in finals:
            # The destination reset the connection, and the reason must
            # name the reset.
            self.assertIn("reset", line["data"]["reason"].lower(), line)

    def test_tls_error_retried_then_dead(self):
        finals = self.assert_dead_letters("tls", "transport error")
        for line in finals:
            self.assertRegex(line["data"]["reason"].lower(), "ssl|tls")
        self.assertEqual([request for request in self.recorder.requests
                          if request.path == "/tls"], [])


if __name__ == "__main__":
    unittest.main()
