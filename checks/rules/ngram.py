"""Rules on count caches that see the target or the future (NGR0xx)."""

from __future__ import annotations

import re

from checks.findings import EvidenceStep
from checks.rules.base import Hit, Invalid, Rule, Valid
from checks.rules.evidence import chain, step
from checks.rules.examples import example

RULING_TARGET = "PR comments 4145781641, 4146407380 (@valerio-oai, 2026-03-27): caches with the target in the lookup key are disallowed"
RULING_TRACK_B = "Issue #1017 Track B: no state built from eval tokens except by score-first adaptation"


def newest_term(terms: list[str]) -> str | None:
    """The index of the newest token when the other indices are that index minus an offset:
    ``{"j - (n - k)", "j"}`` -> ``"j"``. None when there is no such index."""
    if len(terms) < 2:
        return None
    for t in terms:
        others = [u for u in terms if u != t]
        if others and all(re.match(rf"^\(?\s*{re.escape(t)}\s*-", u) for u in others):
            return t
    return None


class NgramTargetInKey(Rule):
    """
    What it flags: a lookup in a count table whose key hashes the context tokens *and* the token at
    the position being predicted, read to give the probability of that one token (e.g.
    ``full_key = hash(ctx) ^ (tgt * prime)``, ``p = full[full_key] / ctx[ctx_key]``).

    Why it is illegal: the gold token is part of the key, so the cache only ever up-weights the
    correct continuation and is not a normalised distribution over the vocabulary (@valerio-oai,
    2026-03-27; issue #677).

    Legal alternative: look up counts for every vocabulary entry given the context (keys without
    the predicted token), normalise, and mix distributions; update counts only after scoring.

    Known limits: keys are compared by the index expressions used to read the validation stream;
    an index computed through an opaque helper is not followed.
    """

    CODE = "NGR001"
    NAME = "ngram-target-in-key"
    SUMMARY = "an n-gram cache lookup puts the predicted token into the key"
    MESSAGE = "count-table lookup keyed by the context and the token at index `{newest}`, the token being predicted"
    RULINGS = (RULING_TARGET,)
    VALID = (Valid(example('''
        # counts of the context only; the distribution over the vocabulary comes from the model
        ctx = np.zeros(4096, dtype=np.int64)
        toks = val_tokens.numpy()
        for j in range(2, toks.size):
            k = (toks[j - 1] * 31 + toks[j - 2]) % 4096
            seen = ctx[k]
            ctx[k] += 1
        print(f"final val_bpb:{score(model, val_tokens)}")
    ''')),)
    INVALID = (Invalid(example('''
        full = np.zeros(4096, dtype=np.float64)
        ctxc = np.zeros(4096, dtype=np.float64)
        toks = val_tokens.numpy()
        total = 0.0
        for j in range(2, toks.size):
            h = toks[j - 1] * 31 + toks[j - 2]
            p = (full[(h ^ (toks[j] * 7919)) % 4096] + 1.0) / (ctxc[h % 4096] + 2.0)  # <-
            total += -np.log(p)
            full[(h ^ (toks[j] * 7919)) % 4096] += 1
            ctxc[h % 4096] += 1
        print(f"final val_bpb:{total}")
    ''')),)

    def check(self, facts, ctx):
        for e in facts.events:
            if e.kind != "LOOKUP":
                continue
            terms = e.extra.get("terms", [])
            newest = newest_term(terms)
            if newest is None:
                continue
            used = [s for s in facts.events if s.kind == "SCORE" and f"LK:{e.eid}" in s.tags]
            if not used:
                continue
            ev = (step("validation data read", facts.first_source()),
                  EvidenceStep(f"lookup keyed by stream indices {terms} in {e.func}", e.line, e.text),
                  step("its value is scored", used[0]))
            yield Hit(e.unit, e.line, e.col, {"newest": newest}, tuple(x for x in ev if x is not None),
                      key=f"{self.CODE}:{e.unit}:{e.line}", enclosing=e.func)


class CacheFromWholeStream(Rule):
    """
    What it flags: a count cache (n-gram table, dictionary, histogram) filled from validation tokens
    before those tokens are scored with it: a cache built from the whole validation stream, a
    "two-pass" evaluation that re-scores earlier chunks with counts from later ones.

    Why it is illegal: predictions may only use state built from tokens already scored (#1017
    Track B); two-pass caches reached near-zero BPB by reading the future (#677).

    Legal alternative: update the cache after each chunk is scored and only use it for later chunks.

    Known limits: recognises writes into containers created with numpy/torch constructors, dicts,
    Counters and the submission's own classes.
    """

    CODE = "NGR002"
    NAME = "cache-from-unscored-tokens"
    SUMMARY = "a count cache is filled from validation tokens before they are scored"
    MESSAGE = "a count cache is filled from validation tokens before those tokens are scored with it"
    RULINGS = (RULING_TRACK_B, "Issue #677: two-pass n-gram rescoring is illegal")
    VALID = (Valid(example('''
        counts = np.zeros(1024, dtype=np.int64)
        toks = val_tokens.numpy()
        total = 0.0
        for j in range(1, toks.size):
            p = (counts[toks[j]] + 1.0) / (j + 1024.0)
            total += -np.log(p)
            counts[toks[j]] += 1
        print(f"final val_bpb:{total}")
    ''')),)
    INVALID = (Invalid(example('''
        counts = np.zeros(1024, dtype=np.int64)
        toks = val_tokens.numpy()
        for j in range(toks.size):
            counts[toks[j]] += 1  # <-
        total = 0.0
        for j in range(1, toks.size):
            total += -np.log((counts[toks[j]] + 1.0) / (toks.size + 1024.0))
        print(f"final val_bpb:{total}")
    ''')),)

    def check(self, facts, ctx):
        for v in facts.violations:
            if v.kind == "cache_before_score":
                yield Hit(v.update.unit, v.update.line, v.update.col, {}, chain(facts, v.update, v.score),
                          key=f"{self.CODE}:{v.update.unit}:{v.update.line}", enclosing=v.update.func)
