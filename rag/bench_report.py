"""`clausewise bench` outputs: bench.md, bench.json, the latency chart and the terminal summary."""

from __future__ import annotations

import json
from pathlib import Path


def _p(stat: dict | None) -> str:
    return f"{stat['p50']:.0f} / {stat['p95']:.0f}" if stat and stat.get("p50") is not None else "–"


def markdown_report(out: dict) -> str:
    m, b, e = out["machine"], out["bundled_ingest"], out["embedding"]
    lines = [
        "# Benchmark",
        "",
        f"- machine: {m['cpus']} CPU(s), torch threads {m['torch_threads']}, {m['platform']}, Python {m['python']}; "
        f"load average at start {m['loadavg_start']}, at end {m.get('loadavg_end')}",
        f"- embedding model {e['model']}: loaded in {out['model_load_ms'] / 1000:.1f} s; {e['texts']} clause texts, batch "
        f"{e['batch_size']}: {e.get('before', {}).get('texts_per_s', '–')} texts/s in store order (before) → "
        f"**{e['texts_per_s']} texts/s** longest first (after; {e['chars_per_s']:,} chars/s; largest vector difference "
        f"{e.get('max_abs_vector_difference', 0):.1e}; load average {e.get('loadavg')})",
        f"- bundled ingest: {b['documents']} documents, {b['chunks']} chunks, {b['policy_mb']} MB in {b['seconds']} s = "
        f"{b['chunks_per_s']} chunks/s, {b.get('texts_per_s', '–')} texts/s ({b['embedded']} clause texts + "
        f"{b.get('sentences_embedded', 0)} sentences embedded"
        f"{'; embedding cache seeded' if b['embedding_cache_seeded'] else ''}); store {b['store_mb']} MB on disk",
        f"- peak RSS of the whole run: {out['peak_rss_mb']} MB; run took {out['seconds']} s; code "
        f"{out.get('code', {}).get('commit')} (+ local changes to {', '.join(out.get('code', {}).get('modified', [])) or 'nothing'})",
        "",
        "| scale | chunks | vendors | build s | store MB | ours retrieve p50/p95 ms (vendor) | baseline p50/p95 (vendor) "
        "| ours p50/p95 (all vendors) | baseline p50/p95 (all) | extractive stage p50/p95 | **answer (end-to-end ask) p50/p95** "
        "| answer p95 / baseline p95 | Chroma server: answer p50/p95 | first query ms | peak RSS MB | load average |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in out["scales"]:
        lat = s["latency"]
        build = s.get("ingest") or s.get("build")
        server = s.get("server_latency", {})
        lines.append(
            f"| {s['scale']} | {s['chunks']:,} | {s['vendors']:,} | {build['seconds']} | {build['store_mb']} "
            f"| {_p(lat.get('ours_retrieve_vendor_ms'))} | {_p(lat.get('baseline_retrieve_vendor_ms'))} | {_p(lat.get('ours_retrieve_all_ms'))} "
            f"| {_p(lat.get('baseline_retrieve_all_ms'))} | {_p(lat.get('extractive_answer_ms'))} | {_p(lat.get('end_to_end_ms'))} "
            f"| {lat.get('end_to_end_p95_over_baseline_retrieve_p95', '–')} | {_p(server.get('end_to_end_ms')) if server else 'not run'} "
            f"| {lat.get('cold_first_query_ms', '–')} | {s['peak_rss_mb']} | {lat.get('loadavg_start')} → {lat.get('loadavg_end')} |"
        )
    errors = [f"- **{s['scale']}: ours failed**: {s['latency']['ours_error']}" for s in out["scales"] if "ours_error" in s["latency"]]
    errors += [f"- **{s['scale']}: Chroma server failed**: {s['server_latency']['ours_error']}" for s in out["scales"]
               if "ours_error" in s.get("server_latency", {})]
    lines += [
        "",
        *errors,
        "- ours: hybrid dense (Chroma) + BM25 with vendor filtering; baseline: llama-index VectorStoreIndex over Chroma, "
        "dense only, file-name metadata filter. Synthetic scales index the same chunks (and embeddings) for both.",
        "- build s: ingest (bundled/opp115: load + chunk + embed + write) or synthetic fill (write only, no embedding).",
        "- first query: loading the chunk table and building the BM25 index after a store change (once per process).",
        "- answer: `Engine.ask(question, vendor=…)` end to end with the extractive backend (vendor given, as the UI's "
        "selector), the question's vector dropped from memory before each ask; extractive stage: sentence scoring alone.",
        "- answer p95 / baseline p95: our whole answer against the llama-index baseline's vendor-filtered retrieval (it "
        "has no answerer without an LLM), measured minutes apart in the same process, so shared-machine load hits both.",
        "- Chroma server: the same store's files served by `chroma run` on loopback, asked through CLAUSEWISE_CHROMA_URL.",
        "",
        "![latency vs corpus size](latency_vs_size.png)",
        "",
    ]
    return "\n".join(lines)


def write_chart(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = sorted(out["scales"], key=lambda s: s["chunks"])
    if not scales:
        return
    xs = [s["chunks"] for s in scales]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = [("ours retrieve (vendor)", "ours_retrieve_vendor_ms", "C0", "-"),
              ("ours retrieve (all vendors)", "ours_retrieve_all_ms", "C0", ":"),
              ("baseline retrieve (vendor)", "baseline_retrieve_vendor_ms", "C1", "-"),
              ("baseline retrieve (all)", "baseline_retrieve_all_ms", "C1", ":"),
              ("ours answer, end to end (extractive)", "end_to_end_ms", "C2", "-"),
              ("ours answer, Chroma server", "server_end_to_end_ms", "C3", "--")]
    for label, key, color, style in series:
        points = [(x, s["latency"][key]) for x, s in zip(xs, scales, strict=True) if key in s["latency"]]
        if key == "server_end_to_end_ms":
            points = [(x, s["server_latency"]["end_to_end_ms"]) for x, s in zip(xs, scales, strict=True)
                      if "end_to_end_ms" in s.get("server_latency", {})]
        if not points:
            continue
        xk = [x for x, _ in points]
        p50 = [v["p50"] for _, v in points]
        p95 = [v["p95"] for _, v in points]
        ax.plot(xk, p50, marker="o", color=color, linestyle=style, label=f"{label} p50")
        ax.plot(xk, p95, marker="x", color=color, linestyle=style, alpha=0.45, label=f"{label} p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the store")
    ax.set_ylabel("latency (ms)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title("latency vs corpus size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(out: dict, results: Path) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / "bench.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    (results / "bench.md").write_text(markdown_report(out), encoding="utf-8")
    write_chart(out, results / "latency_vs_size.png")


def summary_text(out: dict) -> str:
    b, e = out["bundled_ingest"], out["embedding"]
    lines = [f"bundled ingest: {b['chunks']} chunks in {b['seconds']} s ({b['chunks_per_s']} chunks/s, {b['mb_per_s']} MB/s); "
             f"embedding {e.get('before', {}).get('texts_per_s')} -> {e['texts_per_s']} texts/s; peak RSS {out['peak_rss_mb']} MB"]
    for s in out["scales"]:
        lat = s["latency"]
        server = s.get("server_latency", {})
        lines.append(f"{s['scale']:>18}: {s['chunks']:>7,} chunks  ours {_p(lat.get('ours_retrieve_vendor_ms'))} ms  "
                     f"baseline {_p(lat.get('baseline_retrieve_vendor_ms'))} ms  answer {_p(lat.get('end_to_end_ms'))} ms"
                     + (f"  server answer {_p(server.get('end_to_end_ms'))} ms" if server else "")
                     + (f"  OURS FAILED: {lat['ours_error'][:120]}" if "ours_error" in lat else ""))
    lines.append(f"report: {Path(out['results_dir']) / 'bench.md'}")
    return "\n".join(lines)
