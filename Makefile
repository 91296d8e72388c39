# edp: event data platform for PostgreSQL (PGXS build)

EXTENSION = edp
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = edp
OBJS = \
	src/agg_bucket_counts.o \
	src/bucket_funcs.o \
	src/bucket_math.o \
	src/buckets_guc.o \
	src/buckets_trigger.o \
	src/edp.o \
	src/rollup_packed.o \
	src/srf_bucket_counts.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# pg_regress: tests live in sql/ + expected/ beside the install scripts
# (every sql/edp--*.sql is an extension script; test names never contain --)
REGRESS = setup buckets rollup dedupe partitions bucket_views aggregate_parallel
REGRESS_OPTS = --inputdir=. --temp-instance=./tmp_check --temp-config=test/edp.conf

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
PROVE_FLAGS += -I test/perl

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The two commands of README.md (they install packages, build, install and run)
.PHONY: demo test
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
