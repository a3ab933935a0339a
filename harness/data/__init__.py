"""Challenge data formats: token shards, byte sidecars, document JSONL, and the `data prepare` pipeline."""
