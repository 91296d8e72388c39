/*-------------------------------------------------------------------------
 *
 * buckets/counts_aggregate.c
 *		edp.bucket_counts_agg(ts, from, to [, width, tz]): zero-filled
 *		events per bucket of [from, to) as bigint[], usable with GROUP BY
 *		and split into partial aggregates by parallel query and by Citus.
 *
 * Element i counts the events of bucket i of edp.bucket_series(from, to,
 * width, tz).  The state is a flat bytea (STYPE bytea, not internal):
 * a header with the range, the bucket starts and one counter per bucket
 * (16 bytes per bucket per group, so edp.max_buckets bounds it).  Being a
 * real type, it travels as it is between parallel workers and, through
 * bytea's text form, from Citus workers (worker_partial_agg) to the
 * coordinator (coord_combine_agg), which hands it to the combine function.
 * The transition function adds to its own state in place (it is called in
 * an aggregate context only); a state that comes from elsewhere is checked
 * (format word, length against the bucket count) before it is read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "buckets/buckets.h"
#include "core/version.h"

#define BUCKET_AGG_FORMAT 2		/* first word of the state */

/*
 * The state, as one bytea: this header (a multiple of 8 bytes after the
 * 4-byte length word) then nbuckets bucket starts and nbuckets counters.
 */
typedef struct BucketAggState
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int32		format;
	int32		daily;
	int32		nbuckets;
	int64		width_us;
	TimestampTz from;
	TimestampTz to;
	char		tzname[64];
	/* TimestampTz starts[nbuckets]; int64 counts[nbuckets]; */
} BucketAggState;

#define STATE_SIZE(n)	(sizeof(BucketAggState) + (Size) (n) * (sizeof(TimestampTz) + sizeof(int64)))
#define STATE_STARTS(st)	((TimestampTz *) ((char *) (st) + sizeof(BucketAggState)))
#define STATE_COUNTS(st)	((int64 *) ((char *) (st) + sizeof(BucketAggState) + \
										(Size) (st)->nbuckets * sizeof(TimestampTz)))

/* a new state with its buckets laid out (in the current memory context) */
static BucketAggState *
state_create(const Interval *width, const char *tzname, TimestampTz from, TimestampTz to)
{
	EdpBucketSpec spec;
	BucketAggState *st;
	TimestampTz *starts;
	TimestampTz b;
	int64		n;
	int32		i = 0;

	edp_bucket_spec_init(&spec, width, tzname);
	edp_bucket_check_range(&spec, from, to);
	n = edp_bucket_estimate(&spec, from, to);
	if (n > edp_max_buckets)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bucket_counts_agg range would hold about " INT64_FORMAT " buckets", n),
				 errdetail("edp.max_buckets is %d.", edp_max_buckets)));
	n = Max(n, 0);
	st = palloc0(STATE_SIZE(n));
	starts = STATE_STARTS(st);
	for (b = edp_bucket_start(&spec, from); b < to && i < n; b = edp_bucket_next(&spec, b))
		starts[i++] = b;
	/* the counters follow the buckets actually laid out */
	st->nbuckets = i;
	SET_VARSIZE(st, STATE_SIZE(i));
	st->format = BUCKET_AGG_FORMAT;
	st->daily = spec.daily ? 1 : 0;
	st->width_us = spec.width_us;
	st->from = from;
	st->to = to;
	strlcpy(st->tzname, spec.tzname, sizeof(st->tzname));
	return st;
}

/* a state not made here (or made by a user's aggregate): is it well formed? */
static BucketAggState *
state_check(bytea *raw)
{
	BucketAggState *st = (BucketAggState *) raw;

	if (VARSIZE(raw) < sizeof(BucketAggState) ||
		st->format != BUCKET_AGG_FORMAT || st->nbuckets < 0 ||
		st->nbuckets > edp_max_buckets || VARSIZE(raw) != STATE_SIZE(st->nbuckets))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bucket_counts_agg state is corrupt")));
	return st;
}

static int32
bucket_index(const BucketAggState *st, TimestampTz ts)
{
	const TimestampTz *starts = STATE_STARTS(st);
	int32		lo = 0;
	int32		hi = st->nbuckets - 1;

	/* last start <= ts; ts >= from >= starts[0] */
	while (lo < hi)
	{
		int32		mid = lo + (hi - lo + 1) / 2;

		if (starts[mid] <= ts)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * transition: edp_internal.bucket_counts_agg_trans(bytea, ts, from, to [, width, tz]);
 * the first row of a group makes the state in the aggregate's context,
 * later rows add to it in place.
 */
PG_FUNCTION_INFO_V1(edp_bucket_counts_agg_add);
Datum
edp_bucket_counts_agg_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BucketAggState *st;
	TimestampTz ts;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_bucket_counts_agg_add called in non-aggregate context");	/* internal error */

	if (PG_ARGISNULL(0))
	{
		MemoryContext old;
		Interval	hour = {USECS_PER_HOUR, 0, 0};
		const Interval *width = &hour;
		const char *tzname = "UTC";

		if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("bucket range bounds must not be NULL")));
		if (PG_NARGS() > 4)
		{
			if (PG_ARGISNULL(4) || PG_ARGISNULL(5))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("width and tz must not be NULL")));
			width = PG_GETARG_INTERVAL_P(4);
			tzname = text_to_cstring(PG_GETARG_TEXT_PP(5));
		}
		old = MemoryContextSwitchTo(aggcontext);
		st = state_create(width, tzname, PG_GETARG_TIMESTAMPTZ(2), PG_GETARG_TIMESTAMPTZ(3));
		MemoryContextSwitchTo(old);
	}
	else
	{
		bytea	   *raw = PG_GETARG_BYTEA_P(0);

		/* a state we made is ours to change; any other is copied first */
		if ((Pointer) raw != DatumGetPointer(PG_GETARG_DATUM(0)) ||
			GetMemoryChunkContext(raw) != aggcontext)
		{
			MemoryContext old = MemoryContextSwitchTo(aggcontext);

			raw = (bytea *) pg_detoast_datum_copy((struct varlena *) raw);
			MemoryContextSwitchTo(old);
		}
		st = state_check(raw);
		if (!PG_ARGISNULL(2) && !PG_ARGISNULL(3) &&
			(PG_GETARG_TIMESTAMPTZ(2) != st->from || PG_GETARG_TIMESTAMPTZ(3) != st->to))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bucket_counts_agg range must be the same for every row of a group")));
	}

	if (!PG_ARGISNULL(1))
	{
		ts = PG_GETARG_TIMESTAMPTZ(1);
		if (ts >= st->from && ts < st->to && st->nbuckets > 0)
			STATE_COUNTS(st)[bucket_index(st, ts)]++;
	}
	PG_RETURN_BYTEA_P((bytea *) st);
}

static void
check_compatible(const BucketAggState *a, const BucketAggState *b)
{
	if (a->from != b->from || a->to != b->to || a->nbuckets != b->nbuckets ||
		a->daily != b->daily || a->width_us != b->width_us ||
		strncmp(a->tzname, b->tzname, sizeof(a->tzname)) != 0 ||
		memcmp(STATE_STARTS(a), STATE_STARTS(b), sizeof(TimestampTz) * a->nbuckets) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine bucket_counts_agg states of different ranges")));
}

/*
 * combine: edp_internal.bucket_counts_agg_combine(bytea, bytea) adds the
 * right state's counters to the left's.  In an aggregate (parallel query's
 * Finalize Aggregate, Citus's coord_combine_agg) the left state is the
 * aggregate's own and changes in place; called directly, it returns a new
 * state.  NULL on either side gives the other side.
 */
PG_FUNCTION_INFO_V1(edp_bucket_counts_agg_merge);
Datum
edp_bucket_counts_agg_merge(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = NULL;
	bool		in_agg = AggCheckCallContext(fcinfo, &aggcontext) != 0;
	BucketAggState *a;
	BucketAggState *b;
	int64	   *ac;
	int64	   *bc;
	int32		i;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	b = state_check(PG_GETARG_BYTEA_P(1));
	if (PG_ARGISNULL(0))
	{
		MemoryContext old = MemoryContextSwitchTo(in_agg ? aggcontext : CurrentMemoryContext);

		a = palloc(VARSIZE(b));
		memcpy(a, b, VARSIZE(b));
		MemoryContextSwitchTo(old);
		PG_RETURN_BYTEA_P((bytea *) a);
	}
	{
		bytea	   *raw = PG_GETARG_BYTEA_P(0);

		if (!in_agg || (Pointer) raw != DatumGetPointer(PG_GETARG_DATUM(0)) ||
			GetMemoryChunkContext(raw) != aggcontext)
		{
			MemoryContext old = MemoryContextSwitchTo(in_agg ? aggcontext : CurrentMemoryContext);

			raw = (bytea *) pg_detoast_datum_copy((struct varlena *) raw);
			MemoryContextSwitchTo(old);
		}
		a = state_check(raw);
	}
	check_compatible(a, b);
	ac = STATE_COUNTS(a);
	bc = STATE_COUNTS(b);
	for (i = 0; i < a->nbuckets; i++)
		ac[i] += bc[i];
	PG_RETURN_BYTEA_P((bytea *) a);
}

/* final: the counters as bigint[] (one element per bucket, zeros included) */
PG_FUNCTION_INFO_V1(edp_bucket_counts_agg_result);
Datum
edp_bucket_counts_agg_result(PG_FUNCTION_ARGS)
{
	BucketAggState *st;
	const int64 *counts;
	Datum	   *elems;
	int32		i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = state_check(PG_GETARG_BYTEA_P(0));
	counts = STATE_COUNTS(st);
	elems = palloc(sizeof(Datum) * Max(st->nbuckets, 1));
	for (i = 0; i < st->nbuckets; i++)
		elems[i] = Int64GetDatum(counts[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, st->nbuckets, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * 1.0's support functions of the aggregate, with an internal state: named
 * by sql/edp--1.0.sql only, replaced by the update to 1.1
 */
EDP_RETIRED_FUNCTION(edp_bucket_counts_agg_trans)
EDP_RETIRED_FUNCTION(edp_bucket_counts_agg_combine)
EDP_RETIRED_FUNCTION(edp_bucket_counts_agg_serialize)
EDP_RETIRED_FUNCTION(edp_bucket_counts_agg_deserialize)
EDP_RETIRED_FUNCTION(edp_bucket_counts_agg_final)
