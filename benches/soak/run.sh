#!/usr/bin/env bash
# Soak test of the whole call path (not run in CI): SIPp keeps CONCURRENT keypad calls up for
# DURATION_S (each call: DOB by RFC 4733, confirm, menu, a 6 s spoken message recorded, goodbye
# and BYE from chartline), while this script samples chartline's RSS and the live-dialog and
# active-call gauges. At the end it checks that no dialog leaked, that every call SIPp completed
# has a finished record with a recording, and that every record was synced through the outbox to
# the chart (ehr.status = delivered).
#
#   benches/soak/run.sh [DURATION_S] [CONCURRENT]
#     DURATION_S  how long new calls are placed     (default 1800 = 30 min)
#     CONCURRENT  calls kept up at once             (default 100)
#
# Prints the RSS curve (one line a minute), the plateau drift, leaked dialogs and the record and
# sync counts; exits non-zero when RSS drifts by more than 5% on the plateau, a dialog leaks, or a
# call is missing, unrecorded or unsynced. Output and samples stay in benches/soak/last-run/.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
duration=${1:-1800}; concurrent=${2:-100}
call_s=27   # length of one full_call.xml call against the default prompts, measured
rate=$(python3 -c "print(round($concurrent / $call_s, 2))")
calls=$(python3 -c "print(int($duration * $concurrent / $call_s))")

command -v sipp >/dev/null || "$root/scripts/setup" --test
[ -x "$root/target/release/chartline" ] || (cd "$root" && cargo build --release --locked)
ulimit -n "$(ulimit -Hn)"

out="$PWD/last-run"; rm -rf "$out"; mkdir -p "$out"
work=$(mktemp -d)
trap 'kill ${pid:-} ${server:-} ${sampler:-} 2>/dev/null || true; rm -rf "$work"' EXIT
sipp_dir="$root/tests/sipp"
"$sipp_dir/make_full_call_pcaps"

cat > "$work/chartline.toml" <<TOML
data_dir = "$work/data"
sounds_dir = "$root/sounds/en"
[sip]
listen = "127.0.0.1:16060"
[sip.limits]
invite_per_s = 1000
invite_burst = 1000
[speech]
model_path = "models/not-imported.bin"
[speech.chart]
model_path = ""
[media]
rtp_port_min = 31000
rtp_port_max = 33999
[calls]
max_concurrent = $((concurrent * 2))
[metrics]
listen = "127.0.0.1:19190"
TOML
(cd "$root" && RUST_LOG=warn target/release/chartline serve --config "$work/chartline.toml" 2> "$out/chartline.log") &
server=$!
for _ in $(seq 100); do curl -sf 127.0.0.1:19190/metrics >/dev/null 2>&1 && break; sleep 0.2; done
pid=$(pgrep -P $server chartline || echo $server)

gauge() { awk -v n="$1" '$1==n {print $2}' <<<"$2"; }
( while kill -0 "$pid" 2>/dev/null; do
    m=$(curl -s 127.0.0.1:19190/metrics || true)
    echo "$(date +%s) $(awk '/VmRSS/ {print $2}' /proc/$pid/status) $(gauge chartline_active_calls "$m") $(gauge chartline_live_dialogs "$m")"
    sleep 5
  done ) > "$out/samples" &
sampler=$!

echo "soak: $calls calls at $rate/s (~$concurrent at once) for ${duration}s" >&2
started=$(date +%s)
(cd "$sipp_dir" && sipp 127.0.0.1:16060 -sf full_call.xml -i 127.0.0.1 -p 16070 -mp 42000 -r "$rate" -rp 1000 \
    -l $((concurrent * 2)) -m "$calls" -nostdin -timeout $((duration + 300))s -timeout_error \
    -trace_stat -stf "$out/stats.csv" -fd 10 >/dev/null 2>&1) || echo "sipp exited non-zero" >&2
echo "sipp done after $(( $(date +%s) - started )) s; waiting for dialogs and the outbox" >&2
for _ in $(seq 60); do
  m=$(curl -s 127.0.0.1:19190/metrics)
  [ "$(gauge chartline_live_dialogs "$m")" = 0 ] && [ "$(gauge chartline_active_calls "$m")" = 0 ] && break
  sleep 1
done
sleep 10   # the outbox worker's last round
curl -s 127.0.0.1:19190/metrics > "$out/metrics.txt"
"$root/target/release/chartline" calls list --json --limit 1000000 --config "$work/chartline.toml" > "$out/calls.json"
kill $sampler 2>/dev/null || true

python3 - "$out" "$duration" <<'PY'
import csv, json, sys
out, duration = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(f"{out}/stats.csv"), delimiter=";"))
ok, failed = int(rows[-1]["SuccessfulCall(C)"]), int(rows[-1]["FailedCall(C)"])
samples = [list(map(float, l.split())) for l in open(f"{out}/samples") if len(l.split()) == 4]
t0 = samples[0][0]
print("minute  RSS MB  active calls  live dialogs")
for s in samples:
    if int(s[0] - t0) % 60 < 5:
        print(f"{(s[0] - t0) / 60:6.1f}  {s[1] / 1024:6.1f}  {int(s[2]):12d}  {int(s[3]):12d}")
# The plateau: from the first sample at 90% of the target concurrency to the end of new calls.
peak = max(s[2] for s in samples)
start = next(s[0] for s in samples if s[2] >= 0.9 * peak)
plateau = [s for s in samples if start + 60 <= s[0] <= t0 + duration]
third = max(len(plateau) // 3, 1)
first = sum(s[1] for s in plateau[:third]) / third
last = sum(s[1] for s in plateau[-third:]) / third
drift = (last - first) / first * 100
metrics = open(f"{out}/metrics.txt").read().splitlines()
gauge = lambda n: int(next(l.split()[1] for l in metrics if l.startswith(n + " ")))
records = json.load(open(f"{out}/calls.json"))
ended = [c for c in records if c.get("ended_at")]
recorded = [c for c in ended if c.get("recording")]
synced = [c for c in ended if (c.get("ehr") or {}).get("status") == "delivered"]
print(f"calls: {ok} completed by SIPp, {failed} failed; peak {int(peak)} active in chartline")
print(f"RSS on the plateau ({len(plateau)} samples): first third {first / 1024:.1f} MB, last third {last / 1024:.1f} MB, drift {drift:+.1f}% (max 5%), peak {max(s[1] for s in samples) / 1024:.1f} MB")
print(f"after the run: {gauge('chartline_live_dialogs')} live dialogs, {gauge('chartline_active_calls')} active calls")
print(f"records: {len(ended)} finished, {len(recorded)} with a recording, {len(synced)} delivered to the chart")
bad = []
if abs(drift) > 5: bad.append("RSS drift")
if gauge("chartline_live_dialogs") or gauge("chartline_active_calls"): bad.append("leaked dialogs or calls")
if failed or len(ended) < ok or len(recorded) < ok or len(synced) < len(ended): bad.append("calls missing, unrecorded or unsynced")
if bad:
    print("FAIL: " + ", ".join(bad)); sys.exit(1)
print("PASS")
PY
