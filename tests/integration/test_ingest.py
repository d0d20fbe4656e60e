"""Ingest end to end: real embedding model, real embedded Chroma, the real `clausewise` CLI. No mocks.

Covers what a user of `clausewise ingest` / `clausewise status` notices: every vendor is there with the
right name and languages, every gold evidence quote is retrievable as one chunk, re-ingesting is a
no-op, edits/deletions/rebuilds leave exactly the right chunks, bad files are reported one by one
without a traceback, and a killed ingest resumes to the same store as a clean one.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

from clausewise.settings import Settings
from clausewise.store import LedgerEntry, Store
from clausewise.text import normalize_ws
from ingest import pipeline
from ingest.chunk import chunk_clauses
from ingest.load import load_manifest
from ingest.pipeline import Ingestor
from ingest.structure import extract_clauses

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "corpus"
SEED_DEV = ROOT / "tests" / "fixtures" / "seed_dev.jsonl"
MANIFEST = load_manifest(CORPUS_DIR, "manifest.toml")
VENDOR_OF_DOC = {info.doc_id: info.vendor for info in MANIFEST.values()}
KIPSU_FILE = "002_kipsu_privacy_policy.txt"
KAIZENIFY_FILE = "003_kaizenify_privacy_policy.txt"


def _ids_by_doc(store: Store) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for chunk in store.all_chunks():
        grouped[chunk.doc_id].append(chunk.chunk_id)
    return dict(grouped)


def _assert_consistent(store: Store) -> None:
    """No duplicate chunks, nothing half-written, and the ledger's counts match the collection."""
    chunks = store.all_chunks()
    keys = [(c.doc_id, c.start, c.end) for c in chunks]
    assert len(keys) == len(set(keys)), "the same span is stored twice"
    ledger = store.ledger()
    assert {e.status for e in ledger.values()} <= {"done"}
    assert store.count() == sum(e.chunk_count for e in ledger.values()) == len(chunks)
    assert set(Counter(c.doc_id for c in chunks)) == set(ledger)
    for doc_id, n in Counter(c.doc_id for c in chunks).items():
        assert ledger[doc_id].chunk_count == n


def _expected_ids(path: Path, doc_id: str, vendor: str, settings: Settings) -> list[str]:
    raw = path.read_text(encoding="utf-8")
    clauses = extract_clauses(doc_id, raw)
    return [c.chunk_id for c in chunk_clauses(clauses, raw, vendor, settings.chunk_min_words, settings.chunk_max_words)]


# ---- the bundled corpus, ingested once for the session ------------------------------------------------


def test_bundled_corpus_ingests_completely(ingested_store) -> None:
    settings, store, report = ingested_store
    assert (report.documents, report.added, report.updated, report.unchanged, report.removed) == (5, 5, 0, 0, 0)
    assert report.errors == [] and report.notices == []
    assert report.chunks == store.count() > 200
    assert 0 < report.embedded <= report.chunks
    _assert_consistent(store)
    assert set(store.ledger()) == set(VENDOR_OF_DOC)


def test_stored_chunks_round_trip_with_offsets_and_sections(ingested_store) -> None:
    settings, store, _ = ingested_store
    stored = {c.chunk_id: c for c in store.all_chunks()}
    for name, info in MANIFEST.items():
        raw = (CORPUS_DIR / name).read_text(encoding="utf-8")
        expected = chunk_clauses(
            extract_clauses(info.doc_id, raw), raw, info.vendor, settings.chunk_min_words, settings.chunk_max_words
        )
        assert [stored[c.chunk_id] for c in expected] == expected
        ledger = store.ledger()[info.doc_id]
        assert ledger.raw_text == raw, "the viewer needs the original text the offsets point into"


def test_status_cli_lists_every_vendor(ingested_store, run_clausewise) -> None:
    settings, store, _ = ingested_store
    proc = run_clausewise("status", "--json", "--data-dir", settings.data_dir)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    rows = {row["vendor"]: row for row in status["vendors"]}
    assert set(rows) == set(VENDOR_OF_DOC.values())
    ledger = store.ledger()
    for info in MANIFEST.values():
        row = rows[info.vendor]
        assert row["documents"] == [info.doc_id]
        assert row["chunks"] == ledger[info.doc_id].chunk_count > 0
        assert row["effective_date"] == info.effective_date
        assert "warnings" not in row
    assert rows["Kalodata"]["languages"] == ["en", "zh"]
    assert all(rows[v]["languages"] == ["en"] for v in rows if v != "Kalodata")
    assert sum(row["chunks"] for row in rows.values()) == store.count()
    assert Path(status["data_dir"]) == settings.data_dir.resolve()


def test_dr_kims_clinic_and_kim_cc_are_never_mixed_up(ingested_store) -> None:
    _, store, _ = ingested_store
    ledger = store.ledger()
    clinic = next(e for e in ledger.values() if e.info.source_file.startswith("001_"))
    kim = next(e for e in ledger.values() if e.info.source_file.startswith("000_"))
    assert clinic.info.vendor == "Dr. Kim's Veterinary Clinic"
    assert kim.info.vendor == "kim.cc"
    clinic_meta = store.chunks.get(where={"doc_id": clinic.info.doc_id}, include=["metadatas"])["metadatas"]
    kim_meta = store.chunks.get(where={"doc_id": kim.info.doc_id}, include=["metadatas"])["metadatas"]
    assert clinic_meta and kim_meta
    assert {m["vendor"] for m in clinic_meta} == {"Dr. Kim's Veterinary Clinic"}
    assert {m["vendor"] for m in kim_meta} == {"kim.cc"}
    by_vendor = store.chunks.get(where={"vendor": "kim.cc"}, include=["metadatas"])["metadatas"]
    assert {m["doc_id"] for m in by_vendor} == {kim.info.doc_id}


def test_every_gold_evidence_quote_is_inside_one_chunk_of_the_right_document(ingested_store) -> None:
    _, store, _ = ingested_store
    doc_of_prefix = {name.split("_", 1)[0]: info.doc_id for name, info in MANIFEST.items()}
    chunks_by_doc: dict[str, list] = defaultdict(list)
    for chunk in store.all_chunks():  # sorted by (doc_id, start)
        chunks_by_doc[chunk.doc_id].append(chunk)
    checked = 0
    for line in SEED_DEV.read_text(encoding="utf-8").splitlines():
        question = json.loads(line)
        for evidence in question["evidence"]:
            doc_id = doc_of_prefix[evidence["file"].split("_", 1)[0]]
            assert VENDOR_OF_DOC[doc_id] in question["vendors"], (question["id"], doc_id)
            quote = normalize_ws(evidence["quote"])
            texts = [c.text for c in chunks_by_doc[doc_id]]
            inside = [i for i, text in enumerate(texts) if quote in text]
            if inside:
                assert len(inside) == 1, f"{question['id']}: quote stored in {len(inside)} chunks: {quote[:60]!r}"
            else:  # a quote spanning two numbered items may cover a run of adjacent chunks
                runs = [
                    (i, j)
                    for i in range(len(texts))
                    for j in range(i + 1, min(i + 4, len(texts)))
                    if quote in " ".join(texts[i : j + 1])
                ]
                assert runs, f"{question['id']}: quote not found in {doc_id}: {quote[:80]!r}"
            checked += 1
    assert checked >= 60


def test_second_ingest_changes_nothing(ingested_store) -> None:
    settings, store, first = ingested_store
    before = [c.chunk_id for c in store.all_chunks()]
    report = Ingestor(settings, store=store).ingest_corpus(CORPUS_DIR, progress=False)
    assert (report.documents, report.added, report.updated, report.unchanged, report.removed) == (5, 0, 0, 5, 0)
    assert report.embedded == 0
    assert report.chunks == first.chunks
    assert report.errors == []
    assert [c.chunk_id for c in store.all_chunks()] == before


# ---- stores of their own (edits, deletions, rebuilds) -------------------------------------------------


def test_editing_a_policy_replaces_exactly_its_chunks(warm_settings, corpus_copy) -> None:
    ingestor = Ingestor(warm_settings)
    first = ingestor.ingest_corpus(corpus_copy, progress=False)
    assert first.added == 5 and first.embedded == 0
    before = _ids_by_doc(ingestor.store)

    path = corpus_copy / KIPSU_FILE
    old_sentence = "We have established internal policies for the deletion of personal information"
    new_sentence = "We delete personal information of former clients ninety days after their subscription ends"
    text = path.read_text(encoding="utf-8")
    assert text.count(old_sentence) == 1
    path.write_text(text.replace(old_sentence, new_sentence), encoding="utf-8")

    report = ingestor.ingest_corpus(corpus_copy, progress=False)
    assert (report.documents, report.added, report.updated, report.unchanged, report.removed) == (5, 0, 1, 4, 0)
    assert 0 < report.embedded < len(before["kipsu"]), "only the edited text should be embedded again"
    store = ingestor.store
    after = _ids_by_doc(store)
    assert after["kipsu"] == _expected_ids(path, "kipsu", "Kipsu", warm_settings)
    assert {k: v for k, v in after.items() if k != "kipsu"} == {k: v for k, v in before.items() if k != "kipsu"}
    texts = [c.text for c in store.all_chunks() if c.doc_id == "kipsu"]
    assert not any(old_sentence in t for t in texts), "the old wording is still retrievable"
    assert sum(new_sentence in t for t in texts) == 1
    assert store.ledger()["kipsu"].raw_text == path.read_text(encoding="utf-8")
    _assert_consistent(store)


def test_a_store_parsed_by_older_code_is_rechunked_without_embedding_again(warm_settings, corpus_copy,
                                                                           monkeypatch) -> None:
    """After an upgrade that changes parsing, the next ingest re-chunks every document; what it embeds comes from
    the vector cache."""
    ingestor = Ingestor(warm_settings)
    ingestor.ingest_corpus(corpus_copy, progress=False)
    before = _ids_by_doc(ingestor.store)

    monkeypatch.setattr(pipeline, "PARSING_VERSION", pipeline.PARSING_VERSION + 1)
    report = ingestor.ingest_corpus(corpus_copy, progress=False)

    assert (report.documents, report.added, report.updated, report.unchanged, report.removed) == (5, 0, 5, 0, 0)
    assert report.embedded == 0 and report.multilingual_embedded == 0 and report.errors == []
    assert _ids_by_doc(ingestor.store) == before  # same code: the same chunks
    again = ingestor.ingest_corpus(corpus_copy, progress=False)
    assert (again.updated, again.unchanged) == (0, 5)


def test_deleting_a_policy_removes_its_document(warm_settings, corpus_copy) -> None:
    ingestor = Ingestor(warm_settings)
    ingestor.ingest_corpus(corpus_copy, progress=False)
    before = _ids_by_doc(ingestor.store)
    (corpus_copy / KAIZENIFY_FILE).unlink()
    report = ingestor.ingest_corpus(corpus_copy, progress=False)
    assert (report.documents, report.added, report.updated, report.unchanged, report.removed) == (4, 0, 0, 4, 1)
    store = ingestor.store
    assert "kaizenify" not in store.ledger()
    assert store.chunk_ids("kaizenify") == set()
    assert store.chunks.get(where={"vendor": "Kaizenify"}, include=[])["ids"] == []
    assert _ids_by_doc(store) == {k: v for k, v in before.items() if k != "kaizenify"}
    _assert_consistent(store)


def test_rebuild_gives_the_same_store_as_a_fresh_ingest(
    ingested_store, warm_settings, corpus_copy, tmp_path, run_clausewise, store_snapshot
) -> None:
    # a store that drifted: an extra document from another folder and an edited policy
    other = tmp_path / "other"
    other.mkdir()
    (other / "globex.txt").write_text(
        "Globex Privacy Policy\n\nWe keep your order history for ten years and share it with our couriers.\n"
    )
    ingestor = Ingestor(warm_settings)
    ingestor.ingest_corpus(other, progress=False)
    kipsu = corpus_copy / KIPSU_FILE
    original = kipsu.read_text(encoding="utf-8")
    kipsu.write_text(original.replace("Kipsu will retain", "Kipsu may keep"), encoding="utf-8")
    ingestor.ingest_corpus(corpus_copy, progress=False)
    kipsu.write_text(original, encoding="utf-8")
    drifted = store_snapshot(warm_settings.data_dir)
    assert "globex" in drifted["ledger"]

    proc = run_clausewise("ingest", corpus_copy, "--rebuild", "--json", "--data-dir", warm_settings.data_dir)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["documents"], report["added"], report["unchanged"], report["removed"]) == (5, 5, 0, 0)
    assert report["embedded"] == 0
    rebuilt = store_snapshot(warm_settings.data_dir)
    fresh = sorted(c.chunk_id for c in ingested_store.store.all_chunks())
    assert sorted(rebuilt["ids"]) == fresh
    assert set(rebuilt["ledger"]) == set(VENDOR_OF_DOC), "documents from before the rebuild must be gone"
    assert rebuilt["count"] == len(fresh)


def test_interrupted_document_is_cleaned_up_on_the_next_ingest(
    ingested_store, warm_settings, corpus_copy, run_clausewise
) -> None:
    ingestor = Ingestor(warm_settings)
    ingestor.ingest_corpus(corpus_copy, progress=False)
    store = ingestor.store
    # what a crash between "pending" and "done" leaves: a pending ledger entry and only part of the chunks
    entry = store.ledger()["kipsu"]
    store.mark(LedgerEntry(**{**entry.__dict__, "status": "pending"}))
    store.delete_chunks(sorted(store.chunk_ids("kipsu"))[::2])

    status = run_clausewise("status", "--json", "--data-dir", warm_settings.data_dir)
    row = next(r for r in json.loads(status.stdout)["vendors"] if r["vendor"] == "Kipsu")
    assert row["warnings"] == ["kipsu is half-written: re-run `clausewise ingest`"]

    report = ingestor.ingest_corpus(corpus_copy, progress=False)
    assert report.notices == ["cleaned up 1 document(s) left half-written by an interrupted ingest"]
    assert (report.added, report.unchanged, report.errors) == (1, 4, [])
    assert sorted(store.chunk_ids("kipsu")) == sorted(ingested_store.store.chunk_ids("kipsu"))
    _assert_consistent(store)


def test_document_missing_from_manifest_gets_an_inferred_vendor(warm_settings, tmp_path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "acme.md").write_text(
        "# Acme Cloud Privacy Policy\n\nLast updated: March 3, 2024\n\n"
        "## Data we collect\n\nWe collect your name, your email address and the files you store in Acme Cloud.\n\n"
        "## How long we keep data\n\nWe keep your files for 30 days after you close your account, then delete them.\n",
        encoding="utf-8",
    )
    report = Ingestor(warm_settings).ingest_corpus(folder, progress=False)
    assert (report.documents, report.added, report.errors) == (1, 1, [])
    assert report.notices == [
        "acme.md: not in manifest.toml; vendor 'Acme Cloud' taken from its title or file name "
        "(add it to the manifest to set it)"
    ]
    store = Store(warm_settings)
    entry = store.ledger()["acme"]
    assert entry.info.vendor == "Acme Cloud" and entry.info.inferred
    assert entry.info.effective_date == "March 3, 2024"
    chunks = store.all_chunks()
    assert {c.vendor for c in chunks} == {"Acme Cloud"}
    retention = next(c for c in chunks if "30 days" in c.text)
    assert retention.section_path == ("How long we keep data",)
    assert retention.embed_text.startswith("How long we keep data\n")


# ---- bad files, exit codes, restarts ----------------------------------------------------------------


def minimal_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF with a real text layer (Helvetica), built by hand with a correct xref table."""

    def escape(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = ("BT /F1 11 Tf 72 740 Td 16 TL " + " ".join(f"({escape(ln)}) Tj T*" for ln in lines) + " ET").encode(
        "latin-1"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


LATIN1_POLICY = (
    "Café Zoé Privacy Policy\n\n"
    "Café Zoé collects your name, your e-mail address and the crème brûlée orders you place with us.\n\n"
    "We keep your résumé for 12 months when you apply for a job at Café Zoé, then we delete it.\n"
)
PDF_LINES = [
    "Globex Privacy Policy",
    "Data we keep",
    "We keep your billing records for seven years after your last order.",
    "We never sell your personal information to anyone.",
]


def test_bad_files_are_reported_and_good_ones_ingested(warm_settings, tmp_path, run_clausewise, store_snapshot) -> None:
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    shutil.copy(CORPUS_DIR / "manifest.toml", corpus)
    shutil.copy(CORPUS_DIR / KIPSU_FILE, corpus)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4)
    (corpus / "cafe_zoe.txt").write_bytes(LATIN1_POLICY.encode("latin-1"))
    (corpus / "policy.docx").write_bytes(b"PK\x03\x04\x14\x00\x06\x00word/document.xml")
    pdf = minimal_pdf(PDF_LINES)
    (corpus / "globex.pdf").write_bytes(pdf)
    (corpus / "corrupt.pdf").write_bytes(pdf[: len(pdf) // 2])
    (corpus / "huge.txt").write_text("Huge Corp Privacy Policy\n\n" + "We collect data about you. " * 4000)
    env = {"CLAUSEWISE_MAX_FILE_MB": "0.05"}  # 50 kB: huge.txt (108 kB) is over, Kipsu (14 kB) is not

    proc = run_clausewise("ingest", corpus, "--json", "--data-dir", warm_settings.data_dir, env=env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    errors = {Path(e["path"]).name: e["error"] for e in report["errors"]}
    assert set(errors) == {"empty.txt", "binary.txt", "policy.docx", "corrupt.pdf", "huge.txt"}
    assert errors["empty.txt"] == "empty.txt: file is empty"
    assert errors["binary.txt"] == "binary.txt: looks like a binary file, not text"
    assert (
        errors["policy.docx"] == "policy.docx: unsupported file type '.docx' (supported: .txt, .md, .html, .htm, .pdf)"
    )
    assert errors["corrupt.pdf"].startswith("corrupt.pdf: unreadable PDF (")
    assert errors["huge.txt"] == "huge.txt: file is 0.1 MB, over the 0.05 MB limit"
    assert (report["documents"], report["added"]) == (3, 3)
    assert any(n.startswith("cafe_zoe.txt: not in manifest.toml; vendor 'Café Zoé'") for n in report["notices"])
    assert any(n.startswith("globex.pdf: not in manifest.toml; vendor 'Globex'") for n in report["notices"])

    # a new process (a restart) sees exactly what the ingest reported
    status = run_clausewise("status", "--json", "--data-dir", warm_settings.data_dir)
    assert status.returncode == 0, status.stderr
    rows = {r["vendor"]: r for r in json.loads(status.stdout)["vendors"]}
    assert set(rows) == {"Kipsu", "Café Zoé", "Globex"}
    assert sum(r["chunks"] for r in rows.values()) == report["chunks"]
    snapshot = store_snapshot(warm_settings.data_dir)
    assert snapshot["count"] == report["chunks"] == len(set(snapshot["ids"]))
    texts = snapshot["texts"]
    assert any("crème brûlée" in t and "Café Zoé" in t for t in texts), "latin-1 accents were mangled"
    assert any("We keep your billing records for seven years" in t for t in texts), "PDF text layer not ingested"

    # the human-readable run says the same, and tells the user the ingest was partial
    again = run_clausewise("ingest", corpus, "--data-dir", warm_settings.data_dir, env=env)
    assert again.returncode == 2
    assert "Traceback" not in again.stderr
    assert "error: empty.txt: file is empty" in again.stderr
    assert "error: policy.docx: unsupported file type '.docx'" in again.stderr
    assert "partial ingest: the files above were skipped, everything else is in the store" in again.stderr
    assert again.stdout.startswith("3 document(s): 0 added, 0 updated, 3 unchanged, 0 removed;")


def test_nothing_ingestible_exits_1(tmp_path, run_clausewise) -> None:
    corpus = tmp_path / "bad"
    corpus.mkdir()
    (corpus / "empty.txt").write_bytes(b"\n\n")
    proc = run_clausewise("ingest", corpus, "--json", "--data-dir", tmp_path / "data")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["errors"][0]["error"] == "empty.txt: file is empty"
    missing = run_clausewise("ingest", tmp_path / "nope", "--data-dir", tmp_path / "data")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"clausewise: error: corpus folder not found: {tmp_path / 'nope'}"


# ---- kill -9 in the middle of an ingest ----------------------------------------------------------------

VARIANT_TOPICS = [
    ("Data we collect", "collects your {a}, your {b} and the {c} you share with {v}."),
    ("How we use data", "uses your {b} to deliver {c} and to improve the {a} features of {v}."),
    ("Sharing", "shares {a} only with the {c} providers that host {v}, never with advertisers."),
    ("Retention", "keeps your {b} for {n} days after you close your {v} account."),
    ("Your rights", "lets you export or delete your {a} from the {v} settings page at any time."),
    ("Children", "does not knowingly collect {c} from children under {m}."),
]
WORDS = [
    "billing address",
    "phone number",
    "voice recordings",
    "calendar entries",
    "photos",
    "shipping history",
    "support tickets",
    "chat transcripts",
    "location traces",
    "payment tokens",
    "device logs",
    "contacts",
]


def _variant(k: int) -> str:
    vendor = f"Variant{k} Systems"
    parts = [f"{vendor} Privacy Policy", ""]
    for i, (heading, template) in enumerate(VARIANT_TOPICS, 1):
        words = {"a": WORDS[(k + i) % 12], "b": WORDS[(2 * k + i) % 12], "c": WORDS[(3 * k + i) % 12]}
        sentence = template.format(v=vendor, n=30 + 7 * k + i, m=13 + k % 4, **words)
        parts += [f"{i}. {heading}", "", f"{vendor} {sentence} This clause {i} applies to customers of {vendor}.", ""]
    return "\n".join(parts)


def _progress(buffer: bytes) -> int:
    """Documents finished so far, read from the corpus-wide `ingest` bar on stderr ("…, 3/15 documents]")."""
    done = [int(n) for n in re.findall(rb"\b(\d+)/\d+ documents\]", buffer)]
    return max(done, default=0)


def test_killed_ingest_resumes_to_the_same_store_as_a_clean_ingest(
    tmp_path, clausewise_argv, run_clausewise, store_snapshot, seed_vector_cache, settings_factory
) -> None:
    corpus = tmp_path / "big"
    shutil.copytree(CORPUS_DIR, corpus)
    for k in range(10):
        (corpus / f"{10 + k:03d}_variant_{k}.txt").write_text(_variant(k), encoding="utf-8")
    n_docs = 15
    killed_dir = tmp_path / "killed-data"  # fresh: nothing cached, so every chunk must be embedded

    proc = subprocess.Popen(
        [*clausewise_argv, "ingest", str(corpus), "--data-dir", str(killed_dir), "--progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    buffer = b""
    deadline = time.monotonic() + 240
    try:
        while _progress(buffer) < 3 and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                data = os.read(proc.stderr.fileno(), 65536)
                if not data:
                    break
                buffer += data
        assert _progress(buffer) >= 3, buffer.decode(errors="replace")[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    after_kill = store_snapshot(killed_dir)
    done = [d for d, e in after_kill["ledger"].items() if e["status"] == "done"]
    assert 3 <= len(done) < n_docs and after_kill["count"] > 0, "kill -9 should land mid-ingest with chunks stored"

    resumed = run_clausewise("ingest", corpus, "--json", "--data-dir", killed_dir)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["documents"] == n_docs and report["errors"] == []
    assert report["unchanged"] == len(done) and report["added"] == n_docs - len(done)
    final = store_snapshot(killed_dir)

    # a clean, uninterrupted ingest of the same corpus into another store (vectors reused from the cache)
    clean_settings = settings_factory(tmp_path / "clean-data")
    seed_vector_cache(settings_factory(killed_dir), clean_settings.data_dir)
    clean = Ingestor(clean_settings)
    clean_report = clean.ingest_corpus(corpus, progress=False)
    assert clean_report.embedded == 0, "the resumed run should have embedded every chunk"
    clean_ids = [c.chunk_id for c in clean.store.all_chunks()]

    assert sorted(final["ids"]) == sorted(clean_ids)
    assert final["count"] == len(clean_ids) == report["chunks"]
    assert len({tuple(k) for k in final["keys"]}) == len(final["keys"]), "duplicate chunks after resume"
    assert {e["status"] for e in final["ledger"].values()} == {"done"}
    assert len(final["ledger"]) == n_docs
    assert sum(e["chunks"] for e in final["ledger"].values()) == final["count"]


def test_whole_store_reads_are_paged_and_complete(ingested_store, monkeypatch) -> None:
    """Large stores are read in pages (one get() of ~40k records exceeds SQLite's limit); pages lose nothing."""
    import clausewise.store as store_module

    store = ingested_store.store
    whole, vectors = store.all_chunks_with_vectors()
    monkeypatch.setattr(store_module, "READ_PAGE", 37)
    paged, paged_vectors = store.all_chunks_with_vectors()
    assert [c.chunk_id for c in paged] == [c.chunk_id for c in whole]
    assert len(paged) == store.count() and paged_vectors.shape == vectors.shape
    assert (paged_vectors == vectors).all()
