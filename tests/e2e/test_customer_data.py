"""End-to-end tests of customer data: native and Segment ingest, reads, bad input, restart.

Each test starts its own wharfd with a write key and talks to it over
loopback. The identity rules have their own file (test_identity.py), and so
do segments (test_segments_api.py).
"""

import gzip
import json
import re
import unittest

import harness
from data_client import (AUTH_HEADERS, SEGMENT_BODY_LIMIT_BYTES, SEGMENT_MESSAGE_LIMIT_BYTES,
                         WRITE_KEY, basic_authorization, compact_json, create_segment,
                         find_accounts, find_users, get_ok, one_account, one_user,
                         post_account, post_user, segment_call, start_customer_wharfd,
                         user_events, user_view, wait_for_value, wait_segment_ready)

ISO_UTC_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

USER_VIEW_KEYS = {"id", "external_id", "email", "anonymous_ids", "account_id", "attributes",
                  "segment_ids", "created_at", "updated_at"}


class CustomerDataTestCase(harness.ServiceTestCase):

    def setUp(self):
        self.service = start_customer_wharfd(self)


class NativeUsersTest(CustomerDataTestCase):

    def test_single_user_view(self):
        view = post_user(self, self.service, {
            "claims": {"external_id": "u-single", "email": "Jane.Doe@Example.COM",
                       "anonymous_id": "anon-single"},
            "attributes": {"plan": "pro", "seats": 12, "ratio": 0.75, "vip": True,
                           "tags": ["a", "b"], "address": {"city": "Lyon", "zip": "69001"}}})

        self.assertEqual(set(view), USER_VIEW_KEYS)
        self.assertIsInstance(view["id"], str)
        self.assertEqual(view["external_id"], "u-single")
        self.assertEqual(view["email"], "jane.doe@example.com")
        self.assertEqual(view["anonymous_ids"], ["anon-single"])
        self.assertIsNone(view["account_id"])
        self.assertEqual(view["attributes"], {
            "plan": "pro", "seats": 12, "ratio": 0.75, "vip": True, "tags": ["a", "b"],
            "address": {"city": "Lyon", "zip": "69001"}})
        self.assertEqual(view["segment_ids"], [])
        self.assertRegex(view["created_at"], ISO_UTC_PATTERN)
        self.assertRegex(view["updated_at"], ISO_UTC_PATTERN)
        self.assertEqual(user_view(self, self.service, view["id"]), view)

    def test_second_write_updates_same_user(self):
        first = post_user(self, self.service, {"claims": {"external_id": "u-update"},
                                               "attributes": {"plan": "free"}})

        second = post_user(self, self.service, {"claims": {"external_id": "u-update"},
                                                "attributes": {"plan": "pro", "seats": 3}})

        self.assertEqual(second["id"], first["id"])
        self.assertEqual(second["attributes"], {"plan": "pro", "seats": 3})
        self.assertEqual(second["created_at"], first["created_at"])
        self.assertGreaterEqual(second["updated_at"], first["updated_at"])

    def test_bulk_users_accepted_and_rejected(self):
        status, body = self.service.post("/api/v1/users", {"users": [
            {"claims": {"external_id": "bulk-0"}, "attributes": {"n": 0}},
            {"claims": {}, "attributes": {"n": 1}},
            {"claims": {"email": "bulk-2@example.com"}, "attributes": {"n": 2}},
            {"claims": {"external_id": 3}},
        ]})

        self.assertEqual(status, 200, body)
        self.assertEqual([item["index"] for item in body["accepted"]], [0, 2])
        self.assertEqual([item["index"] for item in body["rejected"]], [1, 3])
        self.assertIn("claim", body["rejected"][0]["error"])
        self.assertIn("claims.external_id", body["rejected"][1]["error"])
        for item, external_id, email, n in zip(body["accepted"], ["bulk-0", None],
                                               [None, "bulk-2@example.com"], [0, 2]):
            view = user_view(self, self.service, item["id"])
            self.assertEqual(view["external_id"], external_id)
            self.assertEqual(view["email"], email)
            self.assertEqual(view["attributes"], {"n": n})
        self.assertEqual(find_users(self, self.service, "external_id", "3"), [])

    def test_bulk_users_all_rejected_is_400(self):
        # Nothing in the body could be used, so it is a client error. The
        # rejections still give the reason for each entity.
        status, body = self.service.post("/api/v1/users", {"users": [
            {"claims": {}}, {"claims": {"external_id": ""}}]})

        self.assertEqual(status, 400, body)
        self.assertIn("error", body)
        self.assertEqual([item["index"] for item in body["rejected"]], [0, 1])


class NativeAccountsTest(CustomerDataTestCase):

    def test_single_account_view(self):
        view = post_account(self, self.service, {
            "claims": {"external_id": "acct-1", "domain": "https://www.Acme-Corp.com/about",
                       "anonymous_id": "acct-anon-1"},
            "attributes": {"plan": "enterprise", "seats": 250}})

        self.assertEqual(view["external_id"], "acct-1")
        self.assertEqual(view["domain"], "acme-corp.com")
        self.assertEqual(view["anonymous_ids"], ["acct-anon-1"])
        self.assertEqual(view["attributes"], {"plan": "enterprise", "seats": 250})
        self.assertEqual(view["segment_ids"], [])
        self.assertRegex(view["created_at"], ISO_UTC_PATTERN)
        self.assertEqual(get_ok(self, self.service, "/api/v1/accounts/" + view["id"]), view)

    def test_bulk_accounts_accepted_and_rejected(self):
        status, body = self.service.post("/api/v1/accounts", {"accounts": [
            {"claims": {"domain": "northwind.example.org"}, "attributes": {"tier": 1}},
            {"claims": {"email": "x@example.com"}},
            {"claims": {"external_id": "acct-bulk-2"}, "attributes": {"tier": 2}},
        ]})

        self.assertEqual(status, 200, body)
        self.assertEqual([item["index"] for item in body["accepted"]], [0, 2])
        self.assertEqual([item["index"] for item in body["rejected"]], [1])
        self.assertIn("email", body["rejected"][0]["error"])
        first = get_ok(self, self.service, "/api/v1/accounts/" + body["accepted"][0]["id"])
        self.assertEqual(first["domain"], "northwind.example.org")
        self.assertEqual(first["attributes"], {"tier": 1})
        second = get_ok(self, self.service, "/api/v1/accounts/" + body["accepted"][1]["id"])
        self.assertEqual(second["external_id"], "acct-bulk-2")
        self.assertEqual(second["attributes"], {"tier": 2})

    def test_account_link_and_account_users(self):
        jane = post_user(self, self.service, {
            "claims": {"external_id": "jane"},
            "account": {"external_id": "acme", "domain": "acme.com"}})
        john = post_user(self, self.service, {
            "claims": {"external_id": "john"}, "account": {"domain": "ACME.com"}})
        other = post_user(self, self.service, {
            "claims": {"external_id": "other"}, "account": {"external_id": "globex"}})

        account = one_account(self, self.service, "domain", "acme.com")
        self.assertEqual(account["external_id"], "acme")
        self.assertEqual(jane["account_id"], account["id"])
        self.assertEqual(john["account_id"], account["id"])
        self.assertNotEqual(other["account_id"], account["id"])
        members = get_ok(self, self.service, "/api/v1/accounts/%s/users" % account["id"])
        self.assertEqual(sorted(user["id"] for user in members["users"]),
                         sorted([jane["id"], john["id"]]))
        self.assertEqual(one_account(self, self.service, "external_id", "globex")["id"],
                         other["account_id"])


class AttributeOperationsTest(CustomerDataTestCase):

    def test_every_operation(self):
        created = post_user(self, self.service, {
            "claims": {"external_id": "ops"},
            "attributes": {"kept": "original", "count": 5, "balance": 1.5, "gone": "x",
                           "replaced": "old"}})

        view = post_user(self, self.service, {"claims": {"external_id": "ops"}, "attributes": {
            "replaced": {"operation": "set", "value": "new"},
            "kept": {"operation": "setIfNull", "value": "ignored"},
            "filled": {"operation": "setIfNull", "value": "first"},
            "count": {"operation": "inc", "value": 2},
            "balance": {"operation": "dec", "value": 0.25},
            "fresh_counter": {"operation": "inc", "value": 3},
            "fresh_debt": {"operation": "dec", "value": 1.5},
            "gone": None,
            "plain": {"nested": {"operation": "is data here"}},
        }})

        self.assertEqual(view["id"], created["id"])
        attributes = view["attributes"]
        self.assertEqual(attributes["replaced"], "new")
        self.assertEqual(attributes["kept"], "original")
        self.assertEqual(attributes["filled"], "first")
        self.assertEqual(attributes["count"], 7)
        self.assertIsInstance(attributes["count"], int)
        self.assertEqual(attributes["balance"], 1.25)
        self.assertEqual(attributes["fresh_counter"], 3)
        self.assertEqual(attributes["fresh_debt"], -1.5)
        self.assertNotIn("gone", attributes)
        self.assertEqual(attributes["plain"], {"nested": {"operation": "is data here"}})
        self.assertEqual(user_view(self, self.service, view["id"])["attributes"], attributes)

    def test_set_wraps_operation_object(self):
        view = post_user(self, self.service, {"claims": {"external_id": "wrapped"}, "attributes": {
            "job": {"operation": "set", "value": {"operation": "export", "value": 1}}}})

        self.assertEqual(view["attributes"]["job"], {"operation": "export", "value": 1})

    def test_inc_int_and_double_mixed(self):
        post_user(self, self.service, {"claims": {"external_id": "mixed"},
                                       "attributes": {"score": 10}})

        view = post_user(self, self.service, {"claims": {"external_id": "mixed"}, "attributes": {
            "score": {"operation": "inc", "value": 0.5}}})

        self.assertEqual(view["attributes"]["score"], 10.5)

    def test_inc_on_string_rejects_entity(self):
        post_user(self, self.service, {"claims": {"external_id": "text-holder"},
                                       "attributes": {"label": "gold", "visits": 1}})

        status, body = self.service.post("/api/v1/users", {"users": [
            {"claims": {"external_id": "neighbour-before"},
             "attributes": {"visits": {"operation": "inc", "value": 1}}},
            {"claims": {"external_id": "text-holder"},
             "attributes": {"label": {"operation": "inc", "value": 1},
                            "visits": {"operation": "inc", "value": 1}}},
            {"claims": {"external_id": "neighbour-after"}, "attributes": {"visits": 9}},
        ]})

        self.assertEqual(status, 200, body)
        self.assertEqual([item["index"] for item in body["accepted"]], [0, 2])
        self.assertEqual(len(body["rejected"]), 1, body)
        self.assertEqual(body["rejected"][0]["index"], 1)
        self.assertIn("label", body["rejected"][0]["error"])
        holder = one_user(self, self.service, "external_id", "text-holder")
        self.assertEqual(holder["attributes"], {"label": "gold", "visits": 1})
        self.assertEqual(one_user(self, self.service, "external_id", "neighbour-before")
                         ["attributes"], {"visits": 1})
        self.assertEqual(one_user(self, self.service, "external_id", "neighbour-after")
                         ["attributes"], {"visits": 9})

    def test_single_inc_on_string_is_400(self):
        post_user(self, self.service, {"claims": {"external_id": "single-text"},
                                       "attributes": {"label": "gold"}})

        status, body = self.service.post("/api/v1/users", {
            "claims": {"external_id": "single-text"},
            "attributes": {"label": {"operation": "dec", "value": 1}}})

        self.assertEqual(status, 400, body)
        self.assertIn("label", body["error"])
        self.assertEqual(one_user(self, self.service, "external_id", "single-text")
                         ["attributes"], {"label": "gold"})


class EventsTest(CustomerDataTestCase):

    def track(self, user_id, event, timestamp, message_id, properties):
        status, body = segment_call(self.service, "/v1/track", {
            "userId": user_id, "event": event, "timestamp": timestamp,
            "messageId": message_id, "properties": properties})
        self.assertEqual(status, 200, body)
        self.assertEqual(body.get("success"), True, body)

    def test_events_newest_first_with_limit(self):
        sent = [
            ("Signed Up", "2024-01-01T08:00:00Z", "m-1", {"plan": "free"}),
            ("Viewed Page", "2024-02-10T00:00:00Z", "m-2", {"path": "/pricing"}),
            ("Order Completed", "2024-03-05T14:30:00.250+02:00", "m-3", {"total": 19.5}),
            ("Order Completed", "2024-04-01T10:00:00Z", "m-4",
             {"total": 42, "items": [{"sku": "A-1", "qty": 2}]}),
        ]
        for event, timestamp, message_id, properties in sent:
            self.track("evt-user", event, timestamp, message_id, properties)
        user = one_user(self, self.service, "external_id", "evt-user")

        events = user_events(self, self.service, user["id"])
        self.assertEqual([event["message_id"] for event in events], ["m-4", "m-3", "m-2", "m-1"])
        self.assertEqual(events[0], {"event": "Order Completed",
                                     "properties": {"total": 42,
                                                    "items": [{"sku": "A-1", "qty": 2}]},
                                     "timestamp": "2024-04-01T10:00:00.000Z",
                                     "message_id": "m-4"})
        self.assertEqual(events[1]["timestamp"], "2024-03-05T12:30:00.250Z")
        self.assertEqual(events[1]["properties"], {"total": 19.5})
        self.assertEqual(events[3]["event"], "Signed Up")

        limited = user_events(self, self.service, user["id"], limit=2)
        self.assertEqual([event["message_id"] for event in limited], ["m-4", "m-3"])

    def test_events_ordered_by_time_not_arrival(self):
        # Segment libraries retry and batch, so events often arrive out of
        # time order; "newest first" is about when they happened.
        for timestamp, message_id in [("2024-01-01T00:00:00Z", "t-1"),
                                      ("2024-03-01T00:00:00Z", "t-3"),
                                      ("2024-02-01T00:00:00Z", "t-2")]:
            self.track("late-user", "Ping", timestamp, message_id, {})
        user = one_user(self, self.service, "external_id", "late-user")

        events = user_events(self, self.service, user["id"])

        self.assertEqual([event["message_id"] for event in events], ["t-3", "t-2", "t-1"])

    def test_events_limit_out_of_range_is_400(self):
        self.track("limit-user", "Ping", "2024-01-01T00:00:00Z", "p-1", {})
        user = one_user(self, self.service, "external_id", "limit-user")

        for limit in ["0", "1001", "ten", "-1", ""]:
            with self.subTest(limit=limit):
                status, body = self.service.get("/api/v1/users/%s/events?limit=%s"
                                                % (user["id"], limit))
                self.assertEqual(status, 400, body)
                self.assertIn("limit", body["error"])

    def test_track_by_anonymous_id(self):
        status, body = segment_call(self.service, "/v1/track", {
            "anonymousId": "device-42", "event": "Opened App",
            "timestamp": "2024-05-01T00:00:01Z", "messageId": "anon-evt-2"})
        self.assertEqual(status, 200, body)

        user = one_user(self, self.service, "anonymous_id", "device-42")
        self.assertIsNone(user["external_id"])
        self.assertEqual([event["message_id"] for event in
                          user_events(self, self.service, user["id"])], ["anon-evt-2"])

    def test_track_without_user_is_400(self):
        status, body = segment_call(self.service, "/v1/track", {
            "userId": None, "event": "Opened App", "messageId": "nobody"})

        self.assertEqual(status, 400, body)
        self.assertIn("userId", body["error"])


class LookupTest(CustomerDataTestCase):

    def test_users_by_each_claim(self):
        view = post_user(self, self.service, {"claims": {
            "external_id": "look-1", "email": "Look@Example.com", "anonymous_id": "look-anon"}})
        post_user(self, self.service, {"claims": {"external_id": "look-2"}})

        for claim, value in [("external_id", "look-1"), ("email", "look@example.com"),
                             ("anonymous_id", "look-anon")]:
            with self.subTest(claim=claim):
                self.assertEqual(find_users(self, self.service, claim, value), [view])
                self.assertEqual(find_users(self, self.service, claim, value + "-nobody"), [])

    def test_accounts_by_each_claim(self):
        view = post_account(self, self.service, {"claims": {
            "external_id": "acct-look", "domain": "look.example", "anonymous_id": "acct-anon"}})

        for claim, value in [("external_id", "acct-look"), ("domain", "look.example"),
                             ("anonymous_id", "acct-anon")]:
            with self.subTest(claim=claim):
                self.assertEqual(find_accounts(self, self.service, claim, value), [view])
                self.assertEqual(find_accounts(self, self.service, claim, "x" + value), [])

    def test_lookup_without_claim_is_400(self):
        for path in ["/api/v1/users", "/api/v1/users?plan=pro", "/api/v1/accounts"]:
            with self.subTest(path=path):
                status, body = self.service.get(path)
                self.assertEqual(status, 400, body)
                self.assertIn("external_id", body["error"])

    def test_unknown_ids_404(self):
        missing = "0b6f2c1e-9d7a-4c55-8f00-missing00001"
        for path in ["/api/v1/users/" + missing, "/api/v1/users/%s/events" % missing,
                     "/api/v1/accounts/" + missing, "/api/v1/accounts/%s/users" % missing,
                     "/api/v1/segments/" + missing]:
            with self.subTest(path=path):
                status, body = self.service.get(path)
                self.assertEqual(status, 404, body)
                self.assertIn(missing, body["error"])


# (name, raw body, substring of the error) for POST /api/v1/users.
NATIVE_BAD_BODIES = [
    ("malformed JSON", b'{"claims": {"external_id": "bad-1"', "JSON"),
    ("trailing comma", b'{"claims": {"external_id": "bad-2",}}', "JSON"),
    ("not an object", b'["bad-3"]', "object"),
    ("external_id number", b'{"claims": {"external_id": 12}}', "claims.external_id"),
    ("email array", b'{"claims": {"email": ["a@b.com"]}}', "claims.email"),
    ("empty external_id", b'{"claims": {"external_id": ""}}', "claims.external_id"),
    ("unknown claim", b'{"claims": {"user_id": "bad-4"}}', "user_id"),
    ("no claims", b'{"claims": {}, "attributes": {"a": 1}}', "claim"),
    ("claims missing", b'{"attributes": {"a": 1}}', "claims"),
    ("unknown member", b'{"claims": {"external_id": "bad-5"}, "traits": {}}', "traits"),
    ("unknown operation",
     b'{"claims": {"external_id": "bad-6"}, "attributes": '
     b'{"n": {"operation": "multiply", "value": 2}}}', "multiply"),
    ("inc without number",
     b'{"claims": {"external_id": "bad-7"}, "attributes": '
     b'{"n": {"operation": "inc", "value": "2"}}}', "n"),
    ("operation extra member",
     b'{"claims": {"external_id": "bad-8"}, "attributes": '
     b'{"n": {"operation": "set", "value": 2, "when": "now"}}}', "n"),
    ("invalid UTF-8 in value",
     b'{"claims": {"external_id": "bad-9"}, "attributes": {"name": "caf\xc3"}}', "UTF-8"),
    ("overlong UTF-8 in key",
     b'{"claims": {"external_id": "bad-10"}, "attributes": {"\xc0\xafname": 1}}', "UTF-8"),
    ("NaN value", b'{"claims": {"external_id": "bad-11"}, "attributes": {"n": NaN}}', "NaN"),
    ("truncated gzip",
     gzip.compress(b'{"claims": {"external_id": "bad-12"}}')[:-6], "gzip"),
]


class BadInputTest(CustomerDataTestCase):

    def test_native_bad_bodies(self):
        for name, body, error_part in NATIVE_BAD_BODIES:
            with self.subTest(case=name):
                status, response = self.service.post(
                    "/api/v1/users", body, headers={"Content-Type": "application/json"})
                self.assertEqual(status, 400, response)
                self.assertIn(error_part, response["error"])

        for number in range(1, 13):
            with self.subTest(stored="bad-%d" % number):
                self.assertEqual(find_users(self, self.service, "external_id",
                                            "bad-%d" % number), [])
        status, body = self.service.get("/healthz")
        self.assertEqual(status, 200, body)

    def test_segment_bad_bodies(self):
        good = compact_json({"batch": [{"type": "identify", "userId": "seg-bad"}]})
        cases = [
            ("malformed JSON", "/v1/batch", b'{"batch": [', "JSON"),
            ("batch not an array", "/v1/batch", b'{"batch": {"type": "identify"}}', "batch"),
            ("invalid UTF-8", "/v1/identify",
             b'{"userId": "seg-bad", "traits": {"name": "x\xff"}}', "UTF-8"),
            ("wrong type for endpoint", "/v1/identify",
             b'{"type": "track", "userId": "seg-bad", "event": "E"}', "track"),
            ("truncated gzip", "/v1/batch", gzip.compress(good)[:-6], "invalid gzip body"),
            ("bytes after gzip", "/v1/batch", gzip.compress(good) + b"junk",
             "invalid gzip body"),
        ]
        for name, path, body, error_part in cases:
            with self.subTest(case=name):
                status, response = segment_call(self.service, path, body)
                self.assertEqual(status, 400, response)
                self.assertEqual(response.get("success"), False, response)
                self.assertIn(error_part, response["error"])
        self.assertEqual(find_users(self, self.service, "external_id", "seg-bad"), [])

    def test_oversize_batch_rejected_whole(self):
        # About 520 KB of valid messages, each under the message limit.
        messages = [{"type": "identify", "userId": "big-%d" % number,
                     "traits": {"padding": "p" * 20000}} for number in range(26)]
        body = compact_json({"batch": messages})
        self.assertGreater(len(body), SEGMENT_BODY_LIMIT_BYTES)

        status, response = segment_call(self.service, "/v1/batch", body)

        self.assertEqual(status, 400, response)
        self.assertIn("500 KB", response["error"])
        self.assertEqual(find_users(self, self.service, "external_id", "big-0"), [])

    def test_oversize_gzip_batch_rejected_whole(self):
        messages = [{"type": "identify", "userId": "zip-%d" % number,
                     "traits": {"padding": "z" * 20000}} for number in range(26)]

        status, response = segment_call(self.service, "/v1/batch", {"batch": messages},
                                        compress=True)

        self.assertEqual(status, 400, response)
        self.assertRegex(response["error"], "500 KB|512000 bytes")
        self.assertEqual(find_users(self, self.service, "external_id", "zip-0"), [])

    def test_oversize_message_rejected_by_index(self):
        big_trait = "m" * SEGMENT_MESSAGE_LIMIT_BYTES
        status, body = segment_call(self.service, "/v1/batch", {"batch": [
            {"type": "identify", "userId": "small-0", "messageId": "s-0"},
            {"type": "identify", "userId": "huge-1", "messageId": "h-1",
             "traits": {"bio": big_trait}},
            {"type": "identify", "userId": "small-2", "messageId": "s-2"},
        ]})

        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["rejected"]), 1, body)
        self.assertEqual(body["rejected"][0]["index"], 1)
        self.assertEqual(body["rejected"][0].get("messageId"), "h-1")
        self.assertIn("32 KB", body["rejected"][0]["error"])
        self.assertEqual(find_users(self, self.service, "external_id", "huge-1"), [])
        one_user(self, self.service, "external_id", "small-0")
        one_user(self, self.service, "external_id", "small-2")

    def test_batch_keeps_good_messages(self):
        batch = compact_json({"batch": [
            {"type": "identify", "userId": "good-0", "traits": {"plan": "pro"}},
            {"type": "track", "userId": "good-0", "messageId": "no-event"},
            {"type": "identify", "traits": {"plan": "nobody"}},
            {"type": "shout", "userId": "good-0"},
            {"type": "track", "userId": "good-0", "event": "Clicked", "messageId": "ok-4",
             "timestamp": "2024-01-01T00:00:00Z"},
            {"type": "identify", "userId": 1.5},
            {"type": "track", "userId": "good-0", "event": "Late", "timestamp": "yesterday"},
            {"type": "page", "userId": "good-0", "name": "Home"},
            {"type": "identify", "userId": "good-8", "traits": {"tags": [{"nested": 1}]}},
            {"type": "group", "userId": "good-0", "groupId": "g-9",
             "traits": {"name": "Nine"}},
            {"type": "identify", "userId": "good-10", "traits": {"name": "PLACEHOLDER"}},
        ]}).replace(b"PLACEHOLDER", b"caf\xc3")

        status, body = segment_call(self.service, "/v1/batch", batch)

        self.assertEqual(status, 200, body)
        self.assertEqual(body["success"], True)
        rejected = {item["index"]: item for item in body["rejected"]}
        self.assertEqual(sorted(rejected), [1, 2, 3, 5, 6, 8, 10], body)
        self.assertIn("event", rejected[1]["error"])
        self.assertEqual(rejected[1].get("messageId"), "no-event")
        self.assertIn("shout", rejected[3]["error"])
        self.assertIn("userId", rejected[5]["error"])
        self.assertIn("timestamp", rejected[6]["error"])
        self.assertIn("traits.tags[0]", rejected[8]["error"])
        self.assertIn("UTF-8", rejected[10]["error"])
        self.assertIn("traits.name", rejected[10]["error"])

        user = one_user(self, self.service, "external_id", "good-0")
        self.assertEqual(user["attributes"], {"plan": "pro"})
        self.assertEqual([event["message_id"] for event in
                          user_events(self, self.service, user["id"])], ["ok-4"])
        self.assertEqual(user["account_id"],
                         one_account(self, self.service, "external_id", "g-9")["id"])
        self.assertEqual(find_users(self, self.service, "external_id", "good-8"), [])
        self.assertEqual(find_users(self, self.service, "external_id", "good-10"), [])

    def test_batch_all_rejected_is_400(self):
        status, body = segment_call(self.service, "/v1/batch", {"batch": [
            {"type": "track", "userId": "x"}, {"type": "identify"}]})

        self.assertEqual(status, 400, body)
        self.assertEqual(body["success"], False)
        self.assertEqual([item["index"] for item in body["rejected"]], [0, 1])


class WriteKeyTest(CustomerDataTestCase):

    def test_missing_or_wrong_key_is_401(self):
        identify = compact_json({"userId": "auth-user"})
        cases = [
            ("no header", {}),
            ("wrong key", {"Authorization": basic_authorization("not-the-key")}),
            ("bearer", {"Authorization": "Bearer " + WRITE_KEY}),
            ("broken base64", {"Authorization": "Basic %%%"}),
        ]
        for name, headers in cases:
            with self.subTest(case=name):
                status, _, body = self.service.request(
                    "POST", "/v1/identify", body=identify,
                    headers={"Content-Type": "application/json", **headers})
                self.assertEqual(status, 401, body)
                self.assertEqual(body["success"], False)
                self.assertNotIn(WRITE_KEY, json.dumps(body))
                self.assertNotIn("not-the-key", json.dumps(body))
        self.assertEqual(find_users(self, self.service, "external_id", "auth-user"), [])
        self.assertNotIn(WRITE_KEY, self.service.stderr_text())

    def test_401_before_body_errors(self):
        status, _, body = self.service.request("POST", "/v1/batch", body=b"{not json",
                                               headers={"Content-Type": "application/json"})

        self.assertEqual(status, 401, body)

    def test_right_key_is_200(self):
        status, body = segment_call(self.service, "/v1/identify", {"userId": "auth-ok"})

        self.assertEqual(status, 200, body)
        one_user(self, self.service, "external_id", "auth-ok")

    def test_write_key_in_body(self):
        status, _, body = self.service.request(
            "POST", "/v1/identify", body=compact_json({"userId": "key-in-body",
                                                       "writeKey": WRITE_KEY}),
            headers={"Content-Type": "application/json"})

        self.assertEqual(status, 200, body)
        one_user(self, self.service, "external_id", "key-in-body")


class GzipTest(CustomerDataTestCase):

    def test_gzip_body_labelled_text_plain(self):
        body = gzip.compress(compact_json({"batch": [
            {"type": "identify", "userId": "zipped", "traits": {"city": "Zürich"}}]}))

        status, _, response = self.service.request(
            "POST", "/v1/batch", body=body,
            headers={"Content-Type": "text/plain", **AUTH_HEADERS})

        self.assertEqual(status, 200, response)
        self.assertEqual(one_user(self, self.service, "external_id", "zipped")["attributes"],
                         {"city": "Zürich"})

    def test_gzip_native_body(self):
        body = gzip.compress(compact_json({"claims": {"external_id": "zipped-native"},
                                           "attributes": {"n": 1}}))

        status, _, view = self.service.request("POST", "/api/v1/users", body=body,
                                               headers={"Content-Type": "text/plain"})

        self.assertEqual(status, 200, view)
        self.assertEqual(view["external_id"], "zipped-native")

    def test_concatenated_gzip_members(self):
        text = compact_json({"userId": "two-members", "traits": {"a": 1}})
        body = gzip.compress(text[:10]) + gzip.compress(text[10:])

        status, response = segment_call(self.service, "/v1/identify", body)

        self.assertEqual(status, 200, response)
        one_user(self, self.service, "external_id", "two-members")


class RestartTest(harness.ServiceTestCase):

    def test_everything_survives_restart(self):
        service = start_customer_wharfd(self)
        status, body = segment_call(service, "/v1/batch", {"batch": [
            {"type": "identify", "userId": "keep-1", "anonymousId": "keep-anon",
             "traits": {"email": "Keep@Example.com", "name": "Zoë Ångström", "plan": "pro",
                        "visits": 3, "score": 2.5, "tags": ["x", "y"],
                        "profile": {"lang": "fr"}}},
            {"type": "group", "userId": "keep-1", "groupId": "keep-co",
             "traits": {"domain": "keep.example", "seats": 40}},
            {"type": "track", "userId": "keep-1", "event": "Order Completed",
             "messageId": "keep-e1", "timestamp": "2024-06-01T10:00:00Z",
             "properties": {"total": 12.5}},
            {"type": "track", "userId": "keep-1", "event": "Order Completed",
             "messageId": "keep-e2", "timestamp": "2024-06-02T10:00:00Z",
             "properties": {"total": 7}},
            {"type": "identify", "userId": "keep-2", "traits": {"plan": "free"}},
        ]})
        self.assertEqual(status, 200, body)
        segment = create_segment(self, service, "Pro", "users",
                                 {"attribute": "plan", "op": "eq", "value": "pro"})
        wait_segment_ready(self, service, segment["id"])
        post_user(self, service, {"claims": {"external_id": "keep-1"},
                                  "attributes": {"visits": {"operation": "inc", "value": 1}}})

        before_user = one_user(self, service, "external_id", "keep-1")
        before_other = one_user(self, service, "external_id", "keep-2")
        before_account = one_account(self, service, "external_id", "keep-co")
        before_events = user_events(self, service, before_user["id"])
        before_segment = wait_segment_ready(self, service, segment["id"])
        self.assertEqual(before_user["segment_ids"], [segment["id"]])
        self.assertEqual(before_user["attributes"]["visits"], 4)
        self.assertEqual(before_segment["size"], 1)

        service.restart()

        self.assertEqual(user_view(self, service, before_user["id"]), before_user)
        self.assertEqual(user_view(self, service, before_other["id"]), before_other)
        self.assertEqual(get_ok(self, service, "/api/v1/accounts/" + before_account["id"]),
                         before_account)
        self.assertEqual(user_events(self, service, before_user["id"]), before_events)
        self.assertEqual(one_user(self, service, "anonymous_id", "keep-anon")["id"],
                         before_user["id"])
        self.assertEqual(one_user(self, service, "email", "keep@example.com")["id"],
                         before_user["id"])
        self.assertEqual(wait_segment_ready(self, service, segment["id"]), before_segment)

        # The identity indexes were rebuilt: writes after the restart find the same user.
        after = post_user(self, service, {"claims": {"anonymous_id": "keep-anon"},
                                          "attributes": {"plan": "free"}})
        self.assertEqual(after["id"], before_user["id"])
        wait_for_value(service, lambda: user_view(self, service, after["id"])["segment_ids"], [],
                       what="segment_ids of the user after the restart")
        wait_for_value(service, lambda: wait_segment_ready(self, service, segment["id"])["size"],
                       0, what="size of the segment after the restart")


if __name__ == "__main__":
    unittest.main()
