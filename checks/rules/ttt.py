"""Rules on the order of adaptation and scoring (TTT0xx)."""

from __future__ import annotations

from checks.rules.base import Hit, Invalid, Rule, Valid
from checks.rules.evidence import chain
from checks.rules.examples import example

RULING_FAQ = "README FAQ 2026-03-20: test-time train only on validation tokens already scored"
RULING_402 = "Issue #402 / #677: adapting on all validation tokens and then scoring is training on the validation set"
RULING_1017 = "Issue #1017 C3/C4: score before update, single left-to-right pass"
RULING_EPOCHS = "PR comment 4119903415 (@valerio-oai): multi-epoch TTT reporting the last epoch's score is training on eval data"
RULING_1376 = "PR #1376 (closed by @valerio-oai 2026-04-10): pre-quantization TTT on validation tokens is illegal"

LEGAL_TTT = example('''
opt = torch.optim.SGD(model.parameters(), lr=0.01)
chunk = 1024
total = 0.0
n_chunks = (val_tokens.numel() - 1) // chunk
for ci in range(n_chunks):
    piece = val_tokens[ci * chunk : (ci + 1) * chunk + 1]
    total += score(model, piece) * chunk
    for epoch in range(3):
        loss = F.cross_entropy(model(piece[:-1]), piece[1:])
        loss.backward()
        opt.step()
        opt.zero_grad()
print(f"legal_ttt val_bpb:{total / n_chunks}")
''')


def _hit(facts, v, at, key, **params) -> Hit:
    return Hit(at.unit, at.line, at.col, params, chain(facts, v.update, v.score), key=key, enclosing=at.func)


class AdaptBeforeScore(Rule):
    """
    What it flags: an update of the scoring model (optimizer step, in-place gradient update) computed
    from validation tokens that runs before those tokens are scored: a fine-tune on the validation
    set before the final evaluation ("pre-evaluation TTT", "pre-quantization TTT"), or, inside one
    iteration, training on a window and then scoring it.

    Why it is illegal: a model may only test-time train on validation tokens it has already scored
    (README FAQ); adapting on all tokens and then scoring is training on the validation set
    (#402, #677, #1376).

    Legal alternative: score-first TTT: score each chunk under no_grad, add its loss to the reported
    sums, then train on that chunk; or no TTT at all.

    Known limits: the order is judged per loop iteration, not per token; an update on a chunk that
    was scored in an earlier iteration but is trained on before the current chunk is scored is
    reported as train-then-score.
    """

    CODE = "TTT001"
    NAME = "adapt-before-score"
    SUMMARY = "validation tokens train the model before they are scored"
    MESSAGE = "{what}: the model is trained on validation tokens before they are scored, and that score is reported"
    RULINGS = (RULING_FAQ, RULING_402, RULING_1376)
    VALID = (
        Valid(LEGAL_TTT),
        Valid(example('''
            bpb = score(model, val_tokens)
            print(f"final val_bpb:{bpb}")
        ''')),
        Valid(example('''
            # a throwaway adapter trained during a compile warm-up never reaches the scored model
            warm = TinyLM()
            wopt = torch.optim.SGD(warm.parameters(), lr=0.01)
            wl = F.cross_entropy(warm(val_tokens[:64]), val_tokens[1:65])
            wl.backward()
            wopt.step()
            del warm, wopt
            print(f"final val_bpb:{score(model, val_tokens)}")
        ''')),
    )
    INVALID = (
        Invalid(example('''
            def adapt(m, tokens, epochs=3):
                opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
                for epoch in range(epochs):
                    for i in range(0, tokens.numel() - 65, 64):
                        loss = F.cross_entropy(m(tokens[i : i + 64]), tokens[i + 1 : i + 65])
                        loss.backward()
                        opt.step()  # <-
                        opt.zero_grad()

            adapt(model, val_tokens)
            print(f"final val_bpb:{score(model, val_tokens)}")
        '''), message_contains="before they are scored"),
        Invalid(example('''
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            total = 0.0
            for i in range(0, val_tokens.numel() - 513, 512):
                w = val_tokens[i : i + 513]
                for _ in range(3):
                    loss = F.cross_entropy(model(w[:-1]), w[1:])
                    loss.backward()
                    opt.step()  # <-
                    opt.zero_grad()
                total += score(model, w)
            print(f"final val_bpb:{total}")
        ''')),
    )

    def check(self, facts, ctx):
        for v in facts.violations:
            if v.kind == "adapt_before_score":
                what = f"{v.update.func} updates the model" if v.update.func != "<module>" else "the model is updated"
                yield _hit(facts, v, v.update, f"{self.CODE}:{v.update.unit}:{v.update.line}", what=what)
            elif v.kind == "train_then_score":
                yield _hit(facts, v, v.update, f"{self.CODE}:{v.update.unit}:{v.update.line}",
                           what=f"inside the loop at line {v.rel.loop_line} each iteration trains before it scores")


class RescoreAfterAdaptation(Rule):
    """
    What it flags: a reported number that is a re-score of validation tokens the model has already
    been adapted on: an epoch loop around score-then-train that keeps (or keeps only the last
    epoch's) scores, or a second evaluation after a TTT pass whose result is the one reported.

    Why it is illegal: the reported number must be the first score of each token (s_0); a score
    after the model has seen the token (s_1) may never be reported (@valerio-oai on multi-epoch
    TTT; #1017 C3/C4).

    Legal alternative: report the accumulated first-pass sums of the score-first loop; put epochs
    inside the chunk, after it is scored.

    Known limits: an accumulation gated to the first epoch (``if epoch == 0``) is accepted; other
    gates are not interpreted.
    """

    CODE = "TTT002"
    NAME = "rescore-after-adaptation"
    SUMMARY = "the reported score is a re-score after adapting on the same tokens"
    MESSAGE = "{what}: the reported number re-scores validation tokens after the model was trained on them (s_1, not s_0)"
    RULINGS = (RULING_EPOCHS, RULING_1017)
    VALID = (Valid(LEGAL_TTT),)
    INVALID = (
        Invalid(example('''
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            for epoch in range(3):
                total = 0.0
                for i in range(0, val_tokens.numel() - 513, 512):
                    w = val_tokens[i : i + 513]
                    with torch.no_grad():
                        total += F.cross_entropy(model(w[:-1]), w[1:], reduction="sum")  # <-
                    loss = F.cross_entropy(model(w[:-1]), w[1:])
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
            print(f"final val_bpb:{total}")
        '''), message_contains="re-scores"),
        Invalid(example('''
            def ttt(m, tokens):
                opt = torch.optim.SGD(m.parameters(), lr=0.01)
                first = 0.0
                for i in range(0, tokens.numel() - 513, 512):
                    w = tokens[i : i + 513]
                    first += score(m, w)
                    loss = F.cross_entropy(m(w[:-1]), w[1:])
                    loss.backward()
                    opt.step()
                return first

            s0 = ttt(model, val_tokens)
            print(f"ttt_first_pass val_bpb:{s0}")
            s1 = 0.0
            with torch.no_grad():
                for i in range(0, val_tokens.numel() - 65, 64):
                    s1 += F.cross_entropy(model(val_tokens[i : i + 64]), val_tokens[i + 1 : i + 65])  # <-
            print(f"final val_bpb:{s1}")
        ''')),
    )

    def check(self, facts, ctx):
        for v in facts.violations:
            if v.kind == "rescore_repeat":
                yield _hit(facts, v, v.score, f"{self.CODE}:{v.score.unit}:{v.score.line}",
                           what=f"the loop at line {v.rel.loop_line} repeats scoring after training on the same data")
            elif v.kind == "rescore":
                yield _hit(facts, v, v.score, f"{self.CODE}:{v.score.unit}:{v.score.line}",
                           what=f"this evaluation runs after the TTT updates at line {v.update.line}")


class CalibrationOnScored(Rule):
    """
    What it flags: a scalar (temperature, mixing weight, bias) chosen from scores of the validation
    tokens and then used to compute the reported scores of the same tokens: e.g. a temperature
    grid search on the validation set followed by a final evaluation at the best temperature.

    Why it is illegal: every reported token score must come from state built only from tokens
    already scored; a value fitted on the whole validation set leaks every token into every score
    (the s_0/s_1 rulings on #1001 and its family; #1017 C1).

    Legal alternative: fit calibration on training tokens, or update it score-first, chunk by chunk.

    Known limits: found through the data flow of accumulated scores into later scores; a value
    chosen by control flow alone (an ``if`` on a score) is not followed.
    """

    CODE = "TTT003"
    NAME = "calibration-on-scored-tokens"
    SUMMARY = "a value fitted on validation scores is used to compute the reported scores"
    MESSAGE = "the reported scores use a value computed from scores of the same validation tokens ({what})"
    RULINGS = (RULING_1017, "PR #1001 thread: a re-score at a tuned temperature (T=0.98) is s_1")
    CONFIDENCE = "medium"
    VALID = (Valid(example('''
        bpb = score(model, val_tokens)
        print(f"final val_bpb:{bpb}")
    ''')),)
    INVALID = (Invalid(example('''
        best_t, best = 1.0, None
        for t in (0.9, 0.95, 1.0):
            s = 0.0
            with torch.no_grad():
                for i in range(0, val_tokens.numel() - 65, 64):
                    s += F.cross_entropy(model(val_tokens[i : i + 64]) / t, val_tokens[i + 1 : i + 65])
            if best is None or s < best:
                best, best_t = s, t
        final = 0.0
        with torch.no_grad():
            for i in range(0, val_tokens.numel() - 65, 64):
                final += F.cross_entropy(model(val_tokens[i : i + 64]) / best_t, val_tokens[i + 1 : i + 65])  # <-
        print(f"final val_bpb:{final}")
    ''')),)

    def check(self, facts, ctx):
        for v in facts.violations:
            if v.kind == "calibration":
                yield _hit(facts, v, v.score, f"{self.CODE}:{v.score.unit}:{v.score.line}",
                           what=f"scores accumulated at line {v.update.line} feed it")


class SlotOnScoredRegion(Rule):
    """
    What it flags: per window (or batch), a fresh delta, logit bias or small parameter set is
    optimised on a loss over the window, and the same window is then scored with it (SLOT).

    Why it is illegal: the optimisation sees the targets it then scores; #1240 showed SLOT over the
    scored region fails the flip test in 100 % of cases (#1336, #677).

    Legal alternative: none ruled; restricting the loss to context positions already scored
    (``[:s]``) is causal but not ruled on (#1336).

    Known limits: the loss mask is not interpreted, so a context-only SLOT is flagged too (review it
    by hand).
    """

    CODE = "TTT004"
    NAME = "slot-on-scored-region"
    SUMMARY = "a per-window delta is fitted on the window and then the window is scored"
    MESSAGE = "a tensor created per window is optimised on validation tokens of the window before the window is scored (SLOT)"
    RULINGS = ("PR #1240 flip test; Issue #1336 (open): SLOT over the scored region leaks the targets", RULING_FAQ)
    VALID = (Valid(example('''
        bpb = score(model, val_tokens)
        print(f"final val_bpb:{bpb}")
    ''')),)
    INVALID = (Invalid(example('''
        total = 0.0
        for i in range(0, val_tokens.numel() - 65, 64):
            x, y = val_tokens[i : i + 64], val_tokens[i + 1 : i + 65]
            delta = torch.zeros(1024, requires_grad=True)
            dopt = torch.optim.Adam([delta], lr=0.1)
            for _ in range(8):
                loss = F.cross_entropy(model(x) + delta, y)
                loss.backward()
                dopt.step()  # <-
                dopt.zero_grad()
            with torch.no_grad():
                total += F.cross_entropy(model(x) + delta, y, reduction="sum")
        print(f"final val_bpb:{total}")
    ''')),)

    def check(self, facts, ctx):
        for v in facts.violations:
            if v.kind == "slot":
                yield _hit(facts, v, v.update, f"{self.CODE}:{v.update.unit}:{v.update.line}")
