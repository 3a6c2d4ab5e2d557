"""End-to-end tests of automatic sync: whitelists decide which changes go out.

Each test starts wharfd with the webhook plugin pointed at a Recorder,
writes users and accounts through the Segment API and compares the
external_ids the webhook delivered with the set the test expects. Connectors
use max_connections 1, so that settle() (a single-user manual batch through
the same queue) proves that nothing else is still on its way.
"""

import collections
import unittest

from sync_client import (ACCOUNT_WHITELIST, USER_WHITELIST, USERS_ONLY_PLUGIN, SyncTestCase,
                         segment_ref)

PLAN_VIP = {"attribute": "plan", "op": "eq", "value": "vip"}


class MemberMessageTest(SyncTestCase):

    def setUp(self):
        super().setUp()
        self.vip = self.create_segment("VIP customers", PLAN_VIP)
        self.hook = self.create_webhook(user_segments=[self.vip["id"]])

    def test_member_sent_with_changes_and_events(self):
        self.send([
            {"type": "identify", "userId": "zoe", "traits": {"plan": "vip", "first_name": "Zoë"}},
            {"type": "track", "userId": "zoe", "event": "Order Completed",
             "messageId": "order-1", "timestamp": "2026-03-05T14:30:00Z",
             "properties": {"total": 42.5, "items": ["book", "pen"]}},
            {"type": "identify", "userId": "sam", "traits": {"plan": "free"}},
        ])
        zoe = self.user("zoe")
        self.settle(self.hook["id"], user_id=zoe["id"])

        automatic = self.delivered(is_export=False)
        self.assertEqual(collections.Counter(m["user"]["external_id"] for m in automatic),
                         collections.Counter({"zoe": 1}), automatic)
        message = automatic[0]
        self.assertEqual(message["type"], "user")
        self.assertIs(message["is_export"], False)
        self.assertEqual(message["user"]["id"], zoe["id"])
        self.assertEqual(message["user"]["attributes"], {"plan": "vip", "first_name": "Zoë"})
        self.assertIsNone(message["account"])
        self.assertEqual(message["segments"], [segment_ref(self.vip)])
        self.assertEqual(message["changes"]["attributes"],
                         {"plan": [None, "vip"], "first_name": [None, "Zoë"]})
        self.assertEqual(message["changes"]["segments"],
                         {"entered": [segment_ref(self.vip)], "left": []})
        self.assertEqual(message["changes"]["account"], {})
        self.assertIs(message["changes"]["is_new"], True)
        self.assertEqual(message["events"], [{
            "event": "Order Completed", "message_id": "order-1",
            "timestamp": "2026-03-05T14:30:00.000Z",
            "properties": {"total": 42.5, "items": ["book", "pen"]}}])

    def test_skipped_events_sent_with_next_message(self):
        self.send([
            {"type": "identify", "userId": "sam", "traits": {"plan": "free"}},
            {"type": "track", "userId": "sam", "event": "Trial Started",
             "messageId": "trial-1", "timestamp": "2026-03-01T09:00:00Z"},
            {"type": "track", "userId": "sam", "event": "Page Viewed",
             "messageId": "page-1", "timestamp": "2026-03-02T09:00:00Z",
             "properties": {"path": "/pricing"}},
        ])
        sam = self.user("sam")
        self.wait_log_count(self.hook["id"], "outgoing.user.skip", 1, user_id=sam["id"])
        self.assertEqual(self.delivered(is_export=False), [])

        # Entering the whitelisted segment sends sam, with every event since
        # the last message to this connector: here, since the first one.
        self.send([
            {"type": "track", "userId": "sam", "event": "Order Completed",
             "messageId": "order-9", "timestamp": "2026-03-03T09:00:00Z"},
            {"type": "identify", "userId": "sam", "traits": {"plan": "vip"}},
        ])
        self.settle(self.hook["id"], user_id=sam["id"])
        automatic = self.delivered(is_export=False)
        self.assertEqual(len(automatic), 1, automatic)
        self.assertEqual([event["message_id"] for event in automatic[0]["events"]],
                         ["trial-1", "page-1", "order-9"])
        self.assertEqual(automatic[0]["events"][1]["properties"], {"path": "/pricing"})

        # The next message carries only what came after that one.
        self.send([{"type": "track", "userId": "sam", "event": "Order Completed",
                    "messageId": "order-10", "timestamp": "2026-03-04T09:00:00Z"}])
        self.settle(self.hook["id"], user_id=sam["id"])
        automatic = self.delivered(is_export=False)
        self.assertEqual(len(automatic), 2, automatic)
        self.assertEqual([event["message_id"] for event in automatic[1]["events"]],
                         ["order-10"])

    def test_skipped_events_survive_kill(self):
        self.send([
            {"type": "identify", "userId": "sam", "traits": {"plan": "free"}},
            {"type": "track", "userId": "sam", "event": "Trial Started",
             "messageId": "trial-1", "timestamp": "2026-03-01T09:00:00Z"},
        ])
        sam = self.user("sam")
        self.wait_log_count(self.hook["id"], "outgoing.user.skip", 1, user_id=sam["id"])

        # The skip's mark of unsent events is stored with the change, so
        # a crash right after it does not lose the event for this connector.
        self.service.process.kill()
        self.assertEqual(self.service.stop(), -9)
        self.service.start()
        self.service.wait_for_log("marks of unsent events for automatic messages: 1 restored")

        self.send([
            {"type": "track", "userId": "sam", "event": "Order Completed",
             "messageId": "order-9", "timestamp": "2026-03-03T09:00:00Z"},
            {"type": "identify", "userId": "sam", "traits": {"plan": "vip"}},
        ])
        self.settle(self.hook["id"], user_id=sam["id"])
        automatic = self.delivered(is_export=False)
        self.assertEqual(len(automatic), 1, automatic)
        self.assertEqual([event["message_id"] for event in automatic[0]["events"]],
                         ["trial-1", "order-9"])

        # Once sent, the mark is gone from the store too: after another
        # restart the next message carries only its own event.
        self.service.restart()
        self.send([{"type": "track", "userId": "sam", "event": "Order Completed",
                    "messageId": "order-10", "timestamp": "2026-03-04T09:00:00Z"}])
        self.settle(self.hook["id"], user_id=sam["id"])
        automatic = self.delivered(is_export=False)
        self.assertEqual(len(automatic), 2, automatic)
        self.assertEqual([event["message_id"] for event in automatic[1]["events"]],
                         ["order-10"])
        self.assertEqual(self.service.log_lines_matching("marks of unsent events"), [])

    def test_mark_of_merged_visitor_deleted(self):
        self.identify("sam", {"plan": "free"})
        self.send([{"type": "track", "anonymousId": "visitor-1", "event": "Page Viewed",
                    "messageId": "page-1", "timestamp": "2026-03-01T09:00:00Z"}])
        self.wait_log_count(self.hook["id"], "outgoing.user.skip", 2)
        # The visitor identifies as sam and is merged into that user, so the
        # visitor's mark of unsent events names a user that no longer exists.
        self.send([{"type": "identify", "userId": "sam", "anonymousId": "visitor-1",
                    "traits": {"plan": "free"}}])
        self.wait_log_count(self.hook["id"], "outgoing.user.skip", 3)

        self.service.restart()
        self.service.wait_for_log("marks of unsent events for automatic messages: 0 restored, "
                                  "1 of users that no longer exist deleted")
        self.service.restart()
        self.assertEqual(self.service.log_lines_matching("marks of unsent events"), [])

    def test_second_change_carries_only_new_values(self):
        self.identify("zoe", {"plan": "vip", "first_name": "Zoë"})
        self.send([
            {"type": "identify", "userId": "zoe", "traits": {"first_name": "Zoé"}},
            {"type": "track", "userId": "zoe", "event": "Cart Viewed", "messageId": "view-1",
             "timestamp": "2026-03-06T08:00:00+02:00"},
        ])
        zoe = self.user("zoe")
        self.settle(self.hook["id"], user_id=zoe["id"])

        automatic = self.delivered(is_export=False)
        self.assertEqual([m["user"]["external_id"] for m in automatic], ["zoe", "zoe"],
                         automatic)
        second = automatic[1]
        self.assertEqual(second["changes"]["attributes"], {"first_name": ["Zoë", "Zoé"]})
        self.assertEqual(second["changes"]["segments"], {"entered": [], "left": []})
        self.assertIs(second["changes"]["is_new"], False)
        self.assertEqual(second["segments"], [segment_ref(self.vip)])
        self.assertEqual([(e["event"], e["message_id"], e["timestamp"], e["properties"])
                          for e in second["events"]],
                         [("Cart Viewed", "view-1", "2026-03-06T06:00:00.000Z", {})])
        self.assertEqual(automatic[0]["events"], [])

    def test_non_member_skipped_with_reason(self):
        self.identify("sam", {"plan": "free"})
        sam = self.user("sam")

        lines = self.wait_log_count(self.hook["id"], "outgoing.user.skip", 1, user_id=sam["id"])
        self.assertEqual(len(lines), 1, lines)
        reason = lines[0]["data"]["reason"]
        self.assertIn('"VIP customers"', reason)
        self.assertIn(USER_WHITELIST, reason)
        self.assertIsNone(lines[0]["batch_id"])
        self.assertEqual(lines[0]["claims"]["external_id"], "sam")

        # A member sent afterwards goes through the same queue, so once it
        # arrived anything queued for sam would have arrived too.
        self.identify("zoe", {"plan": "vip"})
        zoe = self.user("zoe")
        self.settle(self.hook["id"], user_id=zoe["id"])
        self.assertEqual(self.delivered_external_ids(is_export=False),
                         collections.Counter({"zoe": 1}))
        self.assertEqual([line["message"] for line in self.all_logs(self.hook["id"],
                                                                    user_id=sam["id"])],
                         ["outgoing.user.skip"])

    def test_leaving_member_sent_once(self):
        self.identify("zoe", {"plan": "vip"})
        self.identify("zoe", {"plan": "free"})
        self.identify("zoe", {"plan": "basic"})
        zoe = self.user("zoe")
        self.settle(self.hook["id"], user_id=zoe["id"])

        automatic = self.delivered(is_export=False)
        self.assertEqual([m["user"]["external_id"] for m in automatic], ["zoe", "zoe"],
                         automatic)
        entered, left = automatic
        self.assertEqual(entered["changes"]["segments"],
                         {"entered": [segment_ref(self.vip)], "left": []})
        self.assertEqual(left["changes"]["segments"],
                         {"entered": [], "left": [segment_ref(self.vip)]})
        self.assertEqual(left["changes"]["attributes"], {"plan": ["vip", "free"]})
        self.assertEqual(left["segments"], [])
        with_left = [m for m in automatic if m["changes"]["segments"]["left"]]
        self.assertEqual(len(with_left), 1, automatic)

        # The third change ("basic") finds zoe outside the segment again.
        skips = self.all_logs(self.hook["id"], user_id=zoe["id"], message="outgoing.user.skip")
        self.assertEqual(len(skips), 1, skips)
        self.assertIn('"VIP customers"', skips[0]["data"]["reason"])


    def test_account_link_in_changes(self):
        self.identify("zoe", {"plan": "vip"})
        self.send([{"type": "group", "userId": "zoe", "groupId": "acme",
                    "traits": {"name": "Acme"}}])
        zoe = self.user("zoe")
        acme = self.account("acme")
        self.settle(self.hook["id"], user_id=zoe["id"])

        automatic = self.delivered(is_export=False)
        self.assertEqual([m["user"]["external_id"] for m in automatic], ["zoe", "zoe"],
                         automatic)
        linked = automatic[1]
        self.assertEqual(linked["changes"]["account"], {"id": [None, acme["id"]]})
        self.assertEqual(linked["changes"]["attributes"], {})
        self.assertEqual(linked["account"]["id"], acme["id"])
        self.assertEqual(linked["account"]["external_id"], "acme")
        self.assertEqual(linked["account"]["attributes"], {"name": "Acme"})
        self.assertIsNone(automatic[0]["account"])

    def test_whitelist_change_applies(self):
        body = {"plugin": "webhook", "name": "hook",
                "settings": {"url": self.recorder.url + "/hook"},
                "synchronized_user_segments": [], "max_connections": 1}
        status, updated = self.service.put("/api/v1/connectors/" + self.hook["id"], body)
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated[USER_WHITELIST], [])

        self.identify("zoe", {"plan": "vip"})
        zoe = self.user("zoe")
        self.settle(self.hook["id"], user_id=zoe["id"])
        self.assertEqual(self.delivered(is_export=False), [])
        skips = self.all_logs(self.hook["id"], user_id=zoe["id"], message="outgoing.user.skip")
        self.assertEqual(len(skips), 1, skips)
        self.assertIn(USER_WHITELIST + " is empty", skips[0]["data"]["reason"])


class WhitelistKindsTest(SyncTestCase):

    def test_all_sends_everyone(self):
        hook = self.create_webhook(user_segments=["ALL"])
        expected = collections.Counter()
        messages = []
        for index, plan in enumerate(["vip", "free", None, "basic", "vip", "trial"]):
            external_id = "user-%d" % index
            traits = {"index": index} if plan is None else {"plan": plan, "index": index}
            messages.append({"type": "identify", "userId": external_id, "traits": traits})
            expected[external_id] += 1
        self.send(messages)
        self.settle(hook["id"], user_id=self.user("user-0")["id"])

        self.assertEqual(self.delivered_external_ids(is_export=False), expected)
        self.assertEqual(self.all_logs(hook["id"], message="outgoing.user.skip"), [])

    def test_empty_whitelist_sends_nothing(self):
        hook = self.create_webhook()
        self.assertEqual(hook[USER_WHITELIST], [])
        external_ids = ["quiet-%d" % index for index in range(5)]
        self.send([{"type": "identify", "userId": external_id, "traits": {"plan": "vip"}}
                   for external_id in external_ids])
        user_ids = {self.user(external_id)["id"] for external_id in external_ids}
        self.settle(hook["id"], user_id=self.user("quiet-0")["id"])

        self.assertEqual(self.delivered(is_export=False), [])
        skips = self.all_logs(hook["id"], message="outgoing.user.skip")
        self.assertEqual({line["user_id"] for line in skips}, user_ids)
        self.assertEqual(len(skips), len(user_ids), skips)
        for line in skips:
            self.assertIn(USER_WHITELIST + " is empty", line["data"]["reason"])
        starts = self.all_logs(hook["id"], message="outgoing.user.start")
        self.assertEqual([line["batch_id"] is not None for line in starts], [True], starts)

    def test_account_whitelist_sends_accounts(self):
        enterprise = self.create_segment("Enterprise accounts",
                                         {"attribute": "plan", "op": "eq", "value": "enterprise"},
                                         entity_type="accounts")
        hook = self.create_webhook(account_segments=[enterprise["id"]])
        plans = {"acme": "enterprise", "initech": "startup", "globex": "enterprise"}
        self.send([{"type": "group", "userId": "member-of-" + external_id,
                    "groupId": external_id, "traits": {"plan": plan}}
                   for external_id, plan in plans.items()])
        self.settle(hook["id"], account_id=self.account("acme")["id"])

        self.assertEqual(self.delivered_external_ids(is_export=False, message_type="account"),
                         collections.Counter({"acme": 1, "globex": 1}))
        self.assertEqual(self.delivered_external_ids(is_export=False, message_type="user"),
                         collections.Counter())
        for message in self.delivered(is_export=False):
            self.assertNotIn("user", message)
            self.assertEqual(message["account_segments"], [segment_ref(enterprise)])
            self.assertEqual(message["changes"]["attributes"], {"plan": [None, "enterprise"]})
            self.assertEqual(message["changes"]["segments"]["entered"], [segment_ref(enterprise)])
            self.assertIs(message["changes"]["is_new"], True)

        account_ids = {external_id: self.account(external_id)["id"] for external_id in plans}
        successes = self.all_logs(hook["id"], message="outgoing.account.success")
        self.assertEqual(collections.Counter(line["account_id"] for line in successes),
                         collections.Counter({account_ids["acme"]: 2, account_ids["globex"]: 1}))
        skips = self.all_logs(hook["id"], message="outgoing.account.skip")
        self.assertEqual([line["account_id"] for line in skips], [account_ids["initech"]])
        self.assertIn('"Enterprise accounts"', skips[0]["data"]["reason"])
        self.assertIn(ACCOUNT_WHITELIST, skips[0]["data"]["reason"])
        self.assertEqual(skips[0]["claims"]["external_id"], "initech")
        # The users linked by the group calls meet an empty user whitelist.
        user_skips = self.all_logs(hook["id"], message="outgoing.user.skip")
        self.assertEqual(len(user_skips), 3, user_skips)
        for line in user_skips:
            self.assertIn(USER_WHITELIST + " is empty", line["data"]["reason"])


    def test_users_only_plugin_hears_no_accounts(self):
        connector = self.create_connector(USERS_ONLY_PLUGIN, "users only", user_segments=["ALL"])
        self.send([{"type": "group", "userId": "ann", "groupId": "acme", "traits": {"plan": "x"}},
                   {"type": "group", "userId": "bob", "groupId": "globex", "traits": {}}])

        lines = self.wait_log_count(connector["id"], "outgoing.user.success", 2)
        self.assertEqual({line["claims"]["external_id"] for line in lines}, {"ann", "bob"})
        messages = {line["message"] for line in self.all_logs(connector["id"])}
        self.assertEqual(messages, {"outgoing.user.start", "outgoing.user.success"})


class DeliveryResultTest(SyncTestCase):

    def setUp(self):
        super().setUp()
        self.hook = self.create_webhook(
            user_segments=["ALL"],
            delivery={"max_attempts": 5, "retry_base_ms": 50, "retry_cap_ms": 200})

    def test_server_error_retried_until_success(self):
        self.recorder.push_response(500, body="down for maintenance")
        self.recorder.push_response(503, body="still down")
        self.identify("zoe", {"plan": "vip"})
        zoe = self.user("zoe")

        lines = self.wait_log_count(self.hook["id"], "outgoing.user.success", 1,
                                    user_id=zoe["id"])
        lines = self.all_logs(self.hook["id"], user_id=zoe["id"])
        self.assertEqual([line["message"] for line in lines],
                         ["outgoing.user.start", "outgoing.user.retry",
                          "outgoing.user.start", "outgoing.user.retry",
                          "outgoing.user.start", "outgoing.user.success"], lines)
        first_retry, second_retry = lines[1]["data"], lines[3]["data"]
        self.assertEqual((first_retry["attempt"], first_retry["status_code"]), (1, 500))
        self.assertIn("500", first_retry["reason"])
        self.assertIn("down for maintenance", first_retry["reason"])
        self.assertEqual((second_retry["attempt"], second_retry["status_code"]), (2, 503))
        for retry in (first_retry, second_retry):
            self.assertIsInstance(retry["retry_in_ms"], int, retry)
            self.assertGreaterEqual(retry["retry_in_ms"], 0, retry)
        self.assertEqual(lines[5]["data"], {"attempt": 3, "status_code": 200})

        requests = self.recorder.requests
        self.assertEqual(len(requests), 3, requests)
        sent = [message for request in requests for message in request.json()]
        self.assertEqual([m["user"]["external_id"] for m in sent], ["zoe"] * 3)
        self.assertEqual(len({m["message_id"] for m in sent}), 1,
                         "a retry must re-send the same message")

    def test_retries_end_after_max_attempts(self):
        for _ in range(5):
            self.recorder.push_response(503, body="overloaded", headers={"Retry-After": "0"})
        self.identify("zoe", {"plan": "vip"})
        zoe = self.user("zoe")

        self.wait_log_count(self.hook["id"], "outgoing.user.error", 1, user_id=zoe["id"])
        lines = self.all_logs(self.hook["id"], user_id=zoe["id"])
        self.assertEqual([line["message"] for line in lines],
                         ["outgoing.user.start", "outgoing.user.retry"] * 4
                         + ["outgoing.user.start", "outgoing.user.error"], lines)
        retries = [line["data"] for line in lines if line["message"] == "outgoing.user.retry"]
        self.assertEqual([retry["attempt"] for retry in retries], [1, 2, 3, 4])
        for retry in retries:
            # Retry-After: 0 asks for the next attempt at once.
            self.assertEqual(retry["retry_in_ms"], 0, retry)
        error = lines[-1]["data"]
        self.assertEqual((error["attempt"], error["status_code"]), (5, 503))
        self.assertIn("overloaded", error["reason"])
        self.assertEqual(len(self.recorder.requests), 5, self.recorder.requests)

    def test_client_error_logged_with_status(self):
        self.recorder.push_response(400, body="invalid record")
        self.identify("zoe", {"plan": "vip"})
        zoe = self.user("zoe")

        self.wait_log_count(self.hook["id"], "outgoing.user.error", 1, user_id=zoe["id"])
        lines = self.all_logs(self.hook["id"], user_id=zoe["id"])
        self.assertEqual([line["message"] for line in lines],
                         ["outgoing.user.start", "outgoing.user.error"], lines)
        data = lines[1]["data"]
        self.assertEqual(data["status_code"], 400)
        self.assertEqual(data["attempt"], 1)
        self.assertIn("400", data["reason"])
        self.assertEqual(len(self.recorder.requests), 1, self.recorder.requests)


class SegmentDeletionTest(SyncTestCase):

    def test_deleted_segment_leaves_whitelist(self):
        alpha = self.create_segment("Alpha plan", {"attribute": "plan", "op": "eq", "value": "a"})
        beta = self.create_segment("Beta plan", {"attribute": "plan", "op": "eq", "value": "b"})
        hook = self.create_webhook(user_segments=[alpha["id"], beta["id"]])
        mark = self.service.log_mark()

        status, body = self.service.delete("/api/v1/segments/" + alpha["id"])
        self.assertEqual(status, 204, body)
        status, stored = self.service.get("/api/v1/connectors/" + hook["id"])
        self.assertEqual(status, 200, stored)
        self.assertEqual(stored[USER_WHITELIST], [beta["id"]])
        self.service.wait_for_log("connector %s" % hook["id"], since=mark)

        self.identify("ann", {"plan": "a"})
        self.identify("bob", {"plan": "b"})
        ann = self.user("ann")
        self.settle(hook["id"], user_id=ann["id"])

        self.assertEqual(self.delivered_external_ids(is_export=False),
                         collections.Counter({"bob": 1}))
        skips = self.all_logs(hook["id"], user_id=ann["id"], message="outgoing.user.skip")
        self.assertEqual(len(skips), 1, skips)
        self.assertIn('"Beta plan"', skips[0]["data"]["reason"])
        self.assertNotIn("Alpha plan", skips[0]["data"]["reason"])
        self.assertNotIn(alpha["id"], skips[0]["data"]["reason"])


if __name__ == "__main__":
    unittest.main()
