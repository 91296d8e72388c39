#!/usr/bin/env bash
# test/bench/write_paths.sh [N] -- every way of writing events into an edp table
#
# The write-pipeline issue: N generated events (default 10,000,000) in one CSV
# server file (md5 customer ids, event type, transaction uuid, ts text with
# mixed UTC offsets, ~0.1% exact duplicates), written side by side on one
# throwaway cluster into
#   t (customer_id text, event_type text, transaction_id uuid, ts timestamptz)
#   with edp.enable_rollup(key => customer_id, ts => ts) and
#   edp.enable_dedupe(columns => {customer_id,event_type,transaction_id,ts}),
# in two series: a plain table, and the same table PARTITION BY RANGE (ts) with
# edp.enable_partitioning(period => 'day') (enabled first, as sql/partitions.sql).
# Paths:
#   1 \copy t FROM file (client-side, psql)              -- the reference
#   2 COPY t FROM 'file' (server-side)
#   3 edp.ingest('t', 'file')                             -- synchronous, validated
#   4 edp.ingest_data('t', :'content'), the file read into a psql variable
#     (\set content `cat file`): holds the whole file in memory (1 GB limit),
#     so only when N <= 2,000,000; there is no streaming client ingest yet
#   5 edp.ingest_async('t', 'file'), timed from the call to the job's final
#     status in edp.jobs (polled every BENCH_POLL s, default 0.1, in a DO loop)
#   6 the peer, plain PostgreSQL doing the same job: \copy into a staging table
#     without indexes, then INSERT INTO peer SELECT * FROM staging ON CONFLICT
#     DO NOTHING into a table with UNIQUE (customer_id, event_type,
#     transaction_id, ts) and a btree (customer_id, ts), both steps timed
#     together; the peer keeps no rollup. In the partitioned series the peer is
#     partitioned by day too, its partitions created before the timed run
#     (plain PostgreSQL creates none on demand).
# edp.ingest* are called with force => true (the same file is loaded again on
# every run) and header => false. Every run gets a fresh table, then
# CHECKPOINT, then the timed load. Every path must store the distinct rows of
# the input (a FAIL line says when one does not). Ratios: each path's rows/s /
# \copy's (target >= 0.8), \copy's rows/s / the peer's (target >= 2).
# BENCH_REPEAT=R (default 1: at 10M each run takes minutes) keeps the best of R.
#
# Environment: PG_BINDIR (PostgreSQL with edp installed), BENCH_DIR,
# BENCH_PORT, BENCH_SHARED_BUFFERS (see lib.sh; this script defaults to its own
# dir and port), BENCH_REPEAT, BENCH_POLL, BENCH_SERIES ("plain", "partitioned" or both,
# the default), BENCH_PATHS (a subset of the paths, by name: copy_client
# copy_server ingest ingest_data ingest_async peer; default all; copy_client is
# always run, it is the reference), BENCH_RAW_INDEX (enable_rollup's raw_index:
# btree, the default, brin or none).
BENCH_DIR=${BENCH_DIR:-/tmp/edp-bench-write-paths}
BENCH_PORT=${BENCH_PORT:-55443}
source "$(dirname "$0")/lib.sh"

N=${1:-10000000}
REPEAT=${BENCH_REPEAT:-1}
POLL=${BENCH_POLL:-0.1}
CLIENT_MAX=2000000
export PGOPTIONS="-c client_min_messages=warning"
CSV=$BENCH_DIR/events.csv
COLS="customer_id text, event_type text, transaction_id uuid, ts timestamptz"
SERIES=${BENCH_SERIES:-plain partitioned}
PATHS="copy_client ${BENCH_PATHS:-copy_server ingest ingest_data ingest_async peer}"
PATHS=${PATHS/copy_client copy_client/copy_client}
RAW_INDEX=${BENCH_RAW_INDEX:-btree}

declare -A LABEL=(
    [copy_client]="1 \`\\copy t FROM file\` (client, the reference)"
    [copy_server]="2 \`COPY t FROM 'file'\` (server)"
    [ingest]="3 \`edp.ingest('t', 'file')\`"
    [ingest_data]="4 \`edp.ingest_data('t', :'content')\` (client, file in a psql variable)"
    [ingest_async]="5 \`edp.ingest_async('t', 'file')\`, call to final status"
    [peer]="6 peer: \`\\copy staging\` + \`INSERT … ON CONFLICT DO NOTHING\` (no rollup)"
)

echo "write paths benchmark: N=$N, best of $REPEAT, cluster in $BENCH_DIR" >&2
# ingest_async: the launcher runs in the bench database
bench_start_cluster "edp.database = '$BENCH_DB'"
trap bench_stop_cluster EXIT
load_before=$(bench_loadavg)

echo "generating $CSV" >&2
bench_psql -c "COPY (SELECT md5(customer_id::text), event_type, transaction_id, ts_text
                       FROM edp.generate_events($N)) TO '$CSV' (FORMAT csv)"
CSV_MB=$(du -m "$CSV" | cut -f 1)

# the distinct rows of the input, as typed values (what every path must store),
# and the days it covers (the peer's partitions)
bench_psql -c "CREATE TABLE input_check ($COLS)" -c "COPY input_check FROM '$CSV' (FORMAT csv)"
read -r DISTINCT DAY_FIRST DAY_LAST < <(bench_psql -At -F ' ' -c "
    SELECT (SELECT count(*) FROM (SELECT DISTINCT * FROM input_check) d),
           to_char(min(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD'), to_char(max(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')
      FROM input_check")
bench_psql -c "DROP TABLE input_check"
echo "input: $N rows, $DISTINCT distinct, days $DAY_FIRST .. $DAY_LAST, $CSV_MB MB" >&2

fresh_edp() {
    bench_psql -c "DROP TABLE IF EXISTS t"
    if [ "$1" = partitioned ]; then
        bench_psql -c "CREATE TABLE t ($COLS) PARTITION BY RANGE (ts)" \
                   -c "SELECT edp.enable_partitioning('t', ts => 'ts', period => 'day')" >/dev/null
    else
        bench_psql -c "CREATE TABLE t ($COLS)"
    fi
    bench_psql -c "SELECT edp.enable_rollup('t', key => 'customer_id', ts => 'ts', raw_index => '$RAW_INDEX')" \
               -c "SELECT edp.enable_dedupe('t', columns => '{customer_id,event_type,transaction_id,ts}')" >/dev/null
    bench_psql -c "CHECKPOINT"
}

fresh_peer() {
    bench_psql -c "DROP TABLE IF EXISTS peer, staging" -c "CREATE TABLE staging ($COLS)"
    if [ "$1" = partitioned ]; then
        bench_psql -c "CREATE TABLE peer ($COLS) PARTITION BY RANGE (ts)" \
                   -c "DO \$\$ DECLARE d date; BEGIN
                         FOR d IN SELECT generate_series('$DAY_FIRST'::date, '$DAY_LAST'::date, '1 day')::date LOOP
                           EXECUTE format('CREATE TABLE %I PARTITION OF peer FOR VALUES FROM (%L) TO (%L)',
                                          'peer_p' || to_char(d, 'YYYYMMDD'), d || ' 00:00+00', d + 1 || ' 00:00+00');
                         END LOOP;
                         CREATE TABLE peer_default PARTITION OF peer DEFAULT;
                       END \$\$"
    else
        bench_psql -c "CREATE TABLE peer ($COLS)"
    fi
    bench_psql -c "CREATE UNIQUE INDEX ON peer (customer_id, event_type, transaction_id, ts)" \
               -c "CREATE INDEX ON peer (customer_id, ts)" -c "CHECKPOINT"
}

p_copy_client() { bench_psql -c "\\copy t FROM '$CSV' (FORMAT csv)"; }
p_copy_server() { bench_psql -c "COPY t FROM '$CSV' (FORMAT csv)"; }
p_ingest() { bench_psql -c "SELECT * FROM edp.ingest('t', '$CSV', header => false, force => true)"; }
p_ingest_data() {
    bench_psql <<SQL
\\set content \`cat '$CSV'\`
SELECT * FROM edp.ingest_data('t', :'content', header => false, force => true);
SQL
}
p_ingest_async() {
    bench_psql -c "SELECT set_config('bench.job', edp.ingest_async('t', '$CSV', header => false, force => true)::text, false)" \
               -c "DO \$\$ BEGIN
                     WHILE (SELECT status FROM edp.jobs WHERE id = current_setting('bench.job')::int8) IN ('queued', 'running') LOOP
                       PERFORM pg_sleep($POLL);
                       COMMIT;
                     END LOOP;
                   END \$\$"
}
p_peer() {
    bench_psql -c "\\copy staging FROM '$CSV' (FORMAT csv)" \
               -c "INSERT INTO peer SELECT * FROM staging ON CONFLICT DO NOTHING"
}

FAILS=()
fail() { echo "FAIL: $*" >&2; FAILS+=("FAIL: $*"); }

declare -A SECS STORED INDEXES
# run_path SERIES PATH: best of REPEAT runs, each on a fresh table
run_path() {
    local series=$1 path=$2 best="" t i rows table=t job job_id job_status job_rejected
    for i in $(seq "$REPEAT"); do
        if [ "$path" = peer ]; then fresh_peer "$series"; table=peer; else fresh_edp "$series"; fi
        [ -n "${INDEXES[$series]:-}" ] || [ "$path" = peer ] \
            || INDEXES[$series]=$(bench_psql -At -c "SELECT indexdef FROM pg_indexes WHERE tablename = 't' ORDER BY indexname")
        t=$(bench_time "p_$path")
        rows=$(bench_psql -At -c "SELECT count(*) FROM $table")
        echo "  $series $path run $i: $t s, $rows rows stored" >&2
        case $path in
            ingest*)
                job=$(bench_psql -At -F ' ' -c "SELECT id, status, loaded, rejected, duplicates FROM edp.jobs ORDER BY id DESC LIMIT 1")
                echo "    job (id status loaded rejected duplicates): $job" >&2
                read -r job_id job_status _ job_rejected _ <<< "$job"
                [ "$job_status" = succeeded ] || fail "$series $path run $i: job $job_id ended $job_status"
                [ "$job_rejected" = 0 ] || fail "$series $path run $i: job $job_id rejected $job_rejected rows, the first: $(bench_psql -At -c \
                    "SELECT 'line ' || line || ', ' || sqlstate || ' ' || message FROM edp.rejects WHERE job_id = $job_id ORDER BY line LIMIT 1")"
                ;;
        esac
        [ "$rows" = "$DISTINCT" ] || fail "$series $path run $i: $rows rows stored, the input has $DISTINCT distinct rows"
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
    done
    SECS[$series,$path]=$best
    STORED[$series,$path]=$rows
}

for series in $SERIES; do
    for path in $PATHS; do
        if [ "$path" = ingest_data ] && [ "$N" -gt "$CLIENT_MAX" ]; then
            echo "  $series $path: skipped, N > $CLIENT_MAX" >&2
            continue
        fi
        run_path "$series" "$path"
    done
done
bench_psql -c "DROP TABLE IF EXISTS t, peer, staging"
load_after=$(bench_loadavg)

rate() { awk -v n="$N" -v t="$1" 'BEGIN { printf "%.0f", n / t }'; }
# ratio T_REF T: rows/s of T over rows/s of T_REF
ratio() { awk -v r="$1" -v t="$2" 'BEGIN { printf "%.2f", r / t }'; }

echo
echo "### Write paths, N = $N, best of $REPEAT"
echo
bench_machine
echo "edp $(bench_psql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'edp'"), edp.so of $(date -u -r "$("$PG_BINDIR/pg_config" --pkglibdir)/edp.so" '+%Y-%m-%d %H:%M UTC'); shared_buffers ${BENCH_SHARED_BUFFERS:-4GB}; 1-min load average $load_before before, $load_after after."
echo
echo "Input: N = $N generated events (\`edp.generate_events($N)\`, customer_id as md5 text), $CSV_MB MB CSV, $DISTINCT distinct rows ($(( N - DISTINCT )) exact duplicates), days $DAY_FIRST to $DAY_LAST UTC. Every path must store the $DISTINCT distinct rows."
for series in $SERIES; do
    ref=${SECS[$series,copy_client]}
    echo
    if [ "$series" = plain ]; then
        echo "#### Plain table: rollup + dedupe"
    else
        echo "#### Partitioned table: \`PARTITION BY RANGE (ts)\`, \`edp.enable_partitioning(period => 'day')\`, rollup + dedupe (the peer: partitioned by day, partitions created ahead)"
    fi
    echo
    echo "Indexes edp created on \`t\` (raw index \`$RAW_INDEX\`; \`SELECT indexdef FROM pg_indexes WHERE tablename = 't'\`):"
    echo
    while IFS= read -r line; do echo "    $line"; done <<< "${INDEXES[$series]}"
    echo
    echo "| path | seconds | rows/s | rows stored | rows/s vs \\copy (target ≥ 0.8) |"
    echo "|---|---:|---:|---:|---:|"
    for path in $PATHS; do
        if [ -z "${SECS[$series,$path]:-}" ]; then
            echo "| ${LABEL[$path]} | skipped: N > 2,000,000 (holds the file in memory, 1 GB limit) | | | |"
            continue
        fi
        s=${SECS[$series,$path]}
        echo "| ${LABEL[$path]} | $s | $(rate "$s") | ${STORED[$series,$path]} | $(ratio "$ref" "$s") |"
    done
    echo
    echo "\\copy rows/s / peer rows/s (target ≥ 2): $(ratio "${SECS[$series,peer]}" "$ref")."
done
echo
if [ "$N" -le "$CLIENT_MAX" ]; then
    echo "Path 4 holds the whole file in a psql variable and in one server-side text value (1 GB limit): run only for N <= 2,000,000."
else
    echo "Path 4 skipped: it holds the whole file in memory (1 GB limit) and runs only for N <= 2,000,000."
fi
echo "Path 5 is timed from the call to the final status in edp.jobs, polled every $POLL s. The peer has no rollup: its figure is the raw rows and indexes only."
echo
if [ ${#FAILS[@]} -eq 0 ]; then
    echo "Rows stored: every path stored the $DISTINCT distinct rows of the input."
else
    printf '%s\n' "${FAILS[@]}"
fi
