"""Retries: exponential backoff, Retry-After, max_attempts and
max_age_seconds, and the dead-letter list with its resend."""

import unittest

import fault_server
from sync_client import DeliveryTestCase

BACKOFF = {"retry_base_ms": 100, "retry_cap_ms": 300, "max_attempts": 5}


class RetryTest(DeliveryTestCase):

    def identify(self, external_id):
        self.send([{"type": "identify", "userId": external_id, "traits": {"plan": "pro"}}])

    def arrival_gaps(self):
        times = [request.received_at for request in self.recorder.requests]
        return [later - earlier for earlier, later in zip(times, times[1:])]

    def test_delivery_settings_view(self):
        hook = self.create_webhook(user_segments=["ALL"], delivery=BACKOFF)
        # Defaults filled in, whole numbers written as integers.
        self.assertEqual(hook["delivery"], {
            "retry_base_ms": 100, "retry_cap_ms": 300, "max_attempts": 5,
            "max_age_seconds": 86400, "rate_limit": 0, "coalesce": False,
            "pause_after_failures": 5})
        self.assertIsInstance(hook["delivery"]["rate_limit"], int)
        paced = self.create_webhook(name="paced", user_segments=["ALL"],
                                    delivery={"rate_limit": 2.5})
        self.assertEqual(paced["delivery"]["rate_limit"], 2.5)

    def test_backoff_until_max_attempts(self):
        self.recorder.set_behaviour(fault_server.server_error(503, "busy"))
        hook = self.create_webhook(user_segments=["ALL"], delivery=BACKOFF)
        self.identify("u-backoff")

        error, = self.wait_log_count(hook["id"], "outgoing.user.error", 1)
        retries = self.all_logs(hook["id"], message="outgoing.user.retry")
        self.assertEqual([line["data"]["attempt"] for line in retries], [1, 2, 3, 4])
        for line in retries:
            attempt = line["data"]["attempt"]
            ceiling = min(BACKOFF["retry_cap_ms"], BACKOFF["retry_base_ms"] * 2 ** (attempt - 1))
            self.assertGreaterEqual(line["data"]["retry_in_ms"], 1, line)
            self.assertLessEqual(line["data"]["retry_in_ms"], ceiling, line)
            self.assertEqual(line["data"]["status_code"], 503, line)
            self.assertEqual(line["data"]["reason"], "HTTP 503: busy", line)

        self.assertEqual(len(self.recorder.requests), 5)
        self.assertEqual(error["data"]["attempt"], 5)
        self.assertEqual(error["data"]["status_code"], 503)
        self.assertIn("gave up after 5 attempts (delivery.max_attempts)",
                      error["data"]["reason"])
        self.assertIn("HTTP 503: busy", error["data"]["reason"])

        letter, = self.dead_letters(hook["id"])["dead_letters"]
        self.assertEqual(letter["attempts"], 5)
        self.assertEqual(letter["reason"], error["data"]["reason"])
        self.assertEqual(letter["type"], "user")
        self.assertEqual(letter["user_id"], error["user_id"])
        self.assertEqual(letter["message"]["user"]["external_id"], "u-backoff")

    def test_retry_after_seconds_honoured(self):
        self.recorder.push(fault_server.too_many_requests_seconds(1))
        hook = self.create_webhook(user_segments=["ALL"], delivery=BACKOFF)
        self.identify("u-seconds")

        self.wait_log_count(hook["id"], "outgoing.user.success", 1)
        retry, = self.all_logs(hook["id"], message="outgoing.user.retry")
        self.assertEqual(retry["data"]["retry_in_ms"], 1000, retry)
        self.assertEqual(retry["data"]["status_code"], 429, retry)
        gap, = self.arrival_gaps()
        self.assertGreaterEqual(gap, 0.95)

    def test_retry_after_date_honoured(self):
        self.recorder.push(fault_server.too_many_requests_date(3))
        hook = self.create_webhook(user_segments=["ALL"], delivery=BACKOFF)
        self.identify("u-date")

        self.wait_log_count(hook["id"], "outgoing.user.success", 1)
        retry, = self.all_logs(hook["id"], message="outgoing.user.retry")
        # An HTTP date has whole seconds and wharfd reads it a moment after
        # the server wrote it, so the delay is a little under 2 to 3 s, far
        # above BACKOFF's ceiling of 100 ms for a first retry.
        self.assertGreaterEqual(retry["data"]["retry_in_ms"], 1000, retry)
        self.assertLessEqual(retry["data"]["retry_in_ms"], 3000, retry)
        gap, = self.arrival_gaps()
        self.assertGreaterEqual(gap, 0.95)

    def test_max_age_makes_dead_letter(self):
        self.recorder.set_behaviour(fault_server.too_many_requests_seconds(5))
        hook = self.create_webhook(user_segments=["ALL"],
                                   delivery={"max_age_seconds": 2, "max_attempts": 10})
        self.identify("u-old")

        error, = self.wait_log_count(hook["id"], "outgoing.user.error", 1)
        self.assertEqual(len(self.recorder.requests), 1)
        self.assertEqual(error["data"]["attempt"], 1)
        self.assertIn("maximum age of 2 s (delivery.max_age_seconds)", error["data"]["reason"])
        self.assertIn("HTTP 429", error["data"]["reason"])
        letter, = self.dead_letters(hook["id"])["dead_letters"]
        self.assertEqual(letter["attempts"], 1)
        self.assertEqual(letter["reason"], error["data"]["reason"])

    def test_dead_letters_listed_and_resent(self):
        def reject(message):
            return {"status": "error", "reason": "rejected " + message["user"]["external_id"]}

        self.recorder.set_behaviour(fault_server.per_message_results(reject))
        hook = self.create_webhook(user_segments=["ALL"], delivery=BACKOFF)
        names = ["dead-%d" % number for number in range(3)]
        for name in names:
            self.identify(name)
        self.wait_log_count(hook["id"], "outgoing.user.error", 3)

        first_page = self.dead_letters(hook["id"], limit=2)
        self.assertEqual(len(first_page["dead_letters"]), 2)
        self.assertIsNotNone(first_page["next_after"])
        second_page = self.dead_letters(hook["id"], limit=2, after=first_page["next_after"])
        self.assertEqual(len(second_page["dead_letters"]), 1)
        self.assertIsNone(second_page["next_after"])
        letters = first_page["dead_letters"] + second_page["dead_letters"]
        self.assertEqual([letter["message"]["user"]["external_id"] for letter in letters], names)
        for letter in letters:
            self.assertEqual(set(letter), {"id", "type", "user_id", "batch_id", "attempts",
                                           "reason", "created_at", "message"}, letter)
            self.assertEqual(letter["attempts"], 1)
            self.assertIn("rejected " + letter["message"]["user"]["external_id"],
                          letter["reason"])
            self.assertIsNone(letter["batch_id"])

        self.recorder.set_behaviour(fault_server.Fault(200, {}))
        self.recorder.clear()
        self.assertEqual(self.resend_dead_letters(hook["id"], ids=[letters[1]["id"]]), 1)
        self.service.wait_until(lambda: self.delivered_ids() == {"dead-1": 1}, timeout=10)
        remaining = self.dead_letters(hook["id"])["dead_letters"]
        self.assertEqual([letter["id"] for letter in remaining],
                         [letters[0]["id"], letters[2]["id"]])

        self.assertEqual(self.resend_dead_letters(hook["id"]), 2)
        self.service.wait_until(
            lambda: self.delivered_ids() == {"dead-0": 1, "dead-1": 1, "dead-2": 1},
            timeout=10)
        # The destination has the messages before wharfd reads its response.
        lines = self.wait_log_count(hook["id"], "outgoing.user.success", 3)
        self.assertEqual(len(lines), 3, lines)
        self.assertEqual(self.dead_letters(hook["id"])["dead_letters"], [])


if __name__ == "__main__":
    unittest.main()
