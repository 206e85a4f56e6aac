"""The rewrite rule, checkable without the original text.

A stored line must share no run of five words with the line it was rewritten from. Beside
each stored line we keep salted, truncated hashes of the original's word 5-grams, so a test
can check the rule on the stored text alone (no third-party text is kept in the repository).
"""
from __future__ import annotations

import hashlib
import re

SALT = "jd-roles-rewrite-v1"
N = 5
HASH_CHARS = 8


def words(text: str) -> list[str]:
    """Lower-case word tokens; case and punctuation are ignored by the rule."""
    return re.findall(r"[a-z0-9]+", text.lower())


def ngrams(text: str, n: int = N) -> list[str]:
    tokens = words(text)
    return [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def ngram_hash(gram: str) -> str:
    return hashlib.sha256((SALT + gram).encode()).hexdigest()[:HASH_CHARS]


def source_hashes(original: str) -> str:
    """The hashes of an original line's 5-grams, space separated, sorted, de-duplicated."""
    return " ".join(sorted({ngram_hash(g) for g in ngrams(original)}))


def shared_runs(rewrite: str, hashes: str) -> list[str]:
    """The 5-word runs of ``rewrite`` whose hash is among the original's."""
    known = set(hashes.split())
    return [g for g in ngrams(rewrite) if ngram_hash(g) in known]
