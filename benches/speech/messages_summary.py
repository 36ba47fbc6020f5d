"""Summarises the message-transcript benchmark: WER computed per message (word edits / reference
words of that message, spoken numbers compared as digits), their mean and the pooled WER, per voice; latency p50/p95 and real-time
factor; languages reported; peak memory; and the relative WER reduction of each engine against the
first one (the live tiny.en tier). With --per-message, one line per message and engine.

    python messages_summary.py MANIFEST [--per-message] RESULT.jsonl...
"""
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from summary_words import digits, edits, pct, words  # noqa: E402

args = sys.argv[1:]
per_message = "--per-message" in args
manifest, *results = [a for a in args if a != "--per-message"]
rows = {r[0]: r for r in (line.split("\t") for line in Path(manifest).read_text().splitlines())}

print(f"{'engine':<34} {'n':>3} {'meanWER':>8} {'WER pip':>8} {'WER esp':>8} {'pooled':>7} {'vs 1st':>7} {'p50 ms':>7} {'p95 ms':>7} {'RTF':>6} {'peak MB':>8}  languages")
baseline = None
detail = []
for path in results:
    lines = [json.loads(l) for l in Path(path).read_text().splitlines() if l.startswith("{")]
    items = [l for l in lines if "id" in l]
    meta = next((l for l in lines if "peak_rss_kb" in l), {})
    per = {}
    err = ref = 0
    for i in items:
        _, voice, _, text = rows[i["id"]]
        r = digits(words(text))
        e = edits(r, digits(words(i["text"])))
        per[i["id"]] = (voice, e / len(r))
        err, ref = err + e, ref + len(r)
        detail.append((i["id"], Path(path).stem, e / len(r), i["text"]))
    mean = statistics.mean(w for _, w in per.values())
    by_voice = {v: statistics.mean(w for voice, w in per.values() if voice == v) for v in ("piper", "espeak")}
    baseline = mean if baseline is None else baseline
    lat = [i["latency_ms"] for i in items]
    rtf = sum(lat) / sum(i["duration_ms"] for i in items)
    langs = ",".join(f"{k}:{n}" for k, n in Counter(i.get("language", "?") for i in items).most_common())
    print(f"{Path(path).stem:<34} {len(items):>3} {mean:>8.3f} {by_voice['piper']:>8.3f} {by_voice['espeak']:>8.3f} {err / ref:>7.3f} {1 - mean / baseline:>+7.0%} "
          f"{pct(lat, .5):>7.0f} {pct(lat, .95):>7.0f} {rtf:>6.3f} {meta.get('peak_rss_kb', 0) / 1024:>8.0f}  {langs}")
if per_message:
    for id_, engine, wer, text in sorted(detail):
        print(f"{id_:<32} {engine:<34} {wer:>6.3f}  {text}")
