#!/usr/bin/env bash
# test/bench/flatten.sh [N] -- loading event files with metrics flattening
#
# Issue 2, "Performance": N generated events (default 10,000,000), loaded
# client-side (psql, COPY ... FROM STDIN) into tables without indexes, side
# by side on one throwaway cluster:
#   (a) pre-flattened ints                          -- the limit
#   (b) the raw file, event_metrics kept as text
#   (c) the raw file, event_metrics kept as jsonb
#   (d) staging + INSERT ... SELECT: COPY into a jsonb staging table, then
#       INSERT INTO events_flat SELECT ..., (m->'metrics'->>'k')::int, ...
#       (both steps timed together)  -- the plain PostgreSQL way
#   (e) edp: COPY into an edp event table (edp.enable_flattening); run only
#       when that function is installed
# Every run gets a fresh table, then VACUUM and CHECKPOINT, then the timed
# load.  BENCH_REPEAT=R (default 1) runs each method R times and keeps the
# best time (useful on a shared machine).
# Prints a markdown table with rows/s and ratios, and the issue's targets:
# edp/(a) >= 0.8 and edp/(d) >= 2.
#
# Environment: PG_BINDIR (PostgreSQL with edp installed), BENCH_DIR,
# BENCH_PORT (see lib.sh).
source "$(dirname "$0")/lib.sh"

N=${1:-10000000}
# edp reports unknown metrics with one WARNING per key and statement; keep
# the timing output readable
export PGOPTIONS="-c client_min_messages=error"
RAW=$BENCH_DIR/events_raw.tsv
FLAT=$BENCH_DIR/events_flat.tsv
FORMAT="WITH (FORMAT csv, DELIMITER E'\\t', HEADER)"
COLUMNS_RAW="id bigint, first_dimension_id int, second_dimension_id int, recorded_date timestamp, created_date timestamp"
COLUMNS_FLAT="$COLUMNS_RAW, metric_one int, metric_two int, metric_n int"

echo "flatten benchmark: N=$N, cluster in $BENCH_DIR" >&2
bench_start_cluster
trap bench_stop_cluster EXIT

# the two input files, from the deterministic generator (seed 42)
echo "generating $RAW and $FLAT" >&2
bench_psql -c "\\copy (SELECT id, first_dimension_id, second_dimension_id, recorded_date, created_date, event_metrics FROM edp.generate_events($N)) TO '$RAW' $FORMAT"
bench_psql -c "\\copy (SELECT id, first_dimension_id, second_dimension_id, recorded_date, created_date, (m->>'metric_one')::int AS metric_one, (m->>'metric_two')::int AS metric_two, (m->>'metric_n')::int AS metric_n FROM (SELECT *, event_metrics::jsonb->'metrics' AS m FROM edp.generate_events($N)) AS g) TO '$FLAT' $FORMAT"

# check_rows TABLE: the load must have stored all N rows
check_rows() {
    local rows
    rows=$(bench_psql -At -c "SELECT count(*) FROM $1")
    if [ "$rows" != "$N" ]; then
        echo "flatten.sh: $1 holds $rows rows, expected $N" >&2
        exit 1
    fi
}

# metric_counts TABLE: how many values each metric column holds
metric_counts() {
    bench_psql -At -c "SELECT count(metric_one) || '/' || count(metric_two) || '/' || count(metric_n) FROM $1"
}

# check_metrics TABLE: the metric columns hold what the pre-flattened file holds
check_metrics() {
    local got
    got=$(metric_counts "$1")
    if [ "$got" != "$EXPECTED_METRICS" ]; then
        echo "flatten.sh: $1 holds $got metric values (one/two/n), expected $EXPECTED_METRICS" >&2
        exit 1
    fi
}

declare -A SECONDS_OF
METHODS=()

# run KEY LABEL SETUP LOAD TABLE: BENCH_REPEAT times (default 1): SETUP
# (fresh tables), CHECKPOINT, time LOAD, check TABLE; keeps the best time
run() {
    local key=$1 label=$2 setup=$3 load=$4 table=$5 i t
    echo "  ($key) $label" >&2
    for ((i = 0; i < ${BENCH_REPEAT:-1}; i++)); do
        $setup
        bench_psql -c "VACUUM" -c "CHECKPOINT"
        t=$(bench_time $load)
        check_rows "$table"
        echo "      run $((i + 1)): $t s" >&2
        if [ -z "${SECONDS_OF[$key]:-}" ] || awk -v t="$t" -v b="${SECONDS_OF[$key]}" 'BEGIN { exit !(t < b) }'; then
            SECONDS_OF[$key]=$t
        fi
    done
    METHODS+=("$key|$label")
}

# fresh_table NAME COLUMNS
fresh_table() {
    bench_psql -c "DROP TABLE IF EXISTS $1" -c "CREATE TABLE $1 ($2)"
}

# (a) the limit: ints already in columns
setup_a() { fresh_table events_flat "$COLUMNS_FLAT"; }
load_a() { bench_psql -c "COPY events_flat FROM STDIN $FORMAT" < "$FLAT"; }

# (b), (c): the raw line, metrics kept as text or jsonb
setup_b() { fresh_table events_text "$COLUMNS_RAW, event_metrics text"; }
load_b() { bench_psql -c "COPY events_text FROM STDIN $FORMAT" < "$RAW"; }
setup_c() { fresh_table events_jsonb "$COLUMNS_RAW, event_metrics jsonb"; }
load_c() { bench_psql -c "COPY events_jsonb FROM STDIN $FORMAT" < "$RAW"; }

# (d) the plain PostgreSQL way: staging table, then INSERT ... SELECT
setup_d() {
    fresh_table events_staging "$COLUMNS_RAW, event_metrics jsonb"
    fresh_table events_flat "$COLUMNS_FLAT"
}
load_d() {
    bench_psql -c "COPY events_staging FROM STDIN $FORMAT" \
        -c "INSERT INTO events_flat SELECT id, first_dimension_id, second_dimension_id, recorded_date, created_date, (event_metrics->'metrics'->>'metric_one')::int, (event_metrics->'metrics'->>'metric_two')::int, (event_metrics->'metrics'->>'metric_n')::int FROM events_staging" \
        < "$RAW"
}

# (e) edp: an event table with flattening enabled, plain COPY into it
setup_e() {
    fresh_table events "$COLUMNS_FLAT, event_metrics jsonb"
    bench_psql -c "SELECT edp.enable_flattening('events', source => 'event_metrics', path => '{metrics}')" >/dev/null
}
load_e() {
    bench_psql -c "COPY events (id, first_dimension_id, second_dimension_id, recorded_date, created_date, event_metrics) FROM STDIN $FORMAT" < "$RAW"
}

LOAD_BEFORE=$(bench_loadavg)
echo "loading" >&2
run a "pre-flattened ints (the limit)" setup_a load_a events_flat
EXPECTED_METRICS=$(metric_counts events_flat)
bench_psql -c "DROP TABLE events_flat"

run b "raw, metrics as text" setup_b load_b events_text
bench_psql -c "DROP TABLE events_text"

run c "raw, metrics as jsonb" setup_c load_c events_jsonb
bench_psql -c "DROP TABLE events_jsonb"

run d "staging jsonb + INSERT ... SELECT" setup_d load_d events_flat
check_metrics events_flat
bench_psql -c "DROP TABLE events_flat, events_staging"

HAVE_EDP=$(bench_psql -At -c "SELECT EXISTS (SELECT FROM pg_proc WHERE proname = 'enable_flattening' AND pronamespace = 'edp'::regnamespace)")
if [ "$HAVE_EDP" = t ]; then
    run e "edp flattening COPY" setup_e load_e events
    check_metrics events
    bench_psql -c "DROP TABLE events"
else
    echo "  (e) edp flattening not installed" >&2
fi

rm -f "$RAW" "$FLAT"

# the report
echo
echo "### Flattening COPY, N = $N${BENCH_REPEAT:+, best of $BENCH_REPEAT}"
echo
bench_machine
echo "Load average (1 min): $LOAD_BEFORE before the timed runs, $(bench_loadavg) after (2 cores)."
echo
echo "| method | seconds | rows/s | ratio to (a) |"
echo "|---|---:|---:|---:|"
for m in "${METHODS[@]}"; do
    key=${m%%|*}
    label=${m#*|}
    awk -v k="$key" -v l="$label" -v n="$N" -v s="${SECONDS_OF[$key]}" -v a="${SECONDS_OF[a]}" \
        'BEGIN { printf "| (%s) %s | %.2f | %.0f | %.2f |\n", k, l, s, n / s, a / s }'
done
if [ "$HAVE_EDP" != t ]; then
    echo "| (e) edp flattening COPY | edp flattening not installed | | |"
fi
echo
if [ "$HAVE_EDP" = t ]; then
    awk -v a="${SECONDS_OF[a]}" -v d="${SECONDS_OF[d]}" -v e="${SECONDS_OF[e]}" 'BEGIN {
        printf "- edp / (a) = %.2f (target >= 0.8: %s)\n", a / e, (a / e >= 0.8 ? "met" : "NOT met")
        printf "- edp / (d) = %.2f (target >= 2: %s)\n", d / e, (d / e >= 2 ? "met" : "NOT met")
    }'
else
    echo "- edp / (a): edp flattening not installed (target >= 0.8)"
    echo "- edp / (d): edp flattening not installed (target >= 2)"
fi
awk -v a="${SECONDS_OF[a]}" -v d="${SECONDS_OF[d]}" \
    'BEGIN { printf "- (d) / (a) = %.2f: the plain way reaches this share of the limit\n", a / d }'
