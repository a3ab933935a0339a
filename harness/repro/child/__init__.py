"""Code that runs inside the sandboxed child, beside the untrusted submission module."""
