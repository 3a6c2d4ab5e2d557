"""End-to-end tests of wharfctl dead-letters and wharfctl resend.

A webhook connector's destination (a Recorder on 127.0.0.1) rejects two
users' messages with 400, which makes them dead letters; wharfctl lists
them and puts them back on the queue, and the Recorder then receives them.
"""

import collections
import json
import unittest

from sync_client import SyncTestCase
from test_wharfctl import run_wharfctl


class WharfctlDeadLettersTest(SyncTestCase):

    def setUp(self):
        super().setUp()
        self.hook = self.create_webhook(user_segments=["ALL"],
                                        delivery={"retry_base_ms": 50, "retry_cap_ms": 100})

    def wharfctl(self, *args):
        return run_wharfctl(["--url", self.service.url, *args])

    def make_dead_letters(self, external_ids):
        for external_id in external_ids:
            self.recorder.push_response(400, body="invalid record " + external_id)
            self.identify(external_id, {"plan": "pro"})
            user = self.user(external_id)
            self.wait_log_count(self.hook["id"], "outgoing.user.error", 1, user_id=user["id"])

    def requests_per_external_id(self):
        """How many requests carried each user: one rejected, plus one per resend."""
        counts = collections.Counter()
        for request in self.recorder.requests:
            counts.update(message["user"]["external_id"] for message in request.json())
        return counts

    def test_list_prints_each_dead_letter(self):
        self.make_dead_letters(["ann", "bob"])

        code, out, err = self.wharfctl("dead-letters", "hook")

        self.assertEqual(code, 0, err)
        self.assertIn("REASON", out)
        self.assertIn(self.user("ann")["id"], out)
        self.assertIn(self.user("bob")["id"], out)
        self.assertIn("invalid record ann", out)
        self.assertIn("invalid record bob", out)

    def test_list_json_matches_api(self):
        self.make_dead_letters(["ann"])

        code, out, err = self.wharfctl("--json", "dead-letters", self.hook["id"])

        self.assertEqual(code, 0, err)
        letters = json.loads(out)["dead_letters"]
        self.assertEqual(len(letters), 1, letters)
        self.assertEqual(letters[0]["user_id"], self.user("ann")["id"])
        self.assertEqual(letters[0]["attempts"], 1)
        self.assertEqual(letters[0]["message"]["user"]["external_id"], "ann")

    def test_resend_by_id_delivers_only_that_one(self):
        self.make_dead_letters(["ann", "bob"])
        status, body = self.service.get("/api/v1/connectors/%s/dead-letters" % self.hook["id"])
        self.assertEqual(status, 200, body)
        ann = [letter for letter in body["dead_letters"]
               if letter["message"]["user"]["external_id"] == "ann"]
        self.assertEqual(len(ann), 1, body)

        code, out, err = self.wharfctl("resend", "hook", str(ann[0]["id"]))

        self.assertEqual(code, 0, err)
        self.assertIn("Re-queued 1 dead letter.", out)
        self.wait_log_count(self.hook["id"], "outgoing.user.success", 1,
                            user_id=self.user("ann")["id"])
        self.assertEqual(self.requests_per_external_id(), {"ann": 2, "bob": 1})
        status, body = self.service.get("/api/v1/connectors/%s/dead-letters" % self.hook["id"])
        self.assertEqual([letter["message"]["user"]["external_id"]
                          for letter in body["dead_letters"]], ["bob"])

    def test_resend_all_empties_the_list(self):
        self.make_dead_letters(["ann", "bob"])

        code, out, err = self.wharfctl("resend", "hook", "--all")

        self.assertEqual(code, 0, err)
        self.assertIn("Re-queued 2 dead letters.", out)
        for external_id in ("ann", "bob"):
            self.wait_log_count(self.hook["id"], "outgoing.user.success", 1,
                                user_id=self.user(external_id)["id"])
        self.assertEqual(self.requests_per_external_id(), {"ann": 2, "bob": 2})
        code, out, err = self.wharfctl("dead-letters", "hook")
        self.assertEqual(code, 0, err)
        self.assertIn("No dead letters for this connector.", out)

    def test_resend_rejects_bad_arguments(self):
        code, _, err = self.wharfctl("resend", "hook")
        self.assertEqual(code, 2, err)
        self.assertIn("--all", err)

        code, _, err = self.wharfctl("resend", "hook", "--all", "12")
        self.assertEqual(code, 2, err)
        self.assertIn("not both", err)

        code, _, err = self.wharfctl("resend", "hook", "twelve")
        self.assertEqual(code, 2, err)
        self.assertIn("\"twelve\" is not a dead letter id", err)

    def test_resend_unknown_id_requeues_nothing(self):
        self.make_dead_letters(["ann"])
        status, body = self.service.get("/api/v1/connectors/%s/dead-letters" % self.hook["id"])
        ann_id = body["dead_letters"][0]["id"]

        code, _, err = self.wharfctl("resend", "hook", str(ann_id), "999999")

        self.assertEqual(code, 1, err)
        self.assertIn("dead letter 999999 not found", err)
        self.assertIn("nothing was re-queued", err)
        status, body = self.service.get("/api/v1/connectors/%s/dead-letters" % self.hook["id"])
        self.assertEqual([letter["id"] for letter in body["dead_letters"]], [ann_id])

    def test_resend_api_rejects_bad_ids(self):
        url = "/api/v1/connectors/%s/dead-letters/resend" % self.hook["id"]
        for body, expected in (([1], "JSON object"), ({"ids": []}, "non-empty array"),
                               ({"ids": ["x"]}, "item 0"), ({"all": True}, "unknown field")):
            status, answer = self.service.post(url, body)
            self.assertEqual(status, 400, (body, answer))
            self.assertIn(expected, answer["error"], (body, answer))


if __name__ == "__main__":
    unittest.main()
