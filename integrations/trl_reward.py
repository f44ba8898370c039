"""TRL reward functions backed by `lanser serve` (docs/serve.md, "TRL").

    from integrations.trl_reward import lanser_reward, lanser_reward_async
    trainer = GRPOTrainer(..., reward_funcs=[lanser_reward])

TRL calls a reward function as reward_func(prompts=..., completions=...,
completion_ids=..., **columns) - every other dataset column arrives as a
keyword argument holding one value per completion - and turns a None in the
returned list into NaN ("no reward from this function for this sample").
An `async def` reward function is awaited on TRL's own event loop.

The dataset needs a column naming the lanser task of each prompt: "task"
(or "label"), an id of the server's tasks file. Unscorable samples (tests
past their deadline, the engine failing) come back as None, never 0.
"""
import asyncio

try:
    from . import lanser_client
except ImportError:  # loaded as a plain file
    import lanser_client


def _labels(n, kwargs):
    col = kwargs.get("task", kwargs.get("label"))
    if col is None:
        return [""] * n
    if isinstance(col, str):
        return [col] * n
    return [str(x) for x in col]


def lanser_reward(prompts=None, completions=None, **kwargs):
    """Synchronous TRL reward function: a list of float or None."""
    completions = completions or []
    texts = [lanser_client.completion_text(c) for c in completions]
    ans = lanser_client.post("/get_reward", {
        "query": texts,
        "prompts": [""] * len(texts),
        "labels": _labels(len(texts), kwargs),
    })
    return [None if r is None else float(r) for r in ans["rewards"]]


async def lanser_reward_async(prompts=None, completions=None, **kwargs):
    """The same, as a coroutine (TRL awaits it beside its other reward
    functions); the HTTP call runs in a thread."""
    return await asyncio.to_thread(lanser_reward, prompts=prompts, completions=completions, **kwargs)
