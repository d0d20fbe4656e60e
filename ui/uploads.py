"""Upload safety: vendor names, file names, extensions and sizes, checked before anything touches the store."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from clausewise.text import slugify
from ingest.load import SUPPORTED_EXTENSIONS, doc_id_from_filename

MAX_VENDOR_CHARS = 80


class UploadError(ValueError):
    """A user-readable reason why an upload is refused."""


def clean_vendor(name: str | None) -> str:
    """The vendor name as typed, minus control characters and extra spaces; refused when empty or too long."""
    text = unicodedata.normalize("NFKC", name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise UploadError("Enter the vendor (company) name this policy belongs to.")
    if len(text) > MAX_VENDOR_CHARS:
        raise UploadError(f"The vendor name is {len(text)} characters long; use at most {MAX_VENDOR_CHARS}.")
    return text


def check_extension(name: str) -> str:
    ext = Path(name.replace("\\", "/")).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        shown = ext or "(no extension)"
        raise UploadError(f"Unsupported file type {shown}: upload a {', '.join(SUPPORTED_EXTENSIONS)} file.")
    return ext


def safe_filename(original: str, vendor: str) -> str:
    """`<vendor-slug>--<stem-slug>.<ext>`: no directories, no `..`, only [a-z0-9-]; the extension is checked."""
    base = unicodedata.normalize("NFKC", original or "").replace("\\", "/").split("/")[-1]
    base = base.replace("\x00", "")
    ext = check_extension(base)
    stem = base[: -len(ext)] if base.lower().endswith(ext) else Path(base).stem
    # at most 4 + 3 words, so the doc id (a slug of up to 8 words of the name) keeps a collision suffix
    stem = slugify(stem, max_words=3) or "policy"
    vendor_slug = slugify(vendor, max_words=4) or "vendor"
    return f"{vendor_slug}--{stem}{ext}"


def check_size(path: Path, max_mb: float) -> int:
    size = path.stat().st_size
    if size > max_mb * 1e6:
        raise UploadError(f"The file is {size / 1e6:.1f} MB; the limit is {max_mb:g} MB.")
    if size == 0:
        raise UploadError("The file is empty.")
    return size


def plan_upload(original_name: str, vendor: str, uploads_dir: Path, taken: dict[str, str]) -> Path:
    """Where an upload goes: a safe name inside `uploads_dir` whose doc id is not another vendor's.

    `taken` maps existing doc ids to their vendor: a name whose doc id belongs to another vendor gets a
    numeric suffix, so an upload never replaces someone else's document (the same vendor's re-upload does).
    """
    name = safe_filename(original_name, vendor)
    stem, ext = name[: -len(Path(name).suffix)], Path(name).suffix
    candidate, n = name, 1
    while (owner := taken.get(doc_id_from_filename(Path(candidate)))) is not None and owner != vendor:
        n += 1
        if n > 999:
            raise UploadError("Too many documents with this name; rename the file.")
        candidate = f"{stem}-{n}{ext}"
    root = uploads_dir.resolve()
    dest = (root / candidate).resolve()
    if dest.parent != root:  # belt and braces: never write outside uploads_dir
        raise UploadError("Refusing an unsafe file name.")
    return dest
