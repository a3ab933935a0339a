"""Rules on validation data leaking into the artifact or the evaluation reading what it may not
(LKG0xx, NET0xx)."""

from __future__ import annotations

from checks.findings import EvidenceStep
from checks.rules.base import Hit, Invalid, Rule, Valid
from checks.rules.evidence import step
from checks.rules.examples import example

RULING_PAID = "README FAQ 2026-03-20: you cannot access validation data during training, e.g. by compressing it into the 16 MB (paid prefix)"
RULING_CALIB = "PRs #1147, #968, #1430, #1605 reviews: GPTQ/AWQ calibration on validation tokens makes the artifact depend on validation data"
RULING_NET = "README at launch: no external downloads, no training-data access and no network calls during evaluation"


def _before_scores(facts, e) -> bool:
    first = min((s.seq for s in facts.reported), default=None)
    return first is None or e.seq < first


class CalibrationOnValidation(Rule):
    """
    What it flags: statistics computed by running the model on validation tokens (GPTQ Hessians,
    AWQ activation scales, any forward-hook statistics) that end up in what the script writes as
    its artifact.

    Why it is illegal: the artifact must not depend on validation data (README FAQ); calibrating
    quantization on validation tokens was ruled out in the GPTQ-calibration reviews.

    Legal alternative: calibrate on training shards inside the training budget, or on tokens the
    model generates itself.

    Known limits: follows data written with torch.save / numpy / pickle / file writes; an artifact
    assembled by an opaque library call is not followed.
    """

    CODE = "LKG001"
    NAME = "calibration-on-validation"
    SUMMARY = "quantization calibration statistics computed on validation tokens go into the artifact"
    MESSAGE = "the artifact written here depends on statistics computed from validation tokens (calibration on validation data)"
    RULINGS = (RULING_CALIB, RULING_PAID)
    VALID = (Valid(example('''
        train_tokens = load_tokens("data/fineweb_train_*.bin")
        hessian = {}
        def hook(mod, inp, out):
            hessian["h"] = inp[0].float().T @ inp[0].float()
        model.head.register_forward_hook(hook)
        model(train_tokens[:64])
        torch.save({"w": model.state_dict(), "h": hessian}, "final_model.pt")
        print(f"final val_bpb:{score(model, val_tokens)}")
    ''')),)
    INVALID = (Invalid(example('''
        hessian = {}
        def hook(mod, inp, out):
            hessian["h"] = inp[0].float().T @ inp[0].float()
        model.head.register_forward_hook(hook)
        model(val_tokens[:64])
        torch.save({"w": model.state_dict(), "h": hessian}, "final_model.pt")  # <-
        print(f"final val_bpb:{score(model, val_tokens)}")
    ''')),)

    def check(self, facts, ctx):
        for w in facts.writes:
            if not _before_scores(facts, w) or not w.objs:
                continue
            yield Hit(w.unit, w.line, w.col, {}, tuple(x for x in (step("validation data read", facts.first_source()),
                                                                     step("written", w)) if x is not None),
                      key=f"{self.CODE}:{w.unit}:{w.line}", enclosing=w.func)


class ValidationInArtifact(Rule):
    """
    What it flags: validation tokens themselves (raw or compressed) written to a file during the
    run, before the reported evaluation: a "paid prefix" that ships the validation set in the
    artifact and predicts the covered positions from it.

    Why it is illegal: "You CANNOT access validation data during training, e.g. by compressing it
    into your 16mb with paid prefix" (README FAQ).

    Legal alternative: none; spend the bytes on the model.

    Known limits: a blob prepared outside the script and only read at evaluation is invisible here
    (the audit's size and README checks are the place to look).
    """

    CODE = "LKG002"
    NAME = "validation-in-artifact"
    SUMMARY = "validation tokens are written into a file before the evaluation"
    MESSAGE = "validation tokens are written out here, before the reported evaluation (paid prefix)"
    RULINGS = (RULING_PAID,)
    VALID = (Valid(example('''
        torch.save(model.state_dict(), "final_model.pt")
        print(f"final val_bpb:{score(model, val_tokens)}")
    ''')),)
    INVALID = (Invalid(example('''
        import lzma
        blob = lzma.compress(val_tokens[:100000].numpy().tobytes())
        open("prefix.xz", "wb").write(blob)  # <-
        print(f"final val_bpb:{score(model, val_tokens)}")
    ''')),)

    def check(self, facts, ctx):
        for w in facts.writes:
            if _before_scores(facts, w) and not w.objs:
                yield Hit(w.unit, w.line, w.col, {}, tuple(x for x in (step("validation data read", facts.first_source()),
                                                                         step("written", w)) if x is not None),
                          key=f"{self.CODE}:{w.unit}:{w.line}", enclosing=w.func)


class TrainingDataAtEval(Rule):
    """
    What it flags: training shards read after the script has written its artifact, i.e. during
    evaluation (e.g. to calibrate or adapt at evaluation time).

    Why it is illegal: no training-data access during evaluation unless those bits are paid for in
    the 16 MB (README).

    Legal alternative: use training data inside the 600 s training budget, before the artifact is
    written.

    Known limits: the evaluation phase starts at the first artifact write the analysis sees.
    """

    CODE = "LKG003"
    NAME = "training-data-at-eval"
    SUMMARY = "training data is read during evaluation"
    MESSAGE = "training data is read here, after the artifact was written (during evaluation)"
    RULINGS = (RULING_NET,)
    CONFIDENCE = "medium"
    VALID = (Valid(example('''
        train_tokens = load_tokens("data/fineweb_train_*.bin")
        torch.save(model.state_dict(), "final_model.pt")
        print(f"final val_bpb:{score(model, val_tokens)}")
    ''')),)
    INVALID = (Invalid(example('''
        torch.save(model.state_dict(), "final_model.pt")
        extra = load_tokens("data/fineweb_train_*.bin")  # <-
        print(f"final val_bpb:{score(model, val_tokens)}")
    ''')),)

    def check(self, facts, ctx):
        first_score = min((s.seq for s in facts.reported), default=None)
        # evaluation starts after the last artifact write that precedes the reported scores
        # (a raw checkpoint saved before quantization is not the artifact; calibration after it is training)
        artifact = [e for e in facts.events if e.kind in ("WRITE", "ARTIFACT") and (first_score is None or e.seq < first_score)]
        if not artifact:
            return
        first = max(artifact, key=lambda e: e.seq)
        last = max((s.seq for s in facts.reported), default=None)
        for t in facts.treads:
            if t.seq > first.seq and (last is None or t.seq < last):
                # point at the call in the phase that wrote the artifact, not inside a loader helper
                line, where = t.line, t.func
                for caller, call_line in t.calls:
                    if caller == first.func:
                        line, where = call_line, caller
                        break
                yield Hit(t.unit, line, 1, {}, (EvidenceStep(f"artifact written in {first.func}", first.line, first.text),
                                                EvidenceStep(f"training data read in {t.func}", t.line, t.text)),
                          key=f"{self.CODE}:{t.unit}:{line}", enclosing=where)


class NetworkOnEvalPath(Rule):
    """
    What it flags: a network call or download (requests, urllib, huggingface_hub, datasets, wget
    or curl in a subprocess, sockets) on a path the script runs.

    Why it is illegal: the artifact must be self-contained; no external downloads and no network
    calls during evaluation (README).

    Legal alternative: ship what is needed inside the 16 MB, or read it from the provided data
    folder.

    Known limits: calls made through an opaque wrapper or a string passed to a shell are only seen
    for the common tools.
    """

    CODE = "NET001"
    NAME = "network-on-run-path"
    SUMMARY = "the script downloads or opens network connections"
    MESSAGE = "network access on the run path: {call}"
    RULINGS = (RULING_NET,)
    VALID = (Valid(example('''
        print(f"final val_bpb:{score(model, val_tokens)}")
    ''')),)
    INVALID = (Invalid(example('''
        from huggingface_hub import hf_hub_download
        extra = hf_hub_download("someone/ngram-tables", "table.bin")  # <-
        print(f"final val_bpb:{score(model, val_tokens)}")
    ''')),)

    def check(self, facts, ctx):
        for n in facts.network:
            yield Hit(n.unit, n.line, n.col, {"call": n.extra.get("call", "")},
                      (EvidenceStep(f"network call in {n.func}", n.line, n.text),), key=f"{self.CODE}:{n.unit}:{n.line}",
                      enclosing=n.func)
