"""Pure evaluation metrics: where gold evidence lies (Span) and how well a ranking or an answer covers it.

recall@k and recall@2000c read ranked chunk spans against gold groups (alternative spans of one piece of
evidence); citation precision and evidence coverage read an answer's cited spans; refusal accuracy and false refusals
read (answerable, refused) pairs. No I/O, no models: `clausewise eval` and `clausewise calibrate` both use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clausewise.text import normalize_ws

K_VALUES = (1, 3, 5, 10)
CHAR_BUDGET = 2000


@dataclass(frozen=True)
class Span:
    """A piece of one source file: [start, end) offsets into its text (start = -1: offsets unknown, match by text).

    For retrieved chunks, `text` is the exact slice file_text[start:end] when offsets are known.
    """

    source: str
    start: int
    end: int
    text: str = ""

    @property
    def has_offsets(self) -> bool:
        return self.start >= 0 and self.end >= self.start


def contains(chunk: Span, gold: Span) -> bool:
    """The retrieved chunk holds the whole gold span (by offsets, else by whitespace-normalised text)."""
    if chunk.source != gold.source:
        return False
    if chunk.has_offsets and gold.has_offsets:
        return chunk.start <= gold.start and gold.end <= chunk.end
    needle = normalize_ws(gold.text)
    return bool(needle) and needle in normalize_ws(chunk.text)


def kept_end(chunk: Span, budget: int) -> int:
    """The offset where the first `budget` whitespace-normalised characters of the chunk's text end."""
    if budget <= 0:
        return chunk.start
    if len(normalize_ws(chunk.text)) <= budget:
        return chunk.end
    low, high = 0, len(chunk.text)  # largest j with len(normalize_ws(text[:j])) <= budget (monotone in j)
    while low < high:
        mid = (low + high + 1) // 2
        if len(normalize_ws(chunk.text[:mid])) <= budget:
            low = mid
        else:
            high = mid - 1
    return chunk.start + low


def covered(pieces: Sequence[tuple[int, int]], gold: Span) -> bool:
    """Every non-space character of the gold span lies in one of the [start, end) pieces (of the same file)."""
    if gold.end <= gold.start:
        return False
    exact = len(gold.text) == gold.end - gold.start
    for offset in range(gold.start, gold.end):
        if exact and gold.text[offset - gold.start].isspace():
            continue
        if not any(a <= offset < b for a, b in pieces):
            return False
    return True


def hit_ranks(ranked: Sequence[Span], groups: Sequence[Sequence[Span]]) -> list[int | None]:
    """Per gold group (alternative spans of one piece of evidence): the smallest k such that the top k chunks hold
    one of its spans whole (together, when a quote runs over adjacent chunks); None when the ranking never does."""
    ranks: list[int | None] = []
    for group in groups:
        rank = None
        for i in range(1, len(ranked) + 1):
            if any(_found(ranked[:i], g, None) for g in group):
                rank = i
                break
        ranks.append(rank)
    return ranks


def _found(chunks: Sequence[Span], gold: Span, budget: int | None) -> bool:
    """`gold` is held by `chunks` (optionally cut to their first `budget` normalised characters in total)."""
    left = budget
    pieces: list[tuple[int, int]] = []
    for chunk in chunks:
        if left is not None and left <= 0:
            break
        if chunk.source == gold.source:
            if chunk.has_offsets and gold.has_offsets:
                pieces.append((chunk.start, chunk.end if left is None else kept_end(chunk, left)))
            elif _text_within(chunk, gold, left):
                return True
        if left is not None:
            left -= len(normalize_ws(chunk.text))
    return bool(pieces) and gold.has_offsets and covered(pieces, gold)


def _text_within(chunk: Span, gold: Span, budget: int | None) -> bool:
    """Fallback without offsets: the normalised gold text occurs in the (budget-cut) normalised chunk text."""
    needle, hay = normalize_ws(gold.text), normalize_ws(chunk.text)
    return bool(needle) and needle in (hay if budget is None else hay[:budget])


def budget_hits(ranked: Sequence[Span], groups: Sequence[Sequence[Span]], budget: int = CHAR_BUDGET) -> list[bool]:
    """Per gold group: held within the first `budget` characters of the ranked chunks' (normalised) text."""
    return [any(_found(ranked, g, budget) for g in group) for group in groups]


def recall_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Fraction of gold groups found in the top k (None when the question has no evidence)."""
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def reciprocal_rank(ranks: Sequence[int | None]) -> float | None:
    """1 / rank of the first chunk that holds any gold evidence; 0 when none does."""
    if not ranks:
        return None
    found = [r for r in ranks if r is not None]
    return 1.0 / min(found) if found else 0.0


def fraction(flags: Sequence[bool]) -> float | None:
    return sum(map(bool, flags)) / len(flags) if flags else None


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def overlap(a: Span, b: Span) -> int:
    if a.source != b.source or not (a.has_offsets and b.has_offsets):
        return 0
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def overlaps(a: Span, b: Span, min_fraction: float = 0.5) -> bool:
    """The spans share at least `min_fraction` of the shorter one (text containment when offsets are unknown)."""
    if a.source != b.source:
        return False
    if not (a.has_offsets and b.has_offsets):
        x, y = normalize_ws(a.text), normalize_ws(b.text)
        return bool(x and y) and (x in y or y in x)
    shorter = min(a.end - a.start, b.end - b.start)
    return shorter > 0 and overlap(a, b) >= min_fraction * shorter


def citation_precision(citations: Sequence[Span], groups: Sequence[Sequence[Span]]) -> float | None:
    """Fraction of cited spans that overlap some gold evidence (None without citations or without gold)."""
    gold = [g for group in groups for g in group]
    if not citations or not gold:
        return None
    return sum(1 for c in citations if any(overlaps(c, g) for g in gold)) / len(citations)


def evidence_coverage(citations: Sequence[Span], groups: Sequence[Sequence[Span]]) -> float | None:
    """Fraction of gold evidence groups that some citation overlaps (None without gold)."""
    if not groups:
        return None
    return sum(1 for group in groups if any(overlaps(c, g) for c in citations for g in group)) / len(groups)


def refusal_accuracy(cases: Iterable[tuple[bool, bool]]) -> float | None:
    """Of the (answerable, refused) cases that are unanswerable: the fraction the system refused."""
    return fraction([refused for answerable, refused in cases if not answerable])


def false_refusal_rate(cases: Iterable[tuple[bool, bool]]) -> float | None:
    """Of the (answerable, refused) cases that are answerable: the fraction the system refused anyway."""
    return fraction([refused for answerable, refused in cases if answerable])


def vendor_correct(retrieved_vendors: Sequence[str], gold_vendors: Sequence[str]) -> bool | None:
    """Every retrieved clause comes from a vendor the question is about (None when the gold names no vendor)."""
    if not gold_vendors:
        return None
    return bool(retrieved_vendors) and all(v in gold_vendors for v in retrieved_vendors)


def interleave(lists: Sequence[Sequence]) -> list:
    """Round-robin merge: the first of each list, then the second of each, … (one ranking for several vendors)."""
    merged = []
    for i in range(max((len(x) for x in lists), default=0)):
        merged.extend(x[i] for x in lists if i < len(x))
    return merged
