#!/usr/bin/env bash
# Load benchmark of the call core: SIPp places IVR calls with RTP audio (pcap play) against
# `chartline serve` on loopback; this script samples chartline's CPU and RSS from /proc and reads
# SIPp's statistics and response times. Not part of CI.
#
#   benches/load/run.sh [RATE] [CONCURRENT] [CALLS] [HOLD_MS]
#     RATE        new calls per second                       (default 50)
#     CONCURRENT  SIPp's limit of simultaneous calls          (default 1000)
#     CALLS       calls in all                                (default 3000)
#     HOLD_MS     how long each call stays up after answer   (default 25000)
#
# Prints: successful/failed calls, peak concurrent calls, chartline CPU (% of one core) and RSS at
# the plateau and per call, INVITE→200 p50/p99 from SIPp's per-call response times, and our RTP
# send-time jitter p99 as measured by chartline against its monotonic clock (from the call records).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
rate=${1:-50}; limit=${2:-1000}; calls=${3:-3000}; hold=${4:-25000}

command -v sipp >/dev/null || "$root/scripts/setup" --test
[ -x "$root/target/release/chartline" ] || (cd "$root" && cargo build --release --locked)
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p pcap
[ -s pcap/speech.pcap ] || python3 "$root/tests/sipp/make_pcaps.py" pcap/speech.pcap "wav:$root/tests/fixtures/audio/message.wav"

cat > "$work/chartline.toml" <<TOML
data_dir = "$work/data"
sounds_dir = "$root/sounds/en"
[sip]
listen = "127.0.0.1:15060"
[sip.limits]
# One source places every call here: lift the per-source flood limits.
invite_per_s = 5000
invite_burst = 5000
[media]
rtp_port_min = 20000
rtp_port_max = 29999
inactivity_timeout_s = 0
[calls]
max_concurrent = $((limit + 100))
[metrics]
listen = "127.0.0.1:19090"
TOML
RUST_LOG=warn "$root/target/release/chartline" serve --config "$work/chartline.toml" 2> "$work/chartline.log" &
server=$!
for _ in $(seq 50); do grep -q . <(curl -s 127.0.0.1:19090/metrics 2>/dev/null) && break; sleep 0.2; done

# Sample chartline every second: CPU ticks and RSS.
ticks=$(getconf CLK_TCK)
( while kill -0 $server 2>/dev/null; do
    read -r -a stat < /proc/$server/stat
    rss=$(awk '/VmRSS/ {print $2}' /proc/$server/status)
    active=$(curl -s 127.0.0.1:19090/metrics | awk '$1=="chartline_active_calls" {print $2}')
    echo "$(date +%s.%N) $((stat[13] + stat[14])) $rss ${active:-0}"
    sleep 1
  done ) > "$work/samples" &
sampler=$!

echo "load: $calls calls at $rate/s, up to $limit at once, $((hold / 1000)) s each" >&2
sipp 127.0.0.1:15060 -sf load_call.xml -i 127.0.0.1 -p 15070 -mp 40000 -r "$rate" -rp 1000 -l "$limit" -m "$calls" -d "$hold" \
    -nostdin -timeout $((calls / rate + hold / 1000 + 60))s -timeout_error -trace_stat -stf "$work/stats.csv" -fd 1 \
    -trace_rtt -rtt_freq 1 -trace_err -error_file "$work/errors.log" >/dev/null 2>&1 || echo "sipp exited non-zero" >&2
sleep 2
kill $sampler 2>/dev/null || true

python3 - "$work" "$ticks" "$root" <<'PY'
import csv, glob, json, subprocess, sys, statistics
work, ticks, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = list(csv.DictReader(open(f"{work}/stats.csv"), delimiter=";"))
last = rows[-1]
ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
peak = max(int(r["CurrentCall"]) for r in rows)
rtts = []
for path in glob.glob("load_call_*_rtt.csv"):
    for r in csv.DictReader(open(path), delimiter=";"):
        rtts.append(float(r["response_time_ms"]))
    subprocess.run(["rm", "-f", path])
rtts.sort()
pct = lambda p: rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else float("nan")
samples = [tuple(map(float, l.split())) for l in open(f"{work}/samples")]
# The plateau: samples with at least 90% of the peak of active calls.
active_peak = max(s[3] for s in samples)
plateau = [s for s in samples if s[3] >= 0.9 * active_peak]
cpu = (plateau[-1][1] - plateau[0][1]) / ticks / max(plateau[-1][0] - plateau[0][0], 1e-9) * 100 if len(plateau) > 1 else float("nan")
rss_idle = samples[0][2] / 1024
rss_peak = max(s[2] for s in samples) / 1024
cli = [f"{root}/target/release/chartline", "calls", "list", "--json", "--limit", "100000", "--config", f"{work}/chartline.toml"]
records = json.loads(subprocess.run(cli, capture_output=True, text=True).stdout or "[]")
jitter = sorted(e.get("send_jitter_p99_us", 0) for c in records for e in c["events"] if e["kind"] == "ended")
print(f"calls: {ok} successful, {failed} failed; peak {peak} concurrent in SIPp, {int(active_peak)} in chartline")
print(f"INVITE->200: p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms ({len(rtts)} calls)")
print(f"chartline CPU at plateau: {cpu:.1f}% of one core = {cpu / max(active_peak, 1):.4f}% per call")
print(f"chartline RSS: {rss_idle:.1f} MB idle, {rss_peak:.1f} MB peak = {(rss_peak - rss_idle) / max(active_peak, 1) * 1024:.0f} KB per call")
if jitter:
    print(f"RTP send jitter p99 per call (us): median {statistics.median(jitter):.0f}, worst {jitter[-1]:.0f}")
PY
