/*-------------------------------------------------------------------------
 *
 * buckets/counts_aggregate.c
 *		edp.bucket_counts_agg(ts, from, to [, width, tz]): zero-filled
 *		events per bucket of [from, to) as bigint[], usable with GROUP BY
 *		and split by parallel query (combine, serialize, deserialize).
 *
 * Element i counts the events of bucket i of edp.bucket_series(from, to,
 * width, tz).  The state holds the bucket starts and one counter per
 * bucket (16 bytes per bucket per group), so edp.max_buckets bounds it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "buckets/buckets.h"

#define BUCKET_AGG_FORMAT 1		/* first word of the serialized state */

typedef struct BucketAggState
{
	EdpBucketSpec spec;
	TimestampTz from;
	TimestampTz to;
	int32		nbuckets;
	TimestampTz *starts;
	int64	   *counts;
} BucketAggState;

/* serialized form: header then nbuckets counters */
typedef struct BucketAggWire
{
	int32		format;
	int32		daily;
	int32		nbuckets;
	int32		pad;
	int64		width_us;
	TimestampTz from;
	TimestampTz to;
	char		tzname[64];
} BucketAggWire;

/* allocate and lay out the buckets (in the current memory context) */
static BucketAggState *
state_create(const Interval *width, const char *tzname, TimestampTz from, TimestampTz to)
{
	BucketAggState *st = palloc0(sizeof(BucketAggState));
	TimestampTz b;
	int64		n;
	int32		i = 0;

	edp_bucket_spec_init(&st->spec, width, tzname);
	edp_bucket_check_range(&st->spec, from, to);
	n = edp_bucket_estimate(&st->spec, from, to);
	if (n > edp_max_buckets)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bucket_counts_agg range would hold about " INT64_FORMAT " buckets", n),
				 errdetail("edp.max_buckets is %d.", edp_max_buckets)));
	st->from = from;
	st->to = to;
	st->starts = palloc(sizeof(TimestampTz) * Max(n, 1));
	for (b = edp_bucket_start(&st->spec, from); b < to && i < n; b = edp_bucket_next(&st->spec, b))
		st->starts[i++] = b;
	st->nbuckets = i;
	st->counts = palloc0(sizeof(int64) * Max(i, 1));
	return st;
}

static int32
bucket_index(const BucketAggState *st, TimestampTz ts)
{
	int32		lo = 0;
	int32		hi = st->nbuckets - 1;

	/* last start <= ts; ts >= from >= starts[0] */
	while (lo < hi)
	{
		int32		mid = lo + (hi - lo + 1) / 2;

		if (st->starts[mid] <= ts)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * transition: edp_internal.bucket_counts_agg_trans(internal, ts, from, to [, width, tz])
 */
PG_FUNCTION_INFO_V1(edp_bucket_counts_agg_trans);
Datum
edp_bucket_counts_agg_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BucketAggState *st;
	TimestampTz ts;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_bucket_counts_agg_trans called in non-aggregate context");	/* internal error */

	st = PG_ARGISNULL(0) ? NULL : (BucketAggState *) PG_GETARG_POINTER(0);
	if (st == NULL)
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
	else if (!PG_ARGISNULL(2) && !PG_ARGISNULL(3) &&
			 (PG_GETARG_TIMESTAMPTZ(2) != st->from || PG_GETARG_TIMESTAMPTZ(3) != st->to))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket_counts_agg range must be the same for every row of a group")));

	if (!PG_ARGISNULL(1))
	{
		ts = PG_GETARG_TIMESTAMPTZ(1);
		if (ts >= st->from && ts < st->to && st->nbuckets > 0)
			st->counts[bucket_index(st, ts)]++;
	}
	PG_RETURN_POINTER(st);
}

static void
check_compatible(const BucketAggState *a, const BucketAggState *b)
{
	if (a->from != b->from || a->to != b->to || a->nbuckets != b->nbuckets ||
		a->spec.width_us != b->spec.width_us || strcmp(a->spec.tzname, b->spec.tzname) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine bucket_counts_agg states of different ranges")));
}

/* combine: adds counters; copies the right state when the left is empty */
PG_FUNCTION_INFO_V1(edp_bucket_counts_agg_combine);
Datum
edp_bucket_counts_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BucketAggState *a = PG_ARGISNULL(0) ? NULL : (BucketAggState *) PG_GETARG_POINTER(0);
	BucketAggState *b = PG_ARGISNULL(1) ? NULL : (BucketAggState *) PG_GETARG_POINTER(1);
	int32		i;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_bucket_counts_agg_combine called in non-aggregate context");	/* internal error */
	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(aggcontext);

		a = palloc(sizeof(BucketAggState));
		*a = *b;
		a->starts = palloc(sizeof(TimestampTz) * Max(b->nbuckets, 1));
		a->counts = palloc(sizeof(int64) * Max(b->nbuckets, 1));
		memcpy(a->starts, b->starts, sizeof(TimestampTz) * b->nbuckets);
		memcpy(a->counts, b->counts, sizeof(int64) * b->nbuckets);
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(a);
	}
	check_compatible(a, b);
	for (i = 0; i < a->nbuckets; i++)
		a->counts[i] += b->counts[i];
	PG_RETURN_POINTER(a);
}

/* serialize: one flat bytea, format word first */
PG_FUNCTION_INFO_V1(edp_bucket_counts_agg_serialize);
Datum
edp_bucket_counts_agg_serialize(PG_FUNCTION_ARGS)
{
	BucketAggState *st = (BucketAggState *) PG_GETARG_POINTER(0);
	Size		len = VARHDRSZ + sizeof(BucketAggWire) + sizeof(int64) * st->nbuckets;
	bytea	   *out = palloc0(len);
	BucketAggWire *w = (BucketAggWire *) VARDATA(out);

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "edp_bucket_counts_agg_serialize called in non-aggregate context");	/* internal error */
	SET_VARSIZE(out, len);
	w->format = BUCKET_AGG_FORMAT;
	w->daily = st->spec.daily ? 1 : 0;
	w->nbuckets = st->nbuckets;
	w->width_us = st->spec.width_us;
	w->from = st->from;
	w->to = st->to;
	strlcpy(w->tzname, st->spec.tzname, sizeof(w->tzname));
	memcpy((char *) w + sizeof(BucketAggWire), st->counts, sizeof(int64) * st->nbuckets);
	PG_RETURN_BYTEA_P(out);
}

/* deserialize: checks lengths before copying, rebuilds the bucket starts */
PG_FUNCTION_INFO_V1(edp_bucket_counts_agg_deserialize);
Datum
edp_bucket_counts_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	Size		len = VARSIZE_ANY_EXHDR(in);
	BucketAggWire w;
	BucketAggState *st;
	Interval	width = {0, 0, 0};

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "edp_bucket_counts_agg_deserialize called in non-aggregate context");	/* internal error */
	if (len < sizeof(BucketAggWire))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bucket_counts_agg state is too short")));
	memcpy(&w, VARDATA_ANY(in), sizeof(BucketAggWire));
	if (w.format != BUCKET_AGG_FORMAT || w.nbuckets < 0 ||
		len != sizeof(BucketAggWire) + sizeof(int64) * (Size) w.nbuckets)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bucket_counts_agg state is corrupt")));
	w.tzname[sizeof(w.tzname) - 1] = '\0';
	if (w.daily)
		width.day = 1;
	else
		width.time = w.width_us;
	st = state_create(&width, w.tzname, w.from, w.to);
	if (st->nbuckets != w.nbuckets)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bucket_counts_agg state does not match its range")));
	memcpy(st->counts, VARDATA_ANY(in) + sizeof(BucketAggWire), sizeof(int64) * w.nbuckets);
	PG_RETURN_POINTER(st);
}

/* final: the counters as bigint[] (one element per bucket, zeros included) */
PG_FUNCTION_INFO_V1(edp_bucket_counts_agg_final);
Datum
edp_bucket_counts_agg_final(PG_FUNCTION_ARGS)
{
	BucketAggState *st;
	Datum	   *elems;
	int32		i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (BucketAggState *) PG_GETARG_POINTER(0);
	elems = palloc(sizeof(Datum) * Max(st->nbuckets, 1));
	for (i = 0; i < st->nbuckets; i++)
		elems[i] = Int64GetDatum(st->counts[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, st->nbuckets, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
