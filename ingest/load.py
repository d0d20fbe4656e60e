"""Loaders for .txt/.md/.html/.pdf behind one interface, plus the corpus manifest."""

from __future__ import annotations

import hashlib
import html
import re
import tomllib
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from charset_normalizer import from_bytes

from clausewise.text import slugify
from clausewise.types import Document, DocumentInfo

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf")


class IngestError(Exception):
    """A user-readable reason why one file cannot be ingested."""


def decode_text(data: bytes, name: str) -> str:
    """Decode bytes to text, detecting the encoding; reject empty and binary content."""
    if not data.strip():
        raise IngestError(f"{name}: file is empty")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        matches = from_bytes(data)
        best = matches.best()
        if best is None:
            raise IngestError(f"{name}: cannot detect the text encoding (binary file?)") from None
        # cp1250/cp1252/... often tie on accented Western text; prefer Western European then ("naïve", not "naďve")
        tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
        return str(next((m for m in tied if m.encoding in ("cp1252", "latin_1", "iso8859_15")), best))


class _HtmlText(HTMLParser):
    """HTML → plain text keeping headings and block boundaries; drops scripts, styles and page chrome."""

    BLOCK = {"p", "div", "section", "article", "li", "tr", "br", "ul", "ol", "table", "blockquote", "pre", "dd", "dt"}
    HEADING = {"h1", "h2", "h3", "h4", "h5", "h6"}
    SKIP = {"script", "style", "nav", "header", "footer", "noscript", "template", "svg", "button", "form"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip_depth += 1
        elif tag in self.BLOCK or tag in self.HEADING:
            self.parts.append("\n\n")
            if tag == "li":
                self.parts.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in self.BLOCK or tag in self.HEADING:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = [line.strip() for line in joined.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def html_to_text(source: str) -> str:
    parser = _HtmlText()
    parser.feed(source)
    parser.close()
    return html.unescape(parser.text())


def _read_text(path: Path, data: bytes) -> str:
    return decode_text(data, path.name)


def _read_html(path: Path, data: bytes) -> str:
    text = html_to_text(decode_text(data, path.name))
    if not text.strip():
        raise IngestError(f"{path.name}: the HTML page contains no text")
    return text


MAX_PDF_PAGES = 500
# Decompressed page content (text operators) a PDF may carry: a dense text page is 5-100 KB. Text extraction costs
# seconds per MB, so a tiny file whose streams inflate to tens of MB (a decompression bomb) is refused up front.
MAX_PDF_PAGE_CONTENT_BYTES = 2_000_000
MAX_PDF_CONTENT_BYTES = 16_000_000


def _pdf_content_size(page) -> int:
    """Decoded bytes of a page's content streams and its form XObjects (what text extraction will parse)."""
    from pypdf.generic import ArrayObject

    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    streams = list(contents) if isinstance(contents, ArrayObject) else [contents] if contents is not None else []
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is not None:
        streams += [x for x in xobjects.get_object().values() if x.get_object().get("/Subtype") == "/Form"]
    return sum(len(s.get_object().get_data()) for s in streams)


def _read_pdf(path: Path, data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data))
        declared = reader.trailer["/Root"]["/Pages"].get("/Count", 0)
        if isinstance(declared, int) and declared > MAX_PDF_PAGES:
            raise IngestError(f"{path.name}: PDF declares {declared} pages (limit {MAX_PDF_PAGES})")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise IngestError(f"{path.name}: PDF has {len(reader.pages)} pages (limit {MAX_PDF_PAGES})")
        total = 0
        for number, page in enumerate(reader.pages, 1):
            size = _pdf_content_size(page)
            total += size
            if size > MAX_PDF_PAGE_CONTENT_BYTES or total > MAX_PDF_CONTENT_BYTES:
                what = f"page {number}'s content expands to {size / 1e6:.1f} MB" if size > MAX_PDF_PAGE_CONTENT_BYTES \
                    else f"its pages expand to over {MAX_PDF_CONTENT_BYTES / 1e6:.0f} MB"
                raise IngestError(f"{path.name}: refused: {what}, far more than a text policy needs (a decompression bomb?)")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except IngestError:
        raise
    except LimitReachedError as exc:
        raise IngestError(f"{path.name}: refused: the PDF exceeds a safety limit of the PDF reader ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a malformed or hostile PDF can make pypdf raise almost anything
        raise IngestError(f"{path.name}: unreadable PDF ({exc.__class__.__name__}: {exc})") from None
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise IngestError(f"{path.name}: the PDF has no text layer (scanned images need OCR first)")
    return text + "\n"


READERS: dict[str, Callable[[Path, bytes], str]] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
}


def read_policy_text(path: Path, max_bytes: int) -> tuple[str, str]:
    """Return (text, sha256 of the file bytes) or raise IngestError with a specific reason."""
    ext = path.suffix.lower()
    if ext not in READERS:
        raise IngestError(f"{path.name}: unsupported file type '{ext or '(none)'}' (supported: {', '.join(SUPPORTED_EXTENSIONS)})")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            limit = max_bytes / 1e6  # show enough digits that the size visibly exceeds the limit
            shown = next((f"{size / 1e6:.{d}f}" for d in range(1, 7) if float(f"{size / 1e6:.{d}f}") > limit), str(size / 1e6))
            raise IngestError(f"{path.name}: file is {shown} MB, over the {limit:g} MB limit")
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path.name}: cannot read file ({exc.strerror or exc})") from None
    return READERS[ext](path, data), hashlib.sha256(data).hexdigest()


def doc_id_from_filename(path: Path) -> str:
    stem = re.sub(r"^\d+[_-]", "", path.stem)
    return slugify(stem, max_words=8) or hashlib.sha1(path.name.encode()).hexdigest()[:10]


def load_manifest(corpus_dir: Path, manifest_name: str) -> dict[str, DocumentInfo]:
    """Manifest entries keyed by source file name (empty when the folder has no manifest)."""
    path = corpus_dir / manifest_name
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: invalid manifest ({exc})") from None
    entries: dict[str, DocumentInfo] = {}
    for item in data.get("document", []):
        source = item["source_file"]
        entries[source] = DocumentInfo(
            doc_id=item.get("doc_id") or doc_id_from_filename(Path(source)),
            vendor=item["vendor"],
            source_file=source,
            title=item.get("title", ""),
            aliases=tuple(item.get("aliases", ())),
            effective_date=item.get("effective_date", ""),
            languages=tuple(item.get("languages", ("en",))),
            notes=item.get("notes", ""),
        )
    return entries


_TITLE_NOISE = re.compile(r"\b(privacy|policy|notice|statement|terms|of|the|and|our)\b|隐私政策", re.IGNORECASE)


def infer_info(path: Path, text: str, vendor: str | None = None) -> DocumentInfo:
    """Metadata for a document the manifest does not list: vendor from the first heading or the file name."""
    from_name = re.sub(r"[_-]+", " ", re.sub(r"^\d+[_-]", "", path.stem)).strip() or path.stem
    first_lines = [stripped for ln in text.splitlines() if (stripped := ln.strip().lstrip("#").strip())][:5]
    title = next((ln for ln in first_lines if len(ln) <= 100 and not ln.lower().startswith("logo")), from_name)
    guessed = _TITLE_NOISE.sub(" ", title).strip(" -:|")
    if not vendor:
        vendor = guessed if 2 <= len(guessed) <= 60 else from_name
        vendor = re.sub(r"\s+", " ", vendor) or path.stem
    date = re.search(r"(?:effective|updated|last modified|update)\s*(?:date|as of)?\s*[:\-]?\s*([A-Z][a-z]+\.? \d{1,2},? \d{4}|\d{4}-\d{2}-\d{2}|[A-Z][a-z]+ \d{4})", text, re.IGNORECASE)
    langs = ("en", "zh") if re.search(r"[\u4e00-\u9fff]{20,}", text) else ("en",)
    return DocumentInfo(
        doc_id=doc_id_from_filename(path),
        vendor=vendor,
        source_file=path.name,
        title=title,
        aliases=(vendor,),
        effective_date=date.group(1) if date else "",
        languages=langs,
        inferred=True,
    )


def load_document(path: Path, info: DocumentInfo | None, max_bytes: int) -> Document:
    """Read one policy file into a Document (metadata from the manifest, else inferred)."""
    text, file_hash = read_policy_text(path, max_bytes)
    return Document(info=info or infer_info(path, text), path=path, raw_text=text, file_hash=file_hash)


def discover_files(corpus_dir: Path, manifest_name: str) -> list[Path]:
    """Every regular file of the corpus folder except the manifest and hidden files, sorted."""
    return sorted(
        p for p in corpus_dir.rglob("*")
        if p.is_file() and p.name != manifest_name and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    )
