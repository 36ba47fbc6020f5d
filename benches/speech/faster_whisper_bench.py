"""faster-whisper on the very same CTranslate2 directory, for comparison with the pool.

Same utterances (decoded to 16 kHz before timing), same prompt, greedy, no timestamps, 2 threads.
Prints one JSON line per utterance and a final line with the peak resident memory.

    python faster_whisper_bench.py MODEL_DIR MANIFEST COMPUTE_TYPE PROMPT
"""
import json
import resource
import sys
import time
from pathlib import Path

from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio

model_dir, manifest, compute_type, prompt = sys.argv[1:5]
model = WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=2, num_workers=1)
rows = [line.split("\t") for line in Path(manifest).read_text().splitlines()]
folder = Path(manifest).parent


def run(audio):
    segments, info = model.transcribe(
        audio, language="en", beam_size=1, best_of=1, without_timestamps=True,
        condition_on_previous_text=False, initial_prompt=prompt or None, vad_filter=False)
    return "".join(s.text for s in segments).strip(), info.duration


first = True
for row in rows:
    audio = decode_audio(str(folder / f"{row[0]}.wav"), sampling_rate=16000)
    if first:
        run(audio)  # warm-up, not measured
        first = False
    started = time.perf_counter()
    text, duration = run(audio)
    latency = (time.perf_counter() - started) * 1000
    print(json.dumps({"id": row[0], "duration_ms": round(duration * 1000), "latency_ms": latency, "text": text}), flush=True)
print(json.dumps({"peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "compute_type": compute_type}))
