"""The real `clausewise` entry point, in this process (real store and model): `ask --batch` / `retrieve --batch` check
every line before any is answered and write one row per question, in order; `compare` leads with one verdict per
vendor."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from clausewise.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def write_batch(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_bad_line_is_reported_at_once_and_nothing_is_answered(tmp_path, ingested_store, capsys) -> None:
    batch = write_batch(tmp_path / "questions.jsonl", [
        json.dumps({"id": "ok", "question": "How long does Kipsu retain data?"}),
        "{not json",
        json.dumps({"id": "empty", "question": "  "}),
        json.dumps({"id": "typo", "question": "Does it sell data?", "vendor": "Kipsoo Analytics"}),
        json.dumps({"id": "vague", "question": "Does it sell data?", "vendor": "Kim"}),
        json.dumps({"id": "symbols", "question": "???"}),
    ])

    code, out, err = run_cli(capsys, "ask", "--batch", batch, "--backend", "extractive",
                             "--data-dir", ingested_store.settings.data_dir)

    assert code == 1 and out == ""  # no answer written: the file is fixed first, then run once
    assert "Traceback" not in err
    assert "5 bad line(s)" in err
    assert f"{batch}:6: the question has no words" in err
    assert f"{batch}:2: not valid JSON" in err
    assert f"{batch}:3: each line needs" in err
    assert f"{batch}:4: unknown vendor 'Kipsoo Analytics'" in err
    assert f"{batch}:5: vendor 'Kim' is ambiguous" in err and "kim.cc" in err and "Dr. Kim's Veterinary Clinic" in err
    assert err.count("known vendors:") == 1 and "Kalodata" in err  # the store's vendors, listed once
    assert f"{batch}:1:" not in err


def test_a_question_with_no_words_is_refused_with_a_clear_message(ingested_store, capsys) -> None:
    """"???" used to be answered with whatever clause ranked first: a question needs a word in some language."""
    code, out, err = run_cli(capsys, "ask", "???", "--vendor", "Kipsu", "--backend", "extractive",
                             "--data-dir", ingested_store.settings.data_dir)

    assert code == 1 and out == ""
    assert "the question has no words" in err and "Traceback" not in err


def test_answers_come_one_row_per_question_in_order_with_vendor_aliases_resolved(tmp_path, ingested_store, capsys) -> None:
    batch = write_batch(tmp_path / "questions.jsonl", [
        json.dumps({"id": "retention", "question": "How long does Kipsu retain data?"}),
        "",
        json.dumps({"id": "selling", "question": "Do they sell personal information?", "vendor": "KIPSU"}),
    ])
    data_dir = ingested_store.settings.data_dir

    code, out, err = run_cli(capsys, "ask", "--batch", batch, "--backend", "extractive", "--data-dir", data_dir)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ["retention", "selling"]
    for row in rows:
        assert row["vendors"] == ["Kipsu"] and row["citations"], row
        assert all(c["vendor"] == "Kipsu" and "?doc=kipsu&clause=" in c["url"] for c in row["citations"])

    code, out, err = run_cli(capsys, "ask", "--batch", batch, "--backend", "extractive", "--format", "csv",
                             "--data-dir", data_dir)
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in table] == ["retention", "selling"]
    assert all(json.loads(r["vendors"]) == ["Kipsu"] and r["refused"] == "False" for r in table)

    code, out, err = run_cli(capsys, "retrieve", "--batch", batch, "--k", "3", "--data-dir", data_dir)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ["retention", "selling"]
    assert len(rows[1]["chunks"]) == 3 and {c["vendor"] for c in rows[1]["chunks"]} == {"Kipsu"}


def test_compare_without_vendors_compares_those_the_question_names_and_says_so(ingested_store, capsys) -> None:
    data_dir = ingested_store.settings.data_dir
    code, out, err = run_cli(capsys, "compare", "How long do Kipsu and Kaizenify keep personal data?", "--data-dir", data_dir)

    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()[2:4]] == ["Kaizenify", "Kipsu"] and out.splitlines()[4] == ""
    assert "(compared the 2 vendors the question names, of 5; --vendors to choose)" in err


def test_compare_leads_with_one_verdict_per_vendor_then_each_answer(ingested_store, capsys) -> None:
    data_dir = ingested_store.settings.data_dir
    for question, verdict in (("How long is personal data kept?", "stated"),
                              ("What is the name of the Data Protection Officer?", "not stated")):
        code, out, err = run_cli(capsys, "compare", question, "--vendors", "Kipsu,Kaizenify", "--data-dir", data_dir)

        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == f"Q: {question}" and lines[1] == ""
        verdicts = {line.split()[0]: line.split(None, 1)[1].strip() for line in lines[2:4]}
        assert verdicts == {"Kipsu": verdict, "Kaizenify": verdict}, out[:400]
        assert lines[4] == "" and f"## Kipsu — {verdict}" in out and f"## Kaizenify — {verdict}" in out
        # the backend that answered is said once for the comparison, not once per vendor
        assert err.count("(answered by: extractive") == 1, err
