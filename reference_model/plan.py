"""Execution plans: which physical layer runs at each step of a forward, with which pass index, and
where U-Net skip connections are pushed and popped.

A plan is built for a number of *active passes* (1 = recurrence off). The pass index of a step is
how many earlier steps ran the same physical layer. Skip slots are counted from the fully looped
plan (``virtual`` basis, #1493) or from the physical layers (``physical`` basis, #1181/#1552), so
switching recurrence on never changes the parameter set.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_model.config import ModelConfig


@dataclass(frozen=True)
class Step:
    layer: int  # physical layer
    pass_idx: int  # 0 = first execution of this layer in the forward
    effective: int  # position in the plan
    push: bool = False  # push the output onto the skip stack
    pop: int | None = None  # skip slot to pop and mix in before the step
    core_pass: int | None = None  # core/universal mode: which pass of the looped block this step belongs to


def layer_order(cfg: ModelConfig, passes: int) -> list[int]:
    """Physical layers in execution order with ``passes`` total passes of the looped part."""
    r, n = cfg.recur, cfg.num_layers
    passes = max(1, passes)
    if r.mode == "none":
        return list(range(n))
    if r.mode == "segment":
        seg = list(range(r.start, r.end + 1))
        return list(range(r.start)) + seg * passes + list(range(r.end + 1, n))
    if r.mode == "per_layer":
        out = []
        for l in range(n):
            out += [l] * (passes if l in r.layers else 1)
        return out
    if r.mode == "core":
        core = list(range(r.start, r.end))
        return list(range(r.start)) + core * passes + list(range(r.end, n))
    if r.mode == "universal":
        shared = list(range(r.start, r.start + r.end))
        return list(range(r.start)) + shared * passes + list(range(r.start + r.end, n))
    if r.mode == "full":
        return list(range(n)) * passes
    raise ValueError(f"unknown recurrence mode {r.mode!r}")


def max_passes(cfg: ModelConfig) -> int:
    return 1 if cfg.recur.mode == "none" else cfg.recur.num_loops + 1


def num_skip_slots(cfg: ModelConfig) -> int:
    """Skip parameters the model owns (the same whether or not recurrence is active)."""
    if cfg.skip_mode == "none":
        return 0
    mode = cfg.recur.mode
    if mode == "core":
        return min(cfg.recur.start, cfg.num_layers - cfg.recur.end)
    if mode == "universal":
        return 1
    if mode == "full":
        return max_passes(cfg)  # one skip inside each pass, its own weight per pass
    if cfg.skip_basis == "physical":
        return min(cfg.num_layers // 2, cfg.num_layers - cfg.num_layers // 2)
    n = len(layer_order(cfg, max_passes(cfg)))
    return min(n // 2, n - n // 2)


def build_plan(cfg: ModelConfig, passes: int) -> list[Step]:
    order = layer_order(cfg, passes)
    seen: dict[int, int] = {}
    pass_of = []
    for l in order:
        pass_of.append(seen.get(l, 0))
        seen[l] = seen.get(l, 0) + 1
    total = {l: seen[l] for l in seen}
    slots = num_skip_slots(cfg)
    mode = cfg.recur.mode
    push = [False] * len(order)
    pop: list[int | None] = [None] * len(order)
    core_pass: list[int | None] = [None] * len(order)
    if slots and mode in ("none", "segment", "per_layer") and cfg.skip_basis == "virtual":
        enc = len(order) // 2
        used = min(enc, len(order) - enc, slots)
        for i in range(enc):
            push[i] = True
        for j in range(used):
            pop[enc + j] = j
    elif slots and mode in ("none", "segment", "per_layer"):  # physical basis
        half = cfg.num_layers // 2
        j = 0
        for i, l in enumerate(order):
            if l < half and pass_of[i] == total[l] - 1:
                push[i] = True
            elif l >= half and pass_of[i] == 0 and j < slots:
                pop[i] = j
                j += 1
    elif mode == "core":
        r = cfg.recur
        for i, l in enumerate(order):
            if l < r.start:
                push[i] = True
            elif l >= r.end and l - r.end < slots:
                pop[i] = l - r.end
            else:
                core_pass[i] = pass_of[i]
    elif mode == "universal":
        r = cfg.recur
        for i, l in enumerate(order):
            if l < r.start:
                push[i] = True
            elif l >= r.start + r.end:
                pop[i] = 0
            else:
                core_pass[i] = pass_of[i]
    elif mode == "full" and slots:
        for i, l in enumerate(order):
            if l == 0:
                push[i] = True
            elif l == 1:
                pop[i] = pass_of[i]
    if mode in ("full",):
        core_pass = list(pass_of)
    return [Step(l, p, i, push[i], pop[i], core_pass[i]) for i, (l, p) in enumerate(zip(order, pass_of))]


def describe(plan: list[Step]) -> str:
    return " ".join(f"{s.layer}" + ("'" * s.pass_idx) for s in plan)
