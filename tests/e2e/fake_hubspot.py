"""A fake HubSpot CRM API on 127.0.0.1 for the hubspot plugin's tests.

It follows HubSpot's CRM API v3 as published on developers.hubspot.com:
- "Upsert a batch of contacts" (api-reference/legacy/crm/objects/contacts/
  batch/upsert-contacts) and the same endpoint for companies:
  POST /crm/v3/objects/{contacts|companies}/batch/upsert with
  {"inputs": [{"idProperty", "id", "objectWriteTraceId", "properties"}]},
  at most 100 inputs, returning {"status": "COMPLETE", "results": [...],
  "startedAt", "completedAt"} and, for partial failures, HTTP 207 with
  "numErrors" and "errors" (category, message, context).
- "Get all properties" (GET /crm/v3/properties/{object}), returning
  {"results": [{"name", "label", "type", "fieldType",
  "modificationMetadata"}]}.
- Error bodies {"status": "error", "message", "correlationId", "category"}:
  401 INVALID_AUTHENTICATION or EXPIRED_AUTHENTICATION, 429 with
  "errorType": "RATE_LIMIT" and "policyName" (SECONDLY, DAILY), 400
  VALIDATION_ERROR with "errors" whose entries carry a "code" (such as
  INVALID_EMAIL, PROPERTY_DOESNT_EXIST, INVALID_INTEGER).

The documentation shows the error entries' "context" as a free-form object.
This fake names the inputs at fault as {"objectWriteTraceId": ["3"]} in it,
which is what the plugin relies on; a real portal may name them otherwise.

Switches (methods of FakeHubSpot) script failures: rate limits, server
errors, an expired token, inputs that HubSpot rejects, and whether a
partial failure gets 400 for the whole request (the default) or 207.
"""

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_INPUTS = 100
STRING_MAX = 65536
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NUMBER_PATTERN = re.compile(r"^-?\d+(\.\d+)?$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")

CONTACT_PROPERTIES = [
    ("email", "string"), ("firstname", "string"), ("lastname", "string"),
    ("age", "number"), ("vip", "bool"), ("birthday", "date"), ("last_seen", "datetime"),
    ("lifecyclestage", "enumeration"), ("notes", "string"),
]
COMPANY_PROPERTIES = [
    ("domain", "string"), ("name", "string"), ("numberofemployees", "number"),
]
READ_ONLY = [("hs_object_id", "number")]


def property_definitions(properties):
    definitions = [{"name": name, "label": name.title(), "type": kind,
                    "fieldType": "text", "modificationMetadata": {"readOnlyValue": False}}
                   for name, kind in properties]
    definitions += [{"name": name, "label": name, "type": kind, "fieldType": "number",
                     "modificationMetadata": {"readOnlyValue": True}}
                    for name, kind in READ_ONLY]
    return definitions


class Upsert:
    """One upsert request as the fake received it."""

    def __init__(self, object_type, inputs, status):
        self.object_type = object_type
        self.inputs = inputs
        self.status = status

    @property
    def ids(self):
        return [entry.get("id") for entry in self.inputs]

    def __repr__(self):
        return "Upsert(%s, %d inputs, HTTP %d)" % (self.object_type, len(self.inputs),
                                                   self.status)


class FakeHubSpot:
    """The fake API; start() binds 127.0.0.1 on a free port."""

    def __init__(self, token):
        self.valid_tokens = {token}
        self.expired_tokens = set()
        self.multi_status = False
        self.records = {"contacts": {}, "companies": {}}
        self.upserts = []
        self.property_reads = []
        self.authorizations = []
        self._rejected_ids = {}
        self._scripted = []
        self._lock = threading.Condition()
        self._server = None
        self._thread = None

    # ---- lifetime ---------------------------------------------------------

    def start(self):
        fake = self

        class Handler(_Handler):
            hubspot = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fake-hubspot", daemon=True)
        self._thread.start()
        return self

    def shutdown(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    # ---- switches ---------------------------------------------------------

    def reject_id(self, record_id, code="INVALID_EMAIL", message=None):
        """Reject every input with this id (email or domain) with a validation error."""
        with self._lock:
            self._rejected_ids[record_id] = (code, message or "Email address %s is invalid"
                                             % record_id)

    def fail_next(self, status, count=1, headers=None, body=None):
        """Respond to the next count upsert requests with status instead of handling them."""
        with self._lock:
            for _ in range(count):
                self._scripted.append((status, dict(headers or {}), body))

    def rate_limit_next(self, count=1, policy="SECONDLY", retry_after=None):
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = {"status": "error", "message": "You have reached your %s limit."
                % policy.lower(), "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()), "policyName": policy}
        self.fail_next(429, count, headers, body)

    def expire_token(self, token):
        """Make requests with this token get 401 EXPIRED_AUTHENTICATION from now on."""
        with self._lock:
            self.valid_tokens.discard(token)
            self.expired_tokens.add(token)

    def add_token(self, token):
        with self._lock:
            self.valid_tokens.add(token)

    # ---- reading back -----------------------------------------------------

    def contact(self, email):
        with self._lock:
            return self.records["contacts"].get(email)

    def company(self, domain):
        with self._lock:
            return self.records["companies"].get(domain)

    def contact_ids(self):
        with self._lock:
            return set(self.records["contacts"])

    def company_ids(self):
        with self._lock:
            return set(self.records["companies"])

    def upsert_requests(self, object_type=None):
        with self._lock:
            return [upsert for upsert in self.upserts
                    if object_type is None or upsert.object_type == object_type]

    # ---- request handling (called by the handler thread) ------------------

    def authorize(self, header):
        with self._lock:
            self.authorizations.append(header)
            token = header[len("Bearer "):] if header and header.startswith("Bearer ") else None
            if token in self.valid_tokens:
                return None
            if token in self.expired_tokens:
                return 401, {"status": "error", "category": "EXPIRED_AUTHENTICATION",
                             "message": "The OAuth token used to make this call expired "
                                        "2 hour(s) ago.",
                             "correlationId": str(uuid.uuid4())}
            return 401, {"status": "error", "category": "INVALID_AUTHENTICATION",
                         "message": "Authentication credentials not found. This API supports "
                                    "OAuth 2.0 authentication.",
                         "correlationId": str(uuid.uuid4())}

    def properties(self, object_type):
        with self._lock:
            self.property_reads.append(object_type)
        definitions = CONTACT_PROPERTIES if object_type == "contacts" else COMPANY_PROPERTIES
        return 200, {}, {"results": property_definitions(definitions)}

    def upsert(self, object_type, body):
        with self._lock:
            if self._scripted:
                status, headers, scripted_body = self._scripted.pop(0)
                self.upserts.append(Upsert(object_type, body.get("inputs", []), status))
                self._lock.notify_all()
                return status, headers, scripted_body
            status, response = self._upsert_locked(object_type, body)
            self.upserts.append(Upsert(object_type, body.get("inputs", []), status))
            self._lock.notify_all()
            return status, {}, response

    def _upsert_locked(self, object_type, body):
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return 400, validation_error("Invalid input JSON: inputs must be a non-empty array",
                                         [])
        if len(inputs) > MAX_INPUTS:
            return 400, validation_error("Batch input limit of %d exceeded" % MAX_INPUTS, [])

        definitions = dict(CONTACT_PROPERTIES if object_type == "contacts"
                           else COMPANY_PROPERTIES)
        id_property = "email" if object_type == "contacts" else "domain"
        errors = []
        for entry in inputs:
            problem = self._check_input(entry, id_property, definitions)
            if problem is not None:
                code, message = problem
                errors.append({"message": message, "code": code,
                               "context": {"objectWriteTraceId":
                                           [entry.get("objectWriteTraceId")]}})

        if errors and not self.multi_status:
            return 400, validation_error("Property values were not valid", errors)

        failed = {error["context"]["objectWriteTraceId"][0] for error in errors}
        results = []
        store = self.records[object_type]
        for entry in inputs:
            if entry.get("objectWriteTraceId") in failed:
                continue
            is_new = entry["id"] not in store
            record = store.setdefault(entry["id"], {"id": str(len(store) + 1), "properties": {}})
            record["properties"].update({name: str(value).lower()
                                         if isinstance(value, bool) else str(value)
                                         for name, value in entry["properties"].items()})
            record["properties"][id_property] = entry["id"]
            results.append({"id": record["id"], "properties": record["properties"],
                            "new": is_new, "archived": False,
                            "objectWriteTraceId": entry.get("objectWriteTraceId"),
                            "createdAt": "2026-12-04T00:00:00Z",
                            "updatedAt": "2026-12-04T00:00:00Z"})
        response = {"status": "COMPLETE", "results": results,
                    "startedAt": "2026-12-04T00:00:00Z", "completedAt": "2026-12-04T00:00:01Z"}
        if not errors:
            return 200, response
        response["numErrors"] = len(errors)
        response["errors"] = [{"status": "error", "category": "VALIDATION_ERROR",
                               "message": error["message"], "context": error["context"]}
                              for error in errors]
        return 207, response

    def _check_input(self, entry, id_property, definitions):
        """(code, message) for an input HubSpot would reject, or None."""
        if entry.get("idProperty") != id_property or not isinstance(entry.get("id"), str):
            return "INVALID_ID", "idProperty must be %s with a string id" % id_property
        if entry["id"] in self._rejected_ids:
            return self._rejected_ids[entry["id"]]
        if id_property == "email" and not EMAIL_PATTERN.match(entry["id"]):
            return "INVALID_EMAIL", "Email address %s is invalid" % entry["id"]
        properties = entry.get("properties")
        if not isinstance(properties, dict):
            return "INVALID_INPUT", "properties must be an object"
        for name, value in properties.items():
            if name not in definitions:
                return ("PROPERTY_DOESNT_EXIST",
                        'Property "%s" does not exist' % name)
            text = str(value).lower() if isinstance(value, bool) else str(value)
            kind = definitions[name]
            if kind == "number" and not NUMBER_PATTERN.match(text):
                return "INVALID_INTEGER", "%s was not a valid number for %s" % (text, name)
            if kind == "bool" and text not in ("true", "false"):
                return "INVALID_BOOLEAN", "%s was not a valid boolean for %s" % (text, name)
            if kind == "date" and not DATE_PATTERN.match(text):
                return "INVALID_DATE", "%s was not a valid date for %s" % (text, name)
            if len(text) > STRING_MAX:
                return "INVALID_LENGTH", "%s is longer than %d characters" % (name, STRING_MAX)
        return None


def validation_error(message, errors):
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
            "category": "VALIDATION_ERROR", "errors": errors}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hubspot = None
    UPSERT_PATH = re.compile(r"^/crm/v3/objects/(contacts|companies)/batch/upsert$")
    PROPERTIES_PATH = re.compile(r"^/crm/v3/properties/(contacts|companies)$")

    def log_message(self, format, *args):  # keep the test output quiet
        pass

    def _respond(self, status, body, headers=None):
        payload = json.dumps(body).encode("utf-8") if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _authorized(self):
        refusal = self.hubspot.authorize(self.headers.get("Authorization"))
        if refusal is not None:
            self._respond(*refusal)
            return False
        return True

    def do_GET(self):
        match = self.PROPERTIES_PATH.match(self.path)
        if match is None:
            self._respond(404, {"status": "error", "message": "Not found",
                                "category": "OBJECT_NOT_FOUND"})
            return
        if self._authorized():
            status, headers, body = self.hubspot.properties(match.group(1))
            self._respond(status, body, headers)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        match = self.UPSERT_PATH.match(self.path)
        if match is None:
            self._respond(404, {"status": "error", "message": "Not found",
                                "category": "OBJECT_NOT_FOUND"})
            return
        if not self._authorized():
            return
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            self._respond(400, validation_error("Invalid input JSON", []))
            return
        status, headers, response = self.hubspot.upsert(match.group(1), body)
        self._respond(status, response, headers)
