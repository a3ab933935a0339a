"""Validation data named without the literal ``fineweb_val``: the split comes in as a constant and the
file name is built from it (an f-string, a concatenation, %-formatting). Every rule's invalid
examples must still be flagged when their loader is rewritten that way."""

import pytest

from checks.api import lint_source
from checks.registry import RULES

LITERAL = 'val_tokens = load_tokens("data/fineweb_val_*.bin")'
BUILDERS = {
    "fstring": 'def shard_pattern(split):\n    return f"data/fineweb_{split}_*.bin"\n',
    "concat": 'def shard_pattern(split):\n    return "data/fineweb_" + split + "_*.bin"\n',
    "percent": 'def shard_pattern(split):\n    return "data/fineweb_%s_*.bin" % split\n',
}
CASES = [pytest.param(rule, case, how, id=f"{rule.CODE}-{i}-{how}") for rule in RULES for i, case in enumerate(rule.INVALID)
         for how in BUILDERS if LITERAL in case.source()]


@pytest.mark.parametrize("rule,case,how", CASES)
def test_rule_fires_when_the_split_name_is_built(rule, case, how):
    source = case.source()
    rewritten = BUILDERS[how] + source.replace(LITERAL, 'val_tokens = load_tokens(shard_pattern("val"))')
    hits = [f for f in lint_source(rewritten, "example.py").findings if f.code == rule.CODE]
    assert hits, f"{rule.CODE} did not fire with the split name built by {how}"


def test_there_are_cases():
    assert len(CASES) >= 10
