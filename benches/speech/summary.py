"""Summarises benchmark JSON lines: latency p50/p95 (all, and utterances <= 5 s), real-time factor,
WER on the request sentences, dates of birth read back by `chartline dob`, peak memory.

    python summary.py MANIFEST CHARTLINE_BIN RESULT.jsonl...
"""
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from summary_words import edits, pct, words  # noqa: E402

manifest, chartline, *results = sys.argv[1:]
rows = {r[0]: r for r in (line.split("\t") for line in Path(manifest).read_text().splitlines())}


print(f"{'engine':<34} {'n':>3} {'p50':>6} {'p95':>6} {'p50<=5s':>8} {'p95<=5s':>8} {'RTF':>6} {'WER pip':>8} {'WER esp':>8} {'DOB':>6} {'peak MB':>8}")
for path in results:
    lines = [json.loads(l) for l in Path(path).read_text().splitlines() if l.startswith("{")]
    items = [l for l in lines if "id" in l]
    meta = next((l for l in lines if "peak_rss_kb" in l), {})
    lat = [i["latency_ms"] for i in items]
    short = [i["latency_ms"] for i in items if i["duration_ms"] <= 5000]
    rtf = sum(lat) / sum(i["duration_ms"] for i in items)
    err, ref, dob_ok, dob_n = {"piper": 0, "espeak": 0}, {"piper": 0, "espeak": 0}, 0, 0
    for i in items:
        _, voice, dob, text = rows[i["id"]]
        if dob != "-":
            dob_n += 1
            got = subprocess.run([chartline, "dob", i["text"]], capture_output=True, text=True).stdout.strip()
            dob_ok += got == dob
            continue
        r = words(text)
        err[voice] += edits(r, words(i["text"]))
        ref[voice] += len(r)
    name = Path(path).stem
    print(f"{name:<34} {len(items):>3} {pct(lat, .5):>6.0f} {pct(lat, .95):>6.0f} {pct(short, .5):>8.0f} {pct(short, .95):>8.0f} {rtf:>6.3f} "
          f"{err['piper'] / ref['piper']:>8.3f} {err['espeak'] / ref['espeak']:>8.3f} {dob_ok:>3}/{dob_n:<2} {meta.get('peak_rss_kb', 0) / 1024:>8.0f}")
