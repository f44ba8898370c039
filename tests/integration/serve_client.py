"""serve_client.py - the loopback client of t_serve.sh (lanser serve).

    python3 serve_client.py PHASE PORT TMPDIR [ARGS...]

Prints one line per check, "ok NAME" or "FAIL NAME: details", like lib.sh.
Every request it sends to the main server is counted in TMPDIR/tally.json
(endpoint -> status -> count, and the samples answered), which the metrics
phase compares with the server's /metrics. Standard library only; threads
for concurrency; every socket has a timeout (a hung server fails a check,
it does not hang the suite).
"""
import http.client
import json
import os
import random
import socket
import sys
import threading
import time

PHASE, PORT, TMP = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ARGS = sys.argv[4:]
TALLY = os.path.join(TMP, "tally.json")
lock = threading.Lock()
fails = 0


def ok(name):
    print("ok " + name, flush=True)


def fail(name, detail):
    global fails
    fails += 1
    print("FAIL %s: %s" % (name, str(detail)[:1500]), flush=True)


def check(name, cond, detail=""):
    if cond:
        ok(name)
    else:
        fail(name, detail)


def load_tally():
    try:
        with open(TALLY) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"requests": {}, "scored": 0, "unscorable": 0}


tally = load_tally()


def count(endpoint, status, answer=None):
    with lock:
        e = tally["requests"].setdefault(endpoint, {})
        e[str(status)] = e.get(str(status), 0) + 1
        if status == 200 and isinstance(answer, dict):
            rewards = answer.get("rewards")
            if rewards is None and "candidates" in answer:
                rewards = [c["reward"] if c["scorable"] else None for c in answer["candidates"]]
            for r in rewards or []:
                tally["scored" if r is not None else "unscorable"] += 1


def save_tally():
    with open(TALLY, "w") as f:
        json.dump(tally, f)


def request(method, path, body=None, headers=None, port=PORT, timeout=180, raw=None,
            tallied=True):
    """(status, headers, parsed JSON or text); status 0 when the connection broke."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode("utf-8", "replace")
        status, hdrs = r.status, dict(r.getheaders())
    except (OSError, http.client.HTTPException) as e:
        return 0, {}, str(e)
    finally:
        c.close()
    try:
        ans = json.loads(text)
    except ValueError:
        ans = text
    if tallied and port == PORT:
        count(path.lstrip("/"), status, ans)
    return status, hdrs, ans


def post(path, body, **kw):
    return request("POST", path, body, **kw)


def fixtures():
    with open(os.path.join(TMP, "completions.json")) as f:
        return json.load(f)


# ---- phases ----

def phase_shapes():
    """/get_reward in OpenRLHF's shapes; /score; errors."""
    fx = fixtures()
    prompt = "Fix max_int.\n"
    st, _, a = post("/get_reward", {"query": [prompt + fx["good"], prompt + fx["junk"],
                                              prompt + fx["good"]],
                                    "prompts": [prompt, prompt, prompt],
                                    "labels": ["c", "c", "nosuch"]})
    check("get_reward: 200", st == 200, (st, a))
    if st != 200:
        return
    check("get_reward: rewards, scores and extra_logs lists as long as query",
          len(a["rewards"]) == 3 and a["scores"] == a["rewards"] and
          all(len(v) == 3 for v in a["extra_logs"].values()), a)
    check("get_reward: the fenced diff after the prompt scores 2.625, the junk 0",
          a["rewards"][:2] == [2.625, 0], a["rewards"])
    check("get_reward: an unknown label is null with its reason, never 0",
          a["rewards"][2] is None and "unknown task 'nosuch'" in a["extra_logs"]["reason"][2],
          a["extra_logs"])
    check("get_reward: extra_logs say which are scorable", a["extra_logs"]["scorable"] == [1, 1, 0],
          a["extra_logs"])
    st, _, a = post("/get_reward", {"query": [fx["good"]], "labels": [json.dumps({"task": "c"})]})
    check("get_reward: a label may be JSON text naming the task", st == 200 and a["rewards"] == [2.625],
          (st, a))
    st, _, a = post("/score", {"task": "nosuch", "completions": ["x"]})
    check("score: an unknown task is 404", st == 404 and "unknown task" in a["error"], (st, a))
    st, _, a = post("/score", {"task": "c", "completions": ["x"], "advantage": "step"})
    check("score: advantage step is refused (400)", st == 400, (st, a))
    st, _, a = request("POST", "/get_reward", raw=b"{not json")
    check("malformed JSON: 400 with the parser's message", st == 400 and "not a JSON object" in a["error"],
          (st, a))
    st, _, a = request("POST", "/get_reward", raw=b"[1, 2]")
    check("a JSON array body: 400", st == 400, (st, a))
    st, _, a = post("/get_reward", {"query": "one string"})
    check("query not an array: 400", st == 400, (st, a))
    st, _, a = request("GET", "/get_reward")
    check("GET /get_reward: 405", st == 405, (st, a))
    st, _, a = request("GET", "/nowhere")
    check("an unknown path: 404", st == 404, (st, a))
    save_tally()


def phase_equal():
    """/score of the completions of completions.jsonl: to compare with lanser group."""
    fx = fixtures()
    body = {"task": "c", "completions": [{"id": i, "completion": fx[i]} for i in fx["order"]],
            "advantage": ARGS[0], "preset": ARGS[1], "steps": True}
    st, _, a = post("/score", body, timeout=600)
    check("score: 200", st == 200, (st, a))
    with open(os.path.join(TMP, "score.json"), "w") as f:
        json.dump(a, f)
    save_tally()


def raw_exchange(data, read_timeout=30):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=read_timeout)
    try:
        s.sendall(data)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got and (b"Content-Length" not in got or
                                       len(got.split(b"\r\n\r\n", 1)[1]) >=
                                       int(got.split(b"Content-Length: ", 1)[1].split(b"\r\n")[0])):
                break
        return got
    finally:
        s.close()


def phase_limits():
    """Oversized bodies (413), slow clients (dropped), a normal request meanwhile."""
    maxb = int(ARGS[0])
    got = raw_exchange(b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % (maxb * 4))
    check("oversized body by Content-Length: 413 before it is read", got.startswith(b"HTTP/1.1 413"),
          got[:200])
    count("get_reward", 413)
    # chunked: no length given, the body grows past the bound
    s = socket.create_connection(("127.0.0.1", PORT), timeout=60)
    s.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    sent = 0
    try:
        while sent < maxb * 2:
            s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            sent += len(piece)
        s.sendall(b"0\r\n\r\n")
        got = s.recv(4096)
    except OSError as e:
        got = str(e).encode()
    s.close()
    check("oversized chunked body: 413, nothing kept", got.startswith(b"HTTP/1.1 413"), got[:200])
    count("get_reward", 413)
    # slowloris: headers never finished
    s1 = socket.create_connection(("127.0.0.1", PORT), timeout=60)
    s1.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\n")
    # a body trickling in, one byte at a time, each within the idle timeout
    s2 = socket.create_connection(("127.0.0.1", PORT), timeout=60)
    s2.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    st, _, a = request("GET", "/healthz")
    check("a normal request is answered while slow clients hold connections", st == 200, (st, a))
    t0 = time.time()
    try:
        closed1 = s1.recv(100) == b""
    except (ConnectionResetError, socket.timeout):
        closed1 = True
    check("slow client (unfinished headers) is disconnected by the idle timeout", closed1, "")
    closed2, n = False, 0
    while n < 200:
        try:
            s2.sendall(b"x")
            n += 1
            time.sleep(0.5)
        except OSError:
            closed2 = True
            break
    check("slow client (body one byte per 0.5 s) is dropped at the body deadline, long before "
          "its 100000 bytes", closed2 and n < 200, "sent %d bytes in %.1f s" % (n, time.time() - t0))
    s1.close()
    s2.close()
    save_tally()


def phase_load():
    """Hundreds of concurrent requests: mostly cheap, some scoring patches,
    some whose tests hang (null with the wall-clock reason, the other sample
    of the same request unaffected), some with a 1 ms deadline."""
    fx = fixtures()
    n_req, n_threads = int(ARGS[0]), int(ARGS[1])
    rnd = random.Random(7)
    plan = []
    for i in range(n_req):
        kind = "hang" if i % 67 == 5 else "deadline" if i % 41 == 3 else \
               "good" if rnd.random() < 0.12 else "junk"
        plan.append((kind, rnd.choice(["c", "c2"])))
    results, bad, n503 = {}, [], [0]
    idx = [0]

    def want(kind):
        if kind == "junk":
            return [0, 0]
        if kind == "good":
            return [2.625, 0]
        if kind == "hang":
            # the tests hang, the base's do not: the candidate's own
            # failure, R_format only (docs/rewards.md)
            return [1, 2.625]
        return [None, None]

    def one(i):
        kind, task = plan[i]
        q = {"junk": [fx["junk"], fx["junk"]], "good": [fx["good"], fx["junk"]],
             "hang": [fx["hang"], fx["good"]], "deadline": [fx["good"], fx["good"]]}[kind]
        body = {"query": q, "prompts": ["", ""], "labels": [task, task]}
        if kind == "deadline":
            body["deadlineMs"] = 1
        for attempt in range(2000):
            st, h, a = post("/get_reward", body, timeout=300)
            if st != 503:
                break
            with lock:
                n503[0] += 1
            if h.get("Retry-After") != "1":
                bad.append((i, "503 without Retry-After", h))
            time.sleep(float(h.get("Retry-After", "1")) * (0.5 + rnd.random()))
        results[i] = (st, a)
        if st != 200:
            bad.append((i, kind, st, a))
            return
        if a["rewards"] != want(kind):
            bad.append((i, kind, a))
        if kind == "deadline" and not all(r.startswith("deadline") for r in a["extra_logs"]["reason"]):
            bad.append((i, "deadline reason", a["extra_logs"]))

    def worker():
        while True:
            with lock:
                if idx[0] >= n_req:
                    return
                i = idx[0]
                idx[0] += 1
            one(i)

    ts = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    kinds = [k for k, _ in plan]
    check("load: %d requests from %d threads, every one answered 200 with the expected rewards "
          "(%d hang, %d deadline, %d good)" % (n_req, n_threads, kinds.count("hang"),
                                                kinds.count("deadline"), kinds.count("good")),
          not bad and len(results) == n_req, bad[:5])
    print("# load: %d answers of 503 (queue full), retried" % n503[0])
    save_tally()


def phase_flood():
    """Many requests at once past the queue: 503 with Retry-After, the
    server alive and its memory bounded."""
    fx = fixtures()
    n = int(ARGS[0])
    barrier = threading.Barrier(n)
    out = []

    def one(i):
        barrier.wait()
        st, h, a = post("/get_reward", {"query": [fx["good"]], "labels": ["c"]}, timeout=300)
        with lock:
            out.append((st, h.get("Retry-After"), a))

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    n503 = [o for o in out if o[0] == 503]
    n200 = [o for o in out if o[0] == 200]
    check("flood: %d requests at once, the ones past the queue get 503" % n, len(n503) > 0,
          [(o[0], o[1]) for o in out][:10])
    check("flood: every 503 says Retry-After and is marked retryable",
          all(o[1] == "1" and o[2].get("retryable") is True for o in n503), n503[:3])
    check("flood: the accepted ones are scored right",
          len(n503) + len(n200) == n and all(o[2]["rewards"] == [2.625] for o in n200),
          [(o[0], o[2]) for o in out if o[0] not in (200, 503)][:3])
    st, _, _ = request("GET", "/healthz", tallied=False)
    check("flood: the server is alive", st == 200, st)
    save_tally()


def parse_prometheus(text):
    """A small parser of the text exposition format 0.0.4: {(name, labels): value}."""
    out, types = {}, {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            elif len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
                raise ValueError("bad comment line: " + line)
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            lab, value = rest.rsplit("}", 1)
            labels = []
            for item in lab.split(","):
                k, v = item.split("=", 1)
                if not (v.startswith('"') and v.endswith('"')):
                    raise ValueError("bad label: " + item)
                labels.append((k, v[1:-1]))
            labels = tuple(sorted(labels))
        else:
            name, value = line.split(None, 1)
            labels = ()
        base = name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and name[: -len(suf)] in types:
                base = name[: -len(suf)]
        if base not in types:
            raise ValueError("sample without # TYPE: " + line)
        out[(name, labels)] = float(value.strip())
    return out, types


def phase_metrics():
    st, h, text = request("GET", "/metrics", tallied=False)
    check("metrics: 200, Prometheus text format 0.0.4",
          st == 200 and h.get("Content-Type", "").startswith("text/plain; version=0.0.4"), (st, h))
    try:
        m, types = parse_prometheus(text)
    except ValueError as e:
        fail("metrics: parses", e)
        return
    ok("metrics: parses")
    for name in ("lanser_requests_total", "lanser_request_duration_seconds",
                 "lanser_samples_scored_total", "lanser_samples_unscorable_total",
                 "lanser_timeouts_total", "lanser_queue_depth", "lanser_workers_busy",
                 "lanser_worker_busy_seconds_total", "lanser_ls_restarts_total"):
        check("metrics: has " + name, name in types, sorted(types))
    diffs = []
    for ep, by in tally["requests"].items():
        if ep not in ("get_reward", "score"):
            continue
        for code, n in by.items():
            got = m.get(("lanser_requests_total", (("code", code), ("endpoint", ep))), 0)
            if got != n:
                diffs.append((ep, code, "sent", n, "server", got))
    check("metrics: lanser_requests_total matches the requests sent, by endpoint and status",
          not diffs, diffs)
    scored = m.get(("lanser_samples_scored_total", ()), -1)
    unsc = sum(v for (k, _), v in m.items() if k == "lanser_samples_unscorable_total")
    check("metrics: samples scored and unscorable match the answers (%d, %d)" % (
        tally["scored"], tally["unscorable"]),
          scored == tally["scored"] + int(ARGS[0]) and unsc == tally["unscorable"] + int(ARGS[1]),
          (scored, unsc, tally["scored"], tally["unscorable"]))
    hist_ok = True
    for ep in ("get_reward",):
        cnt = m.get(("lanser_request_duration_seconds_count", (("endpoint", ep),)))
        inf = m.get(("lanser_request_duration_seconds_bucket", (("endpoint", ep), ("le", "+Inf"))))
        total = sum(tally["requests"].get(ep, {}).values())
        hist_ok = hist_ok and cnt == inf == total
    check("metrics: the latency histogram counts every request", hist_ok, (cnt, inf, total))
    timeouts = m.get(("lanser_timeouts_total", ()), 0)
    check("metrics: timeouts counted (hung tests and deadlines)", timeouts >= 2, timeouts)


def phase_term():
    """Requests in flight when TERM arrives: all finish with their answers."""
    fx = fixtures()
    n = int(ARGS[0])
    out = []

    def one(i):
        st, h, a = post("/get_reward", {"query": [fx["good"], fx["junk"]],
                                        "labels": ["c" if i % 2 else "c2"] * 2}, timeout=300)
        with lock:
            out.append((st, a))

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    time.sleep(1.0)
    os.kill(int(ARGS[1]), 15)
    for t in ts:
        t.join()
    check("TERM during load: the %d requests in flight all finish with their rewards" % n,
          len(out) == n and all(st == 200 and a["rewards"] == [2.625, 0] for st, a in out), out[:3])


def phase_replicas():
    """Load through HAProxy while a replica dies: every request gets its
    answer or a clear retryable error."""
    fx = fixtures()
    n, victim = int(ARGS[0]), int(ARGS[1])
    out = []
    idx = [0]

    def worker():
        while True:
            with lock:
                if idx[0] >= n:
                    return
                i = idx[0]
                idx[0] += 1
            good = i % 5 == 0
            body = {"query": [fx["good"] if good else fx["junk"]], "labels": ["c"]}
            st, h, a = post("/get_reward", body, timeout=300, tallied=False)
            with lock:
                out.append((st, good, a))

    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    time.sleep(1.5)
    os.killpg(victim, 9)
    for t in ts:
        t.join()
    right = [o for o in out if o[0] == 200 and o[2]["rewards"] == ([2.625] if o[1] else [0])]
    retry = [o for o in out if o[0] in (502, 503, 504)]
    wrong = [o for o in out if o not in right and o not in retry]
    check("replicas: %d requests through HAProxy, a replica killed mid-load: %d answered right, "
          "%d retryable errors, none wrong" % (n, len(right), len(retry)),
          not wrong and len(right) + len(retry) == n and len(right) > n // 2, wrong[:3])


def phase_adapters():
    sys.path.insert(0, ARGS[0])
    import asyncio
    import trl_reward
    import verl_reward
    import openrlhf_reward
    fx = fixtures()
    os.environ["LANSER_SERVE_URL"] = "http://127.0.0.1:%d" % PORT
    # TRL: keyword arguments, one value per completion in every column
    prompts = ["Fix it."] * 4
    comps = [fx["good"], [{"role": "assistant", "content": fx["junk"]}], fx["hang"], fx["good"]]
    r = trl_reward.lanser_reward(prompts=prompts, completions=comps,
                                 completion_ids=[[1], [2], [3], [4]],
                                 task=["c", "c", "c", "nosuch"], trainer_state=None)
    check("TRL reward function: floats (a hanging patch 1.0, R_format only), None for the "
          "unscorable sample", r == [2.625, 0.0, 1.0, None], r)
    r = asyncio.run(trl_reward.lanser_reward_async(prompts=prompts[:2], completions=comps[:2],
                                                   task=["c2", "c2"]))
    check("TRL async reward function", r == [2.625, 0.0], r)
    d = verl_reward.compute_score("lanser", fx["good"], "c", extra_info={"index": 0})
    check("verl compute_score: a dict with score", isinstance(d, dict) and d["score"] == 2.625 and
          d["scorable"] == 1, d)
    d = verl_reward.compute_score("lanser", fx["junk"], "nosuch")
    check("verl compute_score: unscorable is not 0 (NaN, with its reason)",
          d["score"] != d["score"] and d["scorable"] == 0 and "unknown task" in d["reason"], d)
    o = openrlhf_reward.reward_func([fx["good"], fx["junk"]], ["", ""], ["c", "c"])
    rw = [float(x) for x in o["rewards"]]
    check("OpenRLHF reward_func: rewards, scores, numeric extra_logs",
          rw == [2.625, 0.0] and [float(x) for x in o["extra_logs"]["scorable"]] == [1.0, 1.0], o)
    # the adapters' calls, for the metrics phase
    for st_n, samples in ((200, [2.625, 0.0, 1.0, None]), (200, [1, 0]), (200, [1]), (200, [None]),
                          (200, [1, 0])):
        count("get_reward", st_n, {"rewards": samples})
    save_tally()


{"shapes": phase_shapes, "equal": phase_equal, "limits": phase_limits, "load": phase_load,
 "flood": phase_flood, "metrics": phase_metrics, "term": phase_term,
 "replicas": phase_replicas, "adapters": phase_adapters}[PHASE]()
sys.exit(1 if fails else 0)
