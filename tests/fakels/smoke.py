#!/usr/bin/env python3
"""Smoke test for tests/fakels/fakels: drives every mode over real pipes and
checks that it misbehaves exactly as documented at the top of fakels.c.

Usage: python3 tests/fakels/smoke.py [path/to/fakels]
Prints TAP-style "ok N - ..." / "not ok N - ..." lines and a closing
"N passed, N failed" line; exits 1 if anything failed.
"""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAKELS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fakels")
URI = "file:///tmp/fakels-smoke/a.py"


class ProtocolError(Exception):
    pass


class Timeout(Exception):
    pass


class EOF(Exception):
    pass


class Client:
    """A strict LSP framing client: Content-Length is bytes and must be a
    decimal number; the body must be JSON."""

    def __init__(self, mode, env=None, args=()):
        self.logfile = tempfile.NamedTemporaryFile(prefix="fakels-log-", delete=False).name
        e = dict(os.environ)
        e.pop("FAKELS_MODE", None)
        e.update(env or {})
        self.p = subprocess.Popen(
            [FAKELS, "--mode", mode, "--log", self.logfile, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        self.buf = b""
        self.next_id = 1

    # -- writing
    def send_raw(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def send(self, obj, extra_headers=b""):
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send_raw(b"Content-Length: %d\r\n" % len(body) + extra_headers + b"\r\n" + body)

    def request(self, method, params=None):
        i = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params or {}})
        return i

    def notify(self, method, params=None):
        self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    # -- reading
    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        r, _, _ = select.select([self.p.stdout], [], [], left)
        if not r:
            raise Timeout()
        chunk = os.read(self.p.stdout.fileno(), 1 << 16)
        if not chunk:
            raise EOF()
        self.buf += chunk

    def recv(self, timeout=2.0):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        length = None
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                v = value.strip()
                if not v.isdigit():
                    raise ProtocolError("bad Content-Length %r" % v)
                length = int(v)
        if length is None:
            raise ProtocolError("no Content-Length in %r" % head)
        if length > 64 << 20:
            raise ProtocolError("Content-Length %d too large" % length)
        while len(self.buf) < length:
            self._fill(deadline)
        body, self.buf = self.buf[:length], self.buf[length:]
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError as e:
            raise ProtocolError("body is not JSON: %r" % body[:40]) from e

    def recv_id(self, i, timeout=2.0):
        """Next response with id i; notifications in between are returned too."""
        seen = []
        while True:
            m = self.recv(timeout)
            if m.get("id") == i and "method" not in m:
                return m, seen
            seen.append(m)

    def silent(self, secs):
        try:
            m = self.recv(secs)
            return m
        except Timeout:
            return None

    def initialize(self):
        i = self.request("initialize", {"processId": os.getpid(), "rootUri": None,
                                        "capabilities": {}})
        m, _ = self.recv_id(i)
        return m

    def wait(self, timeout=2.0):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def alive(self):
        return self.p.poll() is None

    def log(self):
        with open(self.logfile) as f:
            return f.read().splitlines()

    def close(self):
        if self.alive():
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except OSError:
                pass
        os.unlink(self.logfile)


results = [0, 0]


def check(cond, what):
    n = results[0] + results[1] + 1
    if cond:
        results[0] += 1
        print("ok %d - %s" % (n, what))
    else:
        results[1] += 1
        print("not ok %d - %s" % (n, what))
    sys.stdout.flush()


def did_open(c, version=7):
    c.notify("textDocument/didOpen", {"textDocument": {
        "uri": URI, "languageId": "python", "version": version, "text": "x = 1\n"}})


def pos_params():
    return {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}}


def t_version():
    out = subprocess.run([FAKELS, "--version"], capture_output=True, text=True)
    check(out.returncode == 0 and out.stdout == "fakels 1.0\n", "--version prints 'fakels 1.0'")
    out = subprocess.run([FAKELS, "--mode", "nope"], capture_output=True, text=True)
    check(out.returncode == 64, "unknown mode is a usage error (64)")


def t_ok():
    c = Client("ok")
    m = c.initialize()
    caps = m["result"]["capabilities"]
    check(caps == {"definitionProvider": True, "referencesProvider": True,
                   "hoverProvider": True, "documentSymbolProvider": True,
                   "workspaceSymbolProvider": True, "textDocumentSync": 1}
          and m["result"]["serverInfo"] == {"name": "fakels", "version": "1.0"},
          "ok: initialize answers the documented capabilities and serverInfo")
    c.notify("initialized")
    did_open(c, 7)
    # The hover right behind the non-ASCII diagnostic only parses if the
    # diagnostic's Content-Length counted bytes.
    i = c.request("textDocument/hover", pos_params())
    d = c.recv()
    check(d.get("method") == "textDocument/publishDiagnostics"
          and d["params"]["uri"] == URI and d["params"]["version"] == 7
          and d["params"]["diagnostics"][0]["message"] == "fake error \u2014 non-ASCII \u2713"
          and d["params"]["diagnostics"][0]["severity"] == 1
          and d["params"]["diagnostics"][0]["range"] == {
              "start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
          "ok: didOpen publishes one non-ASCII diagnostic with the document version")
    m, _ = c.recv_id(i)
    check(m["result"] == {"contents": {"kind": "markdown", "value": "fake hover"}},
          "ok: hover after the non-ASCII frame parses (Content-Length in bytes)")
    i = c.request("textDocument/definition", pos_params())
    m, _ = c.recv_id(i)
    check(m["result"] == {"uri": URI, "range": {"start": {"line": 0, "character": 0},
                                                 "end": {"line": 0, "character": 0}}},
          "ok: definition points at 0:0 of the same uri")
    for meth in ("textDocument/references", "textDocument/documentSymbol", "workspace/symbol"):
        i = c.request(meth, pos_params())
        m, _ = c.recv_id(i)
        check(m["result"] == [], "ok: %s answers []" % meth)
    i = c.request("initialize", {"capabilities": {}})
    m, _ = c.recv_id(i)
    check(m["error"]["code"] == -32600, "ok: a second initialize gets -32600")
    i = c.request("textDocument/frobnicate", {})
    m, _ = c.recv_id(i)
    check(m["error"]["code"] == -32601, "ok: unknown request gets -32601")
    # string ids are echoed; extra headers and lower-case names are accepted
    c.send({"jsonrpc": "2.0", "id": "s-1", "method": "shutdown"},
           extra_headers=b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n")
    m, _ = c.recv_id("s-1")
    check(m["result"] is None, "ok: shutdown answers null (string id, extra header)")
    body = b"{not json"
    c.send_raw(b"content-length: %d\r\n\r\n" % len(body) + body)
    m = c.recv()
    check(m.get("error", {}).get("code") == -32700 and m["id"] is None,
          "ok: a body that is not JSON gets ParseError")
    c.notify("exit")
    rc = c.wait()
    check(rc == 0, "ok: exits 0 on exit (rc=%r)" % rc)
    log = c.log()
    check(log == ["initialize", "initialized", "textDocument/didOpen", "textDocument/hover",
                  "textDocument/definition", "textDocument/references",
                  "textDocument/documentSymbol", "workspace/symbol",
                  "initialize", "textDocument/frobnicate", "shutdown", "(not json)", "exit"],
          "ok: --log has one line per received method")
    c.close()

    c = Client("ok")
    c.initialize()
    c.p.stdin.close()
    check(c.wait() == 0, "ok: exits 0 at end of input")
    c.close()


def t_bad_frames():
    c = Client("ok")
    c.send_raw(b"Content-Length: 67108865\r\n\r\n")
    rc = c.wait()
    check(rc == 2 and b"64 MiB" in c.p.stderr.read(), "frame over 64 MiB: exit 2")
    c.close()
    c = Client("ok")
    c.send_raw(b"Content-Length: 12x\r\n\r\n")
    check(c.wait() == 2, "malformed Content-Length from the client: exit 2")
    c.close()
    c = Client("ok")
    c.send_raw(b"Content-Length: 100\r\n\r\n{\"jsonrpc\"")
    c.p.stdin.close()
    check(c.wait() == 2, "truncated body: exit 2")
    c.close()


def t_crash(mode, want_rc, what):
    c = Client(mode)
    c.initialize()
    c.notify("initialized")
    did_open(c)
    d = c.recv()
    check(d.get("method") == "textDocument/publishDiagnostics",
          "%s: behaves like ok up to didOpen" % mode)
    c.request("textDocument/definition", pos_params())
    try:
        c.recv()
        got = "answer"
    except EOF:
        got = "eof"
    rc = c.wait()
    check(got == "eof" and rc == want_rc, "%s: %s without answering (rc=%r)" % (mode, what, rc))
    c.close()


def t_hang():
    c = Client("hang")
    m = c.initialize()
    check("capabilities" in m["result"], "hang: answers initialize")
    c.notify("initialized")
    did_open(c)
    c.request("textDocument/hover", pos_params())
    c.request("shutdown")
    c.notify("exit")
    check(c.silent(0.5) is None, "hang: answers nothing after initialize (not even shutdown)")
    check(c.wait(0.3) is None, "hang: does not exit on exit")
    c.p.stdin.close()
    check(c.wait(0.3) is None, "hang: does not exit at end of input")
    c.p.send_signal(signal.SIGTERM)
    check(c.wait(1) == -signal.SIGTERM, "hang: dies of SIGTERM by default")
    c.close()

    c = Client("hang", args=["--ignore-term"])
    c.initialize()
    c.p.send_signal(signal.SIGTERM)
    check(c.wait(0.3) is None, "hang --ignore-term: survives SIGTERM")
    c.p.kill()
    check(c.wait(1) == -signal.SIGKILL, "hang --ignore-term: SIGKILL ends it")
    c.close()


def t_no_init():
    c = Client("no-init")
    c.request("initialize", {"capabilities": {}})
    check(c.silent(0.5) is None, "no-init: never answers initialize")
    c.notify("exit")
    c.p.stdin.close()
    check(c.wait(0.3) is None, "no-init: does not exit on exit or end of input")
    check(c.log() == ["initialize", "exit"], "no-init: still logs what it read")
    c.close()


def t_junk(mode, expect):
    c = Client(mode)
    c.initialize()
    c.notify("initialized")
    c.request("textDocument/hover", pos_params())
    try:
        c.recv()
        err = "no error"
    except ProtocolError as e:
        err = str(e)
    check(expect in err, "%s: first request gets a broken frame (%s)" % (mode, err))
    time.sleep(0.2)
    check(c.alive(), "%s: keeps running" % mode)
    c.request("textDocument/hover", pos_params())
    check(c.alive(), "%s: still running after another request" % mode)
    c.close()


def t_oversized():
    c = Client("oversized")
    c.initialize()
    c.request("textDocument/hover", pos_params())
    deadline = time.monotonic() + 20
    while b"\r\n\r\n" not in c.buf:
        c._fill(deadline)
    head, rest = c.buf.split(b"\r\n\r\n", 1)
    check(head == b"Content-Length: 2000000000", "oversized: announces a 2e9 byte body")
    total, rss = len(rest), 0
    while True:
        r, _, _ = select.select([c.p.stdout], [], [], 1.0)
        if not r:
            break
        chunk = os.read(c.p.stdout.fileno(), 1 << 20)
        if not chunk:
            break
        if chunk.strip(b"x"):
            total = -1
            break
        total += len(chunk)
        if total % (8 << 20) < len(chunk):
            with open("/proc/%d/status" % c.p.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = max(rss, int(line.split()[1]))
    check(total == 64 << 20, "oversized: streams exactly 64 MiB of 'x' then stops (%d)" % total)
    check(0 < rss < 16 * 1024, "oversized: stays small while streaming (%d kB RSS)" % rss)
    check(c.alive(), "oversized: keeps running after the stream")
    c.close()

    # A client that gives up mid-stream: fakels must leave quietly.
    c = Client("oversized")
    c.initialize()
    c.request("textDocument/hover", pos_params())
    c._fill(time.monotonic() + 5)
    c.p.stdout.close()
    rc = c.wait(5)
    err = c.p.stderr.read()
    check(rc == 0 and err == b"", "oversized: exits 0 quietly when the pipe closes (rc=%r)" % rc)
    c.close()


def t_slow():
    c = Client("slow", env={"FAKELS_DELAY_MS": "600"})
    t0 = time.monotonic()
    c.initialize()
    check(time.monotonic() - t0 < 0.4, "slow: initialize is immediate")
    c.notify("initialized")
    t0 = time.monotonic()
    i = c.request("textDocument/hover", pos_params())
    m, _ = c.recv_id(i, timeout=3)
    dt = time.monotonic() - t0
    check(m["result"]["contents"]["value"] == "fake hover" and dt >= 0.55,
          "slow: hover answered after the delay (%.2fs)" % dt)
    t0 = time.monotonic()
    i = c.request("textDocument/definition", pos_params())
    j = c.request("textDocument/hover", pos_params())
    c.notify("$/cancelRequest", {"id": i})
    m, _ = c.recv_id(i, timeout=3)
    dt = time.monotonic() - t0
    check(m.get("error", {}).get("code") == -32800 and dt < 0.4,
          "slow: $/cancelRequest during the wait gives -32800 at once (%.2fs)" % dt)
    m, _ = c.recv_id(j, timeout=3)
    check("result" in m, "slow: the request queued behind it is still answered")
    t0 = time.monotonic()
    i = c.request("shutdown")
    c.recv_id(i)
    check(time.monotonic() - t0 < 0.4, "slow: shutdown is immediate")
    c.notify("exit")
    check(c.wait() == 0, "slow: exits 0 on exit")
    log = c.log()
    check(log.count("$/cancelRequest") == 1 and log.count("textDocument/hover") == 2,
          "slow: messages read during a wait are logged once")
    c.close()

    c = Client("slow")
    c.initialize()
    t0 = time.monotonic()
    i = c.request("textDocument/hover", pos_params())
    c.recv_id(i, timeout=5)
    dt = time.monotonic() - t0
    check(2.9 <= dt < 4, "slow: default delay is 3000 ms (%.2fs)" % dt)
    c.close()


def t_server_requests():
    c = Client("server-requests")
    c.initialize()
    c.notify("initialized")
    asks = [c.recv() for _ in range(3)]
    check([a["method"] for a in asks] == ["workspace/configuration", "client/registerCapability",
                                          "window/workDoneProgress/create"],
          "server-requests: asks the three questions after initialized")
    check(asks[0]["params"] == {"items": [{"section": "python"}]}
          and asks[2]["params"] == {"token": "tok1"}
          and asks[1]["params"]["registrations"][0]["id"].startswith("fakels-reg-"),
          "server-requests: with pyright-like params")
    did_open(c)
    d = c.recv()
    check(d.get("method") == "textDocument/publishDiagnostics",
          "server-requests: still publishes diagnostics on didOpen")
    i = c.request("textDocument/definition", pos_params())
    check(c.silent(0.4) is None, "server-requests: holds textDocument requests while unanswered")
    c.send({"jsonrpc": "2.0", "id": asks[0]["id"], "result": [None]})
    c.send({"jsonrpc": "2.0", "id": asks[1]["id"], "result": None})
    check(c.silent(0.3) is None, "server-requests: still holding after two of three answers")
    c.send({"jsonrpc": "2.0", "id": asks[2]["id"], "result": None})
    m, seen = c.recv_id(i)
    kinds = [(s["method"], s["params"]["token"], s["params"]["value"]["kind"]) for s in seen]
    check(kinds == [("$/progress", "tok1", "begin"), ("$/progress", "tok1", "end")]
          and m["result"]["uri"] == URI,
          "server-requests: then $/progress begin/end for tok1 and the held answer")
    log = c.log()
    check("response workspace/configuration" in log and
          "response client/registerCapability" in log and
          "response window/workDoneProgress/create" in log and
          "server-requests answered" in log,
          "server-requests: the log records each answer")
    c.close()

    c = Client("server-requests")
    c.initialize()
    c.notify("initialized")
    reg = [c.recv()["params"] for _ in range(3)][1]["registrations"][0]["id"]
    c.close()
    c = Client("server-requests")
    time.sleep(0.01)
    c.initialize()
    c.notify("initialized")
    reg2 = [c.recv()["params"] for _ in range(3)][1]["registrations"][0]["id"]
    check(reg != reg2, "server-requests: registration ids differ between runs")
    c.close()


def t_exit_after_init():
    c = Client("exit-after-init")
    m = c.initialize()
    check("capabilities" in m["result"], "exit-after-init: answers initialize")
    c.notify("initialized")
    check(c.wait() == 0, "exit-after-init: exits 0 on initialized")
    c.close()


def t_env_mode():
    c = Client.__new__(Client)
    c.logfile = tempfile.NamedTemporaryFile(prefix="fakels-log-", delete=False).name
    c.p = subprocess.Popen([FAKELS], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE,
                           env=dict(os.environ, FAKELS_MODE="exit-after-init"))
    c.buf, c.next_id = b"", 1
    c.initialize()
    c.notify("initialized")
    check(c.wait() == 0, "FAKELS_MODE selects the mode when --mode is absent")
    c.close()


if __name__ == "__main__":
    t_version()
    t_ok()
    t_bad_frames()
    t_crash("crash-on-request", 3, "exits 3")
    t_crash("segv-on-request", -signal.SIGSEGV, "dies of SIGSEGV")
    t_hang()
    t_no_init()
    t_junk("garbage", "not JSON")
    t_junk("bad-header", "bad Content-Length")
    t_oversized()
    t_slow()
    t_server_requests()
    t_exit_after_init()
    t_env_mode()
    print("%d passed, %d failed" % tuple(results))
    sys.exit(1 if results[1] else 0)
