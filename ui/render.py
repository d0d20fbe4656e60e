"""Pure HTML/CSV/Markdown rendering for the UI.

Every string that comes from a policy, an upload, the user or a model passes through `esc()`; only the
markup written literally in this module is raw HTML. Nothing here imports gradio, so it is cheap to test.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from clausewise.types import Answer, Chunk, Citation, Comparison, DocumentInfo

NOT_STATED = "Not stated in this policy"
_MARKER = re.compile(r"\[(\d{1,3})\]")


def esc(value: object) -> str:
    """HTML-escape anything (quotes included, so the result is safe inside attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


# ---- links --------------------------------------------------------------------------------------------
def deep_link(doc_id: str, clause_id: str = "", start: int | None = None, end: int | None = None, base: str = "") -> str:
    """The viewer deep link `<base>/?doc=..&clause=..[&start=..&end=..]`."""
    url = f"{base.rstrip('/')}/?doc={quote(doc_id, safe='')}"
    if clause_id:
        url += f"&clause={quote(clause_id, safe='/')}"
    if start is not None and end is not None:
        url += f"&start={int(start)}&end={int(end)}"
    return url


def citation_href(citation: Citation, base: str = "") -> str:
    """The citation's own deep link when it is a plain http(s)/relative URL, else one built from its fields."""
    url = (citation.url or "").strip()
    scheme = urlsplit(url).scheme.lower() if url else ""
    if not url or scheme not in ("", "http", "https") or url.startswith("//"):
        return deep_link(citation.document, citation.clause_id, citation.start, citation.end, base)
    if "start=" not in url and citation.end > citation.start:
        url += f"{'&' if '?' in url else '?'}start={citation.start}&end={citation.end}"
    return url


def cite_anchor(citation: Citation, label: str, base: str = "", css: str = "cw-cite") -> str:
    """An <a> that opens the clause: in-page through the click handler, or as a normal link in a new tab."""
    title = f"{citation.vendor} — {citation.section}" if citation.section else citation.vendor
    return (
        f'<a class="{css}" href="{esc(citation_href(citation, base))}" data-doc="{esc(citation.document)}" '
        f'data-clause="{esc(citation.clause_id)}" data-start="{int(citation.start)}" data-end="{int(citation.end)}" '
        f'title="{esc(title)}">{label}</a>'
    )


def link_markers(text: str, citations: list[Citation], base: str = "") -> str:
    """Escape `text` and turn each `[n]` that has a citation into a link to it."""
    by_n = {c.n: c for c in citations}
    out, pos = [], 0
    for match in _MARKER.finditer(text):
        out.append(esc(text[pos : match.start()]))
        n = int(match.group(1))
        out.append(cite_anchor(by_n[n], f"[{n}]", base) if n in by_n else esc(match.group(0)))
        pos = match.end()
    out.append(esc(text[pos:]))
    return "".join(out)


# ---- chat ---------------------------------------------------------------------------------------------
@dataclass
class Turn:
    """One question and its (streaming, then final) answer, kept in the session's gr.State."""

    question: str
    vendor: str | None = None
    status: str = ""
    draft: str = ""
    answer: Answer | None = None
    error: str = ""


def _notices(notices: list[str]) -> str:
    if not notices:
        return ""
    items = "".join(f"<li>{esc(n)}</li>" for n in notices)
    return f'<div class="cw-notice" role="status"><strong>Note</strong><ul>{items}</ul></div>'


def render_turn(turn: Turn, base: str = "") -> str:
    parts = [f'<div class="cw-turn"><div class="cw-q"><span class="cw-who">You</span>{esc(turn.question)}'
             + (f' <span class="cw-scope">(vendor: {esc(turn.vendor)})</span>' if turn.vendor else "") + "</div>"]
    answer = turn.answer
    if turn.error:
        parts.append(f'<div class="cw-a cw-error" role="alert"><span class="cw-who">clausewise</span>{esc(turn.error)}</div>')
    elif answer is None:
        status = f'<div class="cw-status">{esc(turn.status or "Thinking…")}</div>'
        parts.append(f'<div class="cw-a cw-streaming"><span class="cw-who">clausewise</span>{status}'
                     f'<div class="cw-text">{esc(turn.draft)}</div></div>')
    else:
        css = "cw-a cw-final" + (" cw-refused" if answer.refused else "")
        body = link_markers(answer.text, answer.citations, base)
        meta = []
        if answer.vendors:
            meta.append(f'Vendor(s): <span class="cw-vendors">{esc(", ".join(answer.vendors))}</span>')
        backend = answer.backend + (f" ({answer.backend_reason})" if answer.backend_reason else "")
        meta.append(f'Backend: <span class="cw-backend">{esc(backend)}</span>')
        if answer.citations:
            meta.append(f"{len(answer.citations)} source(s)")
        parts.append(f'<div class="{css}"><span class="cw-who">clausewise</span><div class="cw-text">{body}</div>'
                     f'{_notices(answer.notices)}<div class="cw-meta">{" · ".join(meta)}</div></div>')
    parts.append("</div>")
    return "".join(parts)


def render_chat(turns: list[Turn], base: str = "") -> str:
    if not turns:
        return ('<div class="cw-chat cw-empty">Ask a question about the privacy policies in the library, '
                "e.g. <em>How long does Kipsu retain data?</em> Every answer cites the exact clauses it used.</div>")
    return '<div class="cw-chat">' + "".join(render_turn(t, base) for t in turns) + "</div>"


def _source_item(citation: Citation, base: str) -> str:
    date = f'<span class="cw-date">effective {esc(citation.effective_date)}</span>' if citation.effective_date else ""
    return (
        f'<li class="cw-source" id="cw-source-{citation.n}">'
        f'<div class="cw-source-head">{cite_anchor(citation, f"[{citation.n}]", base)} '
        f'<strong>{esc(citation.vendor)}</strong> — <span class="cw-section">{esc(citation.section or "(untitled section)")}</span> {date}</div>'
        f'<blockquote class="cw-quote">{esc(citation.quote)}</blockquote>'
        f'<div class="cw-source-link">{cite_anchor(citation, "Open in policy viewer", base, "cw-cite cw-open")} · '
        f'<span class="cw-docid">{esc(citation.document)} / {esc(citation.clause_id)}</span></div></li>'
    )


def render_sources(answer: Answer | None, base: str = "") -> str:
    if answer is None:
        return '<div class="cw-sources cw-empty">Sources of the latest answer appear here.</div>'
    parts = ['<div class="cw-sources">']
    if answer.citations:
        parts.append("<h4>Sources</h4><ol class=\"cw-source-list\">")
        parts.extend(_source_item(c, base) for c in answer.citations)
        parts.append("</ol>")
    if answer.related:
        parts.append("<h4>Closest clauses (they do not answer the question)</h4><ol class=\"cw-source-list cw-related\">")
        parts.extend(_source_item(c, base) for c in answer.related)
        parts.append("</ol>")
    if not answer.citations and not answer.related:
        parts.append("<p>No clauses were cited.</p>")
    parts.append("</div>")
    return "".join(parts)


# ---- policy viewer ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    start: int
    end: int
    section: str = ""
    exact: bool = True  # False when the clause could not be located and nothing is highlighted


def locate_clause(chunks: list[Chunk], clause_id: str) -> Span | None:
    """The [start, end) of a clause: the union of the chunks that contain it."""
    hits = [c for c in chunks if clause_id in c.clause_ids]
    if not hits:
        return None
    return Span(min(c.start for c in hits), max(c.end for c in hits), " › ".join(hits[0].section_path))


def parse_int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def heading_spans(raw_text: str, chunks: list[Chunk]) -> list[tuple[int, int, int]]:
    """(start, end, level) of lines that are section headings of the document's chunks, in order."""
    titles: dict[str, int] = {}
    for chunk in chunks:
        for level, title in enumerate(chunk.section_path, start=1):
            key = re.sub(r"\s+", " ", title).strip().lower()
            if key:
                titles.setdefault(key, level)
    if not titles:
        return []
    spans, offset = [], 0
    for line in raw_text.splitlines(keepends=True):
        stripped = line.strip()
        key = re.sub(r"\s+", " ", stripped).lower()
        if key and len(key) <= 200:
            level = titles.get(key) or titles.get(re.sub(r"^[\d.]+\)?\s*", "", key))
            if level:
                lead = len(line) - len(line.lstrip())
                spans.append((offset + lead, offset + lead + len(stripped), level))
        offset += len(line)
    return spans


def _marked_text(raw: str, a: int, b: int, headings: list[tuple[int, int, int]]) -> str:
    """raw[a:b], escaped, with the heading lines that lie wholly inside it wrapped."""
    out, pos = [], a
    for hs, he, level in headings:
        if hs < a or he > b:
            continue
        out.append(esc(raw[pos:hs]))
        out.append(f'<span class="cw-h cw-h{min(level, 3)}" id="cw-h-{hs}">{esc(raw[hs:he])}</span>')
        pos = he
    out.append(esc(raw[pos:b]))
    return "".join(out)


def render_document(info: DocumentInfo | None, raw_text: str, chunks: list[Chunk], span: Span | None,
                    link: str = "", message: str = "") -> str:
    """One policy's full original text, structure kept, the cited span in <mark id="cited">."""
    if info is None:
        text = message or "Choose a document, or click a citation in the Chat tab."
        return f'<div class="cw-viewer cw-empty">{esc(text)}</div>'
    headings = heading_spans(raw_text, chunks)
    meta = [f"<strong>{esc(info.vendor)}</strong>", esc(info.title or info.source_file)]
    meta.append(f"effective {esc(info.effective_date)}" if info.effective_date else "no effective date stated")
    meta.append(f"source file {esc(info.source_file)}")
    if info.languages:
        meta.append(f"languages {esc(', '.join(info.languages))}")
    head = f'<div class="cw-doc-meta">{" · ".join(meta)}</div>'
    note = f'<div class="cw-notice" role="status">{esc(message)}</div>' if message else ""
    if span is not None and 0 <= span.start < span.end <= len(raw_text):
        cited = (f'<div class="cw-cited-meta">Cited clause: <span class="cw-section">{esc(span.section or "(section)")}</span>'
                 f' · characters {span.start}–{span.end}'
                 + (f' · <a class="cw-permalink" href="{esc(link)}" target="_blank" rel="noopener">link to this clause</a>' if link else "")
                 + "</div>")
        body = (_marked_text(raw_text, 0, span.start, headings) + '<mark id="cited" class="cw-mark">'
                + _marked_text(raw_text, span.start, span.end, headings) + "</mark>"
                + _marked_text(raw_text, span.end, len(raw_text), headings))
    else:
        cited = ""
        body = _marked_text(raw_text, 0, len(raw_text), headings)
    toc = ""
    if headings:
        items = "".join(f'<li class="cw-toc-l{min(level, 3)}"><a href="#cw-h-{hs}" data-target="cw-h-{hs}">{esc(raw_text[hs:he])}</a></li>'
                        for hs, he, level in headings)
        toc = f'<details class="cw-toc"><summary>Sections ({len(headings)})</summary><ul>{items}</ul></details>'
    return (f'<div class="cw-viewer" data-doc="{esc(info.doc_id)}">{head}{note}{cited}{toc}'
            f'<div class="cw-doc" lang="{esc((info.languages or ("en",))[0])}">{body}</div></div>')


def query_target(query: dict[str, str] | str) -> tuple[str, str, int | None, int | None]:
    """(doc, clause, start, end) from a query string or mapping of deep-link parameters."""
    parsed = {k: v[0] for k, v in parse_qs(query.lstrip("?")).items() if v} if isinstance(query, str) else dict(query)
    return (parsed.get("doc", "").strip(), parsed.get("clause", "").strip(),
            parse_int(parsed.get("start")), parse_int(parsed.get("end")))


# ---- library ------------------------------------------------------------------------------------------
LIBRARY_COLUMNS = ["Vendor", "Document", "Title", "Effective date", "Languages", "Chunks", "Status", "Origin"]


def render_library(rows: list[dict], base: str = "", message: str = "") -> str:
    """The documents table; each document id opens the document in the viewer."""
    if not rows:
        text = message or "The library is empty: run `clausewise ingest corpus/` or upload a policy below."
        return f'<div class="cw-library cw-empty">{esc(text)}</div>'
    head = "".join(f"<th>{esc(c)}</th>" for c in LIBRARY_COLUMNS)
    body = []
    for r in rows:
        link = (f'<a class="cw-cite cw-open" href="{esc(deep_link(r["doc_id"], base=base))}" data-doc="{esc(r["doc_id"])}" '
                f'data-clause="" data-start="" data-end="" title="Open in the policy viewer">{esc(r["doc_id"])}</a>')
        cells = [esc(r["vendor"]), link, esc(r["title"]), esc(r["effective_date"] or "—"), esc(r["languages"]),
                 str(int(r["chunks"])), esc(r["status"]), esc(r["origin"])]
        body.append(f'<tr class="cw-row" data-doc="{esc(r["doc_id"])}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f'<div class="cw-library"><table class="cw-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table><div class="cw-dim">{len(rows)} document(s)</div></div>')


# ---- compare ------------------------------------------------------------------------------------------
def _short(text: str) -> str:
    prefix = f"{NOT_STATED}."
    return text[len(prefix):].strip() if text.startswith(prefix) else text


def render_comparison(comparison: Comparison | None, base: str = "", message: str = "") -> str:
    if comparison is None:
        text = message or "Ask one question of several vendors: one row per vendor, each with its cited clauses."
        return f'<div class="cw-compare cw-empty">{esc(text)}</div>'
    rows = []
    for row in comparison.rows:
        answer = row.answer
        if row.stated:
            cell = f'<div class="cw-text">{link_markers(answer.text, answer.citations, base)}</div>'
            links = " ".join(cite_anchor(c, f"[{c.n}] {esc(c.section or c.clause_id)}", base) for c in answer.citations)
        else:
            rest = _short(answer.text)
            cell = (f'<div class="cw-not-stated"><strong>{NOT_STATED}</strong></div>'
                    + (f'<div class="cw-text cw-dim">{esc(rest)}</div>' if rest and rest != answer.text else ""))
            links = " ".join(cite_anchor(c, f"closest: {esc(c.section or c.clause_id)}", base, "cw-cite cw-related")
                             for c in answer.related[:2])
        rows.append(f'<tr class="cw-row" data-vendor="{esc(row.vendor)}" data-stated="{str(row.stated).lower()}">'
                    f'<th scope="row">{esc(row.vendor)}</th><td>{cell}{_notices(answer.notices)}</td>'
                    f'<td class="cw-links">{links or "—"}</td></tr>')
    return (f'<div class="cw-compare"><div class="cw-compare-q">Question: <strong>{esc(comparison.question)}</strong></div>'
            '<table class="cw-table"><thead><tr><th>Vendor</th><th>Answer</th><th>Sources</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>{esc(message) if message else ""}</div>')


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in exported cells."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _sources_line(citations: list[Citation], base: str) -> str:
    return "; ".join(f"[{c.n}] {c.section or c.clause_id} <{citation_href(c, base)}>" for c in citations)


def comparison_csv(comparison: Comparison, base: str = "") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["question", "vendor", "stated", "answer", "sources", "quotes"])
    for row in comparison.rows:
        answer = row.answer
        cites = answer.citations if row.stated else []
        text = answer.text if row.stated else NOT_STATED
        writer.writerow([_cell(v) for v in (
            comparison.question, row.vendor, "yes" if row.stated else "no", text,
            _sources_line(cites, base), " | ".join(f"[{c.n}] {c.quote}" for c in cites))])
    return buffer.getvalue()


def _md(value: str) -> str:
    value = re.sub(r"\s+", " ", value).strip()
    return re.sub(r"([\\|`*_\[\]<>#])", r"\\\1", value)


def comparison_markdown(comparison: Comparison, base: str = "") -> str:
    lines = [f"# Comparison: {_md(comparison.question)}", "", "| Vendor | Answer | Sources |", "|---|---|---|"]
    for row in comparison.rows:
        answer = row.answer
        if row.stated:
            text = _md(answer.text)
            sources = "<br>".join(f"[\\[{c.n}\\] {_md(c.section or c.clause_id)}]({citation_href(c, base)})" for c in answer.citations)
        else:
            text, sources = f"**{NOT_STATED}**", "—"
        lines.append(f"| {_md(row.vendor)} | {text} | {sources or '—'} |")
    quotes = [(row.vendor, c) for row in comparison.rows if row.stated for c in row.answer.citations]
    if quotes:
        lines += ["", "## Quoted clauses", ""]
        lines += [f"- **{_md(v)} [{c.n}]** {_md(c.section)}: {_md(c.quote)}" for v, c in quotes]
    return "\n".join(lines) + "\n"
