"""End-to-end tests of identity resolution (docs/customer-data.md, "Claims and identity").

Users resolve by external_id, then email, then anonymous_id. An external_id
never changes once set. A call whose claims point at a second user without
an external_id merges that user into the first. Domains must be well formed,
and a malformed one is left out with a warning without failing the call.
"""

import unittest

import harness
from data_client import (find_accounts, find_users, get_ok, one_account, one_user,
                         post_user, segment_call, start_customer_wharfd, user_events, user_view)


class IdentityTestCase(harness.ServiceTestCase):

    def setUp(self):
        self.service = start_customer_wharfd(self)

    def identify(self, message):
        status, body = segment_call(self.service, "/v1/identify", message)
        self.assertEqual(status, 200, "identify %r: %r" % (message, body))
        return body

    def track(self, message):
        status, body = segment_call(self.service, "/v1/track", message)
        self.assertEqual(status, 200, "track %r: %r" % (message, body))
        return body


class ResolutionTest(IdentityTestCase):

    def test_same_email_other_external_id(self):
        self.identify({"userId": "ext-a", "traits": {"email": "shared@example.com"}})
        self.identify({"userId": "ext-b", "traits": {"email": "Shared@Example.com "}})

        first = one_user(self, self.service, "external_id", "ext-a")
        second = one_user(self, self.service, "external_id", "ext-b")
        self.assertNotEqual(first["id"], second["id"])
        self.assertEqual(first["email"], "shared@example.com")
        self.assertEqual(second["email"], "shared@example.com")
        self.assertEqual(sorted(user["id"] for user in
                                find_users(self, self.service, "email", "shared@example.com")),
                         sorted([first["id"], second["id"]]))
        # The trait keeps the text as sent; only the claim is normalized.
        self.assertEqual(second["attributes"]["email"], "Shared@Example.com ")

    def test_email_only_user_adopts_external_id(self):
        anonymous = post_user(self, self.service, {"claims": {"email": "adopt@example.com"},
                                                   "attributes": {"step": 1}})

        self.identify({"userId": "adopter", "traits": {"email": "adopt@example.com",
                                                        "step": 2}})

        user = one_user(self, self.service, "external_id", "adopter")
        self.assertEqual(user["id"], anonymous["id"])
        self.assertEqual(user["attributes"], {"step": 2, "email": "adopt@example.com"})

    def test_external_id_never_changes(self):
        original = post_user(self, self.service, {"claims": {"external_id": "fixed-1",
                                                             "email": "fixed@example.com"}})

        other = post_user(self, self.service, {"claims": {"external_id": "fixed-2",
                                                          "email": "fixed@example.com"}})

        self.assertNotEqual(other["id"], original["id"])
        self.assertEqual(user_view(self, self.service, original["id"])["external_id"], "fixed-1")

    def test_anonymous_then_identified_is_one_user(self):
        self.identify({"anonymousId": "visitor-1", "traits": {"landing": "/pricing"}})
        anonymous = one_user(self, self.service, "anonymous_id", "visitor-1")
        self.assertIsNone(anonymous["external_id"])

        self.identify({"userId": "known-1", "anonymousId": "visitor-1",
                       "traits": {"email": "known@example.com"}})

        user = one_user(self, self.service, "external_id", "known-1")
        self.assertEqual(user["id"], anonymous["id"])
        self.assertEqual(user["anonymous_ids"], ["visitor-1"])
        self.assertEqual(user["email"], "known@example.com")
        self.assertEqual(user["attributes"], {"landing": "/pricing", "email": "known@example.com"})
        self.assertEqual(one_user(self, self.service, "anonymous_id", "visitor-1")["id"],
                         user["id"])

    def test_anonymous_ids_accumulate(self):
        self.identify({"userId": "many-devices", "anonymousId": "phone"})
        self.identify({"userId": "many-devices", "anonymousId": "laptop"})
        self.identify({"userId": "many-devices", "anonymousId": "phone"})

        user = one_user(self, self.service, "external_id", "many-devices")
        self.assertEqual(sorted(user["anonymous_ids"]), ["laptop", "phone"])
        self.assertEqual(one_user(self, self.service, "anonymous_id", "laptop")["id"], user["id"])

    def test_known_users_anonymous_id_kept(self):
        self.identify({"userId": "owner", "anonymousId": "shared-device"})

        self.identify({"userId": "intruder", "anonymousId": "shared-device"})

        owner = one_user(self, self.service, "external_id", "owner")
        intruder = one_user(self, self.service, "external_id", "intruder")
        self.assertNotEqual(owner["id"], intruder["id"])
        self.assertEqual(owner["anonymous_ids"], ["shared-device"])

    def test_new_email_replaces_old(self):
        self.identify({"userId": "mover", "traits": {"email": "old@example.com"}})
        self.identify({"userId": "mover", "traits": {"email": "new@example.com"}})

        user = one_user(self, self.service, "external_id", "mover")
        self.assertEqual(user["email"], "new@example.com")
        self.assertEqual(find_users(self, self.service, "email", "old@example.com"), [])
        self.assertEqual(one_user(self, self.service, "email", "new@example.com")["id"],
                         user["id"])


class MergeTest(IdentityTestCase):

    def test_link_merges_anonymous_user(self):
        self.identify({"anonymousId": "anon-visitor",
                       "traits": {"utm_source": "ads", "plan": "trial"}})
        self.track({"anonymousId": "anon-visitor", "event": "Viewed Pricing",
                    "messageId": "anon-e1", "timestamp": "2024-02-01T09:00:00Z"})
        self.identify({"userId": "customer-7", "traits": {"plan": "pro", "seats": 5}})
        self.track({"userId": "customer-7", "event": "Logged In", "messageId": "known-e1",
                    "timestamp": "2024-03-01T09:00:00Z"})
        anonymous = one_user(self, self.service, "anonymous_id", "anon-visitor")
        known = one_user(self, self.service, "external_id", "customer-7")
        self.assertNotEqual(anonymous["id"], known["id"])

        self.identify({"userId": "customer-7", "anonymousId": "anon-visitor"})

        merged = user_view(self, self.service, known["id"])
        self.assertEqual(merged["external_id"], "customer-7")
        self.assertEqual(merged["anonymous_ids"], ["anon-visitor"])
        # The first user's own values win; the merged one fills the gaps.
        self.assertEqual(merged["attributes"], {"plan": "pro", "seats": 5, "utm_source": "ads"})
        status, body = self.service.get("/api/v1/users/" + anonymous["id"])
        self.assertEqual(status, 404, body)
        self.assertIn(anonymous["id"], body["error"])
        self.assertEqual(one_user(self, self.service, "anonymous_id", "anon-visitor")["id"],
                         known["id"])
        self.assertEqual([event["message_id"] for event in
                          user_events(self, self.service, known["id"])], ["known-e1", "anon-e1"])

    def test_merge_moves_email(self):
        post_user(self, self.service, {"claims": {"anonymous_id": "cart-9",
                                                  "email": "cart@example.com"}})
        known = post_user(self, self.service, {"claims": {"external_id": "buyer-9"}})

        post_user(self, self.service, {"claims": {"external_id": "buyer-9",
                                                  "anonymous_id": "cart-9"}})

        merged = user_view(self, self.service, known["id"])
        self.assertEqual(merged["email"], "cart@example.com")
        self.assertEqual(one_user(self, self.service, "email", "cart@example.com")["id"],
                         known["id"])

    def test_merge_survives_restart(self):
        self.identify({"anonymousId": "restart-anon", "traits": {"a": 1}})
        anonymous = one_user(self, self.service, "anonymous_id", "restart-anon")
        self.identify({"userId": "restart-known"})
        self.identify({"userId": "restart-known", "anonymousId": "restart-anon"})
        merged = one_user(self, self.service, "external_id", "restart-known")

        self.service.restart()

        self.assertEqual(user_view(self, self.service, merged["id"]), merged)
        status, body = self.service.get("/api/v1/users/" + anonymous["id"])
        self.assertEqual(status, 404, body)


class MalformedDomainTest(IdentityTestCase):
    """docs/customer-data.md, "Domains": a malformed domain never links and never fails."""

    def test_malformed_email_domain_never_fails(self):
        for number, email in enumerate(["kim@consolidatedmessenger", "kim@", "no-at-sign",
                                        "two@@example.com", "kim@-bad-.com"]):
            with self.subTest(email=email):
                user_id = "odd-email-%d" % number
                self.identify({"userId": user_id, "traits": {"email": email}})
                user = one_user(self, self.service, "external_id", user_id)
                self.assertEqual(user["attributes"]["email"], email)
                self.assertIsNone(user["account_id"])

    def test_group_with_malformed_domain(self):
        self.identify({"userId": "aw-user", "traits": {"email": "kim@adventure-works"}})
        mark = self.service.log_mark()

        status, body = segment_call(self.service, "/v1/group", {
            "userId": "aw-user", "groupId": "aw-group",
            "traits": {"domain": "adventure-works", "name": "Adventure Works"}})

        # The call succeeds; the domain is left out with a warning.
        self.assertEqual(status, 200, body)
        self.assertEqual(body["success"], True)
        self.assertEqual(len(body.get("warnings", [])), 1, body)
        self.assertEqual(body["warnings"][0]["index"], 0)
        self.assertIn("adventure-works", body["warnings"][0]["warning"])

        # groupId is a valid claim of its own, so the account exists without a domain,
        # and the explicit group call links the user to it.
        account = one_account(self, self.service, "external_id", "aw-group")
        self.assertIsNone(account["domain"])
        self.assertEqual(account["attributes"], {"domain": "adventure-works",
                                                 "name": "Adventure Works"})
        self.assertEqual(find_accounts(self, self.service, "domain", "adventure-works"), [])
        user = one_user(self, self.service, "external_id", "aw-user")
        self.assertEqual(user["account_id"], account["id"])

        # "ignored with a warning in the service log"; logging is synchronous
        # with the request, so the line is there when the response is.
        self.service.wait_for_log("adventure-works", timeout=2, since=mark)

    def test_group_only_malformed_domain_rejected(self):
        self.identify({"userId": "lonely"})

        status, body = segment_call(self.service, "/v1/batch", {"batch": [
            {"type": "group", "userId": "lonely", "traits": {"domain": "adventure-works"}},
            {"type": "group", "userId": "lonely", "groupId": "fine-group",
             "traits": {"website": "https://www.Fine-Group.com/about"}},
        ]})

        self.assertEqual(status, 200, body)
        self.assertEqual([item["index"] for item in body.get("rejected", [])], [0], body)
        account = one_account(self, self.service, "external_id", "fine-group")
        self.assertEqual(account["domain"], "fine-group.com")
        self.assertEqual(one_user(self, self.service, "external_id", "lonely")["account_id"],
                         account["id"])
        self.assertEqual(find_accounts(self, self.service, "domain", "adventure-works"), [])

    def test_user_malformed_account_domain_unlinked(self):
        status, view = self.service.post("/api/v1/users", {
            "claims": {"external_id": "unlinked"}, "attributes": {"plan": "pro"},
            "account": {"domain": "adventure-works"}})

        self.assertEqual(status, 200, view)
        self.assertIsNone(view["account_id"])
        self.assertEqual(view["attributes"], {"plan": "pro"})
        self.assertEqual(find_accounts(self, self.service, "domain", "adventure-works"), [])

    def test_account_only_malformed_domain_400(self):
        for domain in ["adventure-works", "localhost", "10.0.0.1", "acme.c0m"]:
            with self.subTest(domain=domain):
                status, body = self.service.post("/api/v1/accounts",
                                                 {"claims": {"domain": domain}})
                self.assertEqual(status, 400, body)
                self.assertIn(domain, body["error"])
                self.assertEqual(find_accounts(self, self.service, "domain", domain), [])

    def test_malformed_domain_never_joins_accounts(self):
        # Two calls with the same malformed domain and no other account claim
        # in common must not end on one account.
        for group_id in ["cm-1", "cm-2"]:
            status, body = segment_call(self.service, "/v1/group", {
                "userId": "u-" + group_id, "groupId": group_id,
                "traits": {"domain": "consolidatedmessenger"}})
            self.assertEqual(status, 200, body)

        first = one_account(self, self.service, "external_id", "cm-1")
        second = one_account(self, self.service, "external_id", "cm-2")
        self.assertNotEqual(first["id"], second["id"])
        members = get_ok(self, self.service, "/api/v1/accounts/%s/users" % first["id"])["users"]
        self.assertEqual([user["external_id"] for user in members], ["u-cm-1"])


if __name__ == "__main__":
    unittest.main()
