#!/usr/bin/env python3
"""The demo's walkthrough against a running wharfd: segments, a webhook
connector, a manual batch and two automatic syncs, printed step by step.

Usage: demo-walkthrough.py API_URL WRITE_KEY DESTINATION_URL
"""
import base64
import json
import sys
import time
import urllib.error
import urllib.request


def call(api, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def expect(status, body, wanted, what):
    if status != wanted:
        raise SystemExit("demo: %s failed: HTTP %d %s" % (what, status, body))
    return body


def wait_until(check, what, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise SystemExit("demo: timed out waiting for %s" % what)


def main():
    api, key, destination = sys.argv[1], sys.argv[2], sys.argv[3]
    # The build that the demo runs, for the wharfctl command it prints.
    build = sys.argv[4] if len(sys.argv) > 4 else "build"
    auth = {"Authorization": "Basic " + base64.b64encode((key + ":").encode()).decode()}

    print("\n== segments (computed over the demo users on wharfd's thread pool)")
    segments = {}
    for name, query in [("High income", {"attribute": "yearly_income", "op": "gte", "value": 100000}),
                        ("Newsletter readers", {"attribute": "newsletter", "op": "eq", "value": True})]:
        created = expect(*call(api, "POST", "/api/v1/segments",
                               {"name": name, "type": "users", "query": query}), 201, "segment")
        ready = wait_until(lambda: (lambda s: s if s["status"] == "ready" else None)(
            call(api, "GET", "/api/v1/segments/" + created["id"])[1]), "segment " + name)
        segments[name] = ready
        print("  %-20s %s  %d members" % (name, ready["id"], ready["size"]))

    print("\n== a webhook connector to the demo destination, whitelisted on \"High income\"")
    connector = expect(*call(api, "POST", "/api/v1/connectors", {
        "plugin": "webhook", "name": "demo webhook",
        "settings": {"url": destination + "/hook", "headers": {"Authorization": "Bearer demo-token"}},
        "synchronized_user_segments": [segments["High income"]["id"]]}), 201, "connector")
    print("  connector %s" % connector["id"])

    print("\n== manual batch: send \"Newsletter readers\" to it (the webhook ignores the whitelist)")
    batch = expect(*call(api, "POST", "/api/v1/connectors/%s/batches" % connector["id"],
                         {"segment_id": segments["Newsletter readers"]["id"]}), 202, "batch")
    done = wait_until(lambda: (lambda b: b if b["state"] in ("done", "failed") else None)(
        call(api, "GET", "/api/v1/batches/" + batch["id"])[1]), "the batch")
    print("  batch %s: %s, total %d, sent %d, skipped %d, failed %d"
          % (done["id"], done["state"], done["total"], done["sent"], done["skipped"], done["failed"]))

    print("\n== automatic sync: two identify calls through the Segment-compatible API")
    high_income = segments["High income"]["id"]
    member = outsider = None
    for number in range(1, 200):
        found = call(api, "GET", "/api/v1/users?external_id=demo-%05d" % number)[1]["users"]
        if not found:
            continue
        if high_income in found[0]["segment_ids"]:
            member = member or found[0]
        else:
            outsider = outsider or found[0]
        if member and outsider:
            break
    # A member gets a raise and stays in the segment, so it is sent; an
    # outsider's change keeps it out, so it is skipped with the reason.
    for user, income in [(member, member["attributes"]["yearly_income"] + 10000),
                         (outsider, 30000 if outsider["attributes"]["yearly_income"] != 30000 else 40000)]:
        expect(*call(api, "POST", "/v1/identify",
                     {"userId": user["external_id"], "traits": {"yearly_income": income}}, auth),
               200, "identify")
    def automatic_lines():
        lines = call(api, "GET", "/api/v1/connectors/%s/logs?limit=50" % connector["id"])[1]["lines"]
        lines = [l for l in lines if l["batch_id"] is None
                 and l["message"] in ("outgoing.user.success", "outgoing.user.skip")]
        return lines if len(lines) >= 2 else None

    for line in sorted(wait_until(automatic_lines, "the automatic sync log lines"),
                       key=lambda l: l["sequence"]):
        detail = line["data"].get("reason") or "HTTP %s" % line["data"].get("status_code")
        print("  %s %s: %s" % (line["message"], line["claims"]["external_id"], detail))

    print("\n== where to look")
    print("  connector log:  curl -s '%s/api/v1/connectors/%s/logs?limit=20'" % (api, connector["id"]))
    print("                  or: %s/wharfctl --url %s logs %s" % (build, api, connector["id"]))
    print("  why skipped:    curl -s '%s/api/v1/connectors/%s/logs?message=outgoing.user.skip'"
          % (api, connector["id"]))
    print("  the batch:      curl -s %s/api/v1/batches/%s" % (api, done["id"]))
    print("  a user:         curl -s '%s/api/v1/users?external_id=demo-00001'" % api)


if __name__ == "__main__":
    main()
