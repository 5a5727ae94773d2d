from __future__ import annotations

import itertools

import numpy as np
import pytest

from rag.retrieve import Filters, Retriever, _best_first, rrf

# paraphrased questions -> the paper that answers them
PARAPHRASES = [
    ("EEG speller that identifies the target character with a deep net over harmonics", "a-deep-neural-network-for-ssvep-based-brain-computer-interfaces"),
    ("connect every layer to every later layer in a convolutional net", "densely-connected-convolutional-networks"),
    ("skip steps of diffusion model denoising by reusing high-level features", "deepcache-accelerating-diffusion-models-for-free"),
    ("quantize a network without any training data by equalizing weights across layers", "data-free-quantization-through-weight-equalization-and-bias-correction"),
    ("make a sparse mixture-of-experts CNN robust to adversarial attacks", "robust-mixture-of-expert-training-for-convolutional-neural-networks"),
    ("randomly drop whole residual blocks while training very deep nets", "deep-networks-with-stochastic-depth"),
]


@pytest.mark.parametrize("question,paper_id", PARAPHRASES)
def test_paraphrased_questions_find_the_paper(service, question, paper_id):
    hits = service.search(question, top_k=3)
    assert paper_id in [h.paper_id for h in hits]


def test_no_paper_twice_and_sorted(service):
    hits = service.search("neural network pruning", top_k=30)
    ids = [h.paper_id for h in hits]
    assert len(ids) == len(set(ids)) == 30
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_modes_and_cutoff(service):
    q = "data-free quantization"
    for mode in ("dense", "lexical", "hybrid"):
        assert service.search(q, top_k=5, mode=mode)[0].paper_id.startswith(("data-free-quantization", "rex-data-free", "zeroq"))
    assert service.search("what is the capital of France and its population", top_k=10) == []


def test_filters(service):
    hits = service.search("network architecture", top_k=10, filters=Filters(has_code=True))
    assert hits and all(h.paper.code_urls for h in hits)
    hits = service.search("network architecture", top_k=10, filters=Filters(year_min=2022))
    assert hits and all(h.paper.year and h.paper.year >= 2022 for h in hits)


def test_rrf():
    fused = rrf([["a", "b", "c"], ["c", "a"]], k=60)
    assert max(fused, key=fused.get) == "a"
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert set(fused) == {"a", "b", "c"}


def test_an_answer_embeds_its_question_once(service, monkeypatch):
    """Retrieval and the answerer share one query vector; a comparison adds one per compared item."""
    embedder = service.retriever.index.embedder
    embedded: list[str] = []
    original = embedder.embed

    def counting(texts, progress=None):
        embedded.extend(texts)
        return original(texts, progress)

    monkeypatch.setattr(embedder, "embed", counting)
    service.retriever._qcache.clear()
    answer = service.ask("Which paper connects every layer to every later layer in a convolutional network?")
    assert answer.citations and len(embedded) == 1
    embedded.clear()
    plan = service.plan("How does HarDNet compare with DenseNet-264 in inference time?")
    service.ask(plan.question)
    assert len(embedded) == len(set(embedded)) == 1 + len(plan.items)


def test_corpus_mentions_counts_the_papers_mentions_says_mention_the_term(service):
    """Counted among the papers holding the name's rarest key piece; the same count as asking
    `mentions` of each paper: plurals, acronyms (cased), digits, titles, the first and last paper."""
    from rag.text import mentions, name_key

    from rag.jsonlines import Lines

    r = service.retriever
    assert isinstance(r._keys, Lines) and isinstance(r._cased_keys, Lines)  # read from keys.jsonl, per paper
    first, last = r.papers[0], r.papers[-1]
    edge = [w for p in (first, last) for w in (p.title.split()[0], p.abstract.split()[-1].strip("."))]
    terms = ["CNN", "CNNs", "ResNet-50", "ResNet50", "transformer", "transformers", "ImageNet", "BERT", "GANs",
             "self-attention", "BLEU", "pruning", "Mixture of Experts", first.title, last.title, "zzqx", "", "—",
             "LSTMs", "VGG16", "GPT-2", "ResNets", "the", "top-1 accuracy", "ImageNet zzqx",
             *edge]
    for term in terms:
        cased = term.isupper()
        want = sum(1 for p in r.papers if mentions(name_key(f"{p.title} {p.abstract}", cased=cased), term, cased=cased))
        assert r.corpus_mentions(term) == want, term
        assert r.corpus_mentions(term) == want, term  # and again, from its cache
    assert r.corpus_mentions("CNN") > 3 and r.corpus_mentions(last.title) >= 1


def test_coverage_from_the_postings_is_plan_coverage_of_every_paper(service):
    """`Retriever.coverage` (postings, each alias intersected once from its rarest term) gives
    every paper what `QuestionPlan.coverage` says of its terms, papers covered only through a
    several-word alias included."""
    r = service.retriever
    through_alias = 0
    for q in ["How much does the DNN serving overhead add to inference latency?",
              "What top-1 accuracy do CNNs reach on ImageNet?", "Which LLM beats GPT-3 at few-shot learning?",
              "Which mixture of experts models scale to a trillion parameters?", "zzqx"]:
        plan = r.plan(q)
        got = r.coverage(plan)
        want = np.array([plan.coverage(r._row_terms(i)) for i in range(len(r.papers))], dtype=np.float32)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=q)
        through_alias += sum(1 for i in range(len(r.papers))
                             if got[i] > 0 and not any(g.term in r._row_terms(i) for g in plan.terms))
    assert through_alias > 20


def test_a_quoted_title_finds_its_paper_among_those_holding_its_rarest_piece(service):
    """What scanning every title's key finds (an exact title, else the first title holding the
    quoted words), for every title, a few words of it, and words no title holds."""
    from rag.text import name_key

    r = service.retriever
    keys = [name_key(t) for t in r._titles]

    def scanned(quoted: str) -> int | None:
        q = name_key(quoted)
        exact = [i for i, k in enumerate(keys) if k == q]
        return exact[-1] if exact else next((i for i, k in enumerate(keys) if q in k), None)

    quotes = [*r._titles, *(" ".join(t.split()[1:4]) for t in r._titles), "Network Pruning", "zzqx of the"]
    found = 0
    for quoted in quotes:
        want = scanned(quoted) if name_key(quoted) else None
        assert r._titled(quoted) == want, quoted
        found += want is not None
    assert found > len(r._titles) and r._titled("zzqx of the") is None
    plan = r.plan(f"What does '{r._titles[7]}' report?")
    assert 7 in r.named_papers(plan)


def test_best_first_is_a_stable_sort_of_the_scores_however_far_it_is_read():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, 300).astype(np.float32)  # many ties
    full = np.argsort(-scores, kind="stable").tolist()
    for first in (1, 7, 100, 299, 300, 1000):
        assert list(_best_first(scores, first)) == full
        assert list(itertools.islice(_best_first(scores, first), first)) == full[:first]


def _preselecting(service, candidates: int) -> Retriever:
    index = service.retriever.index
    assert index.chunks is not None and index.chunks.means is not None
    return Retriever(index, service.settings.model_copy(update={"dense_exact_max_rows": 0,
                                                                 "dense_candidates": candidates}))


def test_a_large_collection_scores_every_paper_by_its_mean_and_the_best_exactly(service):
    exact = service.retriever
    assert exact._means is None  # 517 papers: every sentence vector is scored
    q = "randomly drop whole residual blocks while training very deep nets"
    plan = exact.plan(q)
    qvec = exact.embed_query(plan.corrected)
    truth = exact.signals(plan, qvec)
    every = _preselecting(service, len(exact.papers))  # every paper a candidate: the exact scores
    assert np.array_equal(every.signals(plan, qvec).dense, truth.dense)
    assert [h.paper_id for h in every.search(q)] == [h.paper_id for h in exact.search(q)]

    few = _preselecting(service, 20)
    sig = few.signals(plan, qvec)
    exactly = sig.dense == truth.dense
    assert 20 <= exactly.sum() < len(exact.papers) // 2  # the candidates' best sentence, not every paper's
    assert np.all(sig.dense <= truth.dense + 1e-6)  # a mean similarity is never above the best one
    assert few.search(q, top_k=3)[0].paper_id == "deep-networks-with-stochastic-depth"
