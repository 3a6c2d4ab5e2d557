"""A fake Salesforce org on 127.0.0.1 for the salesforce plugin's tests.

It follows the request and response formats of the Salesforce REST API,
version 60.0, as the REST API Developer Guide documents them:
  - the OAuth 2.0 token endpoint, POST /services/oauth2/token, with a form
    body: grant_type, client_id, client_secret, and for the password grant
    username and the password with the security token appended
    (https://developer.salesforce.com/docs/atlas.en-us.194.0.api_rest.meta/api_rest/intro_understanding_username_password_oauth_flow.htm).
    It returns access_token, instance_url, id, token_type, issued_at and
    signature, or HTTP 400 with {"error", "error_description"}. The client
    credentials grant (client_id and client_secret only) follows the same
    shapes; that part is written from knowledge of the API, not from a page
    checked for this fake;
  - sObject Describe, GET /services/data/vXX.X/sobjects/{SObject}/describe,
    reduced to the field properties the plugin reads;
  - sObject Collections upsert, PATCH
    /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField}
    (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html):
    at most 200 records with attributes.type, allOrNone, and a 200 response
    with one UpsertResult {"id", "success", "errors", "created"} per record
    in request order; per-record errors are {"statusCode", "message",
    "fields"};
  - REST API errors
    (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm):
    a JSON array of {"message", "errorCode"}, such as 401
    INVALID_SESSION_ID, 403 REQUEST_LIMIT_EXCEEDED, 400 INVALID_FIELD and
    404 NOT_FOUND.

What it checks like the real API: the client id and secret and the user's
password plus security token; the bearer token on every REST call; that
every field exists on the sObject; email syntax (INVALID_EMAIL_ADDRESS);
text lengths (STRING_TOO_LONG); required fields on insert
(REQUIRED_FIELD_MISSING). Records are kept per sObject and external id.

Switches for failure tests: expire_sessions() (the next REST call returns
401 INVALID_SESSION_ID), rate_limit() (403 REQUEST_LIMIT_EXCEEDED),
server_errors() (5xx), fail_record() (a per-record error for one external
id). Every request is recorded.
"""

import itertools
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from recorder import CaseInsensitiveDict

CLIENT_ID = "3MVG9-wharf-test-consumer-key"
CLIENT_SECRET = "client-secret-5d1f"
USERNAME = "integration@wharf.example.test"
PASSWORD = "password-8c2e"
SECURITY_TOKEN = "sectoken-77aa"

API_PREFIX = re.compile(r"^/services/data/v(\d+\.\d)/")
# Collections upsert needs API version 46.0 or later.
MIN_API_VERSION = 46.0
MAX_RECORDS = 200

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def field(name, field_type, length=0, external_id=False, id_lookup=False,
          createable=True, updateable=True, nillable=True):
    """One describe field entry, with the properties the plugin reads."""
    return {"name": name, "type": field_type, "length": length,
            "externalId": external_id, "idLookup": id_lookup or external_id,
            "createable": createable, "updateable": updateable, "nillable": nillable}


def person_fields():
    return [
        field("Id", "id", 18, id_lookup=True, createable=False, updateable=False),
        field("Wharf_External_Id__c", "string", 255, external_id=True),
        field("Email", "email", 80, id_lookup=True),
        field("FirstName", "string", 40),
        field("LastName", "string", 80, nillable=False),
        field("Name", "string", 121, createable=False, updateable=False),
        field("Title", "string", 128),
        field("Description", "textarea", 32000),
        field("Nickname__c", "string", 20),
        field("Plan__c", "picklist", 255),
        field("Score__c", "double"),
        field("Seats__c", "int"),
        field("Is_Customer__c", "boolean", nillable=False),
        field("Signup_Date__c", "date"),
        field("Last_Seen__c", "datetime"),
        field("Interests__c", "multipicklist", 4099),
    ]


def default_schema():
    """Field lists of the three sObjects the plugin writes."""
    lead = person_fields() + [field("Company", "string", 255, nillable=False),
                              field("Status", "picklist", 255)]
    account = [
        field("Id", "id", 18, id_lookup=True, createable=False, updateable=False),
        field("Wharf_External_Id__c", "string", 255, external_id=True),
        field("Name", "string", 255, nillable=False),
        field("Website", "url", 255),
        field("Industry", "picklist", 255),
        field("NumberOfEmployees", "int"),
    ]
    return {"Contact": person_fields(), "Lead": lead, "Account": account}


# Fields a new record must have, as Salesforce requires them.
REQUIRED_ON_INSERT = {"Contact": ["LastName"], "Lead": ["LastName", "Company"],
                      "Account": ["Name"]}
ID_PREFIXES = {"Contact": "003", "Lead": "00Q", "Account": "001"}


class RecordedRequest:
    """One request: method, path, query, headers, body bytes, parsed JSON or form."""

    def __init__(self, method, target, headers, body):
        split = urllib.parse.urlsplit(target)
        self.method = method
        self.path = split.path
        self.query = split.query
        self.headers = headers
        self.body = body
        self.received_at = time.monotonic()

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def form(self):
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def __repr__(self):
        return "RecordedRequest(%s %s, %d bytes)" % (self.method, self.path, len(self.body))


class FakeSalesforce:
    """The fake org. start() binds 127.0.0.1 on a free port; url is its base."""

    def __init__(self, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, username=USERNAME,
                 password=PASSWORD, security_token=SECURITY_TOKEN):
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.security_token = security_token
        self.schema = default_schema()
        # sObject -> external id -> stored record (field name -> value)
        self.records = {name: {} for name in self.schema}
        self._lock = threading.Condition()
        self._requests = []
        self._sessions = set()
        self._session_numbers = itertools.count(1)
        self._id_numbers = itertools.count(1)
        self._rate_limited = 0
        self._rate_limit_retry_after = None
        self._server_errors = []
        self._record_failures = {}
        self._server = None
        self._thread = None
        self.url = None

    # ---- lifetime ---------------------------------------------------------

    def start(self):
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fake-salesforce", daemon=True)
        self._thread.start()
        return self

    def shutdown(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None

    # ---- switches ---------------------------------------------------------

    def expire_sessions(self):
        """Invalidate every token issued so far, as a session timeout does."""
        with self._lock:
            self._sessions.clear()

    def rate_limit(self, count, retry_after=None):
        """Return 403 REQUEST_LIMIT_EXCEEDED for the next count REST calls."""
        with self._lock:
            self._rate_limited = count
            self._rate_limit_retry_after = retry_after

    def server_errors(self, count, status=503, retry_after=None):
        """Return status (a 5xx) for the next count REST calls."""
        with self._lock:
            self._server_errors.extend([(status, retry_after)] * count)

    def fail_record(self, external_id, status_code, message, fields=()):
        """Give the record with this external id a per-record error on every upsert."""
        with self._lock:
            self._record_failures[external_id] = (status_code, message, list(fields))

    # ---- recorded requests ------------------------------------------------

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    def requests_to(self, method, path_fragment):
        return [request for request in self.requests
                if request.method == method and path_fragment in request.path]

    def token_requests(self):
        return self.requests_to("POST", "/services/oauth2/token")

    def upsert_requests(self, sobject=None):
        fragment = "/composite/sobjects/" + (sobject + "/" if sobject else "")
        return self.requests_to("PATCH", fragment)

    def stored(self, sobject):
        """Copy of the records stored for sobject: external id -> fields."""
        with self._lock:
            return {key: dict(value) for key, value in self.records[sobject].items()}

    def wait_for(self, predicate, what, timeout):
        """Wait until predicate() (called under the lock) is true; bounded by timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("fake Salesforce: %s did not happen within %.1f s; "
                                         "requests: %r" % (what, timeout, self._requests))
                self._lock.wait(remaining)

    # ---- request handling (called on handler threads) ----------------------

    def _record(self, request):
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    def _notify(self):
        with self._lock:
            self._lock.notify_all()

    def handle_token(self, request):
        form = request.form()
        grant_type = form.get("grant_type")
        if grant_type not in ("password", "client_credentials"):
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "grant type not supported"}
        if form.get("client_id") != self.client_id:
            return 400, {"error": "invalid_client_id",
                         "error_description": "client identifier invalid"}
        if form.get("client_secret") != self.client_secret:
            return 400, {"error": "invalid_client",
                         "error_description": "invalid client credentials"}
        if grant_type == "password" and (
                form.get("username") != self.username
                or form.get("password") != self.password + self.security_token):
            return 400, {"error": "invalid_grant", "error_description": "authentication failure"}

        with self._lock:
            token = "00DFAKE!session-%d" % next(self._session_numbers)
            self._sessions.add(token)
        return 200, {"access_token": token, "instance_url": self.url,
                     "id": self.url + "/id/00DFAKE/005FAKE", "token_type": "Bearer",
                     "issued_at": str(int(time.time() * 1000)),
                     "signature": "ZmFrZS1zaWduYXR1cmU="}

    def check_rest_call(self, request):
        """Return (status, body, headers) for a REST call refused up front, else None."""
        authorization = request.headers.get("Authorization", "")
        with self._lock:
            session_valid = (authorization.startswith("Bearer ")
                             and authorization[len("Bearer "):] in self._sessions)
            if not session_valid:
                return 401, [{"message": "Session expired or invalid",
                              "errorCode": "INVALID_SESSION_ID"}], {}
            if self._rate_limited > 0:
                self._rate_limited -= 1
                headers = {}
                if self._rate_limit_retry_after is not None:
                    headers["Retry-After"] = str(self._rate_limit_retry_after)
                return 403, [{"message": "TotalRequests Limit exceeded.",
                              "errorCode": "REQUEST_LIMIT_EXCEEDED"}], headers
            if self._server_errors:
                status, retry_after = self._server_errors.pop(0)
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return status, [{"message": "Service temporarily unavailable",
                                 "errorCode": "SERVER_UNAVAILABLE"}], headers

        match = API_PREFIX.match(request.path)
        if match is None or float(match.group(1)) < MIN_API_VERSION:
            return 404, [{"message": "The requested resource does not exist",
                          "errorCode": "NOT_FOUND"}], {}
        return None

    def handle_describe(self, sobject):
        fields = self.schema.get(sobject)
        if fields is None:
            return 404, [{"message": "The requested resource does not exist",
                          "errorCode": "NOT_FOUND"}]
        return 200, {"name": sobject, "label": sobject, "createable": True,
                     "updateable": True, "fields": fields}

    def handle_upsert(self, sobject, external_id_field, request):
        fields = {entry["name"].lower(): entry for entry in self.schema.get(sobject, [])}
        if not fields:
            return 404, [{"message": "The requested resource does not exist",
                          "errorCode": "NOT_FOUND"}]
        key_field = fields.get(external_id_field.lower())
        if key_field is None or not (key_field["externalId"] or key_field["idLookup"]):
            return 400, [{"message": "Provided external ID field does not exist or is not "
                                     "accessible: " + external_id_field,
                          "errorCode": "NOT_FOUND"}]
        try:
            body = request.json()
        except ValueError as error:
            return 400, [{"message": "Unexpected character: %s" % error,
                          "errorCode": "JSON_PARSER_ERROR"}]
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            return 400, [{"message": "Missing required 'records' property",
                          "errorCode": "JSON_PARSER_ERROR"}]
        if len(records) > MAX_RECORDS:
            return 400, [{"message": "record limit reached. cannot submit more than 200 "
                                     "records into this call",
                          "errorCode": "EXCEEDED_ID_LIMIT"}]
        if body.get("allOrNone") is not False:
            return 400, [{"message": "the fake only models allOrNone false",
                          "errorCode": "INVALID_FIELD"}]

        # A field the sObject lacks fails the whole request, as in Salesforce.
        for record in records:
            attributes = record.get("attributes", {})
            if attributes.get("type") != sobject:
                return 400, [{"message": "The record type %r does not match %s"
                                         % (attributes.get("type"), sobject),
                              "errorCode": "INVALID_TYPE"}]
            for name in record:
                if name != "attributes" and name.lower() not in fields:
                    return 400, [{"message": "No such column '%s' on sobject of type %s"
                                             % (name, sobject),
                                  "errorCode": "INVALID_FIELD"}]

        return 200, [self._upsert_one(sobject, external_id_field, fields, record)
                     for record in records]

    def _upsert_one(self, sobject, external_id_field, fields, record):
        key = record.get(external_id_field)
        if not isinstance(key, str) or key == "":
            return _record_error("MISSING_ARGUMENT",
                                 "%s not specified" % external_id_field, [external_id_field])
        with self._lock:
            failure = self._record_failures.get(key)
        if failure is not None:
            return _record_error(*failure)

        values = {name: value for name, value in record.items() if name != "attributes"}
        for name, value in values.items():
            entry = fields[name.lower()]
            if not entry["createable"] and not entry["updateable"]:
                return _record_error("INVALID_FIELD_FOR_INSERT_UPDATE",
                                     "Unable to create/update fields: %s. Please check the "
                                     "security settings of this field." % name, [name])
            if entry["type"] == "email" and value is not None and (
                    not isinstance(value, str) or not EMAIL_PATTERN.match(value)):
                return _record_error("INVALID_EMAIL_ADDRESS",
                                     "%s: invalid email address: %s" % (name, value), [name])
            if entry["length"] and isinstance(value, str) and len(value) > entry["length"]:
                return _record_error("STRING_TOO_LONG",
                                     "%s: data value too large: %s (max length=%d)"
                                     % (name, value[:40], entry["length"]), [name])

        with self._lock:
            existing = self.records[sobject].get(key)
            if existing is None:
                missing = [name for name in REQUIRED_ON_INSERT[sobject]
                           if values.get(name) in (None, "")]
                if missing:
                    return _record_error("REQUIRED_FIELD_MISSING",
                                         "Required fields are missing: [%s]" % ", ".join(missing),
                                         missing)
                stored = {"Id": "%s%015d" % (ID_PREFIXES[sobject], next(self._id_numbers))}
                stored.update(values)
                self.records[sobject][key] = stored
                created = True
            else:
                existing.update(values)
                stored = existing
                created = False
            self._lock.notify_all()
        return {"id": stored["Id"], "success": True, "errors": [], "created": created}


def _record_error(status_code, message, fields):
    return {"success": False,
            "errors": [{"statusCode": status_code, "message": message, "fields": fields}]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A keep-alive connection left silent this long is closed.
    timeout = 30
    fake = None

    def log_message(self, format, *args):
        pass

    def _read(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(self.command, self.path,
                                  CaseInsensitiveDict(self.headers.items()), body)
        self.fake._record(request)
        return request

    def _respond(self, status, body, headers=None):
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.fake._notify()

    def do_POST(self):
        request = self._read()
        if request.path == "/services/oauth2/token":
            status, body = self.fake.handle_token(request)
            self._respond(status, body)
            return
        self._respond(404, [{"message": "The requested resource does not exist",
                            "errorCode": "NOT_FOUND"}])

    def do_GET(self):
        request = self._read()
        refused = self.fake.check_rest_call(request)
        if refused is not None:
            self._respond(*refused)
            return
        parts = request.path.split("/")
        # /services/data/vXX.X/sobjects/{SObject}/describe
        if len(parts) == 7 and parts[4] == "sobjects" and parts[6] == "describe":
            self._respond(*self.fake.handle_describe(parts[5]))
            return
        self._respond(404, [{"message": "The requested resource does not exist",
                            "errorCode": "NOT_FOUND"}])

    def do_PATCH(self):
        request = self._read()
        refused = self.fake.check_rest_call(request)
        if refused is not None:
            self._respond(*refused)
            return
        parts = request.path.split("/")
        # /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField}
        if len(parts) == 8 and parts[4] == "composite" and parts[5] == "sobjects":
            self._respond(*self.fake.handle_upsert(parts[6], parts[7], request))
            return
        self._respond(404, [{"message": "The requested resource does not exist",
                            "errorCode": "NOT_FOUND"}])
