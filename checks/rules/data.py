"""Rules on data preparation shipped with a submission (DAT0xx) and harness-side results (HAR0xx)."""

from __future__ import annotations

import re

from checks.findings import EvidenceStep
from checks.rules.base import Hit, Invalid, Rule, Valid

CHALLENGE_VAL_DOCS = 50_000
VAL_DOCS_DEFAULT = re.compile(r"""add_argument\(\s*["']--val[-_]docs["'][^)]*?default\s*=\s*([\d_]+)|^\s*(?:NUM_VAL_DOCS|num_val_docs|val_docs|VAL_DOCS)\s*=\s*(?:int\([^)]*?,\s*)?([\d_]+)""", re.M)
LOCAL_SHARDS = re.compile(r"^train_shards:\s*(\d+)\s*$", re.M)
OFFICIAL_MAX_TRAIN_SHARDS = 200  # the challenge's exports hold 80-143 shards of 10^8 tokens


class ValidationDocsInTraining(Rule):
    """
    What it flags: a data-preparation script in the submission that writes both validation and
    training shards but gives the validation split fewer than the challenge's 50,000 documents
    (so documents 10,000-50,000 of the official validation set land in training), when the run
    logs show the model trained on locally prepared shards (more shard files than any official
    export holds). With no such log evidence it is a note.

    Why it is illegal: training on validation documents is training on the test set (#2130 and the
    #2146 leaderboard audit excluded a record for it).

    Legal alternative: prepare with ``--val-docs 50000`` (the challenge's split) or train on the
    official export.

    Known limits: recognises ``--val-docs`` arguments and ``val_docs``-style constants; the log
    evidence is the ``train_shards: N`` line scripts print.
    """

    CODE = "DAT001"
    NAME = "validation-docs-in-training"
    SUMMARY = "local data prep routes validation documents into the training split"
    MESSAGE = "this data preparation puts only {n:,} documents in validation (the challenge uses 50,000); {rest}"
    RULINGS = ("#2146 leaderboard audit (@cocohearts): a local prep with --val-docs=10000 leaked validation documents into training",)
    VALID = (Valid('''
import argparse
ap = argparse.ArgumentParser()
ap.add_argument("--val-docs", type=int, default=50_000)
out_val, out_train = "fineweb_val_000000.bin", "fineweb_train_000000.bin"
'''),)
    INVALID = (Invalid('''
import argparse
ap = argparse.ArgumentParser()
ap.add_argument("--val-docs", type=int, default=10_000)  # <-
out_val, out_train = "fineweb_val_000000.bin", "fineweb_train_000000.bin"
'''),)

    def scan(self, unit_index: int, text: str, logs: list[str]):
        if "fineweb_val" not in text or "fineweb_train" not in text:
            return
        for m in VAL_DOCS_DEFAULT.finditer(text):
            n = int((m.group(1) or m.group(2)).replace("_", ""))
            if n >= CHALLENGE_VAL_DOCS or n == 0:
                continue
            line = text.count("\n", 0, m.start()) + 1
            shards = [int(x) for log in logs for x in LOCAL_SHARDS.findall(log)]
            local = [s for s in shards if s > OFFICIAL_MAX_TRAIN_SHARDS]
            rest = (f"the logs show training on {max(local)} locally prepared shards, so validation documents were trained on"
                    if local else "no log shows these shards were used (the official export may have been)")
            yield Hit(unit_index, line, 1, {"n": n, "rest": rest},
                      (EvidenceStep("validation split size", line, text.splitlines()[line - 1].strip()),),
                      key=f"{self.CODE}:{unit_index}:{line}", severity="error" if local else "note",
                      confidence="medium" if local else "low")

    def check(self, facts, ctx):
        return iter(())


class Unparsable(Rule):
    """
    What it flags: a file (or decoded payload) that cannot be parsed as Python, so nothing about it
    can be checked.

    Why it matters: a reviewer cannot clear code nobody can read; the file is reported as
    `unparsable` with the parser's reason.

    Legal alternative: ship plain, parseable Python (3.12 syntax is accepted).

    Known limits: none; this is the harness telling you it could not look.
    """

    CODE = "HAR001"
    NAME = "unparsable-source"
    SUMMARY = "the code could not be parsed"
    MESSAGE = "cannot parse this code: {reason}"
    RULINGS = ()
    INVALID = (Invalid("x = 1\nif x  # <-\n    pass\n", message_contains="syntax error"),)

    def check(self, facts, ctx):
        return iter(())


class UndecodablePayload(Rule):
    """
    What it flags: an ``exec`` of an encoded, compressed payload that the harness could not decode
    (unknown codec, corrupt data, or over the decompression cap), so the code that runs is unseen.

    Why it matters: the checks only see code they can read; an opaque payload is reported instead of
    silently passing.

    Legal alternative: ship the source, or a standard base85/base64 + lzma/zlib/brotli wrapper.

    Known limits: decodes base85, base64 and ascii85 with raw LZMA2, xz, zlib and brotli.
    """

    CODE = "HAR002"
    NAME = "payload-undecodable"
    SUMMARY = "an encoded payload could not be decoded"
    MESSAGE = "an encoded payload is executed here but could not be decoded: {reason}"
    SEVERITY = "warning"
    RULINGS = ()
    INVALID = (Invalid('''
import base64, lzma
exec(lzma.decompress(base64.b85decode("0000000000000000000000000000000000000000000000000000000000000000000000000000000000")))  # <-
'''),)

    def check(self, facts, ctx):
        return iter(())
