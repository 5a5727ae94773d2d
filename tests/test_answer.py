from __future__ import annotations

import pytest

from rag.answer import missing_terms, specific_terms
from rag.citations import sentences_with_citations
from rag.errors import QuestionError
from rag.prompts import ABSTAIN_PHRASE


def test_resnet50_question_cites_papers_that_make_the_claim(service):
    a = service.ask("which methods beat ResNet-50 without extra data?")
    assert not a.abstained and a.backend == "extractive"
    cited = {c.paper_id for c in a.citations}
    assert any(pid.startswith("meal-v2") for pid in cited)
    meal = next(c for c in a.citations if c.paper_id.startswith("meal-v2"))
    assert "ResNet-50" in meal.quote and "80%" in meal.quote


def test_every_sentence_is_a_verbatim_quote_of_a_cited_source(service):
    for q in ["How does DenseNet reduce the number of parameters?",
              "What information transfer rate does the SSVEP deep network reach?",
              "which papers study data-free quantization?"]:
        a = service.ask(q)
        assert not a.abstained, q
        by_n = {c.n: service.retriever.index.papers[c.paper_id] for c in a.citations}
        for sentence, nums in sentences_with_citations(a.text):
            assert nums, sentence
            assert any(sentence.rstrip(".") in " ".join(by_n[n].abstract.split()) for n in nums), sentence


def test_ssvep_answer_has_the_numbers(service):
    a = service.ask("What information transfer rate does the SSVEP deep network reach?")
    assert "265.23 bits/min" in a.text
    assert a.citations[0].paper_id == "a-deep-neural-network-for-ssvep-based-brain-computer-interfaces"


@pytest.mark.parametrize("question", [
    "What does DeepCache get on SDXL?",
    "What FID does DeepCache reach on MS-COCO?",
    "What is the capital of France?",
])
def test_abstains_when_the_collection_does_not_say(service, question):
    a = service.ask(question)
    assert a.abstained
    assert a.text.startswith(ABSTAIN_PHRASE)
    assert not a.citations


def test_abstention_names_closest_papers(service):
    a = service.ask("What does DeepCache get on SDXL?")
    assert "SDXL" in a.text and "DeepCache: Accelerating Diffusion Models for Free" in a.text


def test_specific_terms():
    assert specific_terms("What does DeepCache get on SDXL?") == ["DeepCache", "SDXL"]
    assert specific_terms("which methods beat ResNet-50 without extra data?") == ["ResNet-50"]
    assert specific_terms("How do CNNs and transformers differ?") == []
    assert specific_terms("accuracy on CIFAR-10 and ImageNet") == ["CIFAR-10", "ImageNet"]


def test_missing_terms_ignore_case_and_hyphens(service):
    hits = service.search("ResNet50 ImageNet accuracy", top_k=5)
    assert missing_terms("ResNet50 on imagenet", hits) == []


def test_bad_questions_are_refused_clearly(service):
    with pytest.raises(QuestionError, match="empty"):
        service.ask("   ")
    with pytest.raises(QuestionError, match="limit is 2000"):
        service.ask("why " * 600)
