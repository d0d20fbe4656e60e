"""A generative model's answer: the clauses it reads (whole lists, fitted to its context), its streamed draft, and the
check that keeps only the sentences the clauses it cites support. Side effects: the model call, notices on the Answer.

Also the two small types every answer path shares: `StreamEvent` (what `Engine.ask_stream` yields) and `Draft` (an
answer's text, citations and refusal before the Answer is assembled).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from clausewise.types import Answer, Chunk, Citation, ScoredChunk
from ingest.chunk import section_label
from rag.backends.base import BackendError, Generator
from rag.evidence import with_list_items
from rag.prompts import PromptSource, build_messages, fit_to_context
from rag.verify import check_draft

CiteClause = Callable[[int, ScoredChunk, int, int], Citation]  # (number, clause, start, end) -> its Citation


@dataclass(frozen=True)
class StreamEvent:
    """kind: "status" (progress text), "token" (a delta of the draft) or "answer" (the final verified Answer)."""

    kind: str
    text: str = ""
    answer: Answer | None = None


@dataclass
class Draft:
    """An answer before it is assembled: its text, citations, whether it refuses, and the closest clauses shown with a
    refusal (`related`)."""

    text: str
    citations: list[Citation]
    refused: bool
    related: list[Citation]
    weak: dict[str, tuple[float, float]] = field(default_factory=dict)  # vendor -> (probability, threshold), for
    # answers that only just passed


def model_draft(generator: Generator, question: str, groups: dict[str, list[ScoredChunk]], following: dict[str, Chunk],
                vendor_words: set[str], cite: CiteClause, answer: Answer, timings: dict[str, float]
                ) -> Iterator[StreamEvent]:
    """Stream `generator`'s draft over each vendor's clauses (`groups`), then verify it sentence by sentence; returns the
    Draft, or None (with a notice on `answer`) when the extractive answer should be shown instead."""
    # a clause that introduces a list brings the list's items: the model, like the extractive answer, can give all of it
    found = [with_list_items(g, following) for g in groups.values()]
    # as many of each vendor's best clauses as fit the model's context (numbered 1, 2, … across vendors)
    fitted = fit_to_context(question, [[PromptSource(0, i.chunk.vendor, section_label(i.chunk.section_path), i.chunk.text)
                                        for i in g] for g in found], generator.prompt_budget)
    items = [i for g, kept in zip(found, fitted, strict=True) for i in g[: len(kept)]]
    sources = [s for kept in fitted for s in kept]
    if (total := sum(map(len, found))) > len(items):
        answer.notices.append(f"{generator.label} read the best {len(items)} of the {total} clauses found: the rest do "
                              f"not fit its context ({generator.context_setting} sets it).")
    t = time.perf_counter()
    pieces: list[str] = []
    try:
        for piece in generator.stream(build_messages(question, sources)):
            pieces.append(piece)
            yield StreamEvent("token", text=piece)
    except BackendError as exc:
        answer.notices.append(f"{generator.label} failed: {exc}. Showing the extractive answer instead.")
        answer.backend = "extractive"
        return None
    timings["generate"] = time.perf_counter() - t
    t = time.perf_counter()
    clauses = {n: i.chunk.text for n, i in enumerate(items, 1)}
    checked = check_draft("".join(pieces).strip(), clauses, vendor_words)
    timings["verify"] = time.perf_counter() - t
    supported = [c for c in checked if c.supported]
    dropped = len(checked) - len(supported)
    if not supported:
        refused = any(c.text and "does not say" in c.text.lower() for c in checked)
        note = "the model said the policy does not say" if refused else "the model's answer was not supported by the cited clauses"
        answer.notices.append(f"{note}; showing the extractive answer (the policy's own words) instead.")
        answer.backend = "extractive"
        return None
    if dropped:
        answer.notices.append(f"removed {dropped} sentence(s) of the model's answer that the cited clauses do not support")
    renumber: dict[int, int] = {}
    citations, sentences = [], []
    for c in supported:
        marks = []
        for n in c.citations:
            if n not in renumber:
                renumber[n] = len(renumber) + 1
                item = items[n - 1]
                citations.append(cite(renumber[n], item, item.chunk.start, item.chunk.end))
            marks.append(f"[{renumber[n]}]")
        sentences.append(f"{c.text} {''.join(marks)}")
    return Draft(" ".join(sentences), citations, False, [])
