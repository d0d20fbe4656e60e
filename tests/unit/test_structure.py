"""Clause structure and loaders on the real bundled corpus: pure functions, no store, no model.

Every test here checks something a user sees in a citation: no page chrome quoted as policy text,
no sentence cut in half, the right section heading, the right language, offsets that highlight the
exact span of the original file, and clause ids that stay the same from one ingest to the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from clausewise.settings import Settings
from clausewise.text import normalize_ws
from clausewise.types import Chunk, Clause, DocumentInfo
from ingest.chunk import chunk_clauses
from ingest.load import (
    IngestError,
    decode_text,
    html_to_text,
    infer_info,
    load_document,
    load_manifest,
    read_policy_text,
)
from ingest.structure import RUN_ON_WORDS, extract_clauses

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
MIN_WORDS = Settings.model_fields["chunk_min_words"].default
MAX_WORDS = Settings.model_fields["chunk_max_words"].default
BIG = 50_000_000
CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Parsed:
    info: DocumentInfo
    raw: str
    clauses: list[Clause]
    chunks: list[Chunk]


def _parse(path: Path, info: DocumentInfo) -> Parsed:
    raw, _ = read_policy_text(path, BIG)
    clauses = extract_clauses(info.doc_id, raw)
    chunks = chunk_clauses(clauses, raw, info.vendor, MIN_WORDS, MAX_WORDS)
    return Parsed(info, raw, clauses, chunks)


@pytest.fixture(scope="module")
def corpus() -> dict[str, Parsed]:
    """The five bundled policies parsed exactly as ingest does, keyed by vendor."""
    manifest = load_manifest(CORPUS, "manifest.toml")
    assert len(manifest) == 5
    return {info.vendor: _parse(CORPUS / name, info) for name, info in manifest.items()}


def _all(corpus: dict[str, Parsed]):
    for parsed in corpus.values():
        yield from ((parsed, c) for c in parsed.clauses)
        yield from ((parsed, c) for c in parsed.chunks)


# ---- page chrome ---------------------------------------------------------------------------------


@pytest.mark.parametrize("chrome", ["BOOK A CALL", "Add to homescreen", "Push Notifications", "Copyright @kim.cc"])
def test_site_chrome_is_never_quoted(corpus: dict[str, Parsed], chrome: str) -> None:
    assert any(chrome in p.raw for p in corpus.values()), f"corpus no longer contains {chrome!r}: update the test"
    for parsed, unit in _all(corpus):
        assert chrome.lower() not in unit.text.lower(), f"{parsed.info.vendor}: chrome {chrome!r} in {unit.text[:80]!r}"
        if isinstance(unit, Chunk):
            assert chrome.lower() not in unit.embed_text.lower()


def test_logo_and_hide_lines_are_not_policy_text(corpus: dict[str, Parsed]) -> None:
    kim = corpus["kim.cc"]
    assert kim.raw.splitlines()[0].strip() == "Logo"
    for parsed, unit in _all(corpus):
        lines = [ln.strip() for ln in parsed.raw[unit.start : unit.end].splitlines()]
        assert "Logo" not in lines and "hide" not in lines, unit.text[:80]
        assert not unit.text.startswith("Logo")
        assert unit.text not in {"hide", "Logo"}
    # the first clause of kim.cc is the effective date, not the logo above it
    assert kim.clauses[0].text == "Effective Date: 2024-03-15"


# ---- offsets, ids, embed text --------------------------------------------------------------------


def test_offsets_slice_the_original_file_back_to_the_text(corpus: dict[str, Parsed]) -> None:
    for parsed, unit in _all(corpus):
        assert 0 <= unit.start < unit.end <= len(parsed.raw)
        assert normalize_ws(parsed.raw[unit.start : unit.end]) == unit.text, (parsed.info.vendor, unit.text[:80])


def test_chunks_stay_inside_one_document_in_order_without_overlap(corpus: dict[str, Parsed]) -> None:
    for parsed in corpus.values():
        clause_by_id = {c.clause_id: c for c in parsed.clauses}
        previous_end = -1
        for chunk in parsed.chunks:
            assert chunk.start >= previous_end, f"{parsed.info.vendor}: overlapping chunks at {chunk.start}"
            previous_end = chunk.end
            assert chunk.doc_id == parsed.info.doc_id and chunk.vendor == parsed.info.vendor
            for clause_id in chunk.clause_ids:
                clause = clause_by_id[clause_id]
                assert clause.end > chunk.start and clause.start < chunk.end
        # every clause is cited by at least one chunk: nothing the policy says is dropped
        cited = {cid for chunk in parsed.chunks for cid in chunk.clause_ids}
        assert cited == set(clause_by_id)


def test_clause_ids_are_unique_readable_and_stable(corpus: dict[str, Parsed]) -> None:
    for parsed in corpus.values():
        doc_id = parsed.info.doc_id
        ids = [c.clause_id for c in parsed.clauses]
        assert len(ids) == len(set(ids)), f"{doc_id}: duplicate clause ids"
        for clause_id in ids:
            assert re.fullmatch(rf"{re.escape(doc_id)}/[a-z0-9]+(?:-[a-z0-9]+)*-\d+", clause_id), clause_id
        again = _parse(CORPUS / parsed.info.source_file, parsed.info)
        assert [c.clause_id for c in again.clauses] == ids
        assert [c.chunk_id for c in again.chunks] == [c.chunk_id for c in parsed.chunks]
    # the slug says what the clause is about
    kipsu_ids = [c.clause_id for c in corpus["Kipsu"].clauses]
    assert any(cid.startswith("kipsu/what-are-kipsu-s-data") for cid in kipsu_ids)


def test_chunk_ids_are_unique_across_the_corpus(corpus: dict[str, Parsed]) -> None:
    ids = [c.chunk_id for p in corpus.values() for c in p.chunks]
    assert len(ids) == len(set(ids))


def test_headings_are_part_of_the_embedded_text(corpus: dict[str, Parsed]) -> None:
    with_headings = 0
    for _, unit in _all(corpus):
        if not isinstance(unit, Chunk):
            continue
        assert unit.embed_text.endswith(unit.text)
        for heading in unit.section_path:
            if not re.fullmatch(r"[\d.]+", heading):
                assert heading in unit.embed_text.split("\n")[0], (heading, unit.embed_text[:120])
                with_headings += 1
    assert with_headings > 100
    retention = next(c for c in corpus["Kalodata"].chunks if c.text.startswith("3.1 We retain"))
    assert retention.embed_text.startswith("3. How long do we keep hold of your information?\n3.1 We retain")


def test_section_headings_are_whole_lines_of_the_file(corpus: dict[str, Parsed]) -> None:
    """A heading in a citation must be a real heading line, never a fragment of a wrapped sentence."""
    for parsed in corpus.values():
        lines = {normalize_ws(ln).rstrip(":").strip() for ln in parsed.raw.splitlines()}
        for clause in parsed.clauses:
            for heading in clause.section_path:
                if not re.fullmatch(r"[\d.]+", heading):
                    assert heading in lines, f"{parsed.info.vendor}: heading {heading!r} is not a line of the file"


# ---- per-file quirks -----------------------------------------------------------------------------


def test_kaizenify_hard_wrapped_sentences_are_joined(corpus: dict[str, Parsed]) -> None:
    kaizenify = corpus["Kaizenify"]
    wrapped = sum(1 for ln in kaizenify.raw.splitlines() if ln and not re.search(r"[.:;]$", ln.strip()))
    assert wrapped > 100, "Kaizenify is expected to be hard-wrapped plain text"
    for chunk in kaizenify.chunks:
        assert "\n" not in chunk.text
        joined = " ".join(ln.strip() for ln in kaizenify.raw[chunk.start : chunk.end].splitlines() if ln.strip())
        assert normalize_ws(joined) == chunk.text
        assert not chunk.text[0].islower(), f"chunk starts mid-sentence: {chunk.text[:80]!r}"
        last_word = re.findall(r"[A-Za-z]+", chunk.text)[-1].lower()
        assert not (last_word in RUN_ON_WORDS and chunk.text[-1].isalpha()), (
            f"chunk ends mid-sentence: {chunk.text[-80:]!r}"
        )
    # the wrapped "(a) comply ..., (b) enforce ..." list stays in the sentence that introduces it
    compliance = [c for c in kaizenify.chunks if "reasonably necessary to" in c.text]
    assert len(compliance) == 1
    assert "necessary to (a) comply with any applicable law" in compliance[0].text


def test_kaizenify_wrapped_paragraph_is_one_clause(corpus: dict[str, Parsed]) -> None:
    account = [
        c
        for c in corpus["Kaizenify"].clauses
        if c.text.startswith("We collect information about you when you register")
    ]
    assert len(account) == 1
    assert account[0].text.endswith("We keep track of your preferences when you select settings within the Services.")
    assert account[0].section_path[-1] == "Account and Profile Information"


def test_kipsu_retention_paragraph_is_one_clause_under_its_question(corpus: dict[str, Parsed]) -> None:
    kipsu = corpus["Kipsu"]
    matches = [c for c in kipsu.clauses if "Kipsu will retain personal information" in c.text]
    assert len(matches) == 1
    clause = matches[0]
    assert clause.section_path == ("What are Kipsu’s data retention policies?",)
    assert clause.text.startswith("Kipsu will retain personal information")
    assert "We may further retain and use this personal information" in clause.text
    assert clause.text.endswith("if required by our client agreements.")
    chunks = [c for c in kipsu.chunks if clause.clause_id in c.clause_ids]
    assert len(chunks) == 1 and chunks[0].text == clause.text


def test_kalodata_languages(corpus: dict[str, Parsed]) -> None:
    kalodata = corpus["Kalodata"]
    chinese_start = CJK.search(kalodata.raw).start()
    zh = [c for c in kalodata.clauses if c.start >= chinese_start]
    en = [c for c in kalodata.clauses if c.start < chinese_start]
    assert len(zh) >= 20 and len(en) >= 20
    assert {c.lang for c in zh} == {"zh"}
    assert {c.lang for c in en} == {"en"}
    assert {c.lang for c in kalodata.chunks if c.start >= chinese_start} == {"zh"}
    assert {c.lang for c in kalodata.chunks if c.start < chinese_start} == {"en"}
    for chunk in kalodata.chunks:  # no chunk mixes the English text and its translation
        assert chunk.end <= chinese_start or chunk.start >= chinese_start
    for parsed in corpus.values():
        if parsed is not kalodata:
            assert {c.lang for c in parsed.clauses} == {"en"}, parsed.info.vendor


def test_numbered_clauses_get_their_section_and_number(corpus: dict[str, Parsed]) -> None:
    kalodata = corpus["Kalodata"]
    by_text = {c.text[:3]: c for c in kalodata.clauses if c.lang == "en"}
    assert by_text["3.1"].section_path == ("3. How long do we keep hold of your information?", "3.1")
    assert by_text["3.3"].section_path == ("3. How long do we keep hold of your information?", "3.3")
    assert by_text["9.2"].section_path == ("9. Teens’ Personal Information Protection", "9.2")
    for clause in kalodata.clauses:
        number = re.match(r"(\d+)\.(\d+)", clause.text)
        if number and clause.lang == "en":
            assert clause.section_path[-1] == number.group(0)
            assert clause.section_path[0].startswith(f"{number.group(1)}. ")
        elif number:
            assert clause.section_path[-1] == number.group(0)
    kim = {c.text[:40]: c for c in corpus["kim.cc"].clauses}
    google = next(c for t, c in kim.items() if t.startswith("We offers a feature"))
    assert google.section_path == ("5. Third Party Services", "5.1 Google API Data Sharing")


def test_dr_kims_table_of_contents_is_not_clauses(corpus: dict[str, Parsed]) -> None:
    dr_kim = corpus["Dr. Kim's Veterinary Clinic"]
    toc = [ln.strip().lstrip("•").strip() for ln in dr_kim.raw.splitlines()[:20] if ln.strip().startswith("•")]
    assert len(toc) == 7 and toc[0] == "What kind of information do we collect about you?"
    for clause in dr_kim.clauses:
        assert not any(clause.text.lstrip("• ").startswith(question) for question in toc), clause.text
    # the questions still work as section headings of the text that answers them
    paths = {c.section_path[0] for c in dr_kim.clauses if c.section_path}
    assert "What kind of information do we collect about you?" in paths
    assert "How long do we keep your information?" in paths
    # the intro sentence that introduces the list is kept
    assert any(c.text.endswith("answer these questions:") for c in dr_kim.clauses)


def test_dr_kims_and_kim_cc_are_separate_vendors(corpus: dict[str, Parsed]) -> None:
    assert {c.vendor for c in corpus["Dr. Kim's Veterinary Clinic"].chunks} == {"Dr. Kim's Veterinary Clinic"}
    assert {c.vendor for c in corpus["kim.cc"].chunks} == {"kim.cc"}
    assert corpus["Dr. Kim's Veterinary Clinic"].info.doc_id != corpus["kim.cc"].info.doc_id


# ---- loaders -------------------------------------------------------------------------------------


def test_html_to_text_keeps_headings_and_drops_scripts_and_navigation() -> None:
    page = """<html><head><style>body { color: red }</style><script>var tracking = "evil()";</script></head>
    <body><nav><a href="/">Home</a> <a href="/pricing">Pricing</a></nav>
    <h1>Acme Privacy Policy</h1><h2>Data we collect</h2>
    <p>We collect your <b>email</b> address &amp; name.</p>
    <ul><li>Usage data</li><li>Device data</li></ul>
    <footer>&copy; Acme 2024</footer></body></html>"""
    text = html_to_text(page)
    lines = [ln for ln in text.splitlines() if ln]
    assert lines[0] == "Acme Privacy Policy"
    assert "Data we collect" in lines
    assert "We collect your email address & name." in lines
    assert "• Usage data" in lines and "• Device data" in lines
    for dropped in ("tracking", "evil", "color: red", "Pricing", "Home", "© Acme"):
        assert dropped not in text
    clauses = extract_clauses("acme", text)
    assert clauses[0].section_path == ("Data we collect",)
    assert clauses[0].text == "We collect your email address & name."


def test_decode_text_handles_latin1_accents() -> None:
    original = "Política de privacidad: café, naïve résumé, Zoë and Ångström agree to the fees.\n" * 3
    assert decode_text(original.encode("latin-1"), "latin.txt") == original
    windows = "Our café charges a 5 € fee — “fair” and naïve.\n" * 3
    assert decode_text(windows.encode("cp1252"), "windows.txt") == windows
    assert decode_text("UTF-8 with BOM: é".encode("utf-8-sig"), "bom.txt") == "UTF-8 with BOM: é"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty.txt: file is empty"),
        (b"   \n\t\n", "empty.txt: file is empty"),
        (b"PK\x03\x04\x00\x00\x00binary\x00stuff", "empty.txt: looks like a binary file, not text"),
    ],
)
def test_decode_text_rejects_empty_and_binary(data: bytes, message: str) -> None:
    with pytest.raises(IngestError) as info:
        decode_text(data, "empty.txt")
    assert str(info.value) == message


def test_read_policy_text_errors_are_specific(tmp_path: Path) -> None:
    docx = tmp_path / "policy.docx"
    docx.write_bytes(b"PK\x03\x04 not really a docx")
    with pytest.raises(
        IngestError,
        match=r"policy\.docx: unsupported file type '\.docx' \(supported: \.txt, \.md, \.html, \.htm, \.pdf\)",
    ):
        read_policy_text(docx, BIG)
    noext = tmp_path / "README"
    noext.write_text("Privacy")
    with pytest.raises(IngestError, match=r"unsupported file type '\(none\)'"):
        read_policy_text(noext, BIG)
    big = tmp_path / "big.txt"
    big.write_text("word " * 5000)
    with pytest.raises(IngestError) as too_big:
        read_policy_text(big, 20_000)
    assert str(too_big.value) == "big.txt: file is 0.03 MB, over the 0.02 MB limit"
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not a pdf at all\n%%EOF")
    with pytest.raises(IngestError, match=r"broken\.pdf: unreadable PDF"):
        read_policy_text(broken, BIG)


def test_infer_info_takes_vendor_from_first_heading(tmp_path: Path) -> None:
    text = "Acme Cloud Privacy Policy\n\nLast updated: March 3, 2024\n\nWe collect your email address.\n"
    info = infer_info(tmp_path / "007_acme_cloud.txt", text)
    assert info.vendor == "Acme Cloud"
    assert info.inferred is True
    assert info.doc_id == "acme-cloud"
    assert info.effective_date == "March 3, 2024"
    assert info.languages == ("en",)
    markdown = infer_info(tmp_path / "acme.md", "# Acme Cloud Privacy Policy\n\nWe collect your email address.\n")
    assert markdown.vendor == "Acme Cloud"
    # no usable heading: the file name is the vendor
    nameless = infer_info(
        tmp_path / "012_globex-corp.txt", "We collect your email address and your name and more. " * 5
    )
    assert nameless.vendor == "globex corp"


def test_load_document_uses_manifest_info_when_given(tmp_path: Path) -> None:
    manifest = load_manifest(CORPUS, "manifest.toml")
    name = "002_kipsu_privacy_policy.txt"
    document = load_document(CORPUS / name, manifest[name], BIG)
    assert document.info.vendor == "Kipsu" and not document.info.inferred
    assert document.raw_text == (CORPUS / name).read_text(encoding="utf-8")
    assert len(document.file_hash) == 64


def test_a_heading_run_into_its_paragraph_with_a_spaced_colon_starts_its_own_section() -> None:
    # scraped policies often join a heading and its first paragraph as "Heading : text"
    text = (
        "Privacy Policy\n\n"
        "1. What We Collect : A. We collect your name and e-mail address when you register.\n\n"
        "B. Our servers log your IP address.\n\n"
        "2. How We Share Information : A. We share your e-mail address with our mailing provider.\n\n"
        "B. We may sell aggregated statistics to advertisers.\n"
    )

    clauses = extract_clauses("doc", text)

    by_text = {normalize_ws(c.text)[:20]: c for c in clauses}
    assert by_text["A. We collect your n"].section_path == ("1. What We Collect",)
    assert by_text["B. Our servers log y"].section_path == ("1. What We Collect",)
    assert by_text["A. We share your e-m"].section_path == ("2. How We Share Information",)
    assert by_text["B. We may sell aggre"].section_path == ("2. How We Share Information",)
    for clause in clauses:  # offsets still highlight exactly the clause's text
        assert normalize_ws(text[clause.start : clause.end]) == normalize_ws(clause.text)


def test_a_spaced_colon_inside_a_running_sentence_is_not_a_heading() -> None:
    text = "Where the law allows it, we keep logs : for two years.\n"  # a comma: a sentence, not a heading

    clauses = extract_clauses("doc", text)

    assert [c.section_path for c in clauses] == [()]
    assert normalize_ws(clauses[0].text) == normalize_ws(text)
