"""Output formats of lint-ttt: text, JSON, SARIF 2.1.0, GitHub workflow annotations."""
