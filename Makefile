# edp: event data platform for PostgreSQL (PGXS build)

EXTENSION = edp
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = edp
OBJS = \
	src/buckets/arithmetic.o \
	src/buckets/counts.o \
	src/buckets/counts_aggregate.o \
	src/buckets/dedupe_hash.o \
	src/buckets/fingerprints.o \
	src/buckets/load_history.o \
	src/buckets/dedupe_order.o \
	src/buckets/partitions.o \
	src/buckets/rollup_batch.o \
	src/buckets/rollup_packed.o \
	src/buckets/scalar_functions.o \
	src/buckets/settings.o \
	src/buckets/triggers.o \
	src/core/citus.o \
	src/core/copy_hook.o \
	src/core/edp.o \
	src/core/guc.o \
	src/core/loader.o \
	src/core/security.o \
	src/core/version.o \
	src/events/flatten.o \
	src/events/flatten_copy.o \
	src/events/flatten_json.o \
	src/events/flatten_trigger.o \
	src/events/generator.o \
	src/export/copy_to.o \
	src/export/export.o \
	src/export/geoparquet.o \
	src/export/parquet_types.o \
	src/export/parquet_writer.o \
	src/export/thrift_compact.o \
	src/ingest/copy_quarantine.o \
	src/ingest/functions.o \
	src/ingest/inbox_files.o \
	src/ingest/ingest.o \
	src/ingest/input.o \
	src/ingest/json_lines.o \
	src/ingest/launcher.o \
	src/ingest/ledger.o \
	src/ingest/notify.o \
	src/ingest/progress.o \
	src/ingest/reject_keeper.o \
	src/ingest/worker.o \
	src/ingest/worker_start.o \
	src/trips/blocks.o \
	src/trips/clustering.o \
	src/trips/copy.o \
	src/trips/dbscan.o \
	src/trips/generator.o \
	src/trips/geometry.o \
	src/trips/weekly_aggregates.o

# The install script of this version is built from one file per capability,
# in this order (later parts use objects of earlier ones); released scripts
# (sql/edp--1.0.sql) and upgrade scripts are committed and frozen.
INSTALL_SQL = $(addprefix sql/install/,catalog.sql events.sql buckets.sql trips.sql ingest.sql export.sql)
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = sql/$(EXTENSION)--1.0.sql $(wildcard sql/$(EXTENSION)--*--*.sql)

# Parquet pages are compressed with Debian's libzstd (libzstd-dev)
SHLIB_LINK += -lzstd

# the library knows its version (job.c refuses an older ledger)
PG_CPPFLAGS += -I$(srcdir)/src -DEDP_VERSION='"$(EXTVERSION)"'

# pg_regress: tests live in sql/ + expected/ beside the install scripts
# (every sql/edp--*.sql is an extension script; test names never contain --)
REGRESS = setup catalog comments generator flatten flatten_invariant flatten_fuzz buckets buckets_keys rollup dedupe partitions bucket_views aggregate_parallel scale_out ingest ingest_privileges copy_quarantine ingest_reject_abort trips trips_copy trips_cluster trips_rollup trips_blocks trips_aggregate trips_bi trips_errors integration write_paths hostile_input
REGRESS_OPTS = --inputdir=. --temp-instance=./tmp_check --temp-config=test/edp.conf

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
PROVE_FLAGS += -I test/perl

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header changes
$(OBJS): $(wildcard src/*/*.h)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_SQL)
	cat $^ > $@

# The two commands of README.md (they install packages, build, install and run)
.PHONY: demo test
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
