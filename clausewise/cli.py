"""The `clausewise` console script: thin argparse shell over ingest.* and rag.*."""

from __future__ import annotations

import argparse
import json
import sys
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from clausewise.embedding import EmbeddingError
    from clausewise.store import StoreError
    from ingest.load import IngestError

    try:
        return int(args.func(args) or 0)
    except (UserError, StoreError, EmbeddingError, IngestError) as exc:
        print(f"clausewise: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("clausewise: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
