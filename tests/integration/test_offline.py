"""A full `clausewise ingest` works with the network unplugged and never even tries to reach it.

The ingest runs in a subprocess whose `sitecustomize.py` (loaded by Python at start-up, before any
project code) makes every non-loopback `connect`, `connect_ex`, `create_connection` and
`getaddrinfo` fail and writes each attempt to a log file. The environment variables that would keep
Hugging Face / Chroma / Gradio quiet are removed first, so the test proves the code sets them itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from clausewise.offline import OFFLINE_ENV

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "corpus"

SITECUSTOMIZE = r"""
import atexit
import errno
import ipaddress
import os
import socket

_LOG = os.environ["CLAUSEWISE_TEST_NET_LOG"]


def _log(line):
    with open(_LOG, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _loopback(host):
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host is None or host in ("", "localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name other than localhost


def _refuse(what, target):
    _log(f"BLOCKED {what} {target!r}")
    raise OSError(errno.ENETUNREACH, f"network disabled by the offline test: {what} {target!r}")


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
_create_connection, _getaddrinfo = socket.create_connection, socket.getaddrinfo


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _refuse("connect", address)
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _refuse("connect_ex", address)
    return _connect_ex(self, address)


def create_connection(address, *args, **kwargs):
    if not _loopback(address[0]):
        _refuse("create_connection", address)
    return _create_connection(address, *args, **kwargs)


def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host):
        _refuse("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
socket.create_connection, socket.getaddrinfo = create_connection, getaddrinfo
_log("GUARD active")
_WATCHED = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY", "HF_DATASETS_OFFLINE")
atexit.register(lambda: _log("ENV " + " ".join(f"{k}={os.environ.get(k, '<unset>')}" for k in _WATCHED)))
"""


@pytest.fixture
def offline_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment for a subprocess that cannot reach anything but loopback; returns (env, log path)."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "network.log"
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV and not k.startswith(("HF_", "TRANSFORMERS_"))}
    for key in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "ANONYMIZED_TELEMETRY",
        "DO_NOT_TRACK",
    ):
        env.pop(key, None)
    env["PYTHONPATH"] = str(guard) + os.pathsep + env.get("PYTHONPATH", "")
    env["HF_HOME"] = str(tmp_path / "empty-hf-home")  # nothing cached from the hub to fall back on
    env["CLAUSEWISE_TEST_NET_LOG"] = str(log)
    return env, log


def test_guard_really_blocks_the_network(offline_env: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    """Without this, a guard that silently failed to load would make the real test pass vacuously."""
    env, log = offline_env
    probe = (
        "import socket\n"
        "for attempt in (lambda: socket.create_connection(('203.0.113.7', 443), timeout=2),\n"
        "                lambda: socket.getaddrinfo('huggingface.co', 443)):\n"
        "    try:\n"
        "        attempt()\n"
        "    except OSError as exc:\n"
        "        print('refused:', exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("network disabled by the offline test") == 2
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "GUARD active"
    assert "BLOCKED create_connection ('203.0.113.7', 443)" in lines
    assert "BLOCKED getaddrinfo 'huggingface.co'" in lines


def test_full_ingest_makes_no_outbound_connection(
    offline_env: tuple[dict[str, str], Path], ingested_store, seed_vector_cache, clausewise_argv, tmp_path: Path
) -> None:
    env, log = offline_env
    data_dir = tmp_path / "data"
    # To keep the suite fast most vectors come from the session's cache, but a fifth are dropped so
    # the model must really be loaded and run; Chroma is opened and written as in any ingest.
    seed_vector_cache(ingested_store.settings, data_dir)
    model = ingested_store.settings.embedding_model
    cache_file = data_dir / ingested_store.settings.cache_path.name
    count = "SELECT COUNT(*) FROM vectors WHERE model = ?"
    with sqlite3.connect(cache_file) as cache:
        before = cache.execute(count, (model,)).fetchone()[0]
        dropped = cache.execute("DELETE FROM vectors WHERE rowid % 5 = 0 AND model = ?", (model,)).rowcount
        cache.execute("DELETE FROM marks")  # "every sentence of this document version is cached" no longer holds
    assert dropped > 20
    proc = subprocess.run(
        [*clausewise_argv, "ingest", str(CORPUS_DIR), "--json", "--data-dir", str(data_dir)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["documents"], report["added"], report["errors"]) == (5, 5, [])
    # every dropped vector (clauses and their sentences) was computed again by the model, offline
    assert report["embedded"] + report["sentences_embedded"] == dropped
    with sqlite3.connect(cache_file) as cache:
        assert cache.execute(count, (model,)).fetchone()[0] == before
    assert report["chunks"] == ingested_store.store.count()

    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "GUARD active", "the network guard did not load in the ingest process"
    blocked = [ln for ln in lines if ln.startswith("BLOCKED")]
    assert blocked == [], f"ingest tried to reach the network: {blocked}"
    # the project set the offline switches itself (they were removed from the environment above)
    assert lines[-1] == "ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False HF_DATASETS_OFFLINE=1"

    status = subprocess.run(
        [*clausewise_argv, "status", "--json", "--data-dir", str(data_dir)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    assert len(json.loads(status.stdout)["vendors"]) == 5
    assert not [ln for ln in log.read_text(encoding="utf-8").splitlines() if ln.startswith("BLOCKED")]
