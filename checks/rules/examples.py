"""Shared preamble of the rules' embedded examples: a tiny but real training script shape.

The examples are the project's own code: a validation loader over ``fineweb_val_*`` shards, a
model, a scorer that accumulates per-token loss, and a report line. Rules add the part they are
about.
"""

PRELUDE = '''
import glob
import numpy as np
import torch
import torch.nn.functional as F


def load_tokens(pattern):
    files = sorted(glob.glob(pattern))
    return torch.from_numpy(np.fromfile(files[0], dtype=np.uint16).astype(np.int64))


class TinyLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(1024, 64)
        self.head = torch.nn.Linear(64, 1024)

    def forward(self, x):
        return self.head(self.emb(x))


def score(model, tokens, seq=64):
    loss_sum = 0.0
    with torch.no_grad():
        for i in range(0, tokens.numel() - seq - 1, seq):
            x, y = tokens[i : i + seq], tokens[i + 1 : i + seq + 1]
            loss_sum += F.cross_entropy(model(x), y, reduction="sum")
    return loss_sum / tokens.numel()


model = TinyLM()
val_tokens = load_tokens("data/fineweb_val_*.bin")
'''


def example(body: str) -> str:
    """PRELUDE followed by ``body`` (dedented); line numbers count from the start of PRELUDE."""
    import textwrap

    return PRELUDE.lstrip("\n") + textwrap.dedent(body).lstrip("\n")
