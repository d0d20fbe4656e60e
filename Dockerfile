# clausewise: private Q&A over privacy policies, with cited clauses.
# Build:  docker compose build        (or: docker build -t clausewise .)
# Run:    docker compose up           (see docs/deploy.md)
FROM python:3.11-slim

# The torch CPU wheel comes from the PyTorch CPU index; override to use a mirror or local index.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    ANONYMIZED_TELEMETRY=False \
    DO_NOT_TRACK=1 \
    CLAUSEWISE_HOST=0.0.0.0 \
    CLAUSEWISE_PORT=7860 \
    CLAUSEWISE_DATA_DIR=/data \
    CLAUSEWISE_CORPUS_DIR=/app/corpus

RUN groupadd --system --gid 10001 clausewise \
    && useradd --system --uid 10001 --gid clausewise --create-home --home-dir /home/clausewise clausewise \
    && python -m venv /opt/venv \
    && mkdir -p /app /data \
    && chown clausewise:clausewise /data

WORKDIR /app

# Same order as the README: torch first, exactly this version, then the project.
RUN pip install torch==2.13.0 --index-url "${TORCH_INDEX_URL}"

# The build context (filtered by .dockerignore) brings the package sources, docker/ and corpus/.
COPY . /app
RUN pip install . \
    && test -f /app/corpus/manifest.toml \
    && chmod 0755 /app/docker/entrypoint.sh

USER clausewise

EXPOSE 7860
VOLUME ["/data"]

# Generous start period: the first start ingests the corpus before the UI listens.
HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=8)"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD []
