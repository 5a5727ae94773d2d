"""A deterministic support judge: does `source` support `claim`? Used by the eval to score
answers and at answer time to flag LLM sentences their cited source does not support.

Three checks, all must pass:
1. every number in the claim occurs in the best-matching source sentences (exactly);
2. negation agrees ("does not improve" vs "improves");
3. the claim's content terms are covered by one or two source sentences, or the claim
   is close to a source sentence in MiniLM embedding space with some lexical overlap.
Calibrated on eval/judge_calibration.jsonl (hand-built, with hard negatives).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from rag.text import bare_numbers, content_terms, split_sentences

_NEG = re.compile(r"\b(not|no|never|cannot|can't|fails?|failed|neither|nor|without)\b|n't\b", re.I)


class SupportJudge:
    def __init__(self, embedder=None, lexical: float = 0.6, semantic: float = 0.72, semantic_lexical: float = 0.35):
        self.embedder = embedder
        self.lexical = lexical
        self.semantic = semantic
        self.semantic_lexical = semantic_lexical

    @lru_cache(maxsize=20_000)  # noqa: B019 - one judge per eval run
    def _vec(self, text: str) -> np.ndarray:
        return self.embedder.embed([text])[0]

    def __call__(self, claim: str, source: str) -> bool:
        claim_terms = content_terms(claim)
        sentences = split_sentences(source)
        if not claim_terms or not sentences:
            return False
        scored = sorted(((len(claim_terms & content_terms(s)) / len(claim_terms), s) for s in sentences), reverse=True)
        best_cov, best = scored[0]
        window = " ".join(s for _, s in scored[:2])
        pair_cov = len(claim_terms & content_terms(window)) / len(claim_terms)
        # 1. numbers must be exact
        nums = bare_numbers(claim)
        if nums and not nums <= bare_numbers(window):
            return False
        # 2. negation must agree (same count of negation words) with the best-matching sentence
        if len(_NEG.findall(claim)) != len(_NEG.findall(best)):
            return False
        # 3. coverage, or semantic closeness with some overlap
        if best_cov >= self.lexical or pair_cov >= self.lexical + 0.15:
            return True
        if self.embedder is not None and best_cov >= self.semantic_lexical:
            return float(self._vec(claim) @ self._vec(best)) >= self.semantic
        return False
