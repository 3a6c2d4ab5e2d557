"""End-to-end tests of the sync engine on public sample data.

AdventureWorks' prospective buyers and Chinook's customers and invoices are
read in place from shared/data beside the repository (see data_samples.py)
and sent through the Segment API. Every expected set of users and events is
computed here from the files, never from wharfd, and compared exactly with
what the webhook delivered to the Recorder.
"""

import collections
import json
import subprocess
import unittest

from data_samples import (CHINOOK_CUSTOMER_PATH, CHINOOK_INVOICE_PATH, PROSPECTIVE_BUYER_PATH,
                          buyer_traits, customer_messages, customer_traits, invoice_messages,
                          invoice_properties, read_chinook_customers, read_chinook_invoices,
                          read_prospective_buyers, require_file)
from sync_client import SyncTestCase, segment_ref

HIGH_INCOME = 100000
SENIOR_OCCUPATIONS = ["Management", "Professional"]

# A segment of Chinook customers: these countries contain 15 of the 16 accented names.
CHINOOK_COUNTRIES = ["Brazil", "Germany", "Czech Republic", "Portugal", "Finland", "Hungary",
                     "Poland", "Spain", "Argentina", "Norway"]

# Invoices per /v1/batch request, so that a customer's orders arrive in
# several requests and so in several automatic messages.
INVOICES_PER_REQUEST = 50


def file_encoding(path):
    """The encoding that file(1) reports for path, such as "us-ascii" or "utf-8"."""
    completed = subprocess.run(["file", "--brief", "--mime-encoding", require_file(path)],
                               capture_output=True, text=True, timeout=30, check=True)
    return completed.stdout.strip()


def expected_event(invoice):
    return {"event": "Order Completed", "message_id": "invoice-%d" % invoice["InvoiceId"],
            # InvoiceDate has no offset, so wharfd takes it as UTC.
            "timestamp": invoice["InvoiceDate"] + ".000Z",
            "properties": invoice_properties(invoice)}


class AdventureWorksBatchTest(SyncTestCase):

    def setUp(self):
        super().setUp()
        self.assertIn(file_encoding(PROSPECTIVE_BUYER_PATH), ("us-ascii", "utf-8"))
        self.rows = read_prospective_buyers()
        self.send([{"type": "identify", "userId": row["ProspectiveBuyerKey"],
                    "traits": buyer_traits(row)} for row in self.rows])

    def test_segment_batch_delivers_members(self):
        high_earners = self.create_segment("Senior high earners", {"all": [
            {"attribute": "yearly_income", "op": "gte", "value": HIGH_INCOME},
            {"attribute": "occupation", "op": "in", "value": SENIOR_OCCUPATIONS}]})
        clerical = self.create_segment("Clerical", {"attribute": "occupation", "op": "eq",
                                                    "value": "Clerical"})
        expected = [row for row in self.rows
                    if float(row["YearlyIncome"]) >= HIGH_INCOME
                    and row["Occupation"] in SENIOR_OCCUPATIONS]
        self.assertGreater(len(expected), 100, "the query should select a large part of the file")
        self.assertLess(len(expected), len(self.rows))
        self.assertEqual(high_earners["size"], len(expected))
        hook = self.create_webhook(user_segments=[clerical["id"]], max_connections=4)

        status, view = self.start_batch(hook["id"], {"segment_id": high_earners["id"]})
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual((view["state"], view["total"], view["sent"], view["failed"]),
                         ("done", len(expected), len(expected), 0), view)

        self.assertEqual(self.delivered_external_ids(is_export=True),
                         collections.Counter(row["ProspectiveBuyerKey"] for row in expected))
        self.assertEqual(self.delivered(is_export=False), [])
        by_key = {row["ProspectiveBuyerKey"]: row for row in expected}
        mismatches = []
        for message in self.delivered(is_export=True):
            row = by_key[message["user"]["external_id"]]
            if (message["user"]["attributes"] != buyer_traits(row)
                    or message["user"]["email"] != row["EmailAddress"].strip().lower()
                    or message["segments"] != [segment_ref(high_earners)]
                    or "changes" in message or "events" in message):
                mismatches.append(message)
        self.assertEqual(len(mismatches), 0, "%d messages differ from the file; the first: %s"
                         % (len(mismatches), json.dumps(mismatches[:1])))


class ChinookSyncTest(SyncTestCase):

    def setUp(self):
        super().setUp()
        for path in (CHINOOK_CUSTOMER_PATH, CHINOOK_INVOICE_PATH):
            self.assertIn(file_encoding(path), ("us-ascii", "utf-8"), path)
        self.customers = read_chinook_customers()
        self.invoices = read_chinook_invoices()
        self.members = {str(customer["CustomerId"]): customer for customer in self.customers
                        if customer["Country"] in CHINOOK_COUNTRIES}
        accented = [c for c in self.members.values()
                    if not (c["FirstName"] + c["LastName"]).isascii()]
        self.assertGreaterEqual(len(accented), 8, "the segment should hold accented names")

        # The segment and its connector exist before the data arrives, so
        # every change of a member is an automatic message.
        self.segment = self.create_segment("Chinook Europe and South America",
                                           {"attribute": "country", "op": "in",
                                            "value": CHINOOK_COUNTRIES})
        self.hook = self.create_webhook(user_segments=[self.segment["id"]])
        self.send(customer_messages(self.customers))

    def send_invoices(self, invoices):
        messages = invoice_messages(invoices)
        for start in range(0, len(messages), INVOICES_PER_REQUEST):
            self.send(messages[start:start + INVOICES_PER_REQUEST])

    def expected_events(self):
        events = collections.defaultdict(list)
        for invoice in self.invoices:
            if str(invoice["CustomerId"]) in self.members:
                events[str(invoice["CustomerId"])].append(expected_event(invoice))
        return events

    def delivered_events(self):
        """Events of the automatic messages per external_id, in delivery order."""
        events = collections.defaultdict(list)
        for message in self.delivered(is_export=False):
            events[message["user"]["external_id"]].extend(message["events"])
        return events

    def settle_members(self):
        first = self.user(sorted(self.members)[0])
        self.settle(self.hook["id"], user_id=first["id"])

    def assert_events_delivered(self):
        expected = self.expected_events()
        delivered = self.delivered_events()
        self.assertEqual(set(delivered), set(self.members))
        wrong = []
        for external_id in sorted(self.members, key=int):
            got = sorted(delivered[external_id], key=lambda event: event["message_id"])
            want = sorted(expected[external_id], key=lambda event: event["message_id"])
            if got != want:
                wrong.append("customer %s got %s, expected %s"
                             % (external_id, [event["message_id"] for event in got],
                                [event["message_id"] for event in want]))
        self.assertEqual(len(wrong), 0, "%d of %d customers got other events than their "
                         "invoices; the first: %s" % (len(wrong), len(self.members),
                                                      "; ".join(wrong[:2])))

    def test_identify_messages_carry_names(self):
        self.settle_members()

        automatic = self.delivered(is_export=False)
        self.assertEqual(collections.Counter(m["user"]["external_id"] for m in automatic),
                         collections.Counter(list(self.members)))
        for message in automatic:
            customer = self.members[message["user"]["external_id"]]
            self.assertEqual(message["user"]["attributes"], customer_traits(customer))
            self.assertIs(message["changes"]["is_new"], True)
            self.assertEqual(message["changes"]["segments"]["entered"],
                             [segment_ref(self.segment)])
            self.assertEqual(message["events"], [])

        raw = b"".join(request.body for request in self.recorder.requests)
        for customer in self.members.values():
            for name in (customer["FirstName"], customer["LastName"], customer["City"]):
                self.assertIn(json.dumps(name, ensure_ascii=False).encode("utf-8"), raw,
                              "%r is not in the webhook bodies as UTF-8 bytes" % name)

        skipped = {line["claims"]["external_id"]
                   for line in self.all_logs(self.hook["id"], message="outgoing.user.skip")}
        everyone = {str(customer["CustomerId"]) for customer in self.customers}
        self.assertEqual(skipped, everyone - set(self.members))

    def test_automatic_messages_carry_orders(self):
        self.send_invoices(self.invoices)
        self.settle_members()

        self.assert_events_delivered()
        for message in self.delivered(is_export=False):
            for event in message["events"]:
                self.assertEqual(event["event"], "Order Completed")

    def test_late_orders_carry_their_own_events(self):
        # Events often arrive out of order: send the newest invoices first.
        self.send_invoices(list(reversed(self.invoices)))
        self.settle_members()

        self.assert_events_delivered()

    def test_manual_batch_carries_no_events(self):
        self.send_invoices(self.invoices)
        self.settle_members()
        self.recorder.clear()

        status, view = self.start_batch(self.hook["id"], {"segment_id": self.segment["id"]})
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual((view["state"], view["sent"]), ("done", len(self.members)), view)

        exported = self.delivered(is_export=True)
        self.assertEqual(collections.Counter(m["user"]["external_id"] for m in exported),
                         collections.Counter(list(self.members)))
        for message in exported:
            self.assertNotIn("events", message)
            self.assertNotIn("changes", message)
            customer = self.members[message["user"]["external_id"]]
            self.assertEqual(message["user"]["attributes"], customer_traits(customer))
        raw = b"".join(request.body for request in self.recorder.requests)
        self.assertNotIn(b"Order Completed", raw)
        for customer in self.members.values():
            self.assertIn(json.dumps(customer["LastName"], ensure_ascii=False).encode("utf-8"),
                          raw)


if __name__ == "__main__":
    unittest.main()
