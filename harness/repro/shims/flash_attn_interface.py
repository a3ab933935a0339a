"""FlashAttention-3's ``flash_attn_func`` mapped to PyTorch SDPA, for machines without FA3.

Put on a sandboxed run's PYTHONPATH by ``--fa3-shim``: later records import ``flash_attn_interface``,
which only exists where FA3 is built. Numerics differ from FA3 within bf16 attention noise; figures
measured through the shim say so.
"""

import torch.nn.functional as F


def flash_attn_func(q, k, v, causal=False, softmax_scale=None, **_):
    # FA3 layout is [B, T, H, D]; SDPA wants [B, H, T, D]. GQA: k and v may carry fewer heads.
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=causal,
                                         scale=softmax_scale, enable_gqa=q.size(2) != k.size(2))
    return out.transpose(1, 2)
