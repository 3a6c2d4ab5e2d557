#!/usr/bin/env python3
"""A local stand-in for a webhook destination, for the demo.

Listens on 127.0.0.1 (port from the command line, 0 for any free port),
answers every POST with 200, prints one summary line per request and appends
each body to a file, so the demo can show what wharfd delivered.
"""
import http.server
import json
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received_path = None

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        try:
            messages = json.loads(body)
            count = len(messages) if isinstance(messages, list) else 1
        except ValueError:
            count = "unparsable"
        print(f"destination: POST {self.path}: {count} message(s), {length} bytes",
              flush=True)
        if Handler.received_path:
            with open(Handler.received_path, "ab") as out:
                out.write(body + b"\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format, *args):
        pass


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    Handler.received_path = sys.argv[2] if len(sys.argv) > 2 else None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"destination listening on http://127.0.0.1:{server.server_address[1]}",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
