"""The clausewise web UI (Gradio): Chat, Policy viewer, Compare and Library tabs over rag.api.Engine.

    from ui.app import serve; serve(load_settings())      # or: python -m ui

Per-session state lives only in gr.State (the chat history); the library is shared by design.
All document, upload and model text is escaped in ui.render before it reaches the page.
"""
# ruff: noqa: E402  (gradio must be imported after the offline switches)

from __future__ import annotations

import os

import clausewise.offline  # noqa: F401  (before gradio and any ML import)

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # forced, whatever the environment says
# isort: split
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr

from clausewise.settings import Settings
from clausewise.store import StoreError, chunk_from_record
from clausewise.types import Chunk, DocumentInfo
from ingest.load import SUPPORTED_EXTENSIONS, IngestError
from ui.assets import CITE_JS, CSS, HELP, VIEWER_JS
from ui.render import (
    Span,
    Turn,
    comparison_csv,
    comparison_markdown,
    deep_link,
    esc,
    locate_clause,
    parse_int,
    query_target,
    render_chat,
    render_comparison,
    render_document,
    render_library,
    render_sources,
)
from ui.uploads import UploadError, check_extension, check_size, clean_vendor, plan_upload

log = logging.getLogger("clausewise.ui")

ALL_VENDORS = "All vendors"
CONCURRENCY = 32  # simultaneous events per handler: 20 concurrent questions must all run, not queue for minutes
EXAMPLES = [
    "How long does Kipsu retain data?",
    "Does kim.cc sell personal information?",
    "Which cookies does Kaizenify use?",
    "How can I delete my data at Kalodata?",
    "Do they share personal information with third parties?",
]
COMPARE_EXAMPLES = [
    "How long is personal data retained?",
    "Is personal information sold to third parties?",
    "Can users request deletion of their data?",
    "Is data transferred outside the user's country?",
]



def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions whose message is meant for the user (shown as text, never as a traceback)."""
    errors: list[type[BaseException]] = [ValueError, StoreError, IngestError, UploadError]
    try:
        from rag.retrieve import EmptyStoreError

        errors.append(EmptyStoreError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from rag.backends.base import BackendError

        errors.append(BackendError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from clausewise.embedding import EmbeddingError

        errors.append(EmbeddingError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


USER_ERRORS = _user_errors()


def friendly(exc: BaseException, doing: str) -> str:
    if isinstance(exc, USER_ERRORS):
        return f"Could not {doing}: {exc}"
    log.exception("error while trying to %s", doing)
    return f"Could not {doing} because of an internal error ({exc.__class__.__name__}). Details are in the server log."


class ClausewiseUI:
    """The handlers behind the Blocks; one instance per app, shared by all sessions (the engine is thread-safe)."""

    def __init__(self, settings: Settings, engine: Any) -> None:
        self.settings = settings
        self.engine = engine
        self.base = settings.public_url or ""
        self.write_lock = threading.Lock()  # one upload/removal at a time
        self._label: tuple[float, str] = (0.0, "")

    # ---- shared views ---------------------------------------------------------------------------------
    @property
    def uploads_dir(self) -> Path:
        return self.settings.data_dir / "uploads"

    def vendors(self) -> list[str]:
        try:
            return list(self.engine.vendors())
        except Exception:
            log.exception("cannot list vendors")
            return []

    def documents(self) -> list[DocumentInfo]:
        try:
            return sorted(self.engine.documents(), key=lambda d: (d.vendor.lower(), d.doc_id))
        except Exception:
            log.exception("cannot list documents")
            return []

    def doc_choices(self) -> list[tuple[str, str]]:
        return [(f"{d.vendor} — {d.title or d.doc_id} ({d.doc_id})", d.doc_id) for d in self.documents()]

    def backend_label(self) -> str:
        stamp, label = self._label
        if not label or time.monotonic() - stamp > 30:
            try:
                label = self.engine.backend_label()
            except Exception as exc:
                label = f"unknown ({exc.__class__.__name__})"
            self._label = (time.monotonic(), label)
        return label

    def backend_html(self) -> str:
        return f'<div class="cw-backend-line">Answering backend: <span class="cw-backend-label">{esc(self.backend_label())}</span></div>'

    def library_rows(self) -> list[dict]:
        rows: list[dict] = []
        try:
            ledger = self.engine.store.ledger()
        except Exception:
            log.exception("cannot read the ledger")
            return rows
        uploads = self.uploads_dir.resolve()
        for doc_id, entry in sorted(ledger.items(), key=lambda kv: (kv[1].info.vendor.lower(), kv[0])):
            info = entry.info
            origin = "upload" if entry.path and Path(entry.path).resolve().parent == uploads else "corpus"
            rows.append({"vendor": info.vendor, "doc_id": doc_id, "title": info.title, "effective_date": info.effective_date,
                         "languages": ", ".join(entry.languages), "chunks": entry.chunk_count,
                         "status": "ready" if entry.status == "done" else f"{entry.status} (re-run ingest)",
                         "origin": origin})
        return rows

    def library_value(self) -> str:
        return render_library(self.library_rows(), self.base)

    def choice_updates(self) -> tuple:
        """New choices for every vendor/document picker after the library changed."""
        vendors = self.vendors()
        docs = self.doc_choices()
        return (gr.update(choices=[ALL_VENDORS, *vendors]), gr.update(choices=vendors, value=vendors),
                gr.update(choices=docs), gr.update(choices=docs, value=None))

    # ---- viewer -------------------------------------------------------------------------------------
    def doc_chunks(self, doc_id: str) -> list[Chunk]:
        result = self.engine.store.chunks.get(where={"doc_id": doc_id}, include=["metadatas", "documents"])
        chunks = [chunk_from_record(i, m, d) for i, m, d in zip(result["ids"], result["metadatas"], result["documents"], strict=True)]
        return sorted(chunks, key=lambda c: c.start)

    def view(self, doc_id: str, clause_id: str = "", start: int | None = None, end: int | None = None) -> str:
        doc_id = (doc_id or "").strip()
        if not doc_id:
            return render_document(None, "", [], None)
        try:
            info = next((d for d in self.engine.documents() if d.doc_id == doc_id), None)
            if info is None:
                return render_document(None, "", [], None, message=f"The document “{doc_id}” is not in the library (it may have been removed).")
            raw = self.engine.raw_text(doc_id)
            chunks = self.doc_chunks(doc_id)
        except Exception as exc:
            return render_document(None, "", [], None, message=friendly(exc, "open the document"))
        located = locate_clause(chunks, clause_id) if clause_id else None
        span, message = None, ""
        if start is not None and end is not None and 0 <= start < end <= len(raw):
            section = located.section if located else next((" › ".join(c.section_path) for c in chunks if c.start <= start < c.end), "")
            span = Span(start, end, section)
        elif located is not None:
            span = located
        elif clause_id:
            message = f"The clause “{clause_id}” was not found in this document (it may have changed since the link was made); showing the whole document."
        link = deep_link(doc_id, clause_id, span.start, span.end, self.base) if span else ""
        return render_document(info, raw, chunks, span, link=link, message=message)

    def open_citation(self, evt: gr.EventData):
        data = getattr(evt, "_data", None) or {}
        doc = str(data.get("doc") or "")
        if not doc:
            return gr.update(), gr.update(), gr.update()
        html = self.view(doc, str(data.get("clause") or ""), parse_int(data.get("start")), parse_int(data.get("end")))
        return gr.Tabs(selected="viewer"), gr.update(value=doc), html

    def pick_document(self, doc_id: str | None) -> str:
        return self.view(doc_id or "")

    def on_load(self, request: gr.Request):
        """Fresh pickers for this page, and the viewer opened on the clause when the URL is a deep link."""
        vendors = self.vendors()
        docs = self.doc_choices()
        doc, clause, start, end = query_target(dict(request.query_params) if request is not None else {})
        if doc:
            known = any(value == doc for _, value in docs)
            tabs, viewer = gr.Tabs(selected="viewer"), self.view(doc, clause, start, end)
            pick = gr.update(choices=docs, value=doc if known else None)
        else:
            tabs, pick, viewer = gr.update(), gr.update(choices=docs), gr.update()
        return (tabs, pick, viewer, gr.update(choices=[ALL_VENDORS, *vendors]), gr.update(choices=vendors, value=vendors),
                gr.update(choices=docs), self.library_value(), self.backend_html())

    # ---- chat ---------------------------------------------------------------------------------------
    def ask(self, question: str, vendor: str | None, turns: list[Turn] | None):
        """Stream one answer into this session's chat: (chat html, sources html, state, cleared question box)."""
        turns = list(turns or [])
        question = (question or "").strip()
        if not question:
            yield gr.update(), gr.update(), turns, gr.update()
            return
        chosen = vendor if vendor and vendor != ALL_VENDORS else None
        turn = Turn(question=question, vendor=chosen, status="Searching the policies…")
        turns.append(turn)
        yield render_chat(turns, self.base), render_sources(None), turns, ""
        last = 0.0
        try:
            for event in self.engine.ask_stream(question, vendor=chosen):
                if event.kind == "status":
                    turn.status = event.text
                elif event.kind == "token":
                    turn.draft += event.text
                elif event.kind == "answer" and event.answer is not None:
                    turn.answer = event.answer
                    continue
                now = time.monotonic()
                if now - last > 0.05:
                    last = now
                    yield render_chat(turns, self.base), gr.update(), turns, gr.update()
            if turn.answer is None:
                turn.error = "The engine finished without an answer."
        except Exception as exc:
            turn.error = friendly(exc, "answer the question")
        yield render_chat(turns, self.base), render_sources(turn.answer, self.base), turns, gr.update()

    def clear(self):
        return render_chat([]), render_sources(None), []

    # ---- compare ------------------------------------------------------------------------------------
    def compare(self, question: str, vendors: list[str] | None):
        question = (question or "").strip()
        if not question:
            return render_comparison(None, message="Type a question to compare the vendors."), None, None
        try:
            comparison = self.engine.compare(question, list(vendors) if vendors else None)
        except Exception as exc:
            return render_comparison(None, message=friendly(exc, "compare the vendors")), None, None
        folder = Path(tempfile.mkdtemp(prefix="clausewise-compare-"))
        csv_path = folder / "clausewise-comparison.csv"
        md_path = folder / "clausewise-comparison.md"
        csv_path.write_text(comparison_csv(comparison, self.base), encoding="utf-8")
        md_path.write_text(comparison_markdown(comparison, self.base), encoding="utf-8")
        return render_comparison(comparison, self.base), str(csv_path), str(md_path)

    # ---- library ------------------------------------------------------------------------------------
    def _status(self, ok: bool, text: str) -> str:
        return f'<div class="{"cw-ok" if ok else "cw-fail"}" role="status">{esc(text)}</div>'

    def upload(self, file_path: str | None, vendor: str | None, progress=gr.Progress()):  # noqa: B008
        """Save an uploaded policy under a safe name, ingest it, make it searchable now."""
        unchanged = (gr.update(),) * 4
        try:
            vendor = clean_vendor(vendor)
            if not file_path:
                raise UploadError("Choose a policy file to upload.")
            src = Path(file_path)
            check_extension(src.name)
            check_size(src, self.settings.max_file_mb)
            progress(0.05, desc="Checking the file")
            with self.write_lock:
                ledger = self.engine.store.ledger()
                taken = {doc_id: e.info.vendor for doc_id, e in ledger.items()}
                dest = plan_upload(src.name, vendor, self.uploads_dir, taken)
                self.uploads_dir.mkdir(parents=True, exist_ok=True)
                backup = dest.with_name(dest.name + ".previous") if dest.exists() else None
                if backup:
                    dest.replace(backup)
                shutil.copyfile(src, dest)
                progress(0.2, desc="Reading, splitting into clauses and embedding")
                report = self.engine.ingestor.ingest_file(dest, vendor=vendor)
                if report.errors:
                    dest.unlink(missing_ok=True)
                    if backup:
                        backup.replace(dest)
                    raise UploadError(report.errors[0]["error"])
                if backup:
                    backup.unlink(missing_ok=True)
                progress(0.85, desc="Updating the search index")
                self.engine.refresh()
            self.vendors()  # rebuild the index now, so the next question is fast
            progress(1.0, desc="Done")
            what = "Updated" if report.updated else "Already up to date:" if report.unchanged else "Added"
            message = (f"{what} {dest.name} for {vendor}: {report.chunks} chunk(s) in {report.seconds:.1f}s. "
                       "It is searchable now in Chat and Compare.")
            return (self._status(True, message), self.library_value(), *self.choice_updates(), None)
        except Exception as exc:
            return (self._status(False, friendly(exc, "add the policy")), gr.update(), *unchanged, gr.update())

    def remove(self, doc_id: str | None):
        unchanged = (gr.update(),) * 4
        if not doc_id:
            return self._status(False, "Choose a document to remove."), gr.update(), *unchanged
        try:
            with self.write_lock:
                entry = self.engine.store.ledger().get(doc_id)
                if entry is None:
                    return self._status(False, f"“{doc_id}” is not in the library."), self.library_value(), *self.choice_updates()
                self.engine.store.remove_document(doc_id)
                note = ""
                if entry.path:
                    path = Path(entry.path).resolve()
                    if path.parent == self.uploads_dir.resolve():
                        path.unlink(missing_ok=True)
                    elif path.is_relative_to(Path(self.settings.corpus_dir).resolve()):
                        note = " It is part of the corpus folder, so the next `clausewise ingest` adds it back."
                self.engine.refresh()
            message = f"Removed {doc_id} ({entry.info.vendor}) from the library.{note}"
            return self._status(True, message), self.library_value(), *self.choice_updates()
        except Exception as exc:
            return self._status(False, friendly(exc, "remove the document")), gr.update(), *unchanged


def _engine(settings: Settings):
    from rag.api import Engine

    return Engine(settings)


def build_app(settings: Settings, engine: Any = None) -> gr.Blocks:
    """The Blocks of the whole UI. `engine` defaults to rag.api.Engine(settings)."""
    ui = ClausewiseUI(settings, engine if engine is not None else _engine(settings))
    vendors = ui.vendors()
    docs = ui.doc_choices()

    with gr.Blocks(title="clausewise — privacy policy answers with citations", analytics_enabled=False) as demo:
        turns = gr.State([])
        with gr.Tabs(selected="chat", elem_id="cw-tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="cw-tab-chat"):
                gr.HTML(HELP)
                backend = gr.HTML(ui.backend_html(), elem_id="cw-backend")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chat = gr.HTML(render_chat([]), js_on_load=CITE_JS, elem_id="cw-chat", autoscroll=True)
                        with gr.Row():
                            question = gr.Textbox(label="Question", placeholder="e.g. How long does Kipsu retain data?",
                                                  lines=1, max_lines=4, scale=4, elem_id="cw-question", autofocus=True)
                            vendor = gr.Dropdown(choices=[ALL_VENDORS, *vendors], value=ALL_VENDORS, label="Vendor",
                                                 scale=1, elem_id="cw-vendor")
                        with gr.Row():
                            ask_btn = gr.Button("Ask", variant="primary", elem_id="cw-ask")
                            clear_btn = gr.Button("Clear chat", variant="secondary", elem_id="cw-clear")
                        gr.Examples(EXAMPLES, inputs=[question], label="Example questions")
                    with gr.Column(scale=2):
                        sources = gr.HTML(render_sources(None), js_on_load=CITE_JS, elem_id="cw-sources")

            with gr.Tab("Policy viewer", id="viewer", elem_id="cw-tab-viewer"):
                doc_pick = gr.Dropdown(choices=docs, value=None, label="Document", elem_id="cw-doc-pick")
                viewer = gr.HTML(render_document(None, "", [], None), js_on_load=VIEWER_JS, elem_id="cw-viewer")

            with gr.Tab("Compare", id="compare", elem_id="cw-tab-compare"):
                gr.Markdown("Ask the same question of several vendors. Vendors whose policy does not address it "
                            "are marked **Not stated in this policy**.")
                with gr.Row():
                    c_question = gr.Textbox(label="Question", placeholder="e.g. How long is personal data retained?",
                                            scale=3, elem_id="cw-compare-question")
                    c_vendors = gr.Dropdown(choices=vendors, value=vendors, multiselect=True, label="Vendors",
                                            scale=2, elem_id="cw-compare-vendors")
                c_btn = gr.Button("Compare", variant="primary", elem_id="cw-compare-btn")
                gr.Examples(COMPARE_EXAMPLES, inputs=[c_question], label="Example questions")
                c_table = gr.HTML(render_comparison(None), js_on_load=CITE_JS, elem_id="cw-compare-table")
                with gr.Row():
                    c_csv = gr.File(label="Download CSV", interactive=False, elem_id="cw-compare-csv")
                    c_md = gr.File(label="Download Markdown", interactive=False, elem_id="cw-compare-md")

            with gr.Tab("Library", id="library", elem_id="cw-tab-library"):
                gr.Markdown("### Documents in the store\nClick a document id to read it in the policy viewer.")
                library = gr.HTML(ui.library_value(), js_on_load=CITE_JS, elem_id="cw-library")
                with gr.Row():
                    with gr.Column():
                        gr.Markdown(f"### Add a policy\n{', '.join(SUPPORTED_EXTENSIONS)} up to {settings.max_file_mb:g} MB. "
                                    "Re-uploading the same file name for the same vendor replaces it.")
                        up_file = gr.File(label="Policy file", file_types=list(SUPPORTED_EXTENSIONS), type="filepath",
                                          elem_id="cw-upload-file")
                        up_vendor = gr.Textbox(label="Vendor (company) name", placeholder="e.g. Acme Inc.",
                                               elem_id="cw-upload-vendor")
                        up_btn = gr.Button("Upload and ingest", variant="primary", elem_id="cw-upload-btn")
                        up_status = gr.HTML(elem_id="cw-upload-status")
                    with gr.Column():
                        gr.Markdown("### Remove a document\nDeletes its clauses from the store (and an uploaded file from disk).")
                        rm_pick = gr.Dropdown(choices=docs, value=None, label="Document", elem_id="cw-remove-pick")
                        rm_btn = gr.Button("Remove from library", variant="stop", elem_id="cw-remove-btn")
                        rm_status = gr.HTML(elem_id="cw-remove-status")

        pickers = [vendor, c_vendors, doc_pick, rm_pick]
        ask_args = {"fn": ui.ask, "inputs": [question, vendor, turns], "outputs": [chat, sources, turns, question],
                    "show_progress": "hidden"}
        ask_btn.click(**ask_args, api_name="ask")
        question.submit(**ask_args, api_visibility="private")
        clear_btn.click(ui.clear, outputs=[chat, sources, turns], api_visibility="private")
        for html in (chat, sources, c_table, library):
            html.click(ui.open_citation, outputs=[tabs, doc_pick, viewer], api_visibility="private")
        doc_pick.input(ui.pick_document, inputs=[doc_pick], outputs=[viewer], api_visibility="private")
        c_btn.click(ui.compare, inputs=[c_question, c_vendors], outputs=[c_table, c_csv, c_md], api_name="compare")
        c_question.submit(ui.compare, inputs=[c_question, c_vendors], outputs=[c_table, c_csv, c_md], api_visibility="private")
        up_btn.click(ui.upload, inputs=[up_file, up_vendor], outputs=[up_status, library, *pickers, up_file],
                     api_name="upload", concurrency_limit=1, concurrency_id="library-write", show_progress_on=[up_status])
        rm_btn.click(ui.remove, inputs=[rm_pick], outputs=[rm_status, library, *pickers],
                     api_name="remove_document", concurrency_limit=1, concurrency_id="library-write", show_progress_on=[rm_status])
        demo.load(ui.on_load, outputs=[tabs, doc_pick, viewer, vendor, c_vendors, rm_pick, library, backend],
                  api_visibility="private", show_progress="hidden")

    demo.clausewise_ui = ui  # handy for tests and embedding
    return demo


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ValueError("settings.auth must look like user:password")
    return user, password


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        "server_name": settings.host,
        "server_port": settings.port,
        "auth": parse_auth(settings.auth),
        "auth_message": "clausewise: sign in to ask about the policies." if settings.auth else None,
        "ssr_mode": False,
        "max_file_size": int(settings.max_file_mb * 1e6),
        "footer_links": ["api", "settings"],  # the API page stays on (show_api)
        "css": CSS,
        "share": False,
        "pwa": False,
        "mcp_server": False,
        "enable_monitoring": False,
        "quiet": True,
    }


def serve(settings: Settings, engine: Any = None, block: bool = True) -> gr.Blocks:
    """Build and launch the UI on settings.host:settings.port. With block=False it returns once serving."""
    from clausewise.memory import Trimmer, limit_malloc_arenas

    limit_malloc_arenas(settings.malloc_arena_max)  # before the worker threads allocate: flat memory under load
    if settings.malloc_trim_s > 0:
        Trimmer(settings.malloc_trim_s).start()
    demo = build_app(settings, engine)
    demo.queue(default_concurrency_limit=CONCURRENCY)
    demo.launch(prevent_thread_lock=True, **launch_kwargs(settings))
    if block:
        login = " (login required)" if settings.auth else ""
        print(f"clausewise UI on http://{settings.host}:{settings.port}{login} — Ctrl+C to stop", flush=True)
        demo.block_thread()  # until Ctrl+C
    return demo
