"""A verl custom reward function backed by `lanser serve` (docs/serve.md, "verl").

In verl's configuration:

    custom_reward_function.path=integrations/verl_reward.py
    custom_reward_function.name=compute_score

verl calls compute_score(data_source, solution_str, ground_truth,
extra_info=None) per sample; a dict answer must hold "score" and its other
keys are logged (every sample must have the same keys). ground_truth (or
extra_info["task"]) names the lanser task.

verl has no "no reward" value: an unscorable sample's "score" is
LANSER_UNSCORABLE_SCORE when that environment variable is set, else NaN, and
"scorable" is 0 with the reason in "reason" - never a silent 0.
"""
import math
import os

try:
    from . import lanser_client
except ImportError:  # loaded as a plain file
    import lanser_client


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    task = ground_truth
    if isinstance(extra_info, dict) and extra_info.get("task"):
        task = extra_info["task"]
    ans = lanser_client.post("/get_reward", {
        "query": [solution_str], "prompts": [""], "labels": [str(task)],
    })
    r = ans["rewards"][0]
    logs = ans.get("extra_logs", {})
    fallback = os.environ.get("LANSER_UNSCORABLE_SCORE")
    score = float(r) if r is not None else (float(fallback) if fallback else math.nan)
    return {
        "score": score,
        "scorable": int(r is not None),
        "r_format": logs.get("r_format", [None])[0],
        "reason": logs.get("reason", [None])[0] or "",
    }
