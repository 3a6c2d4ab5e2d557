"""Client helpers for the customer-data end-to-end tests.

They talk to a real wharfd started with a write key: Segment Tracking API
calls with HTTP Basic authentication, native user and account writes,
look-ups, and segments waited on until their recomputation is done.
"""

import base64
import datetime
import gzip
import http.client
import json
import urllib.parse

import harness

WRITE_KEY = "wk-e2e-customer-data-7d41"

# Segment's limits that wharfd enforces (KB = 1024 bytes).
SEGMENT_BODY_LIMIT_BYTES = 500 * 1024
SEGMENT_MESSAGE_LIMIT_BYTES = 32 * 1024

# Batches the tests build stay this far under the body limit.
BATCH_TARGET_BYTES = 400 * 1024

# Recomputing a segment over a few thousand entities takes milliseconds; the
# rest of the wait leaves room for a slow or sanitizer build.
SEGMENT_READY_SECONDS = 30


def basic_authorization(key):
    """Authorization header value that Segment libraries send: Basic base64("KEY:")."""
    return "Basic " + base64.b64encode((key + ":").encode("utf-8")).decode("ascii")


AUTH_HEADERS = {"Authorization": basic_authorization(WRITE_KEY)}


def start_customer_wharfd(test, **kwargs):
    """Start wharfd with the tests' write key through test.start_wharfd()."""
    args = ["--write-key", WRITE_KEY, *kwargs.pop("args", ())]
    return test.start_wharfd(args=args, **kwargs)


def compact_json(value):
    """JSON text as analytics-node measures a message: no spaces, UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def segment_call(service, path, body, headers=None, compress=False):
    """POST body (dict, list or bytes) to a /v1/ path with the write key.

    Returns (status, parsed JSON body).
    """
    payload = body if isinstance(body, bytes) else compact_json(body)
    if compress:
        payload = gzip.compress(payload)
    request_headers = {"Content-Type": "application/json", **AUTH_HEADERS}
    request_headers.update(headers or {})
    status, _, response = service.request("POST", path, body=payload, headers=request_headers)
    return status, response


def send_batches(test, service, messages, target_bytes=BATCH_TARGET_BYTES):
    """Send messages through /v1/batch in as few batches under target_bytes as fit.

    Fails the test on a status other than 200. Returns a list of
    (index of the batch's first message, response body) per batch.
    """
    responses = []
    start = 0
    while start < len(messages):
        size = len(b'{"batch":[]}')
        end = start
        while end < len(messages):
            message_size = len(compact_json(messages[end])) + 1
            if end > start and size + message_size > target_bytes:
                break
            size += message_size
            end += 1

        status, body = segment_call(service, "/v1/batch", {"batch": messages[start:end]})
        test.assertEqual(status, 200, "batch of messages %d to %d: %r" % (start, end - 1, body))
        responses.append((start, body))
        start = end
    return responses


def get_ok(test, service, path):
    """GET path, fail the test unless it returns 200, and return the JSON body."""
    status, body = service.get(path)
    test.assertEqual(status, 200, "GET %s: %r" % (path, body))
    return body


def get_raw(service, path, timeout=10):
    """GET path and return (status, body bytes exactly as wharfd sent them)."""
    connection = http.client.HTTPConnection("127.0.0.1", service.port,
                                            timeout=harness.scaled(timeout))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post_user(test, service, body):
    """POST one native user, fail the test unless it returns 200, and return its view."""
    status, view = service.post("/api/v1/users", body)
    test.assertEqual(status, 200, "POST /api/v1/users %r: %r" % (body, view))
    return view


def post_account(test, service, body):
    """POST one native account, fail the test unless it returns 200, and return its view."""
    status, view = service.post("/api/v1/accounts", body)
    test.assertEqual(status, 200, "POST /api/v1/accounts %r: %r" % (body, view))
    return view


def query_string(claim, value):
    return "%s=%s" % (claim, urllib.parse.quote(value, safe=""))


def find_users(test, service, claim, value):
    """Users whose claim equals value, from GET /api/v1/users?claim=value."""
    return get_ok(test, service, "/api/v1/users?" + query_string(claim, value))["users"]


def find_accounts(test, service, claim, value):
    """Accounts whose claim equals value, from GET /api/v1/accounts?claim=value."""
    return get_ok(test, service, "/api/v1/accounts?" + query_string(claim, value))["accounts"]


def one_user(test, service, claim, value):
    """The single user whose claim equals value; fails when there is not exactly one."""
    users = find_users(test, service, claim, value)
    test.assertEqual(len(users), 1, "users with %s %r: %r" % (claim, value, users))
    return users[0]


def one_account(test, service, claim, value):
    """The single account whose claim equals value; fails when there is not exactly one."""
    accounts = find_accounts(test, service, claim, value)
    test.assertEqual(len(accounts), 1, "accounts with %s %r: %r" % (claim, value, accounts))
    return accounts[0]


def user_view(test, service, user_id):
    return get_ok(test, service, "/api/v1/users/" + user_id)


def account_view(test, service, account_id):
    return get_ok(test, service, "/api/v1/accounts/" + account_id)


def user_events(test, service, user_id, limit=1000):
    return get_ok(test, service, "/api/v1/users/%s/events?limit=%d" % (user_id, limit))["events"]


def create_segment(test, service, name, entity_type, query):
    """POST a segment, fail the test unless it returns 201, and return its view."""
    body = {"name": name, "type": entity_type, "query": query}
    status, view = service.post("/api/v1/segments", body)
    test.assertEqual(status, 201, "POST /api/v1/segments %r: %r" % (body, view))
    return view


def wait_segment_ready(test, service, segment_id, timeout=SEGMENT_READY_SECONDS):
    """Poll GET /api/v1/segments/{id} until its status is "ready"; return that view."""
    views = []

    def ready_view():
        view = get_ok(test, service, "/api/v1/segments/" + segment_id)
        views.append(view)
        return view if view.get("status") == "ready" else None

    try:
        return service.wait_until(ready_view, timeout=timeout)
    except AssertionError as error:
        raise AssertionError("segment %s not ready within %.0f s; last view: %r (%s)"
                             % (segment_id, harness.scaled(timeout), views[-1:], error)) from None


def ready_segment(test, service, name, entity_type, query):
    """Create a segment and wait for its first recomputation; return the ready view."""
    created = create_segment(test, service, name, entity_type, query)
    return wait_segment_ready(test, service, created["id"])


def wait_for_value(service, read, expected, timeout=10, what="value"):
    """Poll read() until it returns expected; fail with the last value read."""
    seen = []

    def matches():
        value = read()
        seen.append(value)
        return value == expected

    try:
        service.wait_until(matches, timeout=timeout)
    except AssertionError as error:
        raise AssertionError("%s stayed %r, expected %r (%s)"
                             % (what, seen[-1] if seen else None, expected, error)) from None


def iso_utc(moment):
    """ISO 8601 UTC text with milliseconds, as wharfd returns event times."""
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def days_ago(days):
    """ISO 8601 UTC time that many days (a float) before now."""
    return iso_utc(utc_now() - datetime.timedelta(days=days))
