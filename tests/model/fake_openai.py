#!/usr/bin/env python3
"""fake_openai.py - a scripted OpenAI-compatible model server for tests.

It listens on 127.0.0.1 (never another address), answers
POST .../chat/completions by replaying a script, and records every request.
Python standard library only.

    fake_openai.py --script SCRIPT.json --port-file PORTFILE [--port 0] [--log LOG.jsonl]

--port 0 (the default) picks a free port; the chosen port is written to
PORTFILE (atomically: a test waits until the file exists). Stop it with
SIGTERM (or SIGINT).

SCRIPT
------
A JSON object {"turns": [TURN, ...]} (or just the array). Each request to
.../chat/completions takes the next turn; a request after the last turn gets
HTTP 500 {"error": {"message": "fake_openai: no turn left ..."}} so that a
script ends cleanly and a client that asks once too often is told why. By
default a turn is pure replay: it looks at nothing in the request.

A TURN is an object with these optional members:

  "reply": {                       the assistant's answer (a 200 completion)
      "content": "text" | null,
      "tool_calls": [{"id": "call_1", "name": "def",
                      "arguments": {...} | "<JSON text>"}],   id optional
      "finish_reason": "stop",     default: "tool_calls" when there are
                                   tool calls, else "stop"
      "usage": {"prompt_tokens": N, "completion_tokens": N} | null
                                   default: prompt = len(request messages
                                   as JSON) // 4, completion = len(content
                                   and arguments) // 4 + 1; null: no usage
  }
  "stream": true | false | "auto"  send the reply as server-sent events
                                   (default "auto": as the request's
                                   "stream" member asks)
  "chunk_size": N                  characters of content / of each call's
                                   arguments per streamed chunk (default 8);
                                   a call's id and name come first, its
                                   arguments in fragments, as OpenAI does
  "chunk_delay_ms": N              pause between streamed chunks
  "truncate_after": N              stream only N chunks, then stop without
                                   "[DONE]" and without finish_reason
  "truncate_mode": "close"|"clean" "close" (default): drop the connection in
                                   the middle of the chunked body; "clean":
                                   end the HTTP body properly (the stream is
                                   still incomplete)
  "status": N                      an HTTP status instead of a completion
                                   (with "body" or "raw"; default body
                                   {"error": {"message": "..."}})
  "error": "message"               shorthand: status (default 400) with
                                   {"error": {"message": ..., "type": ...}}
  "headers": {"Retry-After": "1"}  extra response headers
  "body": JSON                     the exact response body (any status)
  "raw": "text"                    the exact response bytes (e.g. malformed
                                   JSON), Content-Type application/json, or
                                   text/event-stream with "stream": true
  "content_type": "..."            the Content-Type of a "raw" response
  "pad_bytes": N                   make the response N bytes larger (a
                                   "x_padding" member, or SSE comment lines)
  "delay_ms": N                    wait before answering (slow server)
  "repeat": N                      this turn answers N requests (default 1)
  "expect": {...}                  optional check: every member must equal
                                   the request's (objects compared as
                                   subsets); "expect_last": the same against
                                   the last message. A mismatch answers 400
                                   {"error": {"message": "fake_openai: turn
                                   N: expected ..."}} and is logged.

LOG (--log): one JSON line per request:
  {"n": 1, "turn": 0, "t": MONOTONIC_SECONDS, "method": "POST", "path": "/v1/chat/completions",
   "authorization": "Bearer ..." | null, "body": {...} | null,
   "raw_body": "..." (only when not JSON), "mismatch": "..." (when expect failed)}

Other endpoints: GET .../models lists one model "fake"; GET /_fake/state
answers {"requests": N, "turns": M, "next_turn": K, "left": L}.
"""
import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_REQUEST = 64 << 20


class Script:
    def __init__(self, turns):
        self.turns = turns
        self.lock = threading.Lock()
        self.turn = 0          # index of the next turn
        self.used = 0          # requests answered by the current turn
        self.requests = 0

    def take(self):
        """(request number, turn index or None, turn or None)."""
        with self.lock:
            self.requests += 1
            n = self.requests
            while self.turn < len(self.turns):
                t = self.turns[self.turn]
                rep = t.get("repeat", 1)
                if self.used < rep:
                    self.used += 1
                    return n, self.turn, t
                self.turn += 1
                self.used = 0
            return n, None, None

    def state(self):
        with self.lock:
            left = 0
            for i in range(self.turn, len(self.turns)):
                rep = self.turns[i].get("repeat", 1)
                left += rep - (self.used if i == self.turn else 0)
            return {"requests": self.requests, "turns": len(self.turns),
                    "next_turn": self.turn, "left": left}


def subset(want, got):
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and subset(v, got[k]) for k, v in want.items())
    return want == got


def check_expect(turn, req):
    for k, v in (turn.get("expect") or {}).items():
        if not isinstance(req, dict) or k not in req or not subset(v, req[k]):
            got = req.get(k) if isinstance(req, dict) else None
            return "expected %s = %s, got %s" % (k, json.dumps(v), json.dumps(got))
    last = turn.get("expect_last")
    if last is not None:
        msgs = req.get("messages") if isinstance(req, dict) else None
        m = msgs[-1] if isinstance(msgs, list) and msgs else None
        if not subset(last, m):
            return "expected the last message to contain %s, got %s" % (json.dumps(last), json.dumps(m))
    return None


def make_calls(reply):
    calls = []
    for i, tc in enumerate(reply.get("tool_calls") or []):
        args = tc.get("arguments", {})
        if not isinstance(args, str):
            args = json.dumps(args)
        calls.append({"id": tc.get("id", "call_%d" % (i + 1)), "name": tc["name"], "arguments": args})
    return calls


def usage_for(reply, req, calls):
    if "usage" in reply:
        return reply["usage"]
    msgs = req.get("messages") if isinstance(req, dict) else None
    content = reply.get("content") or ""
    prompt = len(json.dumps(msgs)) // 4 if msgs is not None else 0
    comp = (len(content) + sum(len(c["arguments"]) for c in calls)) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": comp, "total_tokens": prompt + comp}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_openai/1"

    def log_message(self, fmt, *args):
        pass

    # -- plumbing ----------------------------------------------------------
    def send_bytes(self, status, data, ctype="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def send_json(self, status, obj, headers=None):
        self.send_bytes(status, json.dumps(obj).encode(), headers=headers)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def record(self, entry):
        log = self.server.log_path
        if not log:
            return
        with self.server.log_lock, open(log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    # -- endpoints ---------------------------------------------------------
    def do_GET(self):
        if self.path == "/_fake/state":
            return self.send_json(200, self.server.script.state())
        if self.path.rstrip("/").endswith("/models"):
            return self.send_json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        self.send_json(404, {"error": {"message": "fake_openai: no such endpoint %s" % self.path}})

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if n < 0 or n > MAX_REQUEST:
            self.close_connection = True
            return self.send_json(413, {"error": {"message": "fake_openai: bad Content-Length"}})
        raw = self.rfile.read(n)
        entry = {"t": round(time.monotonic(), 3), "method": "POST", "path": self.path,
                 "authorization": self.headers.get("Authorization")}
        try:
            req = json.loads(raw)
            entry["body"] = req
        except ValueError:
            req = None
            entry["body"] = None
            entry["raw_body"] = raw.decode("utf-8", "replace")[:4096]
        if not self.path.rstrip("/").endswith("/chat/completions"):
            entry["n"], entry["turn"] = None, None
            self.record(entry)
            return self.send_json(404, {"error": {"message": "fake_openai: no such endpoint %s" % self.path}})
        num, idx, turn = self.server.script.take()
        entry["n"], entry["turn"] = num, idx
        if turn is None:
            self.record(entry)
            return self.send_json(500, {"error": {"message":
                "fake_openai: no turn left (request %d; the script has %d turns)"
                % (num, len(self.server.script.turns)), "type": "script_exhausted"}})
        mismatch = check_expect(turn, req if req is not None else {})
        if mismatch:
            entry["mismatch"] = mismatch
        self.record(entry)
        if mismatch:
            return self.send_json(400, {"error": {"message": "fake_openai: turn %d: %s" % (idx, mismatch),
                                                  "type": "script_mismatch"}})
        if turn.get("delay_ms"):
            time.sleep(turn["delay_ms"] / 1000.0)
        try:
            self.answer(turn, req if isinstance(req, dict) else {})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def answer(self, turn, req):
        headers = turn.get("headers") or {}
        pad = int(turn.get("pad_bytes", 0))
        if "raw" in turn:
            data = turn["raw"].encode() + b" " * pad
            ctype = turn.get("content_type",
                             "text/event-stream" if turn.get("stream") is True else "application/json")
            return self.send_bytes(turn.get("status", 200), data, ctype=ctype, headers=headers)
        if "error" in turn and "reply" not in turn:
            body = turn.get("body", {"error": {"message": turn["error"], "type": "invalid_request_error"}})
            return self.send_json(turn.get("status", 400), body, headers=headers)
        if "body" in turn or ("status" in turn and "reply" not in turn):
            status = turn.get("status", 200)
            body = turn.get("body", {"error": {"message": "fake_openai: scripted HTTP %d" % status,
                                               "type": "server_error"}})
            if pad and isinstance(body, dict):
                body = dict(body, x_padding="x" * pad)
            return self.send_json(status, body, headers=headers)
        reply = turn.get("reply") or {"content": ""}
        calls = make_calls(reply)
        stream = turn.get("stream", "auto")
        if stream == "auto":
            stream = bool(req.get("stream"))
        if stream:
            return self.answer_stream(turn, req, reply, calls, headers, pad)
        msg = {"role": "assistant", "content": reply.get("content")}
        if calls:
            msg["tool_calls"] = [{"id": c["id"], "type": "function",
                                  "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]
        body = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                "model": req.get("model") or "fake",
                "choices": [{"index": 0, "message": msg,
                             "finish_reason": reply.get("finish_reason", "tool_calls" if calls else "stop")}]}
        usage = usage_for(reply, req, calls)
        if usage is not None:
            body["usage"] = usage
        if pad:
            body["x_padding"] = "x" * pad
        self.send_json(turn.get("status", 200), body, headers=headers)

    def answer_stream(self, turn, req, reply, calls, headers, pad):
        size = max(1, int(turn.get("chunk_size", 8)))
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                "model": req.get("model") or "fake"}

        def ev(delta, finish=None):
            return dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])

        events = [ev({"role": "assistant", "content": ""})]
        content = reply.get("content") or ""
        for i in range(0, len(content), size):
            events.append(ev({"content": content[i:i + size]}))
        for ix, c in enumerate(calls):
            events.append(ev({"tool_calls": [{"index": ix, "id": c["id"], "type": "function",
                                              "function": {"name": c["name"], "arguments": ""}}]}))
            a = c["arguments"]
            for i in range(0, len(a), size):
                events.append(ev({"tool_calls": [{"index": ix, "function": {"arguments": a[i:i + size]}}]}))
        events.append(ev({}, reply.get("finish_reason", "tool_calls" if calls else "stop")))
        usage = usage_for(reply, req, calls)
        so = req.get("stream_options") or {}
        if usage is not None and so.get("include_usage"):
            events.append(dict(base, choices=[], usage=usage))
        frames = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events]
        cut = turn.get("truncate_after")
        if cut is None:
            frames.append(b"data: [DONE]\n\n")
        else:
            frames = frames[:int(cut)]
        if pad:
            line = b": " + b"x" * 1000 + b"\n"
            frames.insert(0, line * (pad // len(line) + 1))
        self.send_response(turn.get("status", 200))
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in headers.items():
            self.send_header(k, str(v))
        self.end_headers()
        delay = turn.get("chunk_delay_ms", 0) / 1000.0
        for f in frames:
            self.chunk(f)
            if delay:
                time.sleep(delay)
        if cut is not None and turn.get("truncate_mode", "close") == "close":
            # drop the connection in the middle of the chunked body
            self.close_connection = True
            self.wfile.write(b"40\r\ndata: {\"trunc")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description="scripted OpenAI-compatible model server (tests only)")
    ap.add_argument("--script", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    a = ap.parse_args()
    with open(a.script) as f:
        doc = json.load(f)
    turns = doc["turns"] if isinstance(doc, dict) else doc
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        sys.exit("fake_openai: the script must be a list of turn objects (or {\"turns\": [...]})")
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.script = Script(turns)
    srv.log_path = a.log
    srv.log_lock = threading.Lock()
    if a.log:
        open(a.log, "w").close()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, a.port_file)

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    main()
