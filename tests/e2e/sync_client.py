"""Client helpers for the sync engine's end-to-end tests.

SyncTestCase starts a Recorder on 127.0.0.1 and a real wharfd with a write
key and a plugins dir holding the webhook plugin and the fixture plugins a
test class names. The helpers create segments and connectors, read back every
message the webhook posted (each request body is a JSON array of messages),
read connector log lines, and wait on manual batches, always with deadlines.

Automatic messages and manual batch messages reach the same Recorder; tests
tell them apart by "is_export".
"""

import collections
import json
import time
import urllib.parse

import harness
from data_client import WRITE_KEY, get_ok, send_batches, wait_segment_ready
from recorder import Recorder

WEBHOOK_PLUGIN = "webhook"
REQUIRES_WHITELIST_PLUGIN = "fixture-requires-whitelist"
# fixture-minor accepts users only, so account segments are the wrong type for it.
USERS_ONLY_PLUGIN = "fixture-minor"

USER_WHITELIST = "synchronized_user_segments"
ACCOUNT_WHITELIST = "synchronized_account_segments"

FINAL_BATCH_STATES = ("done", "failed", "rejected")

# Deliveries and batches finish in milliseconds. The deadline leaves room for
# a sanitizer build and for two retry backoffs, which wharfd draws at random
# below 1 s and 2 s.
DELIVERY_SECONDS = 20

# Messages per /v1/batch request that send() makes.
SEND_MESSAGES_PER_REQUEST = 1000

# The API returns at most this many log lines per request.
LOG_LINES_MAX_LIMIT = 1000


def segment_ref(segment):
    """A segment as messages name it: {"id", "name"}."""
    return {"id": segment["id"], "name": segment["name"]}


def request_messages(request):
    """The messages in one webhook request body, which must be a JSON array."""
    body = request.json()
    if not isinstance(body, list):
        raise AssertionError("webhook body is not a JSON array: %r" % request.body[:300])
    return body


def message_external_id(message):
    """external_id of the user (or, for an account message, the account) a message is about."""
    entity = message["user"] if message["type"] == "user" else message["account"]
    return entity["external_id"]


class SyncTestCase(harness.ServiceTestCase):
    """A Recorder and wharfd with the write key, the webhook and the fixtures in FIXTURES."""

    FIXTURES = ("requires_whitelist", "minor_1_1")

    def setUp(self):
        self.recorder = Recorder().start()
        self.addCleanup(self.recorder.shutdown)
        plugins_dir = harness.make_plugins_dir(self, fixtures=self.FIXTURES,
                                               bundled=[WEBHOOK_PLUGIN])
        self.service = self.start_wharfd(plugins_dir=plugins_dir,
                                         args=["--write-key", WRITE_KEY])

    # ---- data -----------------------------------------------------------

    def send(self, messages):
        """Send Segment messages through /v1/batch; every one must be kept.

        Requests hold at most SEND_MESSAGES_PER_REQUEST messages and stay
        under 400 KB, inside Segment's limits of 2500 messages and 500 KB.
        """
        for start in range(0, len(messages), SEND_MESSAGES_PER_REQUEST):
            chunk = messages[start:start + SEND_MESSAGES_PER_REQUEST]
            for first_index, body in send_batches(self, self.service, chunk):
                rejected = body.get("rejected", [])
                self.assertEqual(len(rejected), 0, "%d messages from index %d rejected, the "
                                 "first ones: %r" % (len(rejected), start + first_index,
                                                     rejected[:3]))

    def identify(self, external_id, traits):
        self.send([{"type": "identify", "userId": external_id, "traits": traits}])

    def user(self, external_id):
        """The user view for an external_id (exactly one must exist)."""
        users = get_ok(self, self.service, "/api/v1/users?external_id="
                       + urllib.parse.quote(external_id, safe=""))["users"]
        self.assertEqual(len(users), 1, "users with external_id %r: %r" % (external_id, users))
        return users[0]

    def account(self, external_id):
        accounts = get_ok(self, self.service, "/api/v1/accounts?external_id="
                          + urllib.parse.quote(external_id, safe=""))["accounts"]
        self.assertEqual(len(accounts), 1,
                         "accounts with external_id %r: %r" % (external_id, accounts))
        return accounts[0]

    # ---- segments and connectors ----------------------------------------

    def create_segment(self, name, query, entity_type="users", wait=True):
        """POST a segment; with wait, poll until its recomputation is done and return that view."""
        body = {"name": name, "type": entity_type, "query": query}
        status, view = self.service.post("/api/v1/segments", body)
        self.assertEqual(status, 201, "POST /api/v1/segments %r: %r" % (body, view))
        if wait:
            view = wait_segment_ready(self, self.service, view["id"])
        return view

    def create_connector(self, plugin, name, settings=None, user_segments=(),
                         account_segments=(), max_connections=1, delivery=None):
        """Create a connector and return its view.

        max_connections defaults to 1, so the connector sends one request at
        a time and its queue goes out in order (see settle()). delivery, when
        given, is the connector's "delivery" object (retries, rate limit,
        coalescing).
        """
        extra = {"delivery": delivery} if delivery is not None else {}
        status, view = self.service.create_connector(
            plugin, name, settings or {},
            synchronized_user_segments=list(user_segments),
            synchronized_account_segments=list(account_segments),
            max_connections=max_connections, **extra)
        self.assertEqual(status, 201, "creating connector %r on %s: %r" % (name, plugin, view))
        self.assertEqual(view["status"], "active", view)
        return view

    def create_webhook(self, name="hook", user_segments=(), account_segments=(),
                       max_connections=1, delivery=None, **settings):
        values = {"url": self.recorder.url + "/hook"}
        values.update(settings)
        return self.create_connector(WEBHOOK_PLUGIN, name, values, user_segments,
                                     account_segments, max_connections, delivery)

    # ---- delivered messages ---------------------------------------------

    def delivered(self, is_export=None):
        """Every message the Recorder received, in arrival order.

        is_export=True or False keeps only manual batch or only automatic
        messages.
        """
        messages = []
        for request in self.recorder.requests:
            self.assertEqual((request.method, request.path), ("POST", "/hook"), request)
            messages.extend(request_messages(request))
        if is_export is None:
            return messages
        return [message for message in messages if message.get("is_export") is is_export]

    def delivered_external_ids(self, is_export=None, message_type="user"):
        """Counter of the external_ids in delivered messages of one type."""
        return collections.Counter(message_external_id(message)
                                   for message in self.delivered(is_export)
                                   if message["type"] == message_type)

    def settle(self, connector_id, user_id=None, account_id=None):
        """Push a single-entity manual batch through a connector and wait for it.

        The connector must have max_connections 1: its queue then goes out
        in order, so every message queued before this call has reached the
        Recorder once the batch is done. The batch's own message is an
        export (is_export true), which delivered(is_export=False) leaves out.
        """
        body = {"user_id": user_id} if user_id is not None else {"account_id": account_id}
        status, view = self.start_batch(connector_id, body)
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual(view["state"], "done", view)
        return view

    # ---- manual batches -------------------------------------------------

    def start_batch(self, connector_id, body):
        """POST /api/v1/connectors/{id}/batches; return (status, body)."""
        return self.service.post("/api/v1/connectors/%s/batches" % connector_id, body)

    def batch(self, batch_id):
        return get_ok(self, self.service, "/api/v1/batches/" + batch_id)

    def wait_batch(self, batch_id, states=FINAL_BATCH_STATES, timeout=DELIVERY_SECONDS):
        """Poll GET /api/v1/batches/{id} until its state is one of states; return that view."""
        views = []

        def reached():
            view = self.batch(batch_id)
            views.append(view)
            return view if view["state"] in states else None

        try:
            return self.service.wait_until(reached, timeout=timeout)
        except AssertionError as error:
            raise AssertionError("batch %s did not reach %s; last view: %r (%s)"
                                 % (batch_id, "/".join(states), views[-1:], error)) from None

    # ---- connector log lines --------------------------------------------

    def logs_response(self, connector_id, **filters):
        """GET /api/v1/connectors/{id}/logs with filters as query parameters.

        Returns (status, body).
        """
        query = urllib.parse.urlencode({name: value for name, value in filters.items()
                                        if value is not None})
        path = "/api/v1/connectors/%s/logs" % connector_id
        return self.service.get(path + ("?" + query if query else ""))

    def logs(self, connector_id, **filters):
        """Log lines (newest first unless after= is given); fails on a status other than 200."""
        status, body = self.logs_response(connector_id, **filters)
        self.assertEqual(status, 200, "logs of %s with %r: %r" % (connector_id, filters, body))
        return body["lines"]

    def all_logs(self, connector_id, **filters):
        """Return up to 1000 log lines that match filters, oldest first."""
        return list(reversed(self.logs(connector_id, limit=LOG_LINES_MAX_LIMIT, **filters)))

    def wait_logs(self, connector_id, predicate, what, timeout=DELIVERY_SECONDS, **filters):
        """Poll all_logs() until predicate(lines) is true; return the lines."""
        seen = []

        def ready():
            lines = self.all_logs(connector_id, **filters)
            seen.append(lines)
            return lines if predicate(lines) else None

        try:
            return self.service.wait_until(ready, timeout=timeout, interval=0.05)
        except AssertionError as error:
            raise AssertionError("waiting for %s in the log of connector %s (%r): last lines "
                                 "%s (%s)" % (what, connector_id, filters,
                                              json.dumps(seen[-1] if seen else None,
                                                         ensure_ascii=False), error)) from None

    def wait_log_count(self, connector_id, message, count, **filters):
        """Wait until at least count lines with this message exist; return them, oldest first."""
        return self.wait_logs(connector_id, lambda lines: len(lines) >= count,
                              "%d %s lines" % (count, message), message=message, **filters)


# ---- delivery tests: fault-injecting destination, restarts, metrics ------

def parse_metrics(text):
    """Parse Prometheus text into {(name, frozenset of (label, value)): value}.

    Comment lines are skipped; a sample line must read NAME{LABELS} VALUE or
    NAME VALUE.
    """
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        labels = frozenset()
        if "{" in series:
            name, label_text = series.split("{", 1)
            pairs = []
            for item in label_text.rstrip("}").split(","):
                label, label_value = item.split("=", 1)
                pairs.append((label, label_value.strip('"')))
            labels = frozenset(pairs)
        else:
            name = series
        samples[(name, labels)] = float(value)
    return samples


class DeliveryTestCase(SyncTestCase):
    """wharfd with the webhook and a FaultServer (as self.recorder) for destination.

    The data dir outlives restarts, so kill_and_restart() shows what
    survives a crash. WHARFD_ARGS are extra command-line arguments.
    """

    WHARFD_ARGS = ()

    def setUp(self):
        from fault_server import FaultServer

        self.recorder = FaultServer().start()
        self.addCleanup(self.recorder.shutdown)
        self.plugins_dir = harness.make_plugins_dir(self, bundled=[WEBHOOK_PLUGIN])
        self.data_dir = harness.make_temp_dir(self, prefix="wharf-delivery-data-")
        self.service = self.start_wharfd(plugins_dir=self.plugins_dir, data_dir=self.data_dir,
                                         args=["--write-key", WRITE_KEY, *self.WHARFD_ARGS])

    def kill_and_restart(self):
        """Kill wharfd with SIGKILL and start it again on the same data dir."""
        self.service.process.kill()
        code = self.service.stop()
        self.assertEqual(code, -9, "wharfd was expected to die of SIGKILL")
        self.service.start()

    def wait_quietly(self, predicate, timeout):
        """Poll predicate every 0.1 s for up to timeout seconds; return whether it came true.

        For waits whose failure the caller reports with a precise assert.
        """
        deadline = time.monotonic() + harness.scaled(timeout)
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def metrics(self):
        """GET /metrics, parsed by parse_metrics()."""
        status, _, body = self.service.request("GET", "/metrics")
        self.assertEqual(status, 200, body)
        return parse_metrics(body.decode("utf-8") if isinstance(body, bytes) else str(body))

    def metric(self, name, connector_id, samples=None):
        """Value of the series name{connector="connector_id"}; fails when it is missing."""
        samples = self.metrics() if samples is None else samples
        key = (name, frozenset([("connector", connector_id)]))
        self.assertIn(key, samples, "no series %s for connector %s" % (name, connector_id))
        return samples[key]

    def dead_letters(self, connector_id, **query):
        path = "/api/v1/connectors/%s/dead-letters" % connector_id
        if query:
            path += "?" + urllib.parse.urlencode(query)
        status, body = self.service.get(path)
        self.assertEqual(status, 200, body)
        return body

    def resend_dead_letters(self, connector_id, ids=None):
        """POST .../dead-letters/resend for all dead letters, or the given ids; return requeued."""
        body = {} if ids is None else {"ids": list(ids)}
        status, response = self.service.post(
            "/api/v1/connectors/%s/dead-letters/resend" % connector_id, body)
        self.assertEqual(status, 200, response)
        return response["requeued"]

    def delivered_ids(self):
        """Counter of external_ids of the user messages the destination received."""
        return collections.Counter(message_external_id(message)
                                   for message, _ in self.recorder.messages()
                                   if message.get("type") == "user")
