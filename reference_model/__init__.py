"""Reference recurrent-LoRA GPT and its trainer: looped layers with per-pass low-rank adapters and
pass-index embeddings, trained with Muon/AdamW and exported as a records-style submission."""
