"""Retrieval on real crowd questions (PolicyQA) keeps its level: a fixed sample of 100 questions about the three
held-apart PolicyQA dev policies (rag/calibrate.py: never used for tuning), each searched in its own policy
(vendor-filtered) as `clausewise eval` does. recall@2000c: the gold answer span lies within the first 2,000
characters of the ranked clauses, the text a model would read.

PolicyQA is public data under its own license and is not copied into this repository: it is read from
../shared/eval/policyqa (CI has it beside the clone; CLAUSEWISE_POLICYQA_DIR points elsewhere). Without it this module
is skipped, saying so; it is a benchmark guard, not a check of behaviour the bundled corpus could show.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.calibrate import POLICYQA_DIR, held_apart_sample
from rag.evaluate import build_ours, retrieved_spans
from rag.goldsets import load_policyqa, read_jsonl
from rag.metrics import budget_hits

DATA = Path(os.environ.get("CLAUSEWISE_POLICYQA_DIR", POLICYQA_DIR))
SAMPLE = 100
MIN_RECALL_AT_2000_CHARS = 0.57  # measured 0.59 (docs/evaluation.md; 0.57 before the English blend); the target of 0.6 is not met yet

pytestmark = pytest.mark.skipif(
    not (DATA / "dev.jsonl").is_file(),
    reason=f"PolicyQA dev set not found at {DATA} (public data kept outside the repository; CI provides ../shared)",
)


@pytest.fixture(scope="module")
def sample_and_engine(tmp_path_factory):
    from clausewise.settings import Settings
    from rag.api import Engine

    picked = held_apart_sample(read_jsonl(DATA / "dev.jsonl"), SAMPLE)
    items, corpus, _ = load_policyqa(picked, DATA / "policies")
    # retrieval as the product's default ingest builds it: with the multilingual index English questions blend in
    settings = Settings(data_dir=tmp_path_factory.mktemp("policyqa"), chroma_url=None, sentence_vectors=False, multilingual_ingest=True)
    build_ours(settings, corpus, progress=False)
    return items, Engine(settings)


def test_a_fixed_policyqa_sample_finds_the_answer_within_2000_characters(sample_and_engine) -> None:
    items, engine = sample_and_engine
    hits = total = 0
    for item in items:
        ranked = engine.retriever.search(item.question, item.vendors, 10)
        found = budget_hits(retrieved_spans(engine, ranked), item.groups)
        hits += sum(found)
        total += len(found)
    recall = hits / total

    assert total == SAMPLE
    assert recall >= MIN_RECALL_AT_2000_CHARS, f"PolicyQA recall@2000c {recall:.3f} on {total} held-apart questions"
