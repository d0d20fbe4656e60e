"""Structure: join wrapped lines into blocks, detect headings, and emit Clauses with section paths.

Pure functions over the original text; every Clause keeps [start, end) offsets into it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from clausewise.text import detect_lang, normalize_ws, slugify
from clausewise.types import Clause
from ingest.clean import Line, split_lines

SENTENCE_END = re.compile(r"[.!?;。！？；…]['\")\]”’]*$")
BULLET = re.compile(r"^(?:[•·▪●◦\-*–]\s+|\(?[a-z]\)\s+|\(?[ivx]+\)\s+)")
NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)(?:\.|\))?(?=\s|[^\d\s.])\s*")
KEY_VALUE = re.compile(r"^[^:]{1,40}:\s+\S")  # "Effective Date: 2024-03-15", "Attn: Privacy Officer"
MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(?=\S)")  # "## Data we collect" in .md files
# "(a) comply ..." at the start of a line after "... necessary to" is a wrapped inline enumeration, not a list item
INLINE_ENUMERATOR = re.compile(r"^\(?(?:[a-z]|[ivx]+)\)\s+")
MAX_HEADING_WORDS = 14
# A line ending in one of these words is a wrapped sentence, never a heading.
RUN_ON_WORDS = frozenset(
    ["a", "an", "the", "of", "to", "and", "or", "for", "with", "in", "on", "by", "at", "from", "as", "your", "our", "their", "its", "that", "which", "who", "whose", "than", "such", "including", "about", "into", "over", "under", "between", "is", "are", "be", "may", "can", "will"]
)
MAX_HEADING_CHARS = 100
# "Information You Give Us : We receive and store ..." — a heading run into its paragraph with a spaced colon (how
# scraped policies often join them); split back into the heading and its text
INLINE_HEADING = re.compile(rf"^((?:\d{{1,2}}\.\s+)?[A-Z][^.,:;!?]{{1,{MAX_HEADING_CHARS}}}?)\s+:\s+(?=\S)")


@dataclass
class Block:
    """Consecutive lines forming one heading, paragraph or list item."""

    lines: list[Line]
    kind: str = "text"  # text | heading | item
    level: int = 1
    number: str = ""
    navigation: bool = False

    @property
    def start(self) -> int:
        return self.lines[0].start

    @property
    def end(self) -> int:
        return self.lines[-1].end

    @property
    def text(self) -> str:
        return normalize_ws(" ".join(line.text for line in self.lines))


def is_list_item(text: str) -> bool:
    """A bullet ('•', '-', '(a)') or numbered ('2.1', '3.') line."""
    return bool(BULLET.match(text) or NUMBERED.match(text))


def _starts_upper(text: str) -> bool:
    first = text[:1]
    return bool(first) and (first.isupper() or first.isdigit() or bool(BULLET.match(text)) or detect_lang(first) == "zh")


def _heading_kind(line: Line, prev: Line | None, nxt: Line | None, after_break: bool) -> tuple[bool, int, str]:
    """Is this line a heading? Returns (is_heading, level, section number).

    `after_break` is True after a blank line, the start of the text or a heading.
    """
    text = line.text
    if markdown := MARKDOWN_HEADING.match(text):
        return True, len(markdown.group(1)), ""
    words = text.split()
    number_match = NUMBERED.match(text)
    number = number_match.group(1) if number_match else ""
    short = len(words) <= MAX_HEADING_WORDS and len(text) <= MAX_HEADING_CHARS
    if not short or detect_lang(text) == "zh" or BULLET.match(text):
        return False, 0, ""
    if re.search(r"[.,;]['\")”’]*$", text) and not (number and len(words) <= 6 and text.endswith(".")):
        return False, 0, ""  # ends like a sentence
    if words[-1].lower() in RUN_ON_WORDS:
        return False, 0, ""
    if KEY_VALUE.match(text) and not number:
        return False, 0, ""  # "Effective Date: 2024-03-15" is content, not a heading
    if re.search(r"@|https?://|www\.|\d{3,}", text) and not number:
        return False, 0, ""  # addresses, e-mails, phone numbers
    if not (after_break or prev is None or SENTENCE_END.search(prev.text) or prev.text.endswith(":")):
        return False, 0, ""  # the previous line runs on into this one
    if nxt is not None and not _starts_upper(nxt.text) and nxt.start - line.end <= 1:
        return False, 0, ""  # this line runs on into the next one
    if number:
        if text.endswith(":") and len(words) > 5:
            return False, 0, ""  # "1. We may employ ... for the following reasons:" introduces a list
        return True, number.count(".") + 1, number
    if text.endswith(":") and not text.endswith("?:"):
        # "Payment Information:" is a heading; "We may share it with:" before a list introduces the list
        return not (nxt is not None and is_list_item(nxt.text)), 2, ""
    return True, 1, ""


def _continues(prev: Line, line: Line) -> bool:
    """Hard-wrap detection: does `line` continue the sentence of `prev`?"""
    if INLINE_ENUMERATOR.match(line.text) and (prev.text.endswith(",") or prev.text.split()[-1].lower() in RUN_ON_WORDS):
        return True  # "... reasonably necessary to" + "(a) comply with ..., (b) ..." is one wrapped sentence
    if MARKDOWN_HEADING.match(line.text):
        return False
    if BULLET.match(line.text) or NUMBERED.match(line.text) and not prev.text.endswith(("and", "or", ",")):
        return False
    if SENTENCE_END.search(prev.text) or prev.text.endswith(":"):
        return False
    # "Last updated: Aug 9, 2023" stands alone
    return not (KEY_VALUE.match(prev.text) and len(prev.text.split()) <= 8 and _starts_upper(line.text))


def split_inline_headings(lines: list[Line]) -> list[Line]:
    """Lines starting a paragraph with "Heading : text" become a heading line and a text line (same offsets)."""
    out: list[Line] = []
    for i, line in enumerate(lines):
        match = INLINE_HEADING.match(line.text) if not line.chrome else None
        after_break = i == 0 or lines[i - 1].blank
        title = match.group(1) if match else ""
        if not (match and after_break and len(title.split()) <= MAX_HEADING_WORDS and title.split()[-1].lower() not in RUN_ON_WORDS):
            out.append(line)
            continue
        out.append(Line(line.start, line.start + len(title), title))
        out.append(Line(line.start + match.end(), line.end, line.text[match.end() :]))
    return out


def split_blocks(lines: list[Line]) -> list[Block]:
    """Group lines into blocks: blank lines and chrome separate; wrapped lines are joined."""
    content = [ln for ln in lines if not ln.chrome]
    blocks: list[Block] = []
    current: Block | None = None
    after_break = True
    for i, line in enumerate(content):
        if line.blank:
            current, after_break = None, True
            continue
        prev = content[i - 1] if i and not content[i - 1].blank else None
        nxt = next((ln for ln in content[i + 1 :] if not ln.blank), None)
        if current is not None and current.kind != "heading" and prev is not None and _continues(prev, line):
            current.lines.append(line)
            continue
        if current is not None and current.kind == "heading" and current.lines[-1].text.endswith(":"):
            is_heading, level, number = False, 0, ""  # the line after "Heading:" is its content
        else:
            is_heading, level, number = _heading_kind(line, prev, nxt, after_break)
        if is_heading:
            current = Block([line], kind="heading", level=level, number=number)
            blocks.append(current)
            after_break = True
            continue
        else:
            kind = "item" if BULLET.match(line.text) or NUMBERED.match(line.text) else "text"
            number_match = NUMBERED.match(line.text)
            current = Block([line], kind=kind, number=number_match.group(1) if number_match and kind == "item" else "")
        blocks.append(current)
        after_break = False
    return blocks


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9\u4e00-\u9fff]+", " ", BULLET.sub("", text).lower()).strip()


def mark_navigation(blocks: list[Block]) -> None:
    """A run of list items that mostly repeats later headings is a table of contents: navigation, not content."""
    heading_keys = [(i, _key(b.text)) for i, b in enumerate(blocks) if b.kind == "heading"]
    run: list[int] = []
    for i, block in enumerate([*blocks, Block([Line(0, 0, "")])]):
        if block.kind == "item" and i < len(blocks):
            run.append(i)
            continue
        hits = [j for j in run if any(h > j and key == _key(blocks[j].text) for h, key in heading_keys)]
        if run and len(hits) * 2 >= len(run):
            for j in run:
                blocks[j].navigation = True
        run = []


@dataclass
class _PathState:
    stack: list[tuple[int, str]] = field(default_factory=list)
    started: bool = False  # the first heading before any text is the document title, not a section
    title: str | None = None

    def push(self, level: int, title: str) -> None:
        self.stack = [(lv, t) for lv, t in self.stack if lv < level] + [(level, title)]

    def path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.stack)


def _clause_slug(path: tuple[str, ...], lang: str) -> str:
    words = [slugify(NUMBERED.sub("", p), max_words=5) for p in path if not re.fullmatch(r"[\d.]+", p)]
    words = [w for w in words if w]
    numbers = [p for p in path if re.fullmatch(r"[\d.]+", p)]
    base = words[-1] if words else "intro"
    if numbers:
        base = f"{base}-{numbers[-1].replace('.', '-')}" if words else f"s{numbers[-1].replace('.', '-')}"
    return f"{lang}-{base}" if lang != "en" else base


def extract_clauses(doc_id: str, raw_text: str) -> list[Clause]:
    """Split a policy's original text into citable clauses with section paths and offsets."""
    blocks = split_blocks(split_inline_headings(split_lines(raw_text)))
    mark_navigation(blocks)
    state = _PathState()
    clauses: list[Clause] = []
    slug_counts: Counter[str] = Counter()
    lang = "en"
    for block in blocks:
        if block.navigation:
            continue
        block_lang = detect_lang(block.text)
        if block_lang != lang:
            lang, state = block_lang, _PathState(started=True)  # a new language section starts afresh
        if block.kind == "heading":
            heading = MARKDOWN_HEADING.sub("", block.text).rstrip(":").strip()
            if state.started or (state.title is not None and heading.lower() != state.title.lower()):
                state.push(block.level, heading)  # "<h1>Title</h1><h2>Section</h2><p>..." keeps its section
            elif state.title is None:
                state.title = heading
            continue
        state.started = True
        path = state.path()
        if block.kind == "item" and block.number:
            path = path + (block.number,)
        slug = _clause_slug(path, lang)
        slug_counts[slug] += 1
        clauses.append(
            Clause(
                doc_id=doc_id,
                clause_id=f"{doc_id}/{slug}-{slug_counts[slug]}",
                section_path=path,
                lang=lang,
                start=block.start,
                end=block.end,
                text=block.text,
            )
        )
    return clauses
