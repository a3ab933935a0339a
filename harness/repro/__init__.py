"""Reproduction: run a submission in the sandbox (gauntlet, full training runs) and re-score the
artifact it produced with the harness's own evaluators. ``pipeline.reproduce_into`` is the entry
point ``harness evaluate`` calls when it is not ``--offline``.

Everything under ``harness.repro.child`` runs *inside* the sandboxed child, next to the untrusted
submission module; everything else runs in the harness's process and never imports submission code.
"""
