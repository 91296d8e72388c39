# edp: event data platform for PostgreSQL (PGXS build)

EXTENSION = edp
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = edp
OBJS = \
	src/agg_bucket_counts.o \
	src/agg_weekly_trips.o \
	src/bgw_ingest.o \
	src/bgw_launcher.o \
	src/bucket_funcs.o \
	src/bucket_math.o \
	src/buckets_guc.o \
	src/buckets_trigger.o \
	src/copy_hook.o \
	src/edp.o \
	src/flatten.o \
	src/flatten_copy.o \
	src/flatten_scan.o \
	src/flatten_trigger.o \
	src/guc.o \
	src/ingest.o \
	src/ingest_input.o \
	src/ingest_json.o \
	src/ingest_sql.o \
	src/job.o \
	src/loader.o \
	src/notify.o \
	src/rollup_batch.o \
	src/rollup_packed.o \
	src/security.o \
	src/srf_bucket_counts.o \
	src/srf_generate_events.o \
	src/srf_generate_trips.o \
	src/srf_trip_assignments.o \
	src/trips_blocks.o \
	src/trips_copy.o \
	src/trips_dbscan.o \
	src/trips_geo.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# the library knows its version (job.c refuses an older ledger)
PG_CPPFLAGS += -DEDP_VERSION='"$(EXTVERSION)"'

# pg_regress: tests live in sql/ + expected/ beside the install scripts
# (every sql/edp--*.sql is an extension script; test names never contain --)
REGRESS = setup catalog generator flatten flatten_invariant flatten_fuzz buckets rollup dedupe partitions bucket_views aggregate_parallel ingest ingest_privileges trips trips_copy trips_cluster trips_rollup trips_blocks trips_aggregate trips_bi integration
REGRESS_OPTS = --inputdir=. --temp-instance=./tmp_check --temp-config=test/edp.conf

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
PROVE_FLAGS += -I test/perl

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header changes
$(OBJS): $(wildcard src/*.h)

# The two commands of README.md (they install packages, build, install and run)
.PHONY: demo test
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
