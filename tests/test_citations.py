from rag.citations import cited_numbers, drop_invalid, parse_markers, sentences_with_citations


def test_parse_markers_edge_cases():
    text = "A [1]. B [2, 3]. C [4-6]. D [2][7]. E [a]. F [8](http://x). G [3–4]."
    assert [m.numbers for m in parse_markers(text)] == [(1,), (2, 3), (4, 5, 6), (2,), (7,), (3, 4)]
    assert cited_numbers(text) == [1, 2, 3, 4, 5, 6, 7]
    assert cited_numbers("no citations here") == []
    assert cited_numbers("[1,1, 1]") == [1]


def test_absurd_range_is_not_expanded():
    assert parse_markers("[1-9999]")[0].numbers == (1, 9999)


def test_drop_invalid_removes_only_bad_numbers():
    text, dropped = drop_invalid("X works [1]. Y too [2, 9]. Z [0].", 3)
    assert text == "X works [1]. Y too [2]. Z."
    assert dropped == [9, 0]
    same, none = drop_invalid("fine [1].", 1)
    assert same == "fine [1]." and none == []


def test_sentences_with_citations():
    pairs = sentences_with_citations("DenseNet reuses features [1]. It needs fewer parameters [1, 2].\n\nOther [3].")
    assert pairs == [("DenseNet reuses features.", [1]), ("It needs fewer parameters.", [1, 2]), ("Other.", [3])]
