"""faster-whisper on the very same CTranslate2 directory, for comparison with the pool.

Same utterances (decoded to 16 kHz before timing), same prompt, no timestamps, 2 threads; greedy
in English unless BEAM and LANGUAGE say otherwise (the chart tier: 5 and auto).
Prints one JSON line per utterance and a final line with the peak resident memory.

    python faster_whisper_bench.py MODEL_DIR MANIFEST COMPUTE_TYPE PROMPT [BEAM [LANGUAGE]]
"""
import json
import resource
import sys
import time
from pathlib import Path

from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio

model_dir, manifest, compute_type, prompt = sys.argv[1:5]
beam = int(sys.argv[5]) if len(sys.argv) > 5 else 1
language = sys.argv[6] if len(sys.argv) > 6 else "en"
model = WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=2, num_workers=1)
rows = [line.split("\t") for line in Path(manifest).read_text().splitlines()]
folder = Path(manifest).parent


def run(audio):
    segments, info = model.transcribe(
        audio, language=None if language == "auto" else language, beam_size=beam, best_of=1, without_timestamps=True,
        condition_on_previous_text=False, initial_prompt=prompt or None, vad_filter=False)
    return "".join(s.text for s in segments).strip(), info.duration, info.language


first = True
for row in rows:
    audio = decode_audio(str(folder / f"{row[0]}.wav"), sampling_rate=16000)
    if first:
        run(audio)  # warm-up, not measured
        first = False
    started = time.perf_counter()
    text, duration, spoken = run(audio)
    latency = (time.perf_counter() - started) * 1000
    print(json.dumps({"id": row[0], "duration_ms": round(duration * 1000), "latency_ms": latency, "text": text, "language": spoken}), flush=True)
print(json.dumps({"peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "compute_type": compute_type}))
