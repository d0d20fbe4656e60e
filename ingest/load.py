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
        best = from_bytes(data).best()
        if best is None:
            raise IngestError(f"{name}: cannot detect the text encoding (binary file?)") from None
        return str(best)


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


def _read_pdf(path: Path, data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > 500:
            raise IngestError(f"{path.name}: PDF has {len(reader.pages)} pages (limit 500)")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
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
            raise IngestError(f"{path.name}: file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit")
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
    first_lines = [ln.strip() for ln in text.splitlines() if ln.strip()][:5]
    title = next((ln for ln in first_lines if len(ln) <= 100 and not ln.lower().startswith("logo")), path.stem)
    guessed = _TITLE_NOISE.sub(" ", title).strip(" -:|")
    if not vendor:
        vendor = guessed if 2 <= len(guessed) <= 60 else re.sub(r"[_-]+", " ", re.sub(r"^\d+[_-]", "", path.stem)).strip()
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
