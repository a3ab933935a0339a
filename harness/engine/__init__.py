"""Evaluation engine: one scoring definition, flat / sliding / score-first TTT evaluators, the prefix probe."""
