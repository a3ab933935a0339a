"""Load a record's train_gpt.py from a local openai/parameter-golf clone, for benchmarks only.

The record's code is read from the clone at run time (never committed here), unwrapped when it is
an ``exec(lzma.decompress(base64.b85decode(...)))`` self-extracting file, and imported as a module
with ``__name__`` != "__main__" so its ``main()`` does not run. Records from April on import
FlashAttention-3 (``flash_attn_interface``); where it is missing a shim maps ``flash_attn_func`` to
PyTorch's scaled_dot_product_attention, and :data:`SHIM_USED` says so.

Benchmarks run the record's own code in this process on purpose (they time it); the harness itself
never does that: it runs submissions in a sandbox.
"""

from __future__ import annotations

import base64
import importlib.util
import lzma
import re
import subprocess
import sys
import types
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F

SHIM_USED = False


def read_record_source(clone: str | Path, record_path: str, ref: str = "main") -> str:
    """``record_path`` inside a plain checkout, or inside a git dir (bare mirror) at ``ref``."""
    clone = Path(clone)
    plain = clone / record_path
    if plain.is_file():
        return plain.read_text(encoding="utf-8-sig")
    git_dir = clone / ".git" if (clone / ".git").exists() else clone
    out = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{ref}:{record_path}"], capture_output=True, check=True)
    return out.stdout.decode("utf-8-sig")


def unwrap(source: str) -> str:
    """Decode a b85/b64 + lzma (xz or raw LZMA2) / zlib self-extracting wrapper; other code is returned as is."""
    m = re.search(r"b(85|64)decode\(\s*(?:b?[\"'])(.*?)[\"']\s*\)", source, re.S)
    if not m or "exec(" not in source:
        return source
    payload = (base64.b85decode if m.group(1) == "85" else base64.b64decode)(m.group(2).replace("\n", ""))
    for decode in (
        lambda b: lzma.decompress(b, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}]),
        lzma.decompress,
        zlib.decompress,
    ):
        try:
            return decode(payload).decode("utf-8")
        except Exception:
            continue
    raise ValueError("wrapped record could not be decoded")


def _install_fa3_shim() -> None:
    global SHIM_USED
    try:
        import flash_attn_interface  # noqa: F401
        return
    except ImportError:
        pass

    from harness.repro.shims import flash_attn_interface as shim  # FA3 -> SDPA, the same shim the sandbox uses

    sys.modules["flash_attn_interface"] = shim
    SHIM_USED = True


def import_record(clone: str | Path, record_path: str, workdir: str | Path, name: str = "pg_record") -> types.ModuleType:
    _install_fa3_shim()
    code = unwrap(read_record_source(clone, record_path))
    path = Path(workdir) / f"{name}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class BaselineFamilyModel(torch.nn.Module):
    """The evaluators' model protocol over a baseline-family ``GPT`` (the records' common layout:
    embedding, RMS norm, U-Net encoder/decoder over ``blocks`` with skip weights (and optional skip
    gates and looping indices), final norm, tied or separate head, tanh softcap).

    ``forward_hidden`` stops before the head so the evaluator projects only scored positions;
    :meth:`check` asserts that head(forward_hidden(x)) reproduces the record's own forward_logits.
    """

    def __init__(self, gpt: torch.nn.Module):
        super().__init__()
        self.gpt = gpt

    def forward_hidden(self, ids: torch.Tensor) -> torch.Tensor:
        g = self.gpt
        x = F.rms_norm(g.tok_emb(ids), (g.tok_emb.weight.shape[-1],))
        if getattr(g, "embed_proj", None) is not None:
            x = g.embed_proj(x)
        x0, skips = x, []
        if getattr(g, "looping_active", False):
            enc, dec = g.encoder_indices, g.decoder_indices
        else:
            enc = range(g.num_encoder_layers)
            dec = range(g.num_encoder_layers, g.num_encoder_layers + g.num_decoder_layers)
        extra = {"lora": None} if hasattr(g, "lora_adapters") else {}
        for i in enc:
            x = g.blocks[i](x, x0, **extra)
            skips.append(x)
        gates = getattr(g, "skip_gates", None)
        for j, i in enumerate(dec):
            if j < g.num_skip_weights and skips:
                skip = g.skip_weights[j].to(dtype=x.dtype)[None, None, :] * skips.pop()
                if gates is not None:
                    x = torch.lerp(skip, x, torch.sigmoid(gates[j].to(dtype=x.dtype))[None, None, :])
                else:
                    x = x + skip
            x = g.blocks[i](x, x0, **extra)
        x = g.final_norm(x)
        if getattr(g, "head_proj", None) is not None:
            x = g.head_proj(x)
        return x

    def output_head(self):
        from harness.engine.protocol import OutputHead

        g = self.gpt
        weight = g.tok_emb.weight if g.tie_embeddings else g.lm_head.weight
        return OutputHead(weight, None, float(g.logit_softcap))

    def forward_logits(self, ids: torch.Tensor) -> torch.Tensor:
        return self.gpt.forward_logits(ids)

    def ttt_parameters(self):
        return [p for p in self.gpt.parameters() if p.requires_grad]

    @torch.no_grad()
    def check(self, ids: torch.Tensor) -> float:
        from harness.engine.forward import apply_head

        ours = apply_head(self.forward_hidden(ids), self.output_head()).float()
        theirs = self.gpt.forward_logits(ids).float()
        err = float((ours - theirs).abs().max())
        assert err < 1e-4, f"adapter does not reproduce the record's logits (max abs diff {err})"
        return err
