#!/usr/bin/env python3
"""A reference consumer for `syncsim serve`, in plain Python 3.11 (stdlib only).

It does what a consumer in any language has to do (docs/live.md):

- accepts the webhook POSTs, verifies their Standard Webhooks v1 signature
  (HMAC-SHA256 over `id.timestamp.body`, constant-time compare, 5-minute
  timestamp tolerance, several space-separated signatures), deduplicates on
  `webhook-id`, and applies `version`/`deleted` only when newer than what it
  holds (thin payloads, without `version`: it fetches the message);
- serves `GET /syncsim/replica`, the replica contract syncsim scores;
- optionally (`--reconcile-every SECONDS`) lists every mailbox's changes
  with its saved cursor and `If-None-Match`, catching what the webhooks
  missed (a 410 starts a full resync).

    export SYNCSIM_WEBHOOK_SECRET=whsec_...
    python3 examples/consumer.py --listen 127.0.0.1:7781 --api http://127.0.0.1:7780
    syncsim serve SCENARIO --webhook-url http://127.0.0.1:7781/webhook

Ctrl-C or SIGTERM stops it. Every loop is bounded: HTTP calls have
timeouts, a reconciliation round reads at most --max-pages pages per mailbox
and a failed call ends that mailbox's turn until the next round.

Importing this file has no side effects (the tests import `verify`).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECS = 5 * 60
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
MAX_BODY = 1 << 20
HTTP_TIMEOUT_SECS = 2.0


# ---- Standard Webhooks v1 verification --------------------------------------


class VerifyError(Exception):
    """A delivery that must not be processed. `code` is the name used by
    docs/webhook-signing-vectors.json (missing_header, malformed_header,
    timestamp_too_old, timestamp_too_new, no_usable_signature,
    no_matching_signature, duplicate_header)."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code


def parse_secret(text: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret."""
    text = text.strip()
    if not text.startswith("whsec_"):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        return base64.b64decode(text[len("whsec_"):], validate=True)
    except binascii.Error as e:
        raise ValueError(f"the secret after whsec_ is not base64: {e}") from None


def verify(
    secrets: list[bytes],
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance: int = TOLERANCE_SECS,
) -> int:
    """Checks a delivery's `v1` signatures; returns its timestamp or raises
    VerifyError. `headers` maps the lowercase header names to their single
    value (absent: missing); `body` is the raw bytes as received."""
    if not secrets:
        raise VerifyError("no_keys", "no secret to verify with")
    for name in SIGNATURE_HEADERS:
        if name not in headers:
            raise VerifyError("missing_header", name)
    msg_id = headers["webhook-id"]
    ts_text = headers["webhook-timestamp"]
    if not msg_id or "." in msg_id:
        raise VerifyError("malformed_header", "webhook-id is empty or contains `.`")
    # ASCII digits only: no sign, no fraction, no other scripts' digits.
    if not (ts_text.isascii() and ts_text.isdigit()):
        raise VerifyError("malformed_header", "webhook-timestamp is not whole Unix seconds")
    timestamp = int(ts_text)
    if now > timestamp + tolerance:
        raise VerifyError("timestamp_too_old", f"{timestamp} is more than {tolerance}s before {now}")
    if timestamp > now + tolerance:
        raise VerifyError("timestamp_too_new", f"{timestamp} is more than {tolerance}s after {now}")
    entries = [e for e in headers["webhook-signature"].split(" ") if e]
    if not entries:
        raise VerifyError("malformed_header", "webhook-signature has no entries")
    signed = msg_id.encode() + b"." + ts_text.encode() + b"." + body
    expected = [hmac.new(key, signed, hashlib.sha256).digest() for key in secrets]
    usable = False
    for entry in entries:
        version, _, value = entry.partition(",")
        if version != "v1":
            continue  # another scheme (v1a ed25519, ...): skipped, as the spec asks
        usable = True
        try:
            tag = base64.b64decode(value, validate=True)
        except binascii.Error:
            continue
        # compare_digest is constant-time; check every key (rotation).
        if any(hmac.compare_digest(tag, mac) for mac in expected):
            return timestamp
    if usable:
        raise VerifyError("no_matching_signature", "no v1 signature matches a trusted secret")
    raise VerifyError("no_usable_signature", "no v1 signature entry")


# ---- The replica ------------------------------------------------------------


class Replica:
    """(mailbox, message) -> (version, deleted), applied only when newer;
    thread-safe (deliveries, the reconciler and replica reads run in
    threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[int, int], tuple[int, bool]] = {}
        self._seen: set[str] = set()

    def apply(self, mailbox: int, message: int, version: int, deleted: bool) -> bool:
        with self._lock:
            held = self._held.get((mailbox, message))
            if held is not None and held[0] >= version:
                return False  # a duplicate or an older change arriving late
            self._held[(mailbox, message)] = (version, deleted)
            return True

    def seen(self, webhook_id: str) -> bool:
        with self._lock:
            return webhook_id in self._seen

    def mark_seen(self, webhook_id: str) -> None:
        with self._lock:
            self._seen.add(webhook_id)

    def as_json(self) -> bytes:
        with self._lock:
            items = sorted(self._held.items())
        messages = [
            {"mailbox": m, "message": msg, "version": v, "deleted": d} for (m, msg), (v, d) in items
        ]
        return json.dumps({"messages": messages}).encode()


# ---- The mail API client ----------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, retry_after: str | None):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def api_get(api: str, path: str, etag: str | None = None) -> tuple[int, dict | None, str | None]:
    """GET `path` once: (status, JSON body or None for a 304, ETag). Any
    status but 200/304 (or no answer) raises ApiError."""
    req = urllib.request.Request(api.rstrip("/") + path, headers={"Accept": "application/json"})
    if etag:
        req.add_header("If-None-Match", etag)
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_SECS) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get("ETag")
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return 304, None, e.headers.get("ETag")
        raise ApiError(e.code, e.headers.get("Retry-After")) from None
    except (urllib.error.URLError, OSError, ValueError):
        raise ApiError(0, None) from None


def fetch_message(api: str, replica: Replica, mailbox: int, message: int) -> None:
    """A thin notification: fetch the message's latest version and apply it."""
    _, item, _ = api_get(api, f"/v1/mailboxes/{mailbox}/messages/{message}")
    replica.apply(mailbox, item["message"], item["version"], item["deleted"])


# ---- The webhook endpoint and the replica contract --------------------------


def make_handler(secrets: list[bytes], replica: Replica, api: str, verbose: bool):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args) -> None:
            if verbose:
                super().log_message(fmt, *args)

        def answer(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if body:
                self.send_header("Content-Type", ctype)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/syncsim/replica":
                self.answer(200, replica.as_json())
            else:
                self.answer(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.close_connection = True
                self.answer(413)
                return
            body = self.rfile.read(length)
            # Verify first, on the raw bytes: never re-serialize the JSON.
            try:
                headers = {}
                for name in SIGNATURE_HEADERS:
                    values = self.headers.get_all(name) or []
                    if len(values) > 1:
                        raise VerifyError("duplicate_header", name)
                    if values:
                        headers[name] = values[0]
                verify(secrets, headers, body, int(time.time()))
            except VerifyError as e:
                if verbose:
                    print(f"rejected delivery: {e}", file=sys.stderr)
                self.answer(401)  # not 410: that would disable the endpoint
                return
            webhook_id = headers["webhook-id"]
            if replica.seen(webhook_id):
                self.answer(204)  # a retry of a delivery already processed
                return
            try:
                data = json.loads(body)["data"]
                mailbox, message = int(data["mailbox"]), int(data["message"])
                if "version" in data:
                    replica.apply(mailbox, message, int(data["version"]), bool(data["deleted"]))
                else:
                    fetch_message(api, replica, mailbox, message)
            except ApiError:
                self.answer(503)  # a failed attempt: the sender retries later
                return
            except (ValueError, KeyError, TypeError):
                self.answer(400)
                return
            replica.mark_seen(webhook_id)
            self.answer(204)

    return Handler


# ---- Reconciliation (optional) ----------------------------------------------


def reconcile_round(api: str, replica: Replica, cursors: dict[int, str], max_pages: int,
                    stop: threading.Event) -> None:
    """One pass over every mailbox: list from its saved cursor until
    `has_more` is false, at most `max_pages` pages; any error ends the
    mailbox's turn (the next round tries again)."""
    _, body, _ = api_get(api, "/v1/mailboxes")
    for m in range(body["mailboxes"]):
        cursor = cursors.get(m, "start")
        for _ in range(max_pages):
            if stop.is_set():
                return
            # Cursor tokens are [a-z0-9:]; the `:` goes as is (no percent-encoding).
            try:
                status, page, _ = api_get(
                    api, f"/v1/mailboxes/{m}/changes?cursor={cursor}", etag=f'"{cursor}"'
                )
            except ApiError as e:
                if e.status == 410:  # the cursor fell out of the retention
                    cursor = "resync:0"
                    continue
                break  # 429/503/unreachable: next round
            if status == 304:
                break  # nothing new
            for item in page.get("changes", page.get("messages", [])):
                replica.apply(m, item["message"], item["version"], item["deleted"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        cursors[m] = cursor


def reconciler(api: str, replica: Replica, every: float, max_pages: int, stop: threading.Event) -> None:
    cursors: dict[int, str] = {}
    while not stop.wait(every):
        try:
            reconcile_round(api, replica, cursors, max_pages, stop)
        except (ApiError, KeyError, TypeError, ValueError) as e:
            print(f"reconcile round failed: {e}", file=sys.stderr)


# ---- main -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", default="127.0.0.1:7781", help="host:port to serve on (default 127.0.0.1:7781)")
    p.add_argument("--api", default="http://127.0.0.1:7780", help="syncsim's mail API (default http://127.0.0.1:7780)")
    p.add_argument("--secret", action="append",
                   help="whsec_ secret (repeat during a rotation; default: $SYNCSIM_WEBHOOK_SECRET)")
    p.add_argument("--reconcile-every", type=float, default=0.0, metavar="SECONDS",
                   help="list every mailbox's changes this often (0, the default: webhooks only)")
    p.add_argument("--max-pages", type=int, default=100, help="pages per mailbox per reconciliation round")
    p.add_argument("--verbose", action="store_true", help="log requests and rejected deliveries")
    args = p.parse_args(argv)

    texts = args.secret or ([os.environ["SYNCSIM_WEBHOOK_SECRET"]] if os.environ.get("SYNCSIM_WEBHOOK_SECRET") else [])
    if not texts:
        p.error("give --secret or set SYNCSIM_WEBHOOK_SECRET (the secret `syncsim serve` signs with)")
    try:
        secrets = [parse_secret(t) for t in texts]
    except ValueError as e:
        p.error(str(e))
    host, _, port = args.listen.rpartition(":")
    replica = Replica()
    server = ThreadingHTTPServer((host, int(port)), make_handler(secrets, replica, args.api, args.verbose))
    server.daemon_threads = True
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    threads = [threading.Thread(target=server.serve_forever, daemon=True)]
    if args.reconcile_every > 0:
        threads.append(threading.Thread(
            target=reconciler, args=(args.api, replica, args.reconcile_every, args.max_pages, stop), daemon=True))
    for t in threads:
        t.start()
    print(f"consumer on http://{args.listen} (replica at /syncsim/replica), API {args.api}", file=sys.stderr)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
