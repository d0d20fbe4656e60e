"""Sentence boundaries: every quote an answer gives is one or more of these sentences."""

from __future__ import annotations

import pytest

from clausewise.text import sentence_spans


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_a_full_stop_without_the_space_scraping_dropped_still_ends_a_sentence() -> None:
    text = "Look at your browser's Help Menu to modify your cookies.If you turn cookies off, some features will be disabled."

    assert sentences(text) == ["Look at your browser's Help Menu to modify your cookies.",
                               "If you turn cookies off, some features will be disabled."]


@pytest.mark.parametrize(
    "text",
    ["Write to us, e.g. Kipsu Inc. at its office.", "Our site is kim.cc and www.kipsu.com for guests.",
     "Data stays in the U.S. under our terms."],
)
def test_abbreviations_and_domain_names_do_not_end_a_sentence(text: str) -> None:
    assert sentences(text) == [text]


def test_offsets_slice_the_original_text_back() -> None:
    text = "We keep data.It is deleted later. 我们保留数据。之后删除。"

    spans = sentence_spans(text)

    assert [text[a:b] for a, b in spans] == ["We keep data.", "It is deleted later.", "我们保留数据。", "之后删除。"]
