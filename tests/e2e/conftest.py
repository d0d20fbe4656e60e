"""End-to-end fixtures: the real app (ui.app.serve) over a real store, driven by headless Chromium.

* ``e2e_settings`` (session): a private store holding the bundled corpus (vectors warmed from the shared
  ``ingested_store`` cache when tests/conftest.py provides it), on a free port, extractive backend.
* ``e2e_engine`` (session): the rag.api.Engine the server uses (tests compare the UI against it).
* ``app_url`` (session): the base URL of the served app (``serve(settings, engine, block=False)``);
  ``start_app(**overrides)`` serves another instance (e.g. with auth) and returns its URL.
* ``browser`` (session) / ``page`` (function): Playwright's Chromium at /usr/bin/chromium; each ``page``
  gets its own browser context (= its own Gradio session) and fails the test on page JavaScript errors.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "corpus"
DOCS_DIR = ROOT / "docs"
CHROMIUM = Path(os.environ.get("CLAUSEWISE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (local test server)
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app did not answer at {url} within {timeout:.0f}s")
        time.sleep(0.25)


def _warm_cache(request: pytest.FixtureRequest, data_dir: Path) -> None:
    """Copy the session corpus store's vector cache (when tests/conftest.py has one) so ingest is quick."""
    try:
        shared = request.getfixturevalue("ingested_store")
    except pytest.FixtureLookupError:
        return
    source = shared.settings.cache_path
    if not Path(source).is_file():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(str(source)), sqlite3.connect(str(data_dir / Path(source).name))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the e2e tests need it. Install it with `apt-get install -y chromium` "
            "(or set CLAUSEWISE_CHROMIUM to a Chromium binary).",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def e2e_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    from clausewise.settings import Settings
    from ingest.pipeline import Ingestor

    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    _warm_cache(request, data_dir)
    settings = Settings(data_dir=data_dir, chroma_url=None, host="127.0.0.1", port=free_port(), backend="extractive",
                        auth=None, public_url="")
    ingestor = Ingestor(settings)
    report = ingestor.ingest_corpus(CORPUS_DIR, progress=False)
    assert not report.errors, report.errors
    ingestor.cache.close()
    return settings


@pytest.fixture(scope="session")
def e2e_engine(e2e_settings):
    from rag.api import Engine

    return Engine(e2e_settings)


@pytest.fixture(scope="session")
def start_app(e2e_settings, e2e_engine):
    """Factory: `start_app(**settings_overrides) -> url` serves the real app (ui.app.serve) in this process."""
    from ui.app import serve

    demos = []

    def start(**overrides) -> str:
        if demos:  # every further instance gets its own port
            overrides.setdefault("port", free_port())
        settings = e2e_settings.model_copy(update=overrides) if overrides else e2e_settings
        demos.append(serve(settings, engine=e2e_engine, block=False))
        url = f"http://{settings.host}:{settings.port}"
        wait_http(url + "/config")
        return url

    yield start
    for demo in demos:
        demo.close()


@pytest.fixture(scope="session")
def app_url(start_app) -> str:
    return start_app()


@pytest.fixture(scope="session")
def browser(chromium_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """Factory: a page in a fresh browser context (its own Gradio session); JS errors fail the test."""
    contexts, errors = [], []

    def make(viewport: tuple[int, int] = (1360, 1000)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
        context.set_default_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture(scope="session")
def docs_dir() -> Path:
    DOCS_DIR.mkdir(exist_ok=True)
    return DOCS_DIR
