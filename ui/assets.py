"""The web UI's own front-end text: the page's CSS, its header, and the two small scripts (citation clicks, viewer
scrolling). Policy text never goes in here: it is rendered, escaped, by ui/render.py."""

# Citation links are real deep links (open in a new tab with ctrl/middle click); a plain click opens the viewer in place.
CITE_JS = """
element.addEventListener('click', (event) => {
  const link = event.target.closest('a.cw-cite');
  if (!link || !element.contains(link)) return;
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  trigger('click', {doc: link.dataset.doc || '', clause: link.dataset.clause || '',
                    start: link.dataset.start || '', end: link.dataset.end || ''});
});
"""

# Bring the highlighted clause into view whenever the viewer shows a new document/clause.
VIEWER_JS = """
const scrollCited = (tries) => {
  const mark = element.querySelector('#cited');
  if (!mark) { element.querySelector('.cw-doc')?.scrollTo(0, 0); return; }
  if (mark.getClientRects().length === 0) {
    if (tries > 0) setTimeout(() => scrollCited(tries - 1), 100);
    return;
  }
  mark.scrollIntoView({block: 'center'});
  element.dataset.scrolled = mark.textContent.slice(0, 40);
};
element.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-target]');
  if (!link) return;
  event.preventDefault();
  const target = element.querySelector('#' + CSS.escape(link.dataset.target));
  if (target) target.scrollIntoView({block: 'start'});
});
watch('value', () => scrollCited(50));
scrollCited(50);
"""

CSS = """
.cw-chat { display: flex; flex-direction: column; gap: 14px; min-height: 180px; }
.cw-empty { color: var(--body-text-color-subdued); padding: 12px; }
.cw-turn { display: flex; flex-direction: column; gap: 6px; }
.cw-q, .cw-a { padding: 10px 14px; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
.cw-q { background: var(--color-accent-soft); align-self: flex-end; max-width: 90%; }
.cw-a { background: var(--block-background-fill); border: 1px solid var(--border-color-primary); }
.cw-who { display: block; font-size: 0.75em; font-weight: 600; text-transform: uppercase; opacity: .6; margin-bottom: 2px; }
.cw-scope, .cw-meta, .cw-status, .cw-docid, .cw-date, .cw-dim { color: var(--body-text-color-subdued); font-size: .85em; }
.cw-meta { margin-top: 8px; white-space: normal; }
.cw-refused { border-left: 4px solid var(--color-accent); }
.cw-error { border-left: 4px solid #c0392b; }
.cw-notice { background: #fff6db; color: #5c4400; border: 1px solid #f0d78a; border-radius: 8px; padding: 6px 10px; margin: 8px 0; white-space: normal; }
.cw-notice ul { margin: 4px 0 0 18px; }
a.cw-cite { font-weight: 600; text-decoration: none; color: var(--link-text-color, #2563eb); }
a.cw-cite:hover { text-decoration: underline; }
a.cw-open { font-weight: 500; font-size: .9em; }
.cw-sources h4 { margin: 4px 0 8px; }
.cw-source-list { padding-left: 0; list-style: none; display: flex; flex-direction: column; gap: 10px; }
.cw-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; }
.cw-quote { margin: 6px 0; padding-left: 10px; border-left: 3px solid var(--border-color-accent, #999); white-space: pre-wrap; font-size: .92em; }
.cw-viewer .cw-doc-meta, .cw-cited-meta { margin-bottom: 6px; }
.cw-doc { white-space: pre-wrap; overflow-wrap: anywhere; font-family: var(--font); line-height: 1.55; max-height: 70vh; overflow-y: auto;
          border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 14px 18px; }
.cw-h { font-weight: 700; display: inline-block; margin-top: 6px; }
.cw-h1 { font-size: 1.15em; } .cw-h2 { font-size: 1.05em; }
mark#cited, .cw-mark { background: #ffe58a; color: #111; padding: 2px 0; border-radius: 3px; box-shadow: 0 0 0 2px #f5c400; }
.cw-toc ul { columns: 2; margin: 6px 0 10px 18px; }
.cw-toc-l2 { margin-left: 12px; } .cw-toc-l3 { margin-left: 24px; }
.cw-library .cw-table { width: 100%; border-collapse: collapse; font-size: .92em; }
.cw-library .cw-table th, .cw-library .cw-table td { border-bottom: 1px solid var(--border-color-primary); padding: 6px 8px; text-align: left; vertical-align: top; }
.cw-compare .cw-table { width: 100%; border-collapse: collapse; }
.cw-compare .cw-table th, .cw-compare .cw-table td { border: 1px solid var(--border-color-primary); padding: 8px; vertical-align: top; text-align: left; }
.cw-compare .cw-table td .cw-text { white-space: pre-wrap; }
.cw-compare .cw-table td.cw-links { width: 24%; font-size: .9em; }
.cw-compare .cw-table td.cw-links a { display: block; margin-bottom: 4px; font-weight: 500; }
.cw-not-stated { color: #8a4b00; }
.cw-ok { color: #1e7d32; } .cw-fail { color: #b3261e; }
"""

HELP = """
<div class="cw-header"><h1 style="margin:0">clausewise</h1>
<p style="margin:4px 0 0">Ask about the privacy policies in the library. Every answer quotes the exact clauses it relied on:
click a <strong>[n]</strong> to open the clause highlighted in the <em>Policy viewer</em>. Pick a vendor to restrict the search,
use <em>Compare</em> for a side-by-side table, and <em>Library</em> to add or remove policies. Everything runs locally.</p></div>
"""
