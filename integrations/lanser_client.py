"""lanser_client - a standard-library client of `lanser serve` (docs/serve.md).

Shared by the trainer adapters in this folder (trl_reward.py, verl_reward.py,
openrlhf_reward.py). Configuration from the environment:

  LANSER_SERVE_URL     base URL of the server (default http://127.0.0.1:8650)
  LANSER_TOKEN_FILE    a file holding the bearer token (when the server asks one)
  LANSER_TIMEOUT_S     seconds for one HTTP call (default 600)
  LANSER_RETRIES       how often a retryable answer (503, connection refused or
                       reset) is retried, honouring Retry-After (default 5)
"""
import json
import os
import time
import urllib.error
import urllib.request


def _token():
    path = os.environ.get("LANSER_TOKEN_FILE")
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


class LanserError(RuntimeError):
    """The server answered an error that retrying will not fix."""


def post(path, body, url=None, timeout=None, retries=None):
    """POSTs `body` (JSON) to `path` of the server; returns the parsed answer.

    A 503 (queue full, a replica shutting down) and a refused or reset
    connection are retried with the server's Retry-After (or 1 s), at most
    `retries` times; any other error raises LanserError.
    """
    base = (url or os.environ.get("LANSER_SERVE_URL") or "http://127.0.0.1:8650").rstrip("/")
    timeout = float(timeout or os.environ.get("LANSER_TIMEOUT_S") or 600)
    retries = int(retries if retries is not None else os.environ.get("LANSER_RETRIES") or 5)
    data = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    token = _token()
    if token:
        headers["Authorization"] = "Bearer " + token
    last = None
    for attempt in range(retries + 1):
        req = urllib.request.Request(base + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            if e.code != 503:
                raise LanserError("lanser serve %s: HTTP %d: %s" % (path, e.code, text))
            last = "HTTP 503: " + text
            wait = e.headers.get("Retry-After") or "1"
        except (urllib.error.URLError, ConnectionError) as e:
            last = str(e)
            wait = "1"
        if attempt < retries:
            try:
                time.sleep(min(float(wait), 30.0))
            except ValueError:
                time.sleep(1.0)
    raise LanserError("lanser serve %s: no answer after %d tries: %s" % (path, retries + 1, last))


def completion_text(completion):
    """TRL passes a string (standard format) or a list of messages
    (conversational format): the text of the last assistant message."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        last = completion[-1]
        if isinstance(last, dict):
            return str(last.get("content", ""))
    return str(completion)
