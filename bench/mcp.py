#!/usr/bin/env python3
"""mcp.py - per-call latency of warm def/refs through `lanser mcp`, against
the CLI and against the raw server (issue 17).

    python3 bench/mcp.py [-n N] [--write]

On a prepared copy of tests/fixtures/cproj (clangd), with the workspace's
daemon started and ready:
  raw       bench/rawlsp straight to a warm clangd (the floor);
  CLI       a new `lanser --json def|refs SEL` process per call (cached, and
            --no-cache: a real server round trip), timed by bench/timeit.py;
  MCP       one `lanser mcp` session (the daemon behind it): each sample is
            one tools/call round trip on its stdio, from just before the
            request is written to just after its answer is read and parsed
            (cached, and "noCache": true).
Every answer is checked (no error, the same bundleId as the CLI's). Prints a
Markdown table; --write replaces its section of bench/RESULTS.md.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
L = os.path.join(REPO, "lanser")
SEL = "src/main.c@L14:C2"  # list_push call (tests/fixtures/README.md)


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def fixture(tmp):
    d = os.path.join(tmp, "cproj")
    shutil.copytree(os.path.join(REPO, "tests/fixtures/cproj"), d)
    for x in (".cache", "compile_commands.json", ".git"):
        shutil.rmtree(os.path.join(d, x), ignore_errors=True)
    with open(os.path.join(d, "compile_commands.json.in")) as f:
        cc = f.read().replace("@ROOT@", d)
    with open(os.path.join(d, "compile_commands.json"), "w") as f:
        f.write(cc)
    subprocess.run(["git", "init", "-q", d], check=True)
    return d


def cli(root, method, n, extra):
    out = subprocess.run([sys.executable, os.path.join(REPO, "bench/timeit.py"), "-n", str(n),
                          "--warmup", "3", "--json", "--", L, "--root", root, "--json", *extra,
                          method, SEL], capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    return r["p50Ms"], r["p95Ms"], r["bundleIds"][0]


class Session:
    def __init__(self, root):
        self.p = subprocess.Popen([L, "--root", root, "mcp"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.id = 0
        self.call("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                 "clientInfo": {"name": "bench", "version": "0"}})
        self.p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.p.stdin.flush()

    def call(self, method, params):
        self.id += 1
        self.p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": self.id, "method": method,
                                        "params": params}) + "\n").encode())
        self.p.stdin.flush()
        while True:
            m = json.loads(self.p.stdout.readline())
            if m.get("id") == self.id:
                if "error" in m:
                    raise RuntimeError(m["error"])
                return m["result"]

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def mcp(s, method, n, extra):
    args = dict({"args": [SEL]}, **extra)
    for _ in range(3):
        s.call("tools/call", {"name": method, "arguments": args})
    xs, ids = [], set()
    for _ in range(n):
        t0 = time.perf_counter()
        r = s.call("tools/call", {"name": method, "arguments": args})
        xs.append((time.perf_counter() - t0) * 1000)
        if r.get("isError"):
            raise RuntimeError(r["content"][0]["text"])
        ids.add(r["structuredContent"]["bundleId"])
    return pct(xs, 0.5), pct(xs, 0.95), ids


def raw(root, n):
    exe = os.path.join(REPO, "bench/rawlsp")
    if not os.access(exe, os.X_OK):
        subprocess.run(["make", "-C", REPO, "--no-print-directory", "bench/rawlsp"],
                       capture_output=True)
    if not os.access(exe, os.X_OK):
        return {}
    out = subprocess.run([exe, "--root", root, "--file", "src/main.c", "--lang", "c", "--ready",
                          "clangd", "-n", str(n), "--warmup", "10", "--req", "def:13:1",
                          "--req", "refs:13:1", "--", "clangd", "--background-index",
                          "--log=error", "--pch-storage=memory"],
                         capture_output=True, text=True).stdout
    return {j["method"]: j for j in map(json.loads, out.splitlines())}


def main():
    n = 50
    write = "--write" in sys.argv
    if "-n" in sys.argv:
        n = int(sys.argv[sys.argv.index("-n") + 1])
    tmp = tempfile.mkdtemp(prefix="lanser-bench-mcp.")
    env_run = os.path.join(tmp, "run")
    os.mkdir(env_run, 0o700)
    os.environ["XDG_RUNTIME_DIR"] = env_run
    os.environ["XDG_STATE_HOME"] = os.path.join(tmp, "state")
    root = fixture(tmp)
    try:
        subprocess.run([L, "--root", root, "daemon", "start", "--wait-ready"], check=True,
                       capture_output=True)
        rows = []
        rr = raw(fixture(os.path.join(tmp, "r")), n * 4)
        s = Session(root)
        for method in ("def", "refs"):
            c_p50, c_p95, cid = cli(root, method, n, [])
            cn_p50, cn_p95, _ = cli(root, method, n, ["--no-cache"])
            m_p50, m_p95, mids = mcp(s, method, n, {})
            mn_p50, mn_p95, _ = mcp(s, method, n, {"noCache": True})
            if mids != {cid}:
                raise RuntimeError(f"{method}: MCP bundleIds {mids} != CLI {cid}")
            r = rr.get(method, {})
            rows.append((method, r.get("p50Ms"), c_p50, c_p95, cn_p50, cn_p95, m_p50, m_p95,
                         mn_p50, mn_p95))
        s.close()
    finally:
        subprocess.run([L, "--root", root, "daemon", "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    f = lambda x: "-" if x is None else f"{x:.2f}"
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    lines = [
        "## Through MCP (milliseconds)",
        "",
        f"`python3 bench/mcp.py -n {n}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"commit {rev}, load average {os.getloadavg()[0]:.2f}; clangd on `tests/fixtures/cproj`, "
        f"`{SEL}`. *raw*: bench/rawlsp to a warm clangd; *CLI*: a new `lanser --json` process per "
        "call (daemon ready); *MCP*: one `tools/call` round trip in a `lanser mcp` session (the "
        "daemon behind it). *cached*: the daemon's answer cache; *no-cache*: `--no-cache` / "
        "`\"noCache\": true`. MCP answers carry the CLI's bundleId (checked).",
        "",
        "| request | raw p50 | CLI cached p50 | CLI cached p95 | CLI no-cache p50 | CLI no-cache p95 "
        "| MCP cached p50 | MCP cached p95 | MCP no-cache p50 | MCP no-cache p95 "
        "| MCP / CLI (cached p50) | MCP / CLI (no-cache p50) | MCP no-cache / raw |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for (m, rp, c50, c95, cn50, cn95, m50, m95, mn50, mn95) in rows:
        lines.append(f"| {m} | {f(rp)} | {f(c50)} | {f(c95)} | {f(cn50)} | {f(cn95)} | {f(m50)} | "
                     f"{f(m95)} | {f(mn50)} | {f(mn95)} | {m50 / c50:.2f}x | {mn50 / cn50:.2f}x | "
                     f"{(mn50 / rp) if rp else 0:.1f}x |")
    lines += [
        "",
        "Reading: a CLI call pays a process start and a connection to the daemon; a "
        "`lanser mcp` session pays neither, so its answers come at about the daemon's own "
        "cost, and without the cache at that plus the server's round trip (*MCP no-cache / "
        "raw*). Every figure grows with the load average given above.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if write:
        write_section(os.path.join(REPO, "bench/RESULTS.md"), text)


def write_section(path, text):
    """Replaces the "## Through MCP" section of RESULTS.md (up to the next
    section or marker), or appends it when there is none."""
    old = open(path).read()
    start = old.find("## Through MCP")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        ends = [i for i in (old.find("\n## ", start + 1), old.find("\n<!--", start + 1)) if i >= 0]
        end = min(ends) + 1 if ends else len(old)
        new = old[:start] + text + "\n" + old[end:]
    with open(path, "w") as out:
        out.write(new)


if __name__ == "__main__":
    main()
