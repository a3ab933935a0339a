"""Small causal language models for engine tests (float64 on CPU so comparisons can be exact)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.engine.protocol import OutputHead


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)
        self.up = nn.Linear(dim, 2 * dim, bias=False)
        self.down = nn.Linear(2 * dim, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        B, T, D = x.shape
        h = F.rms_norm(x, (D,))
        q, k, v = (lin(h).view(B, T, self.heads, D // self.heads).transpose(1, 2) for lin in (self.q, self.k, self.v))
        # explicit causal attention (no fused kernel) so float64 results are reproducible to the bit
        att = (q @ k.transpose(-1, -2)) / (D // self.heads) ** 0.5
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        x = x + self.o((att @ v).transpose(1, 2).reshape(B, T, D))
        return x + self.down(F.leaky_relu(self.up(F.rms_norm(x, (D,))), 0.5).square())


class TinyLM(nn.Module):
    """A 2-layer causal transformer with learned positions, tied head and softcap."""

    def __init__(self, vocab: int = 64, dim: int = 32, layers: int = 2, heads: int = 4, max_len: int = 512, softcap: float = 30.0, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.vocab, self.softcap = vocab, softcap
        self.emb = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        self.double()

    def forward_hidden(self, ids: Tensor) -> Tensor:
        T = ids.shape[1]
        x = self.emb(ids) + self.pos(torch.arange(T, device=ids.device))[None]
        for blk in self.blocks:
            x = blk(x)
        return F.rms_norm(x, (x.shape[-1],))

    def output_head(self) -> OutputHead:
        return OutputHead(self.emb.weight, None, self.softcap)

    def forward_logits(self, ids: Tensor) -> Tensor:
        logits = self.forward_hidden(ids) @ self.emb.weight.T
        return self.softcap * torch.tanh(logits / self.softcap)

    def ttt_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    def lora_targets(self) -> dict[str, nn.Linear]:
        out = {}
        for i, blk in enumerate(self.blocks):
            out[f"blocks.{i}.q"], out[f"blocks.{i}.v"], out[f"blocks.{i}.up"] = blk.q, blk.v, blk.up
        return out


class LogitsOnly(nn.Module):
    """The same model seen only through forward_logits (no hidden fast path)."""

    def __init__(self, inner: TinyLM):
        super().__init__()
        self.inner = inner

    def forward_logits(self, ids: Tensor) -> Tensor:
        return self.inner.forward_logits(ids)

    def ttt_parameters(self):
        return self.inner.ttt_parameters()

    def lora_targets(self):
        return self.inner.lora_targets()


class PeekingLM(LogitsOnly):
    """Leaks the future: the logits at position t also see the embedding of token t + 1."""

    def forward_logits(self, ids: Tensor) -> Tensor:
        m = self.inner
        nxt = torch.cat([ids[:, 1:], ids[:, -1:]], dim=1)
        h = m.forward_hidden(ids) + 0.5 * m.emb(nxt)
        return m.softcap * torch.tanh((h @ m.emb.weight.T) / m.softcap)


def random_stream_tokens(n: int, vocab: int, *, bos_id: int = 1, mean_doc: int = 40, seed: int = 0) -> Tensor:
    """A token stream with a BOS at the start of every document (documents of random length)."""
    g = torch.Generator().manual_seed(seed)
    toks = torch.randint(2, vocab, (n,), generator=g)
    pos = 0
    while pos < n:
        toks[pos] = bos_id
        pos += int(torch.randint(mean_doc // 2, mean_doc * 3 // 2 + 1, (1,), generator=g))
    return toks
