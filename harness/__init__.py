"""parameter-golf-harness: audit, lint and re-score OpenAI Parameter Golf submissions."""

__version__ = "0.1.0"
