"""OpenRLHF and `lanser serve` (docs/serve.md, "OpenRLHF").

Two ways:

1. Point OpenRLHF at the server: --remote_rm_url http://127.0.0.1:8650/get_reward
   OpenRLHF posts {"query", "prompts", "labels"} and reads "rewards",
   "scores" and "extra_logs". It turns each of them into a tensor, so a null
   reward (an unscorable sample) or a string in extra_logs stops it.
2. Give OpenRLHF this file: --remote_rm_url integrations/openrlhf_reward.py
   OpenRLHF then calls reward_func(queries, prompts, labels) (a .py
   remote_rm_url is loaded as a custom reward function). This wrapper calls
   the server and keeps to numbers: an unscorable sample gets NaN, or
   LANSER_UNSCORABLE_SCORE when that is set (never a silent 0), with
   extra_logs["scorable"] 0, so the run can filter or count it; the reasons
   go to the server's metrics and log, not into the tensors.

Labels name the lanser task of each sample (an id of the server's tasks file).
"""
import os

try:
    from . import lanser_client
except ImportError:  # loaded as a plain file
    import lanser_client

try:  # OpenRLHF expects tensors; without torch (tests), lists
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _num(xs, fallback):
    return [fallback if x is None else float(x) for x in xs]


def reward_func(queries, prompts, labels):
    ans = lanser_client.post("/get_reward", {
        "query": list(queries), "prompts": list(prompts), "labels": [str(x) for x in labels],
    })
    fallback = float(os.environ.get("LANSER_UNSCORABLE_SCORE") or "nan")
    logs = ans.get("extra_logs", {})
    out = {
        "rewards": _num(ans["rewards"], fallback),
        "scores": _num(ans["scores"], fallback),
        "extra_logs": {
            "scorable": _num(logs.get("scorable", []), 0.0),
            "r_format": _num(logs.get("r_format", []), 0.0),
        },
    }
    if torch is not None:
        out = {
            "rewards": torch.tensor(out["rewards"]),
            "scores": torch.tensor(out["scores"]),
            "extra_logs": {k: torch.tensor(v) for k, v in out["extra_logs"].items()},
        }
    return out
