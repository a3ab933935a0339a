"""Static analysis of submission code (``harness lint-ttt``). Never imports or runs submission code."""
