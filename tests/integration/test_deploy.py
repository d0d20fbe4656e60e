"""Deployment files: docker-compose.yml (validated by `docker-compose config`), Dockerfile, README install steps.

No Docker engine is needed: `docker-compose config` only parses, interpolates and validates the files.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_GPU = ROOT / "docker-compose.gpu.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
README = ROOT / "README.md"

TORCH_PIN_RE = re.compile(r"\bpip3?\s+install\b[^\n]*?\btorch==([0-9][\w.+!-]*)")
PROJECT_INSTALL_RE = re.compile(r"\bpip3?\s+install\s+(?:--?[\w-]+\s+)*?(-e\s+|--editable\s+)?\.(?=\s|$|&|;)")


def _compose_config(*files: Path) -> dict[str, Any]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not installed, so the compose file cannot be validated. "
            "Install it with `apt-get install -y docker-compose` (Debian package) and re-run."
        )
    args = [exe]
    for f in files:
        args += ["-f", str(f)]
    # Our own variables must not leak into the rendered config: the test checks the defaults.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUSEWISE_", "OLLAMA_", "TORCH_INDEX_URL"))}
    proc = subprocess.run([*args, "config"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"`docker-compose config` failed:\n{proc.stderr}"
    return yaml.safe_load(proc.stdout)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _compose_config(COMPOSE)


def _ports(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host_ip, published, target) for each port, from the short (v1) or long (v2) form."""
    out = []
    for p in service.get("ports", []):
        if isinstance(p, dict):
            out.append((str(p.get("host_ip", "")), str(p.get("published", "")), str(p["target"])))
        else:
            parts = str(p).split("/")[0].split(":")
            if len(parts) == 3:
                out.append((parts[0], parts[1], parts[2]))
            elif len(parts) == 2:
                out.append(("", parts[0], parts[1]))
            else:
                out.append(("", "", parts[0]))
    return out


def _volumes(service: dict[str, Any]) -> dict[str, str]:
    """target -> source for each mount, from the short (v1) or long (v2) form."""
    out = {}
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out[v["target"]] = str(v.get("source", ""))
        else:
            parts = str(v).split(":")
            out[parts[1]] = parts[0]
    return out


def _env(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def _assert_named_volume(compose: dict[str, Any], service: str, target: str) -> None:
    mounts = _volumes(compose["services"][service])
    assert target in mounts, f"{service} has no volume at {target}: {mounts}"
    source = mounts[target]
    assert source in (compose.get("volumes") or {}), f"{service}:{target} is not a named (persistent) volume: {source}"


def test_expected_services(compose: dict[str, Any]) -> None:
    assert {"ollama", "ollama-pull", "chroma", "app"} <= set(compose["services"])


def test_app_port_published_on_loopback_only(compose: dict[str, Any]) -> None:
    ports = _ports(compose["services"]["app"])
    assert ports, "app publishes no port"
    for host_ip, published, target in ports:
        assert host_ip == "127.0.0.1", f"app port {published}:{target} is not bound to loopback"
    assert ("127.0.0.1", "7860", "7860") in ports
    for name, service in compose["services"].items():
        if name != "app":
            for host_ip, published, target in _ports(service):
                assert host_ip == "127.0.0.1", f"{name} publishes {published}:{target} beyond loopback"


def test_app_waits_for_healthy_backends_and_the_model_pull(compose: dict[str, Any]) -> None:
    deps = compose["services"]["app"]["depends_on"]
    assert isinstance(deps, dict), "app.depends_on must use conditions"
    assert deps["chroma"]["condition"] == "service_healthy"
    assert deps["ollama"]["condition"] == "service_healthy"
    assert deps["ollama-pull"]["condition"] == "service_completed_successfully"


def test_model_pull_is_one_shot_against_the_ollama_service(compose: dict[str, Any]) -> None:
    pull = compose["services"]["ollama-pull"]
    assert pull["image"].split(":")[0] == compose["services"]["ollama"]["image"].split(":")[0] == "ollama/ollama"
    assert str(pull.get("restart", "no")) == "no"
    assert _env(pull)["OLLAMA_HOST"] == "http://ollama:11434"
    assert pull["depends_on"]["ollama"]["condition"] == "service_healthy"
    command = " ".join(pull.get("entrypoint") or []) + " " + " ".join(pull.get("command") or [])
    assert "ollama pull" in command
    model = _env(compose["services"]["app"])["CLAUSEWISE_OLLAMA_MODEL"]
    assert model == "qwen2.5:3b-instruct"
    assert model in command or model in _env(pull).values()


@pytest.mark.parametrize(("service", "target"), [("chroma", "/data"), ("ollama", "/root/.ollama"), ("app", "/data")])
def test_persistent_volumes(compose: dict[str, Any], service: str, target: str) -> None:
    _assert_named_volume(compose, service, target)


@pytest.mark.parametrize("service", ["chroma", "ollama"])
def test_backends_have_healthchecks(compose: dict[str, Any], service: str) -> None:
    check = compose["services"][service].get("healthcheck")
    assert check and not check.get("disable"), f"{service} has no healthcheck"
    test = check["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1


def test_healthcheck_commands(compose: dict[str, Any]) -> None:
    assert compose["services"]["ollama"]["healthcheck"]["test"][1:] == ["ollama", "list"]
    chroma = " ".join(compose["services"]["chroma"]["healthcheck"]["test"])
    assert "/api/v2/heartbeat" in chroma and "8000" in chroma
    assert "curl" not in chroma and "wget" not in chroma, "the chroma image has neither curl nor wget"


def test_app_environment_wires_services(compose: dict[str, Any]) -> None:
    env = _env(compose["services"]["app"])
    assert env["OLLAMA_HOST"] == "http://ollama:11434"
    assert env["CLAUSEWISE_CHROMA_URL"] == "http://chroma:8000"
    assert env["CLAUSEWISE_HOST"] == "0.0.0.0"
    assert env["CLAUSEWISE_DATA_DIR"] == "/data"
    assert "CLAUSEWISE_AUTH" in env
    assert compose["services"]["app"]["build"]["args"]["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"


def test_chroma_env_and_image_matches_installed_client(compose: dict[str, Any]) -> None:
    chroma = compose["services"]["chroma"]
    image, _, tag = chroma["image"].rpartition(":")
    assert image == "chromadb/chroma"
    assert tag == importlib.metadata.version("chromadb"), "server image and chromadb client versions differ"
    env = _env(chroma)
    assert str(env["ANONYMIZED_TELEMETRY"]).upper() == "FALSE"
    assert str(env["IS_PERSISTENT"]).upper() == "TRUE"


def test_gpu_override_validates_and_reserves_nvidia_gpus() -> None:
    config = _compose_config(COMPOSE, COMPOSE_GPU)
    devices = config["services"]["ollama"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    # The override only adds the GPU; everything else stays as in the base file.
    assert config["services"]["app"]["depends_on"]["ollama"]["condition"] == "service_healthy"


# --- Dockerfile -----------------------------------------------------------------------------------------------


def _instructions(path: Path) -> list[str]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    joined, current = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    if current:
        joined.append(current)
    return joined


def _install_steps(lines: list[str]) -> tuple[int, str, int, str]:
    """Index and torch pin of the torch install; index and form (-e or not) of the project install."""
    torch_at = project_at = -1
    torch_pin = project_form = ""
    for i, line in enumerate(lines):
        if torch_at < 0 and (m := TORCH_PIN_RE.search(line)):
            torch_at, torch_pin = i, m.group(1)
        if project_at < 0 and (m := PROJECT_INSTALL_RE.search(line)):
            project_at, project_form = i, "-e ." if m.group(1) else "."
    return torch_at, torch_pin, project_at, project_form


def test_dockerfile_installs_pinned_torch_before_the_project() -> None:
    lines = _instructions(DOCKERFILE)
    assert lines[0].startswith("FROM python:3.11-slim")
    torch_at, torch_pin, project_at, _ = _install_steps(lines)
    assert torch_at >= 0, "Dockerfile does not install torch"
    assert project_at >= 0, "Dockerfile does not `pip install .`"
    assert torch_pin == "2.13.0"
    assert torch_at < project_at, "torch must be installed before the project"
    assert "--index-url" in lines[torch_at] and "TORCH_INDEX_URL" in lines[torch_at]
    assert any(re.fullmatch(r"ARG TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cpu", ln) for ln in lines)


def test_dockerfile_runtime() -> None:
    lines = _instructions(DOCKERFILE)
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert "EXPOSE 7860" in lines
    health = next(ln for ln in lines if ln.startswith("HEALTHCHECK"))
    assert "urllib" in health and "http://127.0.0.1:7860/" in health
    assert any(ln.startswith("ENTRYPOINT") and "docker/entrypoint.sh" in ln for ln in lines)
    text = DOCKERFILE.read_text(encoding="utf-8")
    for var in ("GRADIO_ANALYTICS_ENABLED=False", "HF_HUB_OFFLINE=1", "CLAUSEWISE_HOST=0.0.0.0"):
        assert var in text


def test_entrypoint_ingests_then_execs_serve() -> None:
    script = ENTRYPOINT.read_text(encoding="utf-8")
    assert script.startswith("#!/bin/sh")
    assert os.access(ENTRYPOINT, os.X_OK), "docker/entrypoint.sh must be executable"
    ingest = script.index("clausewise ingest")
    serve = script.index("exec clausewise serve")
    assert ingest < serve


def test_dockerignore_keeps_context_small_but_complete() -> None:
    entries = {
        ln.strip().rstrip("/")
        for ln in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    }
    assert {".venv", ".git", "tests"} <= entries
    for needed in ("corpus", "docker", "README.md", "pyproject.toml", "*.md", "*.toml", "*"):
        assert needed not in entries, f".dockerignore must not exclude {needed}"


# --- README install steps == Dockerfile install steps --------------------------------------------------------


def _readme_install_block() -> str:
    assert README.exists(), "README.md is missing (it must document the install commands)"
    blocks = re.findall(r"```(?:bash|sh|shell|console)[^\n]*\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    for block in blocks:
        if any(ln.strip().lstrip("$ ").startswith("python3 -m venv") for ln in block.splitlines()):
            return block
    pytest.fail("README.md has no ```bash block with a line starting with `python3 -m venv`")


def test_readme_and_dockerfile_install_the_same_way() -> None:
    block = _readme_install_block()
    commands = [c.strip() for c in re.split(r"&&|;|\n", block) if c.strip()]
    r_torch_at, r_torch_pin, r_project_at, r_form = _install_steps(commands)
    assert r_torch_at >= 0, "README install block does not `pip install torch==...`"
    assert r_project_at >= 0, "README install block does not `pip install -e .` / `pip install .`"
    assert r_torch_at < r_project_at, "README must install torch before the project"

    d_torch_at, d_torch_pin, d_project_at, d_form = _install_steps(_instructions(DOCKERFILE))
    assert d_torch_pin == r_torch_pin, f"torch pin differs: README {r_torch_pin}, Dockerfile {d_torch_pin}"
    assert r_form.replace("-e ", "") == d_form.replace("-e ", "") == ".", "both must install the project from ."
    assert importlib.metadata.version("torch").split("+")[0] == r_torch_pin, "installed torch differs from the pin"
