"""The served app in headless Chromium: chat with citations, viewer and deep links, compare, library, safety."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:::gradio.queueing"),  # gradio's own pandas deprecations, not ours
]

KIPSU_QUESTION = "How long does Kipsu retain data?"
KIPSU_CLAUSE = "Kipsu will retain personal information"
COMPARE_QUESTION = "Is data transferred outside the user's country?"
XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


# ---- helpers ------------------------------------------------------------------------------------------
def open_app(page, url: str, path: str = "/") -> None:
    page.goto(url + path)
    page.wait_for_selector("#cw-question textarea")
    page.wait_for_function("() => !document.querySelector('.wrap.translucent, .eta-bar')")


def selected_tab(page) -> str:
    return page.locator("button[role=tab][aria-selected=true]").inner_text().strip()


def ask(page, question: str) -> None:
    """Type a question, press Ask, wait for its final answer; records whether a streaming draft was shown."""
    done = page.locator("#cw-chat .cw-final, #cw-chat .cw-error").count()
    page.evaluate(
        """() => {
        const chat = document.querySelector('#cw-chat');
        window.__cwSawStreaming = false;
        window.__cwObserver?.disconnect();
        window.__cwObserver = new MutationObserver(() => {
            if (chat.querySelector('.cw-streaming')) window.__cwSawStreaming = true;
        });
        window.__cwObserver.observe(chat, {subtree: true, childList: true, characterData: true});
    }"""
    )
    page.fill("#cw-question textarea", question)
    page.click("#cw-ask")
    page.wait_for_function(
        "n => document.querySelectorAll('#cw-chat .cw-final, #cw-chat .cw-error').length > n", arg=done, timeout=120_000
    )
    error = page.locator("#cw-chat .cw-error")
    assert error.count() == 0, error.first.inner_text()


def mark_in_view(page) -> bool:
    return page.locator("#cw-viewer mark#cited").evaluate(
        "m => { const r = m.getBoundingClientRect(); return r.height > 0 && r.top < window.innerHeight && r.bottom > 0; }"
    )


def wait_marked(page, text: str) -> str:
    page.wait_for_function(
        "t => (document.querySelector('#cw-viewer mark#cited')?.textContent || '').includes(t)", arg=text
    )
    page.wait_for_function("() => { const m = document.querySelector('#cw-viewer mark#cited'); "
                           "const r = m.getBoundingClientRect(); return r.top < window.innerHeight && r.bottom > 0; }")
    return page.locator("#cw-viewer mark#cited").inner_text()


def upload(page, path: Path, vendor: str) -> str:
    page.click("#cw-tab-library-button, button[role=tab]:has-text('Library')")
    page.set_input_files("#cw-upload-file input[type=file]", str(path))
    page.wait_for_function(  # Gradio uploads the file to the server first: slow when the 2 cores are busy
        "name => (document.querySelector('#cw-upload-file')?.innerText || '').includes(name)", arg=path.name,
        timeout=120_000,
    )
    page.fill("#cw-upload-vendor textarea, #cw-upload-vendor input", vendor)
    page.locator("#cw-upload-status").evaluate("el => { el.dataset.before = el.innerText; }")
    page.click("#cw-upload-btn")
    page.wait_for_selector("#cw-upload-status .cw-ok, #cw-upload-status .cw-fail", timeout=120_000)
    return page.inner_text("#cw-upload-status")


def doc_id_of(engine, vendor: str) -> str:
    docs = [d.doc_id for d in engine.documents() if d.vendor == vendor]
    assert len(docs) == 1, (vendor, docs)
    return docs[0]


def remove_via_ui(page, doc_id: str) -> None:
    page.click("button[role=tab]:has-text('Library')")
    page.click("#cw-remove-pick input")
    page.fill("#cw-remove-pick input", doc_id)
    page.locator("#cw-remove-pick ul[role=listbox] li, .options li").filter(has_text=doc_id).first.click()
    page.click("#cw-remove-btn")
    page.wait_for_selector("#cw-remove-status .cw-ok, #cw-remove-status .cw-fail")
    assert page.locator("#cw-remove-status .cw-ok").count() == 1, page.inner_text("#cw-remove-status")


# ---- tests --------------------------------------------------------------------------------------------
def test_chat_streams_cited_answer_and_opens_the_clause(page, app_url, docs_dir, e2e_engine):
    open_app(page, app_url)
    assert "extractive" in page.inner_text("#cw-backend")
    ask(page, KIPSU_QUESTION)
    assert page.evaluate("window.__cwSawStreaming"), "the draft answer was never shown while streaming"
    answer = page.locator("#cw-chat .cw-final").last
    links = answer.locator("a.cw-cite")
    assert links.count() >= 1, answer.inner_text()
    assert "Kipsu" in answer.locator(".cw-vendors").inner_text()
    sources = page.inner_text("#cw-sources")
    assert "Kipsu" in sources and KIPSU_CLAUSE in sources and "effective 2017-04" in sources
    href = links.first.get_attribute("href")
    assert href.startswith("/?doc=kipsu&clause="), href
    page.screenshot(path=str(docs_dir / "screenshot-chat.png"), full_page=True)

    links.first.click()
    marked = wait_marked(page, KIPSU_CLAUSE)
    assert selected_tab(page) == "Policy viewer"
    assert mark_in_view(page)
    viewer = page.inner_text("#cw-viewer")
    assert "What are Kipsu’s data retention policies?" in viewer and "Kipsu Privacy Policy" in viewer
    assert viewer.index("Effective as of April 2017") < viewer.index(KIPSU_CLAUSE)  # the whole document is shown
    page.screenshot(path=str(docs_dir / "screenshot-viewer.png"))

    # the same link pasted into a new tab (a new browser context even) shows the same highlighted clause
    other = page.context.browser.new_context(viewport={"width": 1360, "height": 1000})
    try:
        fresh = other.new_page()
        fresh.goto(app_url + href)
        assert wait_marked(fresh, KIPSU_CLAUSE) == marked
        assert selected_tab(fresh) == "Policy viewer"
        assert mark_in_view(fresh)
    finally:
        other.close()


def test_deep_link_without_offsets_finds_the_clause_from_its_chunks(page, app_url, e2e_engine):
    citation = e2e_engine.ask(KIPSU_QUESTION).citations[0]
    page.goto(f"{app_url}/?doc={citation.document}&clause={citation.clause_id}")
    assert KIPSU_CLAUSE in wait_marked(page, KIPSU_CLAUSE)
    page.goto(f"{app_url}/?doc=no-such-doc&clause=x")
    page.wait_for_function("() => (document.querySelector('#cw-viewer')?.innerText || '').includes('not in the library')")


def test_compare_has_one_row_per_vendor_consistent_with_the_engine(page, app_url, docs_dir, e2e_engine):
    expected = e2e_engine.compare(COMPARE_QUESTION)
    stated = {row.vendor: row.stated for row in expected.rows}
    assert set(stated) == set(e2e_engine.vendors())

    open_app(page, app_url)
    page.click("button[role=tab]:has-text('Compare')")
    page.fill("#cw-compare-question textarea", COMPARE_QUESTION)
    page.click("#cw-compare-btn")
    page.wait_for_selector("#cw-compare-table tr.cw-row", timeout=120_000)
    rows = page.locator("#cw-compare-table tr.cw-row")
    assert rows.count() == len(expected.rows)
    shown = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        vendor = row.get_attribute("data-vendor")
        shown[vendor] = row.get_attribute("data-stated") == "true"
        text = row.inner_text()
        if stated[vendor]:
            assert "Not stated in this policy" not in text
            assert row.locator("td.cw-links a.cw-cite").count() >= 1
        else:
            assert "Not stated in this policy" in text
    assert shown == stated
    page.screenshot(path=str(docs_dir / "screenshot-compare.png"), full_page=True)

    csv_link = page.locator("#cw-compare-csv a").first
    page.wait_for_function("() => !!document.querySelector('#cw-compare-csv a[href]')")
    body = page.request.get(csv_link.get_attribute("href")).text()
    table = list(csv.DictReader(io.StringIO(body)))
    assert {r["vendor"]: r["stated"] == "yes" for r in table} == stated
    md_href = page.locator("#cw-compare-md a").first.get_attribute("href")
    markdown = page.request.get(md_href).text()
    assert markdown.count("Not stated in this policy") == sum(not v for v in stated.values())

    # a compare link opens the viewer on that clause
    first_link = page.locator("#cw-compare-table td.cw-links a.cw-cite").first
    clause_doc = first_link.get_attribute("data-doc")
    first_link.click()
    page.wait_for_selector("#cw-viewer mark#cited")
    assert page.locator("#cw-viewer .cw-viewer").get_attribute("data-doc") == clause_doc


def test_uploaded_policy_is_searchable_right_away(page, app_url, e2e_engine, tmp_path):
    policy = tmp_path / "acme policy (v2).txt"
    policy.write_text(
        "Acme Test Co Privacy Policy\n\nEffective date: 2025-01-15\n\nData retention\n\n"
        "Acme Test Co retains customer support transcripts for exactly 17 months after the account is closed, "
        "after which they are permanently erased from all backups.\n\nContact\n\n"
        "Write to privacy@acme.test with any question about this policy.\n",
        encoding="utf-8",
    )
    open_app(page, app_url)
    status = upload(page, policy, "Acme Test Co")
    assert "Acme Test Co" in status and "searchable now" in status, status
    assert "Acme Test Co" in page.inner_text("#cw-library")
    doc_id = doc_id_of(e2e_engine, "Acme Test Co")
    uploaded = Path(e2e_engine.store.ledger()[doc_id].path)
    assert uploaded.parent.name == "uploads" and uploaded.name == "acme-test-co--acme-policy-v2.txt"

    page.click("button[role=tab]:has-text('Chat')")
    ask(page, "How long does Acme Test Co keep customer support transcripts?")
    answer = page.locator("#cw-chat .cw-final").last
    assert "Acme Test Co" in answer.locator(".cw-vendors").inner_text()
    assert answer.locator("a.cw-cite").count() >= 1
    assert "17 months" in page.inner_text("#cw-sources")
    answer.locator("a.cw-cite").first.click()
    assert "17 months" in wait_marked(page, "17 months")

    remove_via_ui(page, doc_id)
    assert "Acme Test Co" not in e2e_engine.vendors()
    assert not uploaded.exists()
    assert "Acme Test Co" not in page.inner_text("#cw-library")


def test_policy_markup_is_shown_as_literal_text(page, app_url, e2e_engine, tmp_path):
    vendor = 'Evil <img src=y onerror="window.__pwned=4"> Co'
    policy = tmp_path / "<evil>.txt"
    policy.write_text(
        "Evil Co Privacy Policy\n\nData retention\n\n"
        f"Evil Co retains visitor logs for ninety days. {XSS} ${{window.__pwned=3}} {{{{constructor}}}}\n",
        encoding="utf-8",
    )
    open_app(page, app_url)
    status = upload(page, policy, vendor)
    assert "searchable now" in status, status
    doc_id = doc_id_of(e2e_engine, vendor)
    try:
        assert vendor in page.inner_text("#cw-library")

        page.goto(f"{app_url}/?doc={doc_id}")
        page.wait_for_function("() => (document.querySelector('#cw-viewer .cw-doc')?.innerText || '').includes('ninety days')")
        text = page.inner_text("#cw-viewer .cw-doc")
        assert XSS in text and "${window.__pwned=3}" in text and "{{constructor}}" in text
        assert vendor in page.inner_text("#cw-viewer .cw-doc-meta")

        page.click("button[role=tab]:has-text('Chat')")
        ask(page, "How long does Evil Co retain visitor logs?")
        assert "ninety days" in page.inner_text("#cw-sources")
        page.click("button[role=tab]:has-text('Compare')")
        page.fill("#cw-compare-question textarea", "How long are visitor logs retained?")
        page.click("#cw-compare-btn")
        page.wait_for_selector(f"#cw-compare-table tr.cw-row[data-vendor='{vendor}']", timeout=120_000)

        for root in ("#cw-viewer", "#cw-chat", "#cw-sources", "#cw-compare-table", "#cw-library"):
            assert page.locator(f"{root} script, {root} img[src=x], {root} img[src=y]").count() == 0, root
        assert page.evaluate("typeof window.__pwned") == "undefined"
    finally:
        remove_via_ui(page, doc_id)
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_upload_refuses_bad_files_with_clear_messages(page, app_url, tmp_path):
    open_app(page, app_url)
    bad = tmp_path / "policy.exe"
    bad.write_bytes(b"MZ\x00\x00 not a policy")
    page.click("button[role=tab]:has-text('Library')")
    page.set_input_files("#cw-upload-file input[type=file]", str(bad))
    page.fill("#cw-upload-vendor textarea, #cw-upload-vendor input", "Bad Files Inc")
    page.click("#cw-upload-btn")
    page.wait_for_selector("#cw-upload-status .cw-fail, #cw-upload-status .cw-ok")
    status = page.inner_text("#cw-upload-status")
    # the file picker already filters by type; the server refuses it too when it gets through
    assert "Unsupported file type .exe" in status or "Choose a policy file" in status, status
    assert "Traceback" not in status


def test_upload_checks_names_sizes_and_vendors(e2e_settings, e2e_engine, tmp_path):
    from ui.app import ClausewiseUI
    from ui.uploads import UploadError, plan_upload, safe_filename

    assert safe_filename("../../etc/passwd.txt", "Acme") == "acme--passwd.txt"
    assert safe_filename("..\\..\\x\\évil <b>name.MD", "Acme, Inc.") == "acme-inc--vil-b-name.md"
    assert safe_filename("....txt", "A") == "a--policy.txt"
    for bad in ("policy.exe", "policy", "policy.txt.sh", ".htaccess"):
        with pytest.raises(UploadError, match="Unsupported file type"):
            safe_filename(bad, "Acme")
    uploads = tmp_path / "uploads"
    assert plan_upload("kipsu.txt", "Other", uploads, {"kipsu": "Kipsu"}).parent == uploads.resolve()
    assert plan_upload("p.txt", "Kipsu", uploads, {"kipsu-p": "Kipsu"}).name == "kipsu--p.txt"  # same vendor: replace
    assert plan_upload("p.txt", "Kipsu", uploads, {"kipsu-p": "Someone"}).name == "kipsu--p-2.txt"

    tiny = e2e_settings.model_copy(update={"max_file_mb": 0.0001, "data_dir": tmp_path / "data"})
    ui = ClausewiseUI(tiny, e2e_engine)
    big = tmp_path / "big.txt"
    big.write_text("Retention. " * 100, encoding="utf-8")
    status = ui.upload(str(big), "Big Co", progress=lambda *a, **k: None)[0]
    assert "cw-fail" in status and "the limit is 0.0001 MB" in status
    assert "Enter the vendor" in ui.upload(str(big), "   ", progress=lambda *a, **k: None)[0]
    assert not (tmp_path / "data" / "uploads").exists()


def test_rendering_escapes_everything_and_keeps_links_safe():
    from clausewise.types import Answer, Citation, Comparison, ComparisonRow
    from ui.render import comparison_csv, comparison_markdown, link_markers, render_comparison, render_sources

    hostile = Citation(n=1, vendor="V<b>", document="d", section="S<i>", clause_id="d/c-1", quote="<script>x()</script>",
                       start=5, end=9, url="javascript:alert(1)", effective_date="<u>2020</u>")
    html = link_markers("<img src=x onerror=alert(1)> says [1] and [2]", [hostile])
    assert "<img" not in html and "javascript:" not in html
    assert 'href="/?doc=d&amp;clause=d/c-1&amp;start=5&amp;end=9"' in html and "[2]" in html
    answer = Answer(question="q", text="=HYPERLINK(\"http://evil\") [1]", citations=[hostile])
    sources = render_sources(answer)
    assert "<script>" not in sources and "&lt;script&gt;" in sources and "<u>" not in sources
    table = Comparison("q", [ComparisonRow("V<b>", True, answer), ComparisonRow("W", False, Answer("q", "Not stated in this policy."))])
    assert "<b>" not in render_comparison(table)
    rows = list(csv.reader(io.StringIO(comparison_csv(table))))
    assert rows[1][3].startswith("'=HYPERLINK") and rows[2][2] == "no"
    assert "\\<b\\>" in comparison_markdown(table)


def test_sessions_do_not_see_each_others_chat(new_page, app_url):
    first, second = new_page(), new_page()
    open_app(first, app_url)
    open_app(second, app_url)
    q1, q2 = KIPSU_QUESTION, "Does kim.cc sell personal information?"
    first.fill("#cw-question textarea", q1)
    second.fill("#cw-question textarea", q2)
    first.click("#cw-ask")
    second.click("#cw-ask")
    for page in (first, second):
        page.wait_for_selector("#cw-chat .cw-final", timeout=120_000)
    chat1, chat2 = first.inner_text("#cw-chat"), second.inner_text("#cw-chat")
    assert q1 in chat1 and q2 not in chat1
    assert q2 in chat2 and q1 not in chat2
    assert "Kipsu" in first.inner_text("#cw-sources") and "kim.cc" in second.inner_text("#cw-sources")
    first.reload()
    first.wait_for_selector("#cw-question textarea")
    assert first.locator("#cw-chat .cw-turn").count() == 0  # a new page is a new session


def test_twenty_simultaneous_questions_all_complete(app_url):
    from gradio_client import Client

    questions = [KIPSU_QUESTION, "Does kim.cc sell personal information?", "Which cookies does Kaizenify use?",
                 "How can I delete my data at Kalodata?"] * 5

    def one(question: str) -> str:
        client = Client(app_url + "/", verbose=False, download_files=False)
        chat, _sources, _question = client.predict(question, "All vendors", api_name="/ask")
        return chat

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, questions))
    assert len(results) == 20
    for question, chat in zip(questions, results, strict=True):
        assert "cw-final" in chat and "cw-error" not in chat, chat[:500]
        assert question.replace("'", "&#x27;") in chat


def test_login_is_required_when_auth_is_set(app_url, start_app, new_page):
    url = start_app(auth="analyst:s3cret-pass")  # a second instance (its own port) next to app_url
    page = new_page()
    assert page.request.get(url + "/config").status == 401
    deep = url + "/?doc=kipsu&clause=kipsu/what-are-kipsu-s-data-1"

    def login(password: str) -> None:
        page.goto(deep)
        page.get_by_label("username").fill("analyst")
        page.get_by_label("password").fill(password)
        page.get_by_role("button", name="Login").click()

    login("wrong")
    page.wait_for_selector("text=Incorrect Credentials")
    assert page.locator("#cw-question").count() == 0
    login("s3cret-pass")
    # the app is there after login; the deep link then switches to the viewer tab, hiding the chat box
    page.wait_for_selector("#cw-question textarea", state="attached")
    assert KIPSU_CLAUSE in wait_marked(page, KIPSU_CLAUSE)  # the deep link survives the login
