"""Result claims: the number grammar, the extraction rules, the SQLite store, and the
results-table answers built on them (filter and compare in code, borderline apart)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from rag.__main__ import main as cli
from rag.claims import CLAIMS_VERSION, Extractor
from rag.claimstore import ClaimStore, build_claims, write_claims
from rag.index import CLAIMS_FILE, read_manifest
from rag.lexicon import Lexicon
from rag.quantities import quantities
from rag.question import analyse
from rag.service import RagService
from rag.table import run_table, table_query
from rag.text import split_sentences
from rag.types import Claim, Paper
from rag.vocabulary import ClaimVocabulary, FLAG_PATTERNS
from tests.conftest import make_settings
from tests.fakes import HashEmbedder

X = Extractor(ClaimVocabulary())


def values(sentence: str) -> list[tuple[str, str]]:
    return [(q.value, q.unit) for q in quantities(sentence)]


# ----------------------------------------------------------------------------- numbers
def test_quantities_keep_units_and_skip_names_years_and_markers():
    s = ("ResNet-50 on CIFAR10/100 in 2019 reaches 76.3% top-1, 2.3× faster, 10x fewer, 1.2M params, "
         "3.5 billion images, +0.39dB, 64ms, (1) a list marker, 9.23\\% drop, 1200 GPU hours and 11% to 14%.")
    assert values(s) == [("76.3", "%"), ("2.3", "×"), ("10", "×"), ("1.2M", ""), ("3.5", ""), ("0.39", "dB"),
                         ("64", "ms"), ("1", ""), ("9.23", "%"), ("1200", "GPU hours"), ("11", "%"), ("14", "%")]
    by_value = {q.value: q for q in quantities(s)}
    assert by_value["1.2M"].scaled == pytest.approx(1.2e6) and by_value["3.5"].scaled == pytest.approx(3.5e9)
    assert by_value["0.39"].sign == "+"


def test_a_unit_written_once_applies_to_the_whole_list():
    assert values("requiring 42, 4.5, 6.5 times less computation") == [("42", "×"), ("4.5", "×"), ("6.5", "×")]


def test_glued_and_paired_numbers_are_read():
    s = ("a reduction in latency (approx60%), maximum x21 faster, 1.37times/1.24times faster forward/backward, "
         "by 3.3%p, 63.03%-FLOPs reduction and 80%+ Top-1 on CIFAR10/100.")
    assert values(s) == [("60", "%"), ("21", "×"), ("1.37", "×"), ("1.24", "×"), ("3.3", "points"), ("63.03", "%"),
                         ("80", "%")]
    assert quantities("(approx60%)")[0].sign == "~"


# ----------------------------------------------------------------------------- extraction
def claims_of(abstract: str, own: list[str] | None = None) -> list[Claim]:
    return X.extract("p", abstract, own or ["Foo"])[0]


def test_metric_dataset_method_of_a_plain_result():
    (c,) = claims_of("Our FooNet achieves 84.3% top-1 accuracy on ImageNet.", ["FooNet"])
    assert (c.value, c.unit, c.metric, c.dataset, c.method, c.own, c.relative) == (
        "84.3", "%", "top-1 accuracy", "ImageNet", "FooNet", True, False)
    assert c.direction == "higher" and c.sentence == "Our FooNet achieves 84.3% top-1 accuracy on ImageNet."


def test_a_baselines_number_is_the_baselines():
    got = claims_of("FooNet achieves 75.3% top-1 accuracy on ImageNet, surpassing GhostNetV1 (74.5%) with similar cost.",
                    ["FooNet"])
    assert [(c.value, c.own, c.method) for c in got] == [("75.3", True, "FooNet"), ("74.5", False, "GhostNetV1")]
    got = claims_of("On ResNet-18, our framework improves from 69.76% to 73.19% accuracy.")
    assert [(c.value, c.own) for c in got] == [("69.76", False), ("73.19", True)]
    got = claims_of("Our approach improved the performance from 91.27% with regular augmentation to 94.54% with ours.")
    assert [(c.value, c.own) for c in got] == [("91.27", False), ("94.54", True)]


def test_another_numbers_unit_is_not_this_numbers_metric():
    got = claims_of("FooNet achieves 75.3% top-1 accuracy on ImageNet with 167M FLOPs, surpassing GhostNetV1 (74.5%) "
                    "with a similar computational cost.", ["FooNet"])
    assert [(c.value, c.metric) for c in got] == [("75.3", "top-1 accuracy"), ("167M", "FLOPs"), ("74.5", "top-1 accuracy")]


@pytest.mark.parametrize("sentence, metrics", [
    ("The best classification performance (69.59%) is achieved using 3-cycle map features.", ["performance"]),
    ("Foo reduces computations by 20% with equivalent accuracy.", ["FLOPs"]),
    ("Foo is 8.4x smaller and 6.1x faster than the best existing ConvNet.", ["parameters", "speedup"]),
    ("Having a memory results in a 19.7% improvement in flow prediction accuracy.", ["accuracy"]),
    ("Foo maintains 20x fewer operations.", ["FLOPs"]),
])
def test_the_metric_is_the_one_written_with_the_number(sentence, metrics):
    assert [c.metric for c in claims_of(sentence)] == metrics


def test_gains_are_relative_and_name_what_they_are_compared_with():
    got = claims_of("FooNet outperforms ConvNeXt by 0.7% and 1.5% top-1 accuracy, and is 2.3x faster than ResNet-50.",
                    ["FooNet"])
    assert [(c.value, c.relative) for c in got] == [("0.7", True), ("1.5", True), ("2.3", True)]
    assert got[0].compared_with == "ConvNeXt" and got[2].compared_with == "ResNet-50"
    assert got[2].metric == "speedup"


def test_set_up_numbers_are_not_results():
    assert claims_of("We train on 8 GPUs for 90 epochs with 1% of the labels and 4-bit weights on 10 datasets "
                     "(as opposed to 8x V100s).") == []


def test_the_dataset_right_after_the_number_wins():
    got = claims_of("A network of depth 12 achieves top-1 accuracy over 80% on ImageNet, 96% on CIFAR10, and 81% on CIFAR100.")
    assert [(c.value, c.dataset) for c in got] == [("80", "ImageNet"), ("96", "CIFAR10"), ("81", "CIFAR100")]


def test_respectively_pairs_each_number_with_its_dataset():
    got = claims_of("Our method outperforms prior methods on CIFAR10, TinyImageNet and ImageNet-1K, and achieves "
                    "accuracy improvements of up to 6.5% and 4.1% on CIFAR100 and ImageNet-1K, respectively.")
    assert [(c.value, c.dataset) for c in got] == [("6.5", "CIFAR100"), ("4.1", "ImageNet-1K")]
    got = claims_of("We evaluate it on CIFAR-10 and MNIST, with speed-ups of 17x and 19x, respectively.")
    assert [(c.value, c.dataset) for c in got] == [("17", "CIFAR-10"), ("19", "MNIST")]


def test_a_gain_in_no_stated_metric_is_a_gain_in_performance():
    (gain,) = claims_of("FooNet achieves a 13.0% improvement on MATH.", ["FooNet"])
    assert (gain.metric, gain.relative, gain.direction) == ("performance", True, "higher")


def test_what_a_verb_changes_by_a_number_is_its_metric():
    got = claims_of("Our method reduces the communication volume by up to 22.89x compared to graph parallelism.")
    assert [(c.value, c.metric) for c in got] == [("22.89", "communication volume")]


def test_other_peoples_results_in_the_background_are_baselines():
    got = claims_of("Today's best models achieve upwards of 97% top-1 accuracy. We propose Foo. Foo reaches 98% accuracy.")
    assert [(c.value, c.own) for c in got] == [("97", False), ("98", True)]


@pytest.mark.parametrize("sentence, flags", [
    ("It is trained without extra data.", {"no_extra_data"}),
    ("We use no tricks such as mixup; outside training data beyond ImageNet; label smoothing.", set()),
    ("without involving techniques such as mixup; outside training data beyond ImageNet; etc.", {"no_extra_data"}),
    ("By leveraging one billion unlabelled images, ResNet-50 achieves 81.2%.", {"extra_data"}),
    ("The model is pre-trained on JFT-300M.", {"extra_data"}),
    ("Zero-shot transfer reaches 83% and the method is training-free.", {"zero_shot", "training_free"}),
    ("We propose data-free quantization.", {"data_free"}),
    ("It is robust without any adversarial training or extra data.", {"no_extra_data"}),
    ("The student can be trained with extra unlabeled data.", {"extra_data"}),
    ("No GPU or training data is required during network design.", {"data_free"}),
    ("A sub-network is selected without additional training.", {"training_free"}),
    ("It is robust without any adversarial training.", set()),
])
def test_flags(sentence, flags):
    assert {f for f, rx in FLAG_PATTERNS.items() if rx.search(sentence)} == flags


def test_extraction_is_deterministic_over_the_real_collection(corpus):
    first, flags = build_claims(corpus.papers)
    again, flags_again = build_claims(corpus.papers)
    assert [c.model_dump() for c in first] == [c.model_dump() for c in again] and flags == flags_again
    assert len(first) > 300
    abstracts = {p.paper_id: p.abstract for p in corpus.papers}
    for c in first:  # every cell is citable: its value is in its sentence, its sentence in its abstract
        assert c.value.rstrip("KMB") in c.sentence and c.sentence in " ".join(abstracts[c.paper_id].split())
        assert c.sentence in split_sentences(abstracts[c.paper_id])


# ----------------------------------------------------------------------------- store
def test_store_filters_by_dataset_family_value_and_flag(tmp_path):
    claims = [
        Claim(paper_id="a", method="A", dataset="ImageNet-1k", metric="top-1 accuracy", value="84.3", number=84.3,
              unit="%", flags=["no_extra_data"], sentence="A gets 84.3% on ImageNet-1k."),
        Claim(paper_id="b", method="B", dataset="ILSVRC-2012", metric="top-1 accuracy", value="76.1", number=76.1,
              unit="%", sentence="B gets 76.1% on ILSVRC-2012."),
        Claim(paper_id="c", method="C", dataset="COCO", metric="mAP", value="40.4", number=40.4, sentence="C: 40.4 mAP."),
    ]
    path = tmp_path / "claims.sqlite"
    write_claims(path, claims, [])
    store = ClaimStore(path)
    assert store.version == CLAIMS_VERSION and store.all() == claims
    assert [c.paper_id for c in store.query(dataset="ImageNet")] == ["a", "b"]
    assert [c.paper_id for c in store.query(dataset="imagenet", min_value=80)] == ["a"]
    assert [c.paper_id for c in store.query(metric="mAP", max_value=50)] == ["c"]
    assert [c.paper_id for c in store.query(flag="no_extra_data")] == ["a"]


def test_claims_of_another_extractor_version_are_re_extracted(tmp_path, corpus):
    path = tmp_path / "claims.sqlite"
    write_claims(path, [], [])
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = 'old' WHERE key = 'version'")
    con.commit()
    con.close()
    papers = corpus.papers[:40]
    store = ClaimStore.open(path, papers)
    assert store.version == CLAIMS_VERSION and store.all() == build_claims(papers)[0]


def test_ingest_keeps_claims_in_step_with_the_papers(tmp_path, small_corpus):
    svc = RagService(make_settings(tmp_path, corpus_dir=small_corpus), embedder=HashEmbedder())
    _, stats = svc.ingest()
    gen = svc.retriever.index.path
    assert (gen / CLAIMS_FILE).exists() and read_manifest(gen)["claims"] == CLAIMS_VERSION
    before = {c.paper_id for c in svc.claims()}
    assert stats.claims == len(svc.claims()) > 0
    # drop the page holding the paper with the most claims: its claims go with it
    page = sorted(small_corpus.glob("*.txt"))[0]
    gone = {p.paper_id for p in svc.corpus().papers} - set()
    page.unlink()
    svc.ingest()
    left = {p.paper_id for p in svc.corpus().papers}
    after = {c.paper_id for c in svc.claims()}
    assert after <= left and after < before and gone


# ----------------------------------------------------------------------------- tables
def _paper(pid: str) -> Paper:
    return Paper(paper_id=pid, title=f"{pid.upper()}: a paper", abstracts=[f"{pid} abstract."])


def _claim(pid: str, value: float, **kw) -> Claim:
    base = dict(paper_id=pid, method=pid.upper(), dataset="ImageNet", metric="top-1 accuracy", value=f"{value:g}",
                number=value, unit="%", direction="higher", sentence=f"{pid.upper()} reaches {value:g}% on ImageNet.")
    return Claim(**(base | kw))


@pytest.fixture(scope="module")
def lexicon(corpus):
    return Lexicon.build([(p.paper_id, p.title, p.abstract) for p in corpus.papers])


def _query(question: str, lexicon: Lexicon):
    vocab = ClaimVocabulary()
    return table_query(analyse(question, lexicon), vocab, {"imagenet": "ImageNet", "coco": "COCO"})


def test_table_questions_are_read_into_queries(lexicon):
    q = _query("Which papers report more than 80% top1 on IN-1k?", lexicon)
    assert (q.op, q.metric, q.family, q.threshold, q.threshold_unit) == ("more_than", "top-1 accuracy", "imagenet", 80, "%")
    q = _query("which methods beat ResNet-50 without extra data?", lexicon)
    assert (q.op, q.baseline, q.flag) == ("beat", "ResNet-50", "no_extra_data")
    q = _query("lowest test error on CIFAR-10 reported here?", lexicon)
    assert (q.op, q.metric) == ("min", "error rate")
    assert _query("Which papers claim a speedup of more than 10x?", lexicon).threshold_unit == "×"
    assert _query("What is DenseNet's key idea?", lexicon) is None
    assert _query("How does EdgeNeXt reach its accuracy?", lexicon) is None


def test_thresholds_compare_in_code_with_units_and_keep_gains_apart(lexicon):
    papers = {p: _paper(p) for p in "abcdef"}
    claims = [_claim("a", 84.3), _claim("b", 80.0), _claim("c", 79.0), _claim("d", 2.1, relative=True),
              _claim("e", 85.0, unit="×"), _claim("f", 90.0, own=False, method="Base")]
    res = run_table(_query("Which papers report more than 80% top-1 accuracy on ImageNet?", lexicon), claims, papers, {})
    assert [c.paper_id for c, _, _ in res.rows] == ["a"]  # 80.0 is not more than 80; 85x is no %; f is a baseline's
    assert [(p.paper_id, why.startswith("a gain")) for p, why, _ in res.excluded] == [("d", True)]


def test_best_follows_the_metric_direction(lexicon):
    papers = {p: _paper(p) for p in "abc"}
    claims = [_claim(p, v, metric="FID", unit="", direction="lower", dataset="ImageNet") for p, v in
              (("a", 3.2), ("b", 1.9), ("c", 7.5))]
    res = run_table(_query("What is the best FID on ImageNet?", lexicon), claims, papers, {})
    assert [c.paper_id for c, _, _ in res.rows] == ["b", "a", "c"]


def test_without_extra_data_keeps_those_that_say_so_and_lists_the_rest(lexicon):
    papers = {p: _paper(p) for p in "abc"}
    claims = [_claim(p, v, compared_with="ResNet-50") for p, v in (("a", 80.7), ("b", 81.2), ("c", 79.0))]
    flags = {"a": {"no_extra_data"}, "b": {"extra_data"}}
    res = run_table(_query("which methods beat ResNet-50 without extra data?", lexicon), claims, papers, flags)
    assert [c.paper_id for c, _, _ in res.rows] == ["a"]
    assert [(p.paper_id, why) for p, why, _ in res.excluded] == [
        ("b", "uses extra training data"), ("c", "does not say whether it uses extra data")]


def test_beat_without_a_number_reads_the_sentences_of_the_papers_that_say_the_baseline(lexicon):
    """Besides claims compared with X: a paper saying it outperforms X (even misspelt: fuzzy),
    one boosting X itself; a paper never saying X is not considered, one saying it without
    beating it is considered but gives no row."""
    def paper(pid: str, title: str, *sentences: str) -> Paper:
        return Paper(paper_id=pid, title=title, abstracts=[" ".join(sentences)])

    papers = {p.paper_id: p for p in [
        paper("verb", "A new net", "We study nets.", "Our model outperforms ResNet-50 by a wide margin."),
        paper("typo", "Another net", "Our network outperforms Resnt-50 on every split."),
        paper("boost", "Boosting vanilla ResNet-50 to 80%+", "A recipe.", "It reaches 80.7% with ResNet-50."),
        paper("said", "A survey", "ResNet-50 is a common backbone.", "We outperform prior work."),
        paper("never", "Unrelated", "We outperform VGG-16 on CIFAR-10.")]}
    claims = [_claim("boost", 80.7, method="ResNet-50", sentence="It reaches 80.7% with ResNet-50.")]
    res = run_table(_query("which methods beat ResNet-50?", lexicon), claims, papers, {})
    assert {p.paper_id for _, p, _ in res.rows} == {"verb", "typo", "boost"}
    assert res.considered == 4  # all but "never"
    # a sentence ending in most of a baseline's name is read (its last, shorter window is
    # similar enough), though no window of the whole abstract is
    tail = paper("tail", "A net", "Our model outperforms the Transformer. Results follow.")
    res = run_table(_query("which models beat Transformer-XL?", lexicon), [], {"tail": tail}, {})
    assert [p.paper_id for _, p, _ in res.rows] == ["tail"] and res.considered == 1


def test_a_baseline_is_mentioned_where_a_window_of_its_words_is_88_similar(corpus):
    """rapidfuzz's batch over the windows finds what one fuzz.ratio per window finds."""
    from rapidfuzz import fuzz

    from rag.table import _mentions_baseline
    from rag.text import name_key

    def one_by_one(text: str, baseline: str) -> bool:
        key, b = name_key(text), name_key(baseline)
        if b in key:
            return True
        if len(b) < 6:
            return False
        words, n = key.split(), len(b.split())
        return any(fuzz.ratio(" ".join(words[i:i + n]), b.strip()) >= 88 for i in range(len(words)))

    texts = [p.abstract for p in corpus.papers[:150]] + ["", "ResNet", "ResNeXt-50 (32x4d) wins", "Resnet 5"]
    found = 0
    for baseline in ["ResNet-50", "Transformer", "EfficientNet-B7", "Mask R-CNN", "BERT", "vision transformer ViT-B/16"]:
        for text in texts:
            want = one_by_one(text, baseline)
            assert _mentions_baseline(text, baseline) == want, (baseline, text[:60])
            found += want
            if want or any(one_by_one(s, baseline) for s in split_sentences(text)):  # loose: any part of it
                assert _mentions_baseline(text, baseline, loose=True), (baseline, text[:60])
    assert found > 20


# ----------------------------------------------------------------------------- end to end
def test_table_answer_rows_are_cited_and_verbatim(service):
    a = service.ask("Which papers report more than 80% top-1 accuracy on ImageNet?")
    assert a.table and not a.abstained
    by_n = {c.n: c for c in a.citations}
    for r in a.table:
        assert by_n[r.n].paper_id == r.paper_id and r.value in r.quote
        assert float(r.value) > 80 and r.unit == "%"
        assert r.quote in split_sentences(service.paper(r.paper_id).abstract)
    assert "report top-1 accuracy" in a.text and f"[{a.table[0].n}]" in a.text
    plain = service.ask("What does DenseNet connect?")
    assert plain.table == []


def test_a_table_question_reads_the_papers_of_its_rows_not_every_paper(service):
    tables = service.tables()
    store = tables.papers
    store._cache.clear()
    result = tables.run(tables.query(service.retriever.plan("Which papers report more than 80% top-1 accuracy on ImageNet?")))
    read = {store.ids[r] for r in store._cache}
    assert result.rows and {p.paper_id for _, p, _ in result.rows} | {p.paper_id for p, _, _ in result.excluded} <= read
    assert len(read) < len(store) / 4
    # "beat X" looks at every paper, by the name keys the index keeps: it parses those saying X
    store._cache.clear()
    result = tables.run(tables.query(service.retriever.plan("which methods beat ResNet-50 without extra data?")))
    assert result.rows and result.considered > len(result.rows) and len(store._cache) < len(store) / 4
    from rag.text import name_key
    r = service.retriever
    assert all(r.abstract_key(p.paper_id) == name_key(p.abstract) for p in store.all())  # kept key less the title's


def test_cli_claims_and_ask_json_table(service, capsys, monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", str(service.settings.index_dir))
    assert cli(["claims", "--dataset", "ImageNet", "--metric", "top-1", "--min", "85", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and all(float(r["value"]) >= 85 and "top-1" in r["metric"] for r in rows)
    assert cli(["ask", "--json", "What is the best ImageNet top-1 accuracy reported in the collection, and by which model?"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["table"] and {"n", "paper_id", "method", "dataset", "metric", "value", "unit", "compared_with", "flags",
                             "quote"} <= set(out["table"][0])
    values = [float(r["value"]) for r in out["table"]]
    assert values == sorted(values, reverse=True)
    assert {r["paper_id"] for r in out["table"]} <= {c["paper_id"] for c in out["citations"]}


def test_llm_receives_the_rows_as_structured_context(service, openai_server, tmp_path):
    seen = {}

    def reply(body):
        seen["prompt"] = body["messages"][-1]["content"]
        return "The highest is in source [1]."
    openai_server.state.reply = reply
    settings = make_settings(tmp_path, index_dir=service.settings.index_dir, llm="openai",
                             openai_base_url=openai_server.base_url, openai_api_key="sk-test", llm_max_retries=0)
    a = RagService(settings).ask("What is the best ImageNet top-1 accuracy reported in the collection?")
    assert a.backend == "openai" and a.table
    assert "Result rows extracted from these sources" in seen["prompt"]
    first = json.loads(seen["prompt"].split("list every qualifying row:\n", 1)[1].splitlines()[0])
    assert first["value"] == a.table[0].value and first["n"] == 1


def test_a_paper_is_known_by_the_acronyms_it_gives_its_own_names():
    from rag.lexicon import paper_names

    assert "OFA" in paper_names("Once-for-All: Train One Network", "We train a once-for-all (OFA) network. OFA is fast.")
    names = paper_names("Early Prediction of Battery Life",
                        "An interpretable model of flexible parallel neural network (FPNN) is proposed. "
                        "It uses a convolutional neural network (CNN) inside.")
    assert "FPNN" in names and "CNN" not in names
