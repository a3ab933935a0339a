"""Reference recurrent-LoRA GPT and its trainer; writes a records-style submission the harness audits."""
