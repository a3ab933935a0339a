"""Data-flow analysis of submission code: where validation data goes, and in what order."""
