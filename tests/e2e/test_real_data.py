"""End-to-end tests on public sample data written outside this project.

AdventureWorks' 2,059 prospective buyers go in as Segment identify and group
calls (the group is the buyer's e-mail domain), and Chinook's 59 customers
and 412 invoices as identify calls and "Order Completed" track events. Every
expected count is computed here from the files themselves. The files are
read in place from shared/data beside the repository; see data_samples.py.
"""

import collections
import datetime
import json
import unittest

import harness
from data_client import (WRITE_KEY, get_ok, get_raw, one_account, one_user,
                         query_string, ready_segment, send_batches, user_events, utc_now)
from data_samples import (buyer_messages, buyer_traits, customer_messages, customer_traits,
                          email_domain, invoice_messages, invoice_properties,
                          is_well_formed_domain, read_chinook_customers,
                          read_chinook_invoices, read_prospective_buyers)

MALFORMED_DOMAIN_IN_FILE = "consolidatedmessenger"


class LoadedServiceTestCase(unittest.TestCase):
    """One wharfd per class, loaded once in setUpClass by load()."""

    service = None

    @classmethod
    def setUpClass(cls):
        cls.service = harness.Wharfd(args=["--write-key", WRITE_KEY])
        cls.service.__enter__()
        try:
            cls.load(unittest.TestCase())
        except BaseException:
            cls.service._print_stderr()
            cls.service.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.service.__exit__(None, None, None)

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        problems_before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > problems_before:
            self.service._print_stderr()
        return outcome

    def assert_segment_size(self, name, entity_type, query, expected):
        """Create a segment, wait until it is ready and compare its size with expected."""
        segment = ready_segment(self, self.service, name, entity_type, query)
        self.assertEqual(segment["size"], expected, "segment %s %s" % (name, json.dumps(query)))
        return segment


class AdventureWorksTest(LoadedServiceTestCase):

    @classmethod
    def load(cls, checker):
        cls.rows = read_prospective_buyers()
        cls.messages = buyer_messages(cls.rows)
        cls.responses = send_batches(checker, cls.service, cls.messages)

    def buyers_by_domain(self):
        domains = collections.defaultdict(list)
        for row in self.rows:
            domains[email_domain(row["EmailAddress"])].append(row["ProspectiveBuyerKey"])
        return domains

    def test_file_shape(self):
        # Guards the expectations below: they assume the file described in the data README.
        self.assertEqual(len(self.rows), 2059)
        self.assertEqual(len({row["ProspectiveBuyerKey"] for row in self.rows}), 2059)
        self.assertEqual(len(self.buyers_by_domain()), 22)
        self.assertFalse(is_well_formed_domain(MALFORMED_DOMAIN_IN_FILE))

    def test_batches_warn_on_malformed_domain(self):
        self.assertGreater(len(self.responses), 1, "the data should need several batches")
        warned = []
        for first_index, body in self.responses:
            self.assertEqual(body.get("success"), True, body)
            self.assertEqual(body.get("rejected", []), [], body)
            for warning in body.get("warnings", []):
                warned.append(self.messages[first_index + warning["index"]])
                self.assertIn(MALFORMED_DOMAIN_IN_FILE, warning["warning"])

        malformed_groups = [message for message in self.messages
                            if message["type"] == "group"
                            and not is_well_formed_domain(message["groupId"])]
        self.assertEqual(len(malformed_groups),
                         len(self.buyers_by_domain()[MALFORMED_DOMAIN_IN_FILE]))
        self.assertEqual(warned, malformed_groups)

    def test_every_buyer_is_user(self):
        self.assert_segment_size("Everyone", "users", {"all": []}, len(self.rows))
        account_ids = {domain: one_account(self, self.service, "external_id", domain)["id"]
                       for domain in self.buyers_by_domain()}

        # One failure message for all buyers: a systematic fault would
        # otherwise print 2,059 of them.
        mismatches = []
        for row in self.rows:
            user = one_user(self, self.service, "external_id", row["ProspectiveBuyerKey"])
            expected = {"attributes": buyer_traits(row),
                        "email": row["EmailAddress"].strip().lower(),
                        "account_id": account_ids[email_domain(row["EmailAddress"])]}
            got = {name: user[name] for name in expected}
            if got != expected:
                mismatches.append((row["ProspectiveBuyerKey"], got, expected))
        self.assertEqual(len(mismatches), 0, "%d buyers differ; the first ones (key, got, "
                         "expected): %r" % (len(mismatches), mismatches[:3]))

    def test_names_byte_exact(self):
        # Every name in this file is ASCII; the check is on the bytes wharfd sends.
        for row in self.rows[::50]:
            with self.subTest(buyer=row["ProspectiveBuyerKey"]):
                status, raw = get_raw(self.service, "/api/v1/users?" + query_string(
                    "external_id", row["ProspectiveBuyerKey"]))
                self.assertEqual(status, 200, raw)
                for field in ["FirstName", "LastName", "City", "AddressLine1"]:
                    self.assertIn(json.dumps(row[field]).encode("utf-8"), raw)

    def test_shared_emails_stay_separate_users(self):
        by_email = collections.defaultdict(list)
        for row in self.rows:
            by_email[row["EmailAddress"].lower()].append(row["ProspectiveBuyerKey"])
        shared = {email: keys for email, keys in by_email.items() if len(keys) > 1}
        self.assertGreater(len(shared), 0, "the file should repeat some e-mail addresses")

        for email, keys in shared.items():
            with self.subTest(email=email):
                users = get_ok(self, self.service,
                               "/api/v1/users?" + query_string("email", email))["users"]
                self.assertEqual(sorted(user["external_id"] for user in users), sorted(keys))

    def test_one_account_per_well_formed_domain(self):
        domains = self.buyers_by_domain()
        well_formed = [domain for domain in domains if is_well_formed_domain(domain)]
        self.assertEqual(len(well_formed), len(domains) - 1)

        # Every group call carries a groupId, so every domain of the file is one account.
        self.assert_segment_size("All accounts", "accounts", {"all": []}, len(domains))
        for domain in well_formed:
            with self.subTest(domain=domain):
                account = one_account(self, self.service, "domain", domain)
                self.assertEqual(account["external_id"], domain)
                self.assertEqual(account["attributes"], {"domain": domain, "name": domain})
                users = get_ok(self, self.service,
                               "/api/v1/accounts/%s/users" % account["id"])["users"]
                self.assertEqual(sorted(user["external_id"] for user in users),
                                 sorted(domains[domain]))

    def test_malformed_domain_not_claimed(self):
        # docs/customer-data.md: the malformed domain is left out of the claims
        # with a warning; the groupId still names the account.
        self.assertEqual(get_ok(self, self.service, "/api/v1/accounts?" + query_string(
            "domain", MALFORMED_DOMAIN_IN_FILE))["accounts"], [])
        account = one_account(self, self.service, "external_id", MALFORMED_DOMAIN_IN_FILE)
        self.assertIsNone(account["domain"])
        self.assertEqual(account["attributes"]["domain"], MALFORMED_DOMAIN_IN_FILE)
        users = get_ok(self, self.service, "/api/v1/accounts/%s/users" % account["id"])["users"]
        self.assertEqual(sorted(user["external_id"] for user in users),
                         sorted(self.buyers_by_domain()[MALFORMED_DOMAIN_IN_FILE]))

    def test_segment_sizes_match_file(self):
        top_cities = [city for city, _ in collections.Counter(
            row["City"] for row in self.rows).most_common(2)]
        cases = [
            ("income 100k+", {"attribute": "yearly_income", "op": "gte", "value": 100000},
             lambda t, d: t["yearly_income"] >= 100000),
            ("professional in top cities",
             {"all": [{"attribute": "occupation", "op": "eq", "value": "Professional"},
                      {"any": [{"attribute": "city", "op": "eq", "value": city}
                               for city in top_cities]}]},
             lambda t, d: t["occupation"] == "Professional" and t["city"] in top_cities),
            ("clerical or San cities",
             {"any": [{"attribute": "occupation", "op": "eq", "value": "Clerical"},
                      {"attribute": "city", "op": "starts_with", "value": "San "}]},
             lambda t, d: t["occupation"] == "Clerical" or t["city"].startswith("San ")),
            ("not professional or management",
             {"not": {"attribute": "occupation", "op": "in",
                      "value": ["Professional", "Management"]}},
             lambda t, d: t["occupation"] not in ("Professional", "Management")),
            ("account domain .net",
             {"attribute": "account.domain", "op": "ends_with", "value": ".net"},
             lambda t, d: d.endswith(".net")),
            ("account domain malformed",
             {"attribute": "account.domain", "op": "eq", "value": MALFORMED_DOMAIN_IN_FILE},
             lambda t, d: d == MALFORMED_DOMAIN_IN_FILE),
            ("middle-income women owners with cars",
             {"all": [{"attribute": "yearly_income", "op": "between", "value": [50000, 90000]},
                      {"attribute": "gender", "op": "eq", "value": "F"},
                      {"attribute": "house_owner", "op": "eq", "value": True},
                      {"attribute": "cars_owned", "op": "gte", "value": 2}]},
             lambda t, d: (50000 <= t["yearly_income"] <= 90000 and t["gender"] == "F"
                           and t["house_owner"] and t["cars_owned"] >= 2)),
            ("born before 1960", {"attribute": "birth_date", "op": "before",
                                  "value": "1960-01-01"},
             lambda t, d: t["birth_date"] < "1960-01-01"),
            ("no middle name", {"attribute": "middle_name", "op": "missing"},
             lambda t, d: "middle_name" not in t),
            ("Colma any case", {"attribute": "city", "op": "eq", "value": "COLMA",
                                "case_insensitive": True},
             lambda t, d: t["city"].lower() == "colma"),
        ]
        for name, query, predicate in cases:
            with self.subTest(segment=name):
                expected = sum(1 for row in self.rows
                               if predicate(buyer_traits(row), email_domain(row["EmailAddress"])))
                self.assertGreater(expected, 0)
                self.assertLess(expected, len(self.rows))
                self.assert_segment_size(name, "users", query, expected)

    def test_account_segment_matches_file(self):
        domains = self.buyers_by_domain()
        expected = sum(1 for domain in domains if domain.endswith(".com"))

        self.assert_segment_size("Dot-com accounts", "accounts",
                                 {"attribute": "domain", "op": "ends_with", "value": ".com"},
                                 expected)


class ChinookTest(LoadedServiceTestCase):

    @classmethod
    def load(cls, checker):
        cls.customers = read_chinook_customers()
        cls.invoices = read_chinook_invoices()
        cls.customer_responses = send_batches(checker, cls.service,
                                              customer_messages(cls.customers))
        cls.invoice_responses = send_batches(checker, cls.service,
                                             invoice_messages(cls.invoices))

    def invoices_by_customer(self):
        by_customer = collections.defaultdict(list)
        for invoice in self.invoices:
            by_customer[invoice["CustomerId"]].append(invoice)
        return by_customer

    def test_file_shape(self):
        self.assertEqual(len(self.customers), 59)
        self.assertEqual(len(self.invoices), 412)

    def test_every_message_accepted(self):
        for first_index, body in self.customer_responses + self.invoice_responses:
            self.assertEqual(body, {"success": True})

    def test_customers_byte_exact(self):
        self.assert_segment_size("Everyone", "users", {"all": []}, len(self.customers))
        non_ascii_names = 0

        for customer in self.customers:
            with self.subTest(customer=customer["CustomerId"]):
                path = "/api/v1/users?" + query_string("external_id",
                                                       str(customer["CustomerId"]))
                status, raw = get_raw(self.service, path)
                self.assertEqual(status, 200, raw)
                users = json.loads(raw.decode("utf-8"))["users"]
                self.assertEqual(len(users), 1, users)
                self.assertEqual(users[0]["attributes"], customer_traits(customer))
                for field in ["FirstName", "LastName", "City", "Company", "Address"]:
                    if customer[field] in ("", None):
                        continue
                    # The UTF-8 bytes as in the file: no \u escapes, no other normal form.
                    self.assertIn(json.dumps(customer[field], ensure_ascii=False).encode(),
                                  raw)
                if not (customer["FirstName"] + customer["LastName"]).isascii():
                    non_ascii_names += 1

        self.assertGreater(non_ascii_names, 10, "the file should hold accented names")

    def test_lookup_by_non_ascii_email(self):
        customer = next(customer for customer in self.customers
                        if not customer["Email"].isascii())

        user = one_user(self, self.service, "email", customer["Email"].lower())

        self.assertEqual(user["external_id"], str(customer["CustomerId"]))
        self.assertEqual(user["attributes"]["email"], customer["Email"])

    def test_invoices_are_events(self):
        by_customer = self.invoices_by_customer()

        mismatches = []
        for customer in self.customers:
            user = one_user(self, self.service, "external_id", str(customer["CustomerId"]))
            events = user_events(self, self.service, user["id"])
            invoices = sorted(by_customer[customer["CustomerId"]],
                              key=lambda invoice: invoice["InvoiceDate"], reverse=True)
            got = [(event["event"], event["timestamp"], event["message_id"],
                    event["properties"]) for event in events]
            expected = [("Order Completed", invoice["InvoiceDate"] + ".000Z",
                         "invoice-%d" % invoice["InvoiceId"], invoice_properties(invoice))
                        for invoice in invoices]
            if got != expected:
                mismatches.append((customer["CustomerId"], got, expected))
        self.assertEqual(len(mismatches), 0, "%d customers' events differ; the first ones "
                         "(customer, got, expected): %r" % (len(mismatches), mismatches[:2]))

    def test_event_count_segments(self):
        counts = collections.Counter(invoice["CustomerId"] for invoice in self.invoices)
        most = max(counts.values())
        at_most = sum(1 for customer in self.customers if counts[customer["CustomerId"]] >= most)
        fewer = len(self.customers) - at_most
        self.assertGreater(fewer, 0)

        self.assert_segment_size("Most orders", "users",
                                 {"event": "Order Completed", "op": "count_gte", "value": most},
                                 at_most)
        self.assert_segment_size("Fewer orders", "users",
                                 {"event": "Order Completed", "op": "count_lte",
                                  "value": most - 1}, fewer)

        # A window that reaches back before the first invoice counts them all.
        first = min(invoice["InvoiceDate"] for invoice in self.invoices)
        first_time = datetime.datetime.fromisoformat(first).replace(tzinfo=datetime.timezone.utc)
        days = (utc_now() - first_time).days + 2
        self.assert_segment_size("Most orders, all time window", "users",
                                 {"event": "Order Completed", "op": "count_gte", "value": most,
                                  "within": "%dd" % days}, at_most)

    def test_event_window_splits_file(self):
        # Invoices are dated at midnight. The window starts within the hour
        # after noon of the median invoice date, so the seconds the test takes
        # cannot move its start across an invoice.
        dates = sorted(invoice["InvoiceDate"] for invoice in self.invoices)
        median = datetime.datetime.fromisoformat(dates[len(dates) // 2])
        cut = median.replace(tzinfo=datetime.timezone.utc) + datetime.timedelta(hours=12)
        hours = int((utc_now() - cut).total_seconds() // 3600)
        window_start = utc_now() - datetime.timedelta(hours=hours)
        self.assertGreaterEqual(window_start, cut)
        recent = collections.Counter(
            invoice["CustomerId"] for invoice in self.invoices
            if datetime.datetime.fromisoformat(invoice["InvoiceDate"]).replace(
                tzinfo=datetime.timezone.utc) >= window_start)
        threshold = 4
        expected = sum(1 for count in recent.values() if count >= threshold)
        self.assertGreater(expected, 0)
        self.assertLess(expected, len(self.customers))

        self.assert_segment_size("4 recent orders", "users",
                                 {"event": "Order Completed", "op": "count_gte",
                                  "value": threshold, "within": "%dh" % hours}, expected)

    def test_country_segment_matches_file(self):
        countries = ["Brazil", "Germany", "Czech Republic"]
        expected = sum(1 for customer in self.customers if customer["Country"] in countries)

        self.assert_segment_size("Three countries", "users",
                                 {"attribute": "country", "op": "in", "value": countries},
                                 expected)

    def test_accented_city_case_insensitive(self):
        expected = sum(1 for customer in self.customers
                       if customer["City"].casefold() == "são paulo")
        self.assertGreater(expected, 0)

        self.assert_segment_size("São Paulo", "users",
                                 {"attribute": "city", "op": "eq", "value": "SÃO PAULO",
                                  "case_insensitive": True}, expected)


if __name__ == "__main__":
    unittest.main()
