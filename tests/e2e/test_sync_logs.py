"""End-to-end tests of connector log lines: fields, filters, retention, restarts.

GET /api/v1/connectors/{id}/logs returns lines newest first, or with
after=SEQUENCE the later lines oldest first. Each test writes users and
accounts through the Segment API, lets a webhook connector decide on them,
and compares the lines each filter returns with the lines the test selects
itself from the complete log.
"""

import collections
import datetime
import os
import re
import sqlite3
import time
import unittest

import harness
from data_client import WRITE_KEY
from sync_client import USER_WHITELIST, SyncTestCase

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# Users u-0..u-5 on accounts: u-0, u-1 and u-2 on acme, u-3 on globex,
# u-4 and u-5 without one.
USER_ACCOUNTS = {"u-0": "acme", "u-1": "acme", "u-2": "acme", "u-3": "globex",
                 "u-4": None, "u-5": None}

DAY_MS = 24 * 3600 * 1000


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def iso_millis(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


class LoggedUsersTestCase(SyncTestCase):
    """A webhook whitelisted on "Paying" (plan eq paid), and the users in USER_ACCOUNTS.

    Even-numbered users pay, so the others get skip lines.
    """

    def setUp(self):
        super().setUp()
        self.paying = self.create_segment("Paying", {"attribute": "plan", "op": "eq",
                                                     "value": "paid"})
        self.hook = self.create_webhook(user_segments=[self.paying["id"]],
                                        account_segments=["ALL"])
        messages = []
        for index, (external_id, account) in enumerate(USER_ACCOUNTS.items()):
            plan = "paid" if index % 2 == 0 else "free"
            messages.append({"type": "identify", "userId": external_id,
                             "traits": {"plan": plan, "email": external_id + "@example.com"}})
            if account is not None:
                messages.append({"type": "group", "userId": external_id, "groupId": account,
                                 "traits": {"domain": account + ".example"}})
        self.send(messages)

        self.users = {external_id: self.user(external_id) for external_id in USER_ACCOUNTS}
        self.accounts = {external_id: self.account(external_id)
                         for external_id in ("acme", "globex")}
        # u-0, u-2 and u-4 each get start and success; u-1, u-3 and u-5 a skip;
        # acme and globex start and success.
        self.lines = self.wait_logs(self.hook["id"], lambda lines: self.settled(lines),
                                    "the decisions on every user and account")

    def settled(self, lines):
        counts = collections.Counter(line["message"] for line in lines)
        return (counts["outgoing.user.success"] == 3 and counts["outgoing.user.skip"] == 3
                and counts["outgoing.account.success"] == 2)


class LogFieldsTest(LoggedUsersTestCase):

    def test_lines_carry_fields(self):
        before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
        sequences = [line["sequence"] for line in self.lines]
        self.assertEqual(sequences, sorted(set(sequences)))
        for line in self.lines:
            self.assertEqual(set(line), {"sequence", "time", "connector_id", "message", "user_id",
                                         "account_id", "claims", "batch_id", "data"}, line)
            self.assertRegex(line["time"], ISO_TIME)
            self.assertTrue(before <= parse_time(line["time"]) <= after, line)
            self.assertEqual(line["connector_id"], self.hook["id"])
            self.assertIsNone(line["batch_id"], line)

        u0 = self.users["u-0"]
        lines = [line for line in self.lines if line["user_id"] == u0["id"]]
        self.assertEqual([line["message"] for line in lines],
                         ["outgoing.user.start", "outgoing.user.success"])
        for line in lines:
            self.assertEqual(line["account_id"], self.accounts["acme"]["id"])
            self.assertEqual(line["claims"], {"external_id": "u-0", "email": "u-0@example.com",
                                              "anonymous_ids": []})
        self.assertEqual(lines[1]["data"], {"attempt": 1, "status_code": 200})

        u5 = self.users["u-5"]
        skip, = [line for line in self.lines if line["user_id"] == u5["id"]]
        self.assertEqual(skip["message"], "outgoing.user.skip")
        self.assertIsNone(skip["account_id"])
        self.assertIn('"Paying"', skip["data"]["reason"])
        self.assertIn(USER_WHITELIST, skip["data"]["reason"])

        acme_lines = [line for line in self.lines if line["message"].startswith("outgoing.account")
                      and line["account_id"] == self.accounts["acme"]["id"]]
        self.assertEqual([line["message"] for line in acme_lines],
                         ["outgoing.account.start", "outgoing.account.success"])
        for line in acme_lines:
            self.assertIsNone(line["user_id"])
            self.assertEqual(line["claims"], {"external_id": "acme", "domain": "acme.example",
                                              "anonymous_ids": []})

    def test_start_lines_carry_attempt(self):
        starts = [line for line in self.lines if line["message"].endswith(".start")]
        self.assertEqual(len(starts), 5, starts)
        for line in starts:
            self.assertEqual(line["data"], {"attempt": 1}, line)

    def test_batch_lines_carry_batch_id(self):
        u1 = self.users["u-1"]
        status, view = self.start_batch(self.hook["id"], {"user_id": u1["id"]})
        self.assertEqual(status, 202, view)
        self.assertEqual(self.wait_batch(view["id"])["state"], "done")

        lines = self.all_logs(self.hook["id"], batch_id=view["id"])
        self.assertEqual([(line["message"], line["user_id"], line["batch_id"]) for line in lines],
                         [("outgoing.user.start", u1["id"], view["id"]),
                          ("outgoing.user.success", u1["id"], view["id"])])
        self.assertEqual(lines[1]["data"], {"attempt": 1, "status_code": 200})


class LogFilterTest(LoggedUsersTestCase):

    def assert_filtered(self, expected, **filters):
        got = self.all_logs(self.hook["id"], **filters)
        self.assertEqual([line["sequence"] for line in got],
                         [line["sequence"] for line in expected], filters)
        self.assertGreater(len(got), 0, "the filter %r should select lines" % (filters,))

    def test_message_filter(self):
        for message in ("outgoing.user.skip", "outgoing.user.success", "outgoing.account.start"):
            with self.subTest(message=message):
                self.assert_filtered([line for line in self.lines if line["message"] == message],
                                     message=message)
        self.assertEqual(self.logs(self.hook["id"], message="outgoing.user.error"), [])

    def test_user_filter(self):
        for external_id, user in self.users.items():
            with self.subTest(user=external_id):
                self.assert_filtered([line for line in self.lines
                                      if line["user_id"] == user["id"]], user_id=user["id"])
        self.assertEqual(self.logs(self.hook["id"], user_id="no-such-user"), [])

    def test_account_filter(self):
        acme = self.accounts["acme"]
        expected = [line for line in self.lines if line["account_id"] == acme["id"]]
        # acme's own two lines, and the lines of its users u-0, u-1 and u-2.
        self.assertEqual(collections.Counter(line["message"] for line in expected),
                         collections.Counter({"outgoing.account.start": 1,
                                              "outgoing.account.success": 1,
                                              "outgoing.user.start": 2,
                                              "outgoing.user.success": 2,
                                              "outgoing.user.skip": 1}))
        self.assert_filtered(expected, account_id=acme["id"])
        self.assert_filtered([line for line in self.lines if line["account_id"] == acme["id"]
                              and line["message"] == "outgoing.user.success"],
                             account_id=acme["id"], message="outgoing.user.success")

    def test_batch_filter(self):
        batch_ids = []
        for external_id in ("u-3", "u-4"):
            status, view = self.start_batch(self.hook["id"],
                                            {"user_id": self.users[external_id]["id"]})
            self.assertEqual(status, 202, view)
            self.assertEqual(self.wait_batch(view["id"])["state"], "done")
            batch_ids.append(view["id"])
        everything = self.all_logs(self.hook["id"])

        for batch_id in batch_ids:
            with self.subTest(batch_id=batch_id):
                self.assert_filtered([line for line in everything
                                      if line["batch_id"] == batch_id], batch_id=batch_id)
        self.assertEqual(self.logs(self.hook["id"], batch_id="no-such-batch"), [])

    def test_limit_and_order(self):
        newest_first = list(reversed(self.lines))
        for limit in (1, 3, len(self.lines)):
            with self.subTest(limit=limit):
                got = self.logs(self.hook["id"], limit=limit)
                self.assertEqual([line["sequence"] for line in got],
                                 [line["sequence"] for line in newest_first[:limit]])
        self.assertEqual(len(self.logs(self.hook["id"], limit=len(self.lines) + 50)),
                         len(self.lines))
        for bad in ("0", "1001", "-1", "ten", ""):
            with self.subTest(limit=bad):
                status, body = self.logs_response(self.hook["id"], limit=bad)
                self.assertEqual(status, 400, body)
                self.assertIn("limit", body["error"])

    def test_default_limit_hundred(self):
        self.send([{"type": "identify", "userId": "bulk-%d" % index, "traits": {"plan": "paid"}}
                   for index in range(60)])
        # 60 more users with start and success lines each.
        self.wait_log_count(self.hook["id"], "outgoing.user.success", 63)
        everything = self.all_logs(self.hook["id"])
        self.assertEqual(len(everything), len(self.lines) + 120)

        got = self.logs(self.hook["id"])
        self.assertEqual([line["sequence"] for line in got],
                         [line["sequence"] for line in reversed(everything)][:100])

    def test_after_follows_oldest_first(self):
        middle = self.lines[len(self.lines) // 2]["sequence"]
        got = self.logs(self.hook["id"], after=middle)
        self.assertEqual([line["sequence"] for line in got],
                         [line["sequence"] for line in self.lines if line["sequence"] > middle])
        self.assertEqual(self.logs(self.hook["id"], after=self.lines[-1]["sequence"]), [])

        self.identify("late", {"plan": "paid"})
        late = self.user("late")
        got = self.wait_logs(self.hook["id"],
                             lambda lines: any(line["message"] == "outgoing.user.success"
                                               for line in lines),
                             "late's success line", user_id=late["id"])
        followed = self.logs(self.hook["id"], after=self.lines[-1]["sequence"])
        self.assertEqual([(line["message"], line["user_id"]) for line in followed],
                         [("outgoing.user.start", late["id"]),
                          ("outgoing.user.success", late["id"])])
        for bad in ("-1", "x", "1.5", ""):
            with self.subTest(after=bad):
                status, body = self.logs_response(self.hook["id"], after=bad)
                self.assertEqual(status, 400, body)
                self.assertIn("after", body["error"])

    def test_after_zero_starts_at_oldest(self):
        # A follower that has seen nothing yet starts with after=0.
        got = self.logs(self.hook["id"], after=0, limit=2)
        self.assertEqual([line["sequence"] for line in got],
                         [line["sequence"] for line in self.lines[:2]])

    def test_since_filter(self):
        last_time = parse_time(self.lines[-1]["time"])
        # Lines written after this moment are the only ones at or after it.
        boundary = last_time + datetime.timedelta(milliseconds=5)
        deadline = time.monotonic() + 5
        while datetime.datetime.now(datetime.timezone.utc) < boundary + datetime.timedelta(
                milliseconds=5):
            self.assertLess(time.monotonic(), deadline, "the clock did not advance")
            time.sleep(0.005)

        self.identify("late", {"plan": "paid"})
        late = self.user("late")
        self.wait_log_count(self.hook["id"], "outgoing.user.success", 1, user_id=late["id"])
        everything = self.all_logs(self.hook["id"])
        expected = [line for line in everything if parse_time(line["time"]) >= boundary]
        self.assertEqual([line["user_id"] for line in expected], [late["id"], late["id"]])

        self.assert_filtered(expected, since=iso_millis(boundary))
        self.assert_filtered(everything, since="2000-01-01T00:00:00Z")
        self.assertEqual(self.logs(self.hook["id"], since="2999-01-01T00:00:00Z"), [])

    def assert_since_rejected(self, values):
        for bad in values:
            with self.subTest(since=bad):
                status, body = self.logs_response(self.hook["id"], since=bad)
                if status == 200:
                    self.fail("since=%s was accepted; expected 400" % bad)
                self.assertEqual(status, 400, body)
                self.assertIn("since", body["error"])

    def test_since_malformed_rejected(self):
        self.assert_since_rejected(["yesterday", "2026-13-45", "2026-01-01T00:00:00Zjunk",
                                    "1733346000", ""])

    def test_since_impossible_date_rejected(self):
        # Each field is in the right place, but no such moment exists.
        self.assert_since_rejected(["2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                                    "2026-01-01T25:00:00Z", "2026-01-01T10:61:00Z"])

    def test_unknown_connector_not_found(self):
        status, body = self.logs_response("no-such-connector")
        self.assertEqual(status, 404, body)
        self.assertIn("no-such-connector", body["error"])


class LogRetentionTest(SyncTestCase):

    def test_retention_option_validated(self):
        for value in ("0", "-1", "3651", "seven", "", "7d", "1.5"):
            with self.subTest(days=value):
                code, _, stderr = harness.run_wharfd(["--log-retention-days", value,
                                                      "--data-dir", harness.make_temp_dir(self),
                                                      "--listen", "127.0.0.1:0"])
                self.assertEqual(code, 2, stderr)
                self.assertIn("retention", stderr)
                self.assertIn("1 to 3650", stderr)

    def test_retention_config_key_accepted(self):
        service = self.start_wharfd(plugins_dir=harness.make_plugins_dir(self),
                                    config_text="log_retention_days = 30\n")
        status, body = service.get("/healthz")
        self.assertEqual(status, 200, body)

    def test_retention_config_key_validated(self):
        config_dir = harness.make_temp_dir(self)
        config_path = os.path.join(config_dir, "wharfd.conf")
        with open(config_path, "w", encoding="utf-8") as config_file:
            config_file.write("log_retention_days = 0\n")
        code, _, stderr = harness.run_wharfd(["--config", config_path,
                                              "--data-dir", harness.make_temp_dir(self),
                                              "--listen", "127.0.0.1:0"])
        self.assertEqual(code, 2, stderr)
        self.assertIn("log_retention_days", stderr)

    def age_lines(self, sequences, days):
        """Move the given log lines days into the past, as if they had waited that long.

        wharfd must be stopped, so that the sync store is not in use.
        """
        self.assertFalse(self.service.running)
        database = sqlite3.connect(os.path.join(self.service.data_dir, "sync.db"))
        try:
            with database:
                for sequence in sequences:
                    database.execute("UPDATE log_lines SET at_ms = at_ms - ? WHERE sequence = ?",
                                     (int(days * DAY_MS), sequence))
        finally:
            database.close()

    def stop_service(self):
        code = self.service.stop()
        self.assertEqual(code, 0, self.service.stderr_text())

    def user_lines(self, connector_id, external_id):
        return [line["sequence"] for line in self.all_logs(connector_id,
                                                           user_id=self.user(external_id)["id"])]

    def test_old_lines_expire(self):
        hook = self.create_webhook(user_segments=["ALL"])
        # The purge relies on lines being written in time order, so each
        # user's lines come after those of every older user.
        for count, external_id in enumerate(("nine-days", "eight-days", "three-days", "fresh"),
                                            start=1):
            self.identify(external_id, {"plan": "paid"})
            self.wait_log_count(hook["id"], "outgoing.user.success", count)
        ages = {"eight-days": 8, "three-days": 3, "nine-days": 9, "fresh": 0}
        sequences = {external_id: self.user_lines(hook["id"], external_id)
                     for external_id in ages}
        for external_id, lines in sequences.items():
            self.assertEqual(len(lines), 2, (external_id, lines))

        # A retention of 10 days keeps every line. The default of 7 days drops
        # the lines aged 8 and 9 days, and 2 days then drops the 3-day-old ones.
        self.stop_service()
        for external_id, days in ages.items():
            self.age_lines(sequences[external_id], days)
        cases = [(["--log-retention-days", "10"], list(ages), None),
                 ([], ["three-days", "fresh"], "purged 4 connector log lines older than 7 days"),
                 (["--log-retention-days", "2"], ["fresh"],
                  "purged 2 connector log lines older than 2 days")]
        for args, kept, purge_line in cases:
            with self.subTest(args=args):
                if self.service.running:
                    self.stop_service()
                self.service.extra_args = ["--write-key", WRITE_KEY, *args]
                self.service.start()
                got = [line["sequence"] for line in self.all_logs(hook["id"])]
                self.assertEqual(got, sorted(sequence for external_id in kept
                                             for sequence in sequences[external_id]))
                if purge_line is not None:
                    self.service.wait_for_log(purge_line)
                else:
                    self.assertEqual(self.service.log_lines_matching("purged"), [])


class LogRestartTest(LoggedUsersTestCase):

    def test_lines_survive_restart(self):
        before = self.all_logs(self.hook["id"])
        self.service.restart()

        self.assertEqual(self.all_logs(self.hook["id"]), before)
        self.identify("after-restart", {"plan": "paid"})
        user = self.user("after-restart")
        lines = self.wait_log_count(self.hook["id"], "outgoing.user.success", 1,
                                    user_id=user["id"])
        self.assertGreater(lines[0]["sequence"], before[-1]["sequence"])
        self.assertEqual(self.all_logs(self.hook["id"])[:len(before)], before)

    def test_lines_of_earlier_layout_kept(self):
        before = self.all_logs(self.hook["id"])
        code = self.service.stop()
        self.assertEqual(code, 0, self.service.stderr_text())
        # Rewrite sync.db as wharfd wrote it before log_names existed: the
        # connector, message and batch as text in every line.
        database = sqlite3.connect(os.path.join(self.service.data_dir, "sync.db"))
        try:
            database.executescript("""
                CREATE TABLE earlier AS SELECT l.sequence, l.at_ms, c.name AS connector_id,
                    m.name AS message, l.user_id, l.account_id, l.claims, b.name AS batch_id,
                    l.data
                FROM log_lines l JOIN log_names c ON c.key = l.connector
                    JOIN log_names m ON m.key = l.message
                    LEFT JOIN log_names b ON b.key = l.batch;
                DROP TABLE log_lines;
                DROP TABLE log_names;
                CREATE TABLE log_lines (sequence INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
                    connector_id TEXT NOT NULL, message TEXT NOT NULL, user_id TEXT,
                    account_id TEXT, claims TEXT, batch_id TEXT, data TEXT);
                INSERT INTO log_lines SELECT * FROM earlier;
                DROP TABLE earlier;
                CREATE INDEX log_lines_connector ON log_lines (connector_id, sequence);
                CREATE INDEX log_lines_time ON log_lines (at_ms);
            """)
        finally:
            database.close()

        self.service.start()
        self.service.wait_for_log("connector log lines moved to the layout with log_names")
        self.assertEqual(self.all_logs(self.hook["id"]), before)
        skips = [line for line in before if line["message"] == "outgoing.user.skip"]
        self.assertGreater(len(skips), 0)
        self.assertEqual(self.all_logs(self.hook["id"], message="outgoing.user.skip"), skips)


if __name__ == "__main__":
    unittest.main()
