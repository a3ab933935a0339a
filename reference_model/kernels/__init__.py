"""Optional Triton kernels, each behind a flag with the PyTorch path as its reference.

Run on CPU under ``TRITON_INTERPRET=1`` (the parity tests do); on GPU they are used when
``train.fused_mlp`` / ``train.fused_ce`` are set.
"""
