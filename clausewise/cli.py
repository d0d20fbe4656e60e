"""The `clausewise` console script: thin argparse shell over ingest.* and rag.*."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import clausewise.offline  # noqa: F401  (before any ML import)
from clausewise.settings import Settings, load_settings


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "data_dir": getattr(args, "data_dir", None),
        "chroma_url": getattr(args, "chroma_url", None),
        "backend": getattr(args, "backend", None),
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "top_k": getattr(args, "k", None),
    }
    return load_settings(**overrides)


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.pipeline import Ingestor

    settings = _settings(args)
    corpus = Path(args.corpus or settings.corpus_dir)
    if not corpus.is_dir():
        raise UserError(f"corpus folder not found: {corpus}")
    report = Ingestor(settings).ingest_corpus(corpus, rebuild=args.rebuild, progress=not args.json and sys.stderr.isatty() or args.progress)
    if args.json:
        _print_json({k: v for k, v in report.to_dict().items() if k != "embedded"} | {"embedded": report.embedded})
    else:
        for notice in report.notices:
            print(f"note: {notice}", file=sys.stderr)
        for error in report.errors:
            print(f"error: {error['error']}", file=sys.stderr)
        print(
            f"{report.documents} document(s): {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.removed} removed; {report.chunks} chunks; "
            f"{len(report.errors)} error(s); {report.seconds:.1f}s — store: {settings.chroma_url or settings.data_dir}"
        )
        if report.exit_code == 2:
            print("partial ingest: the files above were skipped, everything else is in the store", file=sys.stderr)
    return report.exit_code


def status_rows(settings: Settings) -> list[dict]:
    """Per-vendor documents, chunks, languages and effective dates in the store."""
    from clausewise.store import Store

    rows: dict[str, dict] = {}
    for doc_id, entry in sorted(Store(settings).ledger().items()):
        row = rows.setdefault(entry.info.vendor, {"vendor": entry.info.vendor, "documents": [], "chunks": 0, "languages": [], "effective_date": []})
        row["documents"].append(doc_id)
        row["chunks"] += entry.chunk_count
        row["languages"] = sorted(set(row["languages"]) | set(entry.languages))
        if entry.info.effective_date:
            row["effective_date"].append(entry.info.effective_date)
        if entry.status != "done":
            row.setdefault("warnings", []).append(f"{doc_id} is half-written: re-run `clausewise ingest`")
    return [dict(r, effective_date="; ".join(r["effective_date"])) for r in rows.values()]


def cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rows = status_rows(settings)
    store = settings.chroma_url or str(settings.data_dir.resolve())
    if args.json:
        _print_json({"data_dir": str(settings.data_dir.resolve()), "store": store, "vendors": rows})
        return 0
    if not rows:
        print(f"The store at {store} is empty: run `clausewise ingest corpus/` first.")
        return 0
    print(f"Store: {store}")
    print(f"{'vendor':32} {'docs':>4} {'chunks':>6}  {'langs':8} effective")
    for r in rows:
        print(f"{r['vendor'][:32]:32} {len(r['documents']):>4} {r['chunks']:>6}  {','.join(r['languages']):8} {r['effective_date']}")
    return 0


def _engine(args: argparse.Namespace):
    from rag.api import Engine

    return Engine(_settings(args))


MAX_LISTED_PROBLEMS = 20  # bad batch lines named one by one; the rest are counted


def _read_batch(path: Path, engine) -> list[dict]:
    """The batch file's questions, every line checked before any is answered (valid JSON, a question, a vendor the
    store knows, resolved to its spelling): all bad lines are reported at once and nothing is answered, so a typo on
    line 400 neither costs the 399 answers before it nor hides the next typo."""
    from rag.api import UnknownVendorError, question_problem

    if not path.is_file():
        raise UserError(f"batch file not found: {path}")
    rows, problems, unknown_vendor = [], [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict) or not str(row.get("question", "")).strip():
            problems.append(f'{path}:{number}: each line needs {{"id", "question", "vendor"?}}')
            continue
        if problem := question_problem(str(row["question"])):
            problems.append(f"{path}:{number}: {problem}")
            continue
        if row.get("vendor"):
            try:
                row = {**row, "vendor": engine.resolve_vendor(str(row["vendor"]))}
            except UnknownVendorError as exc:
                unknown_vendor = unknown_vendor or not exc.candidates
                problems.append(f"{path}:{number}: " + (str(exc) if exc.candidates else f"unknown vendor '{exc.name}'"))
                continue
        rows.append(row)
    if problems:
        listed = problems[:MAX_LISTED_PROBLEMS]
        more = [f"... and {len(problems) - len(listed)} more"] if len(problems) > len(listed) else []
        known = ([f"known vendors: {', '.join(engine.vendors()) or '(none: run clausewise ingest)'}"]
                 if unknown_vendor else [])
        raise UserError("\n".join([f"{len(problems)} bad line(s) in the batch file; nothing was answered:",
                                   *listed, *more, *known]))
    return rows


def _batch_progress(rows: list[dict], what: str):
    from tqdm import tqdm

    return tqdm(rows, desc=what, unit="q", file=sys.stderr, disable=not sys.stderr.isatty())


def _write_rows(rows: Iterable[dict], fmt: str) -> None:
    """Write each row as soon as it is ready (a batch stopped halfway keeps what it answered): JSON lines, or CSV
    whose columns are the first row's (lists and objects as JSON)."""
    import csv

    writer = None
    for row in rows:
        if fmt == "csv":
            flat = {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v) for k, v in row.items()}
            if writer is None:
                writer = csv.DictWriter(sys.stdout, fieldnames=list(flat))
                writer.writeheader()
            writer.writerow(flat)
        else:
            print(json.dumps(row, ensure_ascii=False))
        sys.stdout.flush()


def _chunk_row(item) -> dict:
    c = item.chunk
    return {"vendor": c.vendor, "document": c.doc_id, "clause_id": c.clause_id, "section": " > ".join(c.section_path),
            "text": c.text, "start": c.start, "end": c.end, "score": round(item.score, 4)}


def cmd_retrieve(args: argparse.Namespace) -> int:
    engine = _engine(args)
    vendor = [engine.resolve_vendor(args.vendor)] if args.vendor else None
    if args.batch:
        def retrieved(row: dict) -> dict:
            found = engine.retriever.search(row["question"], [row["vendor"]] if row.get("vendor") else vendor, args.k)
            return {"id": row.get("id"), "chunks": [_chunk_row(i) for i in found]}

        rows = _read_batch(Path(args.batch), engine)
        _write_rows(map(retrieved, _batch_progress(rows, "retrieve")), args.format)
        return 0
    if not args.question:
        raise UserError("give a question, or --batch FILE.jsonl")
    results = [_chunk_row(i) for i in engine.retriever.search(args.question, vendor, args.k)]
    if args.json:
        _print_json(results)
    else:
        for n, r in enumerate(results, 1):
            print(f"[{n}] {r['vendor']} — {r['section'] or '(intro)'} ({r['clause_id']}, score {r['score']})\n    {r['text']}\n")
    return 0


def _backend_line(answer) -> str:
    return f"(answered by: {answer.backend}{' — ' + answer.backend_reason if answer.backend_reason else ''})"


def _print_answer(answer, with_backend: bool = True) -> None:
    print(answer.text)
    for notice in answer.notices:
        print(f"note: {notice}", file=sys.stderr)
    sources = answer.citations or answer.related
    if sources:
        print("\nSources:" if answer.citations else "\nClosest clauses (they do not answer the question):")
        for c in sources:
            print(f"  [{c.n}] {c.vendor} — {c.section or '(intro)'} ({c.clause_id}, chars {c.start}-{c.end})")
            print(f"      “{c.quote}”")
    if with_backend:
        print("\n" + _backend_line(answer), file=sys.stderr)


def cmd_ask(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.batch:
        def answered(row: dict) -> dict:
            answer = engine.ask(row["question"], vendor=row.get("vendor") or args.vendor, backend=args.backend)
            return {"id": row.get("id"), **answer.to_dict()}

        rows = _read_batch(Path(args.batch), engine)
        _write_rows(map(answered, _batch_progress(rows, "ask")), args.format)
        return 0
    if not args.question:
        raise UserError("give a question, or --batch FILE.jsonl")
    if args.stream and not args.json:
        answer = None
        for event in engine.ask_stream(args.question, vendor=args.vendor, backend=args.backend):
            if event.kind == "token":
                print(event.text, end="", flush=True)
            elif event.kind == "answer":
                answer = event.answer
        print("\n\n--- verified answer ---")
        _print_answer(answer)
        return 0
    answer = engine.ask(args.question, vendor=args.vendor, backend=args.backend)
    if args.json:
        _print_json(answer.to_dict())
    else:
        _print_answer(answer)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    engine = _engine(args)
    vendors = [v.strip() for v in args.vendors.split(",") if v.strip()] if args.vendors else None
    comparison = engine.compare(args.question, vendors)
    if args.json:
        _print_json(comparison.to_dict())
        return 0
    print(f"Q: {comparison.question}\n")
    verdicts = {row.vendor: "stated" if row.stated else "not stated" for row in comparison.rows}
    width = max(map(len, verdicts), default=0)
    for vendor, verdict in verdicts.items():  # the verdicts first, one line per vendor, then each vendor's answer
        print(f"  {vendor:<{width}}  {verdict}")
    print()
    for row in comparison.rows:
        print(f"## {row.vendor} — {verdicts[row.vendor]}")
        _print_answer(row.answer, with_backend=False)
        print()
    # which backend answered (and why), once for the comparison rather than once per vendor
    for line in dict.fromkeys(_backend_line(row.answer) for row in comparison.rows):
        print(line, file=sys.stderr)
    stored = len(engine.vendors())
    if vendors is None and len(comparison.rows) < stored:
        print(f"(compared the {len(comparison.rows)} vendors the question names, of {stored}; --vendors to choose)",
              file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import serve

    settings = _settings(args)
    if args.ingest:
        from ingest.pipeline import Ingestor

        report = Ingestor(settings).ingest_corpus(Path(settings.corpus_dir), progress=True)
        print(f"ingested {report.documents} document(s), {report.chunks} chunks, {len(report.errors)} error(s)")
    serve(settings)
    return 0


def _report(result: dict, summary_text, as_json: bool) -> int:
    """Print a run's result as JSON or as its human summary."""
    if as_json:
        _print_json(result)
    else:
        print(summary_text(result))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.eval_report import summary_text
    from rag.evaluate import EvalOptions, run_eval

    opts = EvalOptions(dataset=args.dataset, corpus=args.corpus, with_opp115=args.with_opp115, opp115=args.opp115,
                       limit=args.limit, backend=args.backend, results=args.results, vector_cache=args.vector_cache,
                       against=args.against)
    return _report(run_eval(opts), summary_text, args.json)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from rag.answerability import WEIGHTS_FILE
    from rag.calibrate import POLICYQA_DIR, run_calibration, summary_text

    policyqa = None if args.no_policyqa else args.policyqa or POLICYQA_DIR
    if policyqa is not None and not (Path(policyqa) / "dev.jsonl").is_file():
        raise SystemExit(f"clausewise: error: PolicyQA dev set not found in {policyqa} (pass --policyqa DIR or --no-policyqa)")
    result = run_calibration(args.results, policyqa, args.per_policy, args.held_sample,
                             write=WEIGHTS_FILE if args.write else None, reuse_cases=args.reuse_cases)
    return _report(result, summary_text, args.json)


def cmd_bench(args: argparse.Namespace) -> int:
    from rag.bench import BenchOptions, run_bench
    from rag.bench_report import summary_text

    opts = BenchOptions(scales=args.scales, synthetic_sizes=args.synthetic_sizes, results=args.results, corpus=args.corpus,
                        opp115=args.opp115, queries=args.queries, embed_sample=args.embed_sample, vector_cache=args.vector_cache,
                        chroma_server=not args.no_chroma_server)
    return _report(run_bench(opts), summary_text, args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clausewise", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="store location (CLAUSEWISE_DATA_DIR)")
    common.add_argument("--chroma-url", help="use a Chroma server instead of the embedded store (CLAUSEWISE_CHROMA_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="ingest a folder of policies into the store")
    p.add_argument("corpus", nargs="?", help="folder of .txt/.md/.html/.pdf policies (default: the bundled corpus/)")
    p.add_argument("--rebuild", action="store_true", help="drop the store and ingest from scratch")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--progress", action="store_true", help="show progress bars even when not on a terminal")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("status", parents=[common], help="what the store holds, per vendor")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("retrieve", parents=[common], help="show the clauses retrieval finds for a question")
    p.add_argument("question", nargs="?")
    p.add_argument("--vendor", help="restrict to one vendor (overrides detection)")
    p.add_argument("--k", type=int, default=5, help="how many clauses")
    p.add_argument("--json", action="store_true")
    p.add_argument("--batch", help='JSONL file of {"id", "question", "vendor"?} lines')
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="batch output format")
    p.set_defaults(func=cmd_retrieve)

    p = sub.add_parser("ask", parents=[common], help="answer a question with cited clauses")
    p.add_argument("question", nargs="?")
    p.add_argument("--vendor", help="the vendor to ask about (overrides detection)")
    p.add_argument("--backend", choices=["auto", "ollama", "gguf", "extractive"], help="answer backend (CLAUSEWISE_BACKEND)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--stream", action="store_true", help="print the draft as it is generated")
    p.add_argument("--batch", help='JSONL file of {"id", "question", "vendor"?} lines')
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="batch output format")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("compare", parents=[common], help="answer one question for several vendors, side by side")
    p.add_argument("question")
    p.add_argument("--vendors", help="comma-separated vendor names (default: the vendors the question names, if two or more; else all)")
    p.add_argument("--backend", choices=["auto", "ollama", "gguf", "extractive"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("serve", parents=[common], help="start the web UI (127.0.0.1:7860 by default)")
    p.add_argument("--host", help="bind address (CLAUSEWISE_HOST); default 127.0.0.1")
    p.add_argument("--port", type=int, help="port (CLAUSEWISE_PORT)")
    p.add_argument("--ingest", action="store_true", help="ingest the bundled corpus before serving")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="measure retrieval and answers on a gold set against a plain llama-index baseline")
    p.add_argument("--dataset", type=Path, default=None, help="seed-format or PolicyQA JSONL (default: tests/fixtures/seed_dev.jsonl)")
    p.add_argument("--corpus", type=Path, help="policy folder (default: corpus/ for seed sets, <dataset dir>/policies for PolicyQA)")
    p.add_argument("--with-opp115", action="store_true", help="also index the 115 OPP-115 policies as distractor vendors")
    p.add_argument("--opp115", type=Path, help="folder of OPP-115 <domain>.txt policies (default: ../shared/eval/opp115/policies)")
    p.add_argument("--limit", type=int, help="evaluate a seeded random sample of N questions")
    p.add_argument("--backend", choices=["extractive", "gguf", "ollama"], default="extractive", help="answer backend for ours")
    p.add_argument("--results", type=Path, help="output folder (default: results/eval-<dataset>/); indexes are kept there")
    p.add_argument("--vector-cache", type=Path, help="seed the eval index's embedding cache from this embedding-cache.sqlite3")
    p.add_argument("--against", type=Path, help="an earlier eval's questions.jsonl (or results folder): report the paired difference per question")
    p.add_argument("--json", action="store_true", help='print {"ours": {...}, "baseline": {...}} as JSON')
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("calibrate", help="fit the refusal decision with cross-validation over the gold sets")
    p.add_argument("--policyqa", type=Path, help="PolicyQA folder with dev.jsonl and policies/ (default: ../shared/eval/policyqa)")
    p.add_argument("--no-policyqa", action="store_true", help="calibrate on the bundled-corpus gold sets only")
    p.add_argument("--per-policy", type=int, default=40, help="PolicyQA questions sampled per tuning policy")
    p.add_argument("--held-sample", type=int, default=100, help="PolicyQA questions sampled from the held-apart policies")
    p.add_argument("--results", type=Path, default=Path("results/calibration"), help="output folder (indexes are kept there)")
    p.add_argument("--reuse-cases", action="store_true", help="refit from the cases of the last run (results/cases.jsonl)")
    p.add_argument("--write", action="store_true", help="write the fitted weights to rag/answerability.json")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("bench", help="ingest throughput, memory, store size and latency at several corpus sizes")
    p.add_argument("--scales", default="bundled,10k", help="comma-separated: bundled, opp115, and synthetic sizes like 10k, 100k")
    p.add_argument("--synthetic-sizes", help="comma-separated synthetic store sizes in chunks (replaces those in --scales)")
    p.add_argument("--corpus", type=Path, help="the 'bundled' corpus folder (default: corpus/)")
    p.add_argument("--opp115", type=Path, help="folder of OPP-115 <domain>.txt policies (for the opp115 scale)")
    p.add_argument("--queries", type=int, default=40, help="latency samples per measurement")
    p.add_argument("--embed-sample", type=int, default=256, help="texts embedded for the embedding throughput")
    p.add_argument("--results", type=Path, help="output folder (default: results/bench/)")
    p.add_argument("--vector-cache", type=Path, help="seed the bench stores' embedding cache (ingest then skips embedding)")
    p.add_argument("--no-chroma-server", action="store_true", help="skip serving the synthetic stores with `chroma run`")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from clausewise.embedding import EmbeddingError
    from clausewise.store import StoreError
    from ingest.load import IngestError
    from rag.api import UnknownVendorError
    from rag.backends.base import BackendError
    from rag.retrieve import EmptyStoreError

    try:
        return int(args.func(args) or 0)
    except (UserError, StoreError, EmbeddingError, IngestError, UnknownVendorError, BackendError, EmptyStoreError, ValueError) as exc:
        print(f"clausewise: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("clausewise: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
