"""Tokenizer byte accounting: the challenge's look-up tables and an exact audit of them."""
