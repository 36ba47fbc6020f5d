#!/usr/bin/env bash
# Failover under load (not run in CI): `scripts/cluster` starts Kamailio and NODES keypad-only
# Chartline nodes; SIPp keeps CONCURRENT whole keypad calls (tests/sipp/full_call.xml, about 27 s
# each) up through the front door, and once 90% of them are up on the nodes, the last node gets
# kill -9.
#
#   benches/cluster/run.sh [CONCURRENT] [CALLS] [NODES]
#     CONCURRENT    calls up at once                      (default 200)
#     CALLS         calls in all                          (default 400)
#     NODES         Chartline nodes behind Kamailio        (default 2)
#
# Prints the time from the kill to Kamailio's "node down", SIPp's successful and failed calls,
# the calls up on each node at the kill, the finished records per node, the calls cut on the
# killed node, records found twice (must be 0) and successful calls without a finished record
# (must be 0), and INVITE->200 p50/p99/max. Exits non-zero when a finished call is missing or
# doubled, or a call other than the ones cut by the kill failed. Output stays in
# benches/cluster/last-run/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
concurrent=${1:-200}; calls=${2:-400}; nodes=${3:-2}
call_s=27   # one full_call.xml call against the default prompts
rate=$(python3 -c "print(round($concurrent / $call_s + 0.5, 1))")
sipp_timeout=$(python3 -c "print(int($calls / $rate + $call_s + 120))")

command -v sipp >/dev/null && command -v kamailio >/dev/null || "$root/scripts/setup" --test
[ -x "$root/target/release/chartline" ] || (cd "$root" && cargo build --release --locked)
ulimit -n "$(ulimit -Hn)"

out="$PWD/last-run"; rm -rf "$out"; mkdir -p "$out"
cluster=(--dir "$out/cluster" --nodes "$nodes" --listen 127.0.0.1:17060 --node-port 17060 --metrics-port 19290 --web-port 18543 --rtp-ports 34000-35999)
trap '"$root/scripts/cluster" stop --dir "$out/cluster"' EXIT
sipp_dir="$root/tests/sipp"
"$sipp_dir/make_full_call_pcaps"

printf '[speech]\nmodel_path = "models/not-imported.bin"\n[speech.chart]\nmodel_path = ""\n[calls]\nmax_concurrent = %d\n' "$((concurrent + 50))" > "$out/node.toml"
"$root/scripts/cluster" start "${cluster[@]}" --node-toml "$out/node.toml" --maxload "$concurrent" >/dev/null

echo "cluster bench: $calls calls at $rate/s, up to $concurrent at once, $nodes nodes; node $nodes killed at the plateau" >&2
rm -f "$sipp_dir"/full_call_*_rtt.csv
(cd "$sipp_dir" && sipp 127.0.0.1:17060 -sf full_call.xml -i 127.0.0.1 -p 17070 -mp 44000 -r "$rate" -rp 1000 \
    -l "$concurrent" -m "$calls" -nostdin -timeout "${sipp_timeout}s" -timeout_error \
    -trace_stat -stf "$out/stats.csv" -fd 1 -trace_rtt -rtt_freq 1 >/dev/null 2>&1) &
sipp=$!

up() { curl -s "127.0.1.$1:19290/metrics" | awk '$1 == "chartline_active_calls" {print $2}'; }
deadline=$((SECONDS + 180))
until [ "$(for i in $(seq "$nodes"); do up "$i"; done | awk '{n += $1} END {print n + 0}')" -ge $((concurrent * 9 / 10)) ]; do
    [ $SECONDS -lt $deadline ] || { echo "the calls never reached 90% of $concurrent" >&2; break; }
    sleep 0.2
done
for i in $(seq "$nodes"); do echo "$i $(up "$i")"; done > "$out/up-at-kill"
killed_at=$(date +%s.%N)
kill -KILL "$(cat "$out/cluster/node$nodes/pid")"
until grep -q "chartline node down: sip:127.0.1.$nodes:17060" "$out/cluster/kamailio/kamailio.log"; do
    [ "$(python3 -c "print(int($(date +%s.%N) - $killed_at))")" -lt 30 ] || { echo "node $nodes never marked down" >&2; break; }
    sleep 0.02
done
down_at=$(date +%s.%N)
wait $sipp || echo "sipp exited non-zero (expected: the killed node's calls fail)" >&2
mv "$sipp_dir"/full_call_*_rtt.csv "$out/" 2>/dev/null || true
for i in $(seq "$nodes"); do
    "$root/target/release/chartline" calls list --json --limit 100000 --config "$out/cluster/node$i/chartline.toml" > "$out/node$i-calls.json"
done

python3 - "$out" "$nodes" "$killed_at" "$down_at" <<'PY'
import csv, glob, json, sys
out, nodes, killed_at, down_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rows = list(csv.DictReader(open(f"{out}/stats.csv"), delimiter=";"))
ok, failed = int(rows[-1]["SuccessfulCall(C)"]), int(rows[-1]["FailedCall(C)"])
peak = max(int(r["CurrentCall"]) for r in rows)
rtts = sorted(float(r["response_time_ms"]) for p in glob.glob(f"{out}/full_call_*_rtt.csv") for r in csv.DictReader(open(p), delimiter=";"))
pct = lambda p: rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else float("nan")
up = dict(l.split() for l in open(f"{out}/up-at-kill") if len(l.split()) == 2)
finished, cut, ids = {}, 0, []
for i in range(1, nodes + 1):
    records = json.load(open(f"{out}/node{i}-calls.json"))
    finished[i] = sum(1 for c in records if c["ended_at"])
    if i == nodes:
        cut = len(records) - finished[i]
    ids += [e["sip_call_id"] for c in records for e in c["events"] if e["kind"] == "answered"]
doubled = len(ids) - len(set(ids))
missing = ok - sum(finished.values())
print(f"node {nodes} marked down {down_at - killed_at:.2f} s after kill -9")
print(f"SIPp: {ok} successful, {failed} failed, peak {peak} concurrent")
print("calls up at the kill: " + ", ".join(f"node {i} {up.get(str(i), '?')}" for i in range(1, nodes + 1)))
print("finished records: " + ", ".join(f"node {i} {n}" for i, n in finished.items()) + f"; cut on node {nodes}: {cut}")
print(f"records found twice: {doubled}; successful calls without a finished record: {missing}")
print(f"INVITE->200: p50 {pct(0.5):.0f} ms, p99 {pct(0.99):.0f} ms, max {rtts[-1] if rtts else float('nan'):.0f} ms ({len(rtts)} calls)")
sys.exit(1 if doubled or missing or failed != cut else 0)
PY
