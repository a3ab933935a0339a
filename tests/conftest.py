import os

# Triton kernels run on CPU through the interpreter in tests; set before anything imports triton.
os.environ.setdefault("TRITON_INTERPRET", "1")
