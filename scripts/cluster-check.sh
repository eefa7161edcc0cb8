#!/usr/bin/env bash
# cluster-check.sh: issue 16's check of `serve --workers`, with the real
# binary. Two worker nodes share one PostgreSQL database (state AND job
# queue: state.dsn, no serve.queue.dsn) and SYNCS syncs scheduled every
# EVERY, each to its own audience on one sandbox X replica whose requests
# take LATENCY, for DURATION seconds; the source grows by GROW contacts a
# tick, so every run uploads. KILL_AT seconds in, the node that is the
# elected River leader (the one enqueueing the ticks) is killed with
# SIGKILL while it has runs in progress: its lease stays until it lapses,
# so nobody enqueues ticks until the other node is elected, which then
# catches up (serve.catch_up: once, CATCH_UP) the ticks missed meanwhile.
# The source then stops growing; once the killed node's jobs have been
# rescued and every sync has run on the final source, the survivor is
# stopped and the script reports, from the run log in PostgreSQL:
#
#   - runs by status, by node and by trigger, per sync and in all; how long
#     after the kill the other node was elected;
#   - overlapping runs of one sync (must be none; a killed run counts as
#     running until the kill);
#   - ticks: each is a run job inserted (by the schedule, or the new
#     leader's catch-up) or an insert skipped because the sync's job was
#     still there (recorded as skipped); two ticks of a sync more than 1.5
#     ticks apart are caught up when the later one is the catch-up (one
#     run, by serve.catch_up: once, for the ticks nobody enqueued while
#     no node was leader), else lost (must be none); every job inserted
#     must have completed;
#   - gaps between runs: late (up to 2 ticks: a run waited for a worker),
#     rescue (the later run is the killed node's job, rescued after
#     rescue_after; the ticks meanwhile were skipped), caught up (the
#     later run is the catch-up on election) and other (must be none);
#   - convergence: each audience on the replica holds exactly the hashed
#     e-mails of the final source (must be exact for every sync).
#
# It exits 1 when an overlap, a lost tick, a run job not completed, a run
# gap beyond two ticks without a rescue or a catch-up, or a divergent
# audience is found.
# A run that fails because the source file was replaced while it was read
# is the CSV connector's guard, not a fault: the next run converges.
#
# Needs PostgreSQL's pg_virtualenv (Debian/Ubuntu: postgresql-common and a
# postgresql-NN server package), psql, curl, jq and sha256sum. Without
# PGHOST in the environment it runs itself under pg_virtualenv, which
# makes a throw-away cluster. Run from the repository's root:
#
#   scripts/cluster-check.sh                       # 50 syncs @every 10s, 4 minutes
#   SYNCS=50 EVERY=60 DURATION=600 scripts/cluster-check.sh   # the issue's ten minutes
#
# Work files (config, logs, the replica's state) stay in WORK (default: a
# new temporary directory) for a look afterwards.
set -euo pipefail

if [[ -z "${PGHOST:-}" ]]; then
	exec pg_virtualenv "$0" "$@"
fi

SYNCS=${SYNCS:-50}
EVERY=${EVERY:-10}          # seconds between ticks
DURATION=${DURATION:-240}   # seconds of growing source
KILL_AT=${KILL_AT:-90}      # seconds in: kill -9 node A
CONTACTS=${CONTACTS:-200}   # initial source rows (first uploads that fit in a tick)
GROW=${GROW:-200}           # rows added each tick
LATENCY=${LATENCY:-250ms}   # the replica's latency per request
BATCH=${BATCH:-100}         # members per upload request
WORKERS=${WORKERS:-8}       # serve --workers N on each node
JOB_TIMEOUT=${JOB_TIMEOUT:-30s}
RESCUE_AFTER=${RESCUE_AFTER:-40}  # seconds
CATCH_UP=${CATCH_UP:-once}  # serve.catch_up
WORK=${WORK:-$(mktemp -d -t cluster-check-XXXXXX)}
BIN=${BIN:-$WORK/audiencesync}

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT

mkdir -p "$WORK"
if [[ ! -x "$BIN" ]]; then
	log "building $BIN"
	go build -o "$BIN" ./cmd/audiencesync
fi
cd "$WORK"
createdb audiencesync
dsn="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/audiencesync?sslmode=disable"
printf '%s\n' "$dsn" >state-dsn
chmod 600 state-dsn
export PGDATABASE=audiencesync

# contacts N: the source, N synthetic contacts, replaced atomically.
contacts() {
	{
		echo contact_id,email
		seq -f 'C%07.0f' 0 $(($1 - 1)) | sed 's/^C\(.*\)$/C\1,person.\1@example.com/'
	} >contacts.csv.new
	mv contacts.csv.new contacts.csv
}
contacts "$CONTACTS"

sb_port=$((20000 + RANDOM % 20000))
"$BIN" sandbox --addr "127.0.0.1:$sb_port" --latency "$LATENCY" >sandbox.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$sb_port/_sandbox/state" >/dev/null && break; sleep 0.1; done

{
	echo 'state: {dsn: "${file:./state-dsn}"}'
	echo "serve: {max_jitter: 0s, catch_up: $CATCH_UP, queue: {job_timeout: $JOB_TIMEOUT, rescue_after: ${RESCUE_AFTER}s}}"
	echo 'connections:'
	echo '  crm: {type: csv, path: ./contacts.csv}'
	echo "  x: {type: x, sandbox: true, endpoint: \"http://127.0.0.1:$sb_port/\", account_id: 18ce54d4x5t}"
	echo 'syncs:'
	for i in $(seq -w 1 "$SYNCS"); do
		cat <<EOF
  - name: sync-$i
    schedule: "@every ${EVERY}s"
    source: {connection: crm, key: contact_id, default_region: US, fields: {email: email}}
    destinations:
      - connection: x
        audience: {name: Audience $i}
        batch_size: $BATCH
        concurrency: 1
EOF
	done
} >cluster.yaml
"$BIN" validate --config cluster.yaml >/dev/null

# node NAME PORT: starts a worker node, logging to NAME.log; its pid is
# in $started.
node() {
	"$BIN" serve --config cluster.yaml --addr "127.0.0.1:$2" --workers "$WORKERS" --log-format json >"$1.out" 2>"$1.log" &
	started=$!
	pids+=("$started")
}
port_a=$((sb_port + 1)) port_b=$((sb_port + 2))
node a "$port_a"
a=$started
node b "$port_b"
b=$started
for port in "$port_a" "$port_b"; do
	for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
done
log "nodes a (pid $a, :$port_a) and b (pid $b, :$port_b) serving $SYNCS syncs @every ${EVERY}s on $PGHOST:$PGPORT; work in $WORK"

start=$(date +%s)
rows=$CONTACTS
killed_at=""
victim="" survivor=$b survivor_name=b
while (($(date +%s) - start < DURATION)); do
	sleep "$EVERY"
	rows=$((rows + GROW))
	contacts "$rows"
	if [[ -z "$killed_at" ]] && (($(date +%s) - start >= KILL_AT)); then
		# The leader: the node whose River client holds river_leader.
		leader=$(psql -tAc "SELECT leader_id FROM river_leader WHERE expires_at > now()")
		if grep -qF "\"client_id\":\"$leader\"" a.log; then
			victim=a pid=$a port=$port_a survivor=$b survivor_name=b
		else
			victim=b pid=$b port=$port_b survivor=$a survivor_name=a
		fi
		# Mid-run: wait for the leader to have runs in progress.
		for _ in $(seq 200); do
			busy=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '$1 == "audiencesync_runs_in_progress" {print $2}')
			[[ "${busy:-0}" != 0 ]] && break
			sleep 0.05
		done
		kill -9 "$pid"
		killed_at=$(date +%s%6N)
		log "killed node $victim (pid $pid), the leader ($leader), with $busy runs in progress"
	fi
done
log "the source stops growing at $rows contacts"

# Every sync has run once on the final source, and the killed node's jobs
# have been rescued: wait for rescue_after plus two ticks, then until no
# job is left running or waiting.
final=$(date +%s%6N)
sleep $((RESCUE_AFTER + 2 * EVERY))
for _ in $(seq 120); do
	pending=$(psql -tAc "SELECT count(*) FROM river_job WHERE state IN ('running', 'retryable') AND kind = 'audiencesync_run'")
	behind=$(psql -tAc "SELECT count(*) FROM (SELECT sync, max(started) AS s FROM runs WHERE status = 'succeeded' GROUP BY sync) r WHERE s < $final")
	((pending == 0 && behind == 0)) && break
	sleep 1
done
stopping=$(date +%s%6N)
kill -TERM "$survivor"
wait "$survivor" || log "node $survivor_name exited $?"

echo
echo "== runs by status (all syncs; $(((final / 1000000 - start) / EVERY)) ticks of growth per sync; running = killed)"
psql -c "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status"
echo "== failed runs, why (first 5)"
psql -tAc "SELECT sync, left(convert_from(report, 'UTF8')::json->>'error', 300) FROM runs WHERE status = 'failed' LIMIT 5"
echo "== runs by node (lock owner's service)"
psql -c "SELECT regexp_replace(owner, '-[0-9]+\$', '') AS node, count(*) FROM runs WHERE status <> 'skipped' GROUP BY 1 ORDER BY 1"
echo "== runs by trigger (started_by)"
psql -c "SELECT started_by, count(*) FROM runs WHERE status <> 'skipped' GROUP BY 1 ORDER BY 1"
echo "== runs per sync (min / max over syncs)"
psql -c "SELECT min(n), max(n) FROM (SELECT sync, count(*) AS n FROM runs WHERE status <> 'skipped' GROUP BY sync) s"
if [[ -n "$killed_at" ]]; then
	elected=$(jq -r 'select(.msg | startswith("elected the leader")) | .ts' "$survivor_name.log" | tail -1)
	if [[ -n "$elected" ]]; then
		echo "== node $survivor_name elected leader $(awk -v e="$(date -d "$elected" +%s%6N)" -v k="$killed_at" 'BEGIN { printf "%.1f", (e - k) / 1e6 }') s after the kill of node $victim"
	fi
fi
echo "== River's run jobs by state and attempt"
psql -c "SELECT state, attempt, count(*) FROM river_job WHERE kind = 'audiencesync_run' GROUP BY 1, 2 ORDER BY 1, 2"

killed=${killed_at:-0}
overlaps=$(psql -tAc "
	WITH r AS (SELECT id, sync, started, coalesce(finished, $killed) AS finished FROM runs WHERE status <> 'skipped')
	SELECT count(*) FROM r a JOIN r b ON a.sync = b.sync AND a.id < b.id AND a.started < b.finished AND b.started < a.finished")
echo "== overlapping runs of one sync: $overlaps"

# Ticks: every tick of a sync is an event in the queue or the run log:
# a run job inserted (schedule, or catch-up on election), or an insert
# skipped because the sync's job was still there (recorded as a skipped
# run). Two events of a sync more than 1.5 ticks apart are a gap: caught
# up when the later event is the new leader's catch-up (serve.catch_up:
# once runs one run, or records one skip, for the ticks nobody enqueued
# while no node was leader), else lost (must be none). Every inserted job
# must have completed (on its first attempt or after a rescue).
ticks="
	WITH e AS (
		SELECT args->>'sync' AS sync, (extract(epoch FROM created_at) * 1e6)::bigint AS at, args->>'trigger' AS trigger
			FROM river_job WHERE kind = 'audiencesync_run' AND args->>'trigger' <> 'api'
		UNION ALL
		SELECT sync, started, started_by FROM runs WHERE status = 'skipped'),
	g AS (SELECT e.*, lag(at) OVER (PARTITION BY sync ORDER BY at) AS prev FROM e)
	SELECT sync, to_timestamp(prev / 1e6)::time(0) AS from, to_timestamp(at / 1e6)::time(0) AS to,
		round((at - prev) / 1e6, 1) AS seconds, round((at - prev) / ${EVERY}e6) - 1 AS ticks_between,
		CASE WHEN trigger = 'catch-up' THEN 'caught up' ELSE 'lost' END AS cause
	FROM g WHERE prev IS NOT NULL AND at - prev > 1.5 * ${EVERY}e6"
echo "== ticks: run jobs inserted by trigger, and inserts skipped (recorded in the run log)"
# (A tick inserted in the last seconds before the stop may be left.)
unfinished="state <> 'completed' AND created_at < to_timestamp($stopping / 1e6) - interval '5 seconds'"
psql -c "SELECT args->>'trigger' AS trigger, count(*) AS jobs, count(*) FILTER (WHERE $unfinished) AS not_completed
	FROM river_job WHERE kind = 'audiencesync_run' GROUP BY 1 ORDER BY 1"
psql -c "SELECT started_by AS skipped_trigger, count(*) FROM runs WHERE status = 'skipped' GROUP BY 1 ORDER BY 1"
not_completed=$(psql -tAc "SELECT count(*) FROM river_job WHERE kind = 'audiencesync_run' AND $unfinished")
echo "== gaps between two ticks of a sync (> 1.5 ticks): caught up on election, lost (must be none)"
psql -c "SELECT cause, count(*), max(seconds) AS max_seconds, sum(ticks_between) AS ticks_between FROM ($ticks) g GROUP BY cause ORDER BY cause"
lost=$(psql -tAc "SELECT count(*) FROM ($ticks) g WHERE cause = 'lost'")
psql -c "SELECT * FROM ($ticks) g WHERE cause = 'lost' ORDER BY sync, \"from\" LIMIT 20"

# Runs: a run starts after its tick when it waits for a worker, or for
# the rescue of the killed node's job (its ticks meanwhile skipped); the
# catch-up runs once the other node is elected.
gaps="
	WITH j AS (SELECT metadata->'output'->>'run_id' AS run_id FROM river_job WHERE kind = 'audiencesync_run' AND attempt > 1),
	r AS (SELECT sync, started, started_by, id IN (SELECT run_id FROM j) AS rescued,
			lag(started) OVER (PARTITION BY sync ORDER BY started) AS prev
		FROM runs WHERE status <> 'skipped')
	SELECT sync, to_timestamp(prev / 1e6)::time(0) AS from, to_timestamp(started / 1e6)::time(0) AS to,
		round((started - prev) / 1e6, 1) AS seconds,
		CASE WHEN started - prev <= 2 * ${EVERY}e6 THEN 'late' WHEN rescued THEN 'rescue'
			WHEN started_by = 'catch-up' THEN 'caught up' ELSE 'other' END AS cause
	FROM r WHERE prev IS NOT NULL AND started - prev > 1.5 * ${EVERY}e6"
echo "== gaps between two runs of a sync (> 1.5 ticks): late (<= 2 ticks), rescue (the later run is a rescued job), caught up (the later run is the catch-up), other (must be none)"
psql -c "SELECT cause, count(*), max(seconds) AS max_seconds FROM ($gaps) g GROUP BY cause ORDER BY cause"
other_gaps=$(psql -tAc "SELECT count(*) FROM ($gaps) g WHERE cause = 'other'")
psql -c "SELECT * FROM ($gaps) g WHERE cause = 'other' ORDER BY sync, \"from\" LIMIT 20"
echo "== catch-up runs: $(psql -tAc "SELECT count(*) FROM runs WHERE started_by = 'catch-up' AND status <> 'skipped'"); catch-ups skipped (the sync's job still there): $(psql -tAc "SELECT count(*) FROM runs WHERE started_by = 'catch-up' AND status = 'skipped'")"
echo "== skipped ticks: $(psql -tAc "SELECT count(*) FROM runs WHERE status = 'skipped'") (why, first 3:)"
psql -tAc "SELECT DISTINCT left(convert_from(report, 'UTF8')::json->>'error', 110) FROM runs WHERE status = 'skipped' LIMIT 3"
echo "== killed runs (running when node ${victim:-?} died), listed by audiencesync runs as interrupted:"
"$BIN" runs --config cluster.yaml --limit 100000 | awk '$3 == "interrupted"' | head -20

# Exact: each audience's identifiers are the sha256 of the final source's
# e-mails, nothing more, nothing less.
tail -n +2 contacts.csv | cut -d, -f2 | while read -r email; do printf '%s' "$email" | sha256sum | cut -d' ' -f1; done | sort >want.txt
curl -sf "http://127.0.0.1:$sb_port/_sandbox/state?members=1" >replica.json
diverged=0
for i in $(seq -w 1 "$SYNCS"); do
	jq -r --arg n "Audience $i" '.x.custom_audiences[] | select(.name == $n and (.deleted | not)) | .identifiers[]' replica.json | sort >got.txt
	if ! cmp -s want.txt got.txt; then
		diverged=$((diverged + 1))
		echo "sync-$i: the audience holds $(wc -l <got.txt) members, the source has $(wc -l <want.txt)"
	fi
done
echo "== audiences that differ from the source ($(wc -l <want.txt) members): $diverged of $SYNCS"

if ((overlaps > 0 || lost > 0 || not_completed > 0 || other_gaps > 0 || diverged > 0)); then
	echo "FAIL: $overlaps overlaps, $lost lost ticks, $not_completed run jobs not completed, $other_gaps run gaps beyond 2 ticks without a rescue or a catch-up, $diverged audiences not exact"
	exit 1
fi
echo "OK: no overlap, no lost tick, every run job completed, every audience exact"
