"""The data model shared by ingest, rag, ui and cli. Offsets always index the ORIGINAL file text."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DocumentInfo:
    """What the manifest (or inference) says about one policy document."""

    doc_id: str
    vendor: str
    source_file: str
    title: str = ""
    aliases: tuple[str, ...] = ()
    effective_date: str = ""
    languages: tuple[str, ...] = ("en",)
    notes: str = ""
    inferred: bool = False  # vendor was guessed from the text / file name, not from the manifest


@dataclass(frozen=True)
class Document:
    """A loaded policy: its metadata and the full original text that offsets point into."""

    info: DocumentInfo
    path: Path
    raw_text: str
    file_hash: str


@dataclass(frozen=True)
class Clause:
    """The natural citable unit: a numbered item, a paragraph under a heading or a list item."""

    doc_id: str
    clause_id: str
    section_path: tuple[str, ...]
    lang: str
    start: int
    end: int
    text: str  # raw_text[start:end] with whitespace normalised


@dataclass(frozen=True)
class Chunk:
    """What gets embedded and retrieved: one clause, or a few tiny neighbours, or part of a long one."""

    chunk_id: str
    doc_id: str
    vendor: str
    lang: str
    section_path: tuple[str, ...]
    clause_ids: tuple[str, ...]
    start: int
    end: int
    text: str
    embed_text: str  # headings + text: the contextual string that is embedded and BM25-indexed
    content_hash: str

    @property
    def clause_id(self) -> str:
        return self.clause_ids[0]


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk with its fused score and the component scores.

    `score` orders the results. `hybrid` is the fusion of the main model's similarity (`dense`) and BM25 (`lexical`)
    alone, where `score` also blends in the multilingual model (an English question, `english_blend`): sentence
    choice weighs the clause by `hybrid_score`, the scale it was calibrated on."""

    chunk: Chunk
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    hybrid: float | None = None

    @property
    def hybrid_score(self) -> float:
        return self.score if self.hybrid is None else self.hybrid


@dataclass(frozen=True)
class Citation:
    """One `[n]` of an answer: the exact span of the original policy file it points at."""

    n: int
    vendor: str
    document: str
    section: str
    clause_id: str
    quote: str
    start: int
    end: int
    url: str
    effective_date: str = ""


@dataclass
class Answer:
    """A grounded answer. `refused` means the policy does not say; `related` are the nearest clauses then."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    backend: str = "extractive"
    backend_reason: str = ""
    refused: bool = False
    vendors: list[str] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    weak_matches: list[str] = field(default_factory=list)  # vendors whose answer only just passed the refusal check

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ComparisonRow:
    vendor: str
    stated: bool
    answer: Answer


@dataclass
class Comparison:
    question: str
    rows: list[ComparisonRow] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "rows": [{"vendor": r.vendor, "stated": r.stated, "answer": r.answer.to_dict()} for r in self.rows],
        }
