/*-------------------------------------------------------------------------
 *
 * buckets/rollup_packed.c
 *		The rollup's row format: one row per (key, chunk) where a chunk is
 *		EDP_ROLLUP_SLOTS consecutive rollup buckets, holding the non-empty
 *		buckets as a sorted int8[] of (slot, count) pairs.
 *
 * Packing cuts the rollup from about one row per (key, hour) with events
 * to one row per (key, 32 days) for an hourly rollup, so ingest writes an
 * order of magnitude fewer index entries and a year of one key is read
 * as 12 rows.  Empty buckets are not stored; a chunk whose buckets all
 * drop to zero keeps an empty array.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "buckets/buckets.h"
#include "core/compat.h"
#include "buckets/rollup_packed.h"

/* the pairs of a packed array, checked */
int64 *
edp_rollup_pairs(ArrayType *a, int *npairs)
{
	int			n;

	if (ARR_NDIM(a) > 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("malformed edp rollup array")));
	n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	if (n % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("malformed edp rollup array: odd length %d", n)));
	*npairs = n / 2;
	/* no NULL bitmap: the data follow the fixed header */
	return (int64 *) ((char *) a + ARR_OVERHEAD_NONULLS(ARR_NDIM(a)));
}

static ArrayType *
build_array(const int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/* sort helper: (slot, count) pairs by slot */
static int
pair_cmp(const void *a, const void *b)
{
	int64		x = ((const int64 *) a)[0];
	int64		y = ((const int64 *) b)[0];

	return (x > y) - (x < y);
}

/*
 * edp_internal.rollup_pack(slots int4[], counts int8[]): packed pairs sorted by
 * slot, counts of a repeated slot summed, zeros dropped.
 */
PG_FUNCTION_INFO_V1(edp_rollup_pack);
Datum
edp_rollup_pack(PG_FUNCTION_ARGS)
{
	ArrayType  *slots = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *counts = PG_GETARG_ARRAYTYPE_P(1);
	int			ns = ArrayGetNItems(ARR_NDIM(slots), ARR_DIMS(slots));
	int			nc = ArrayGetNItems(ARR_NDIM(counts), ARR_DIMS(counts));
	int32	   *s;
	int64	   *c;
	int64	   *pairs;
	int64	   *out;
	int			i,
				k = 0;

	if (ns != nc || ARR_HASNULL(slots) || ARR_HASNULL(counts) ||
		ARR_ELEMTYPE(slots) != INT4OID || ARR_ELEMTYPE(counts) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("slots and counts must be arrays of equal length without NULLs")));
	s = (int32 *) ((char *) slots + ARR_OVERHEAD_NONULLS(ARR_NDIM(slots)));
	c = (int64 *) ((char *) counts + ARR_OVERHEAD_NONULLS(ARR_NDIM(counts)));
	pairs = palloc(sizeof(int64) * 2 * Max(ns, 1));
	for (i = 0; i < ns; i++)
	{
		if (s[i] < 0 || s[i] >= EDP_ROLLUP_SLOTS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rollup slot %d is out of range", s[i])));
		pairs[2 * i] = s[i];
		pairs[2 * i + 1] = c[i];
	}
	qsort(pairs, ns, 2 * sizeof(int64), pair_cmp);
	out = palloc(sizeof(int64) * 2 * Max(ns, 1));
	for (i = 0; i < ns; i++)
	{
		if (k > 0 && out[k - 2] == pairs[2 * i])
			out[k - 1] += pairs[2 * i + 1];
		else
		{
			if (k > 0 && out[k - 1] == 0)
				k -= 2;
			out[k++] = pairs[2 * i];
			out[k++] = pairs[2 * i + 1];
		}
	}
	if (k > 0 && out[k - 1] == 0)
		k -= 2;
	PG_RETURN_ARRAYTYPE_P(build_array(out, k));
}

/*
 * edp_internal.rollup_merge(a int8[], b int8[]): per-slot sums of two packed
 * arrays (b may carry negative counts: deletes); zeros dropped.
 */
PG_FUNCTION_INFO_V1(edp_rollup_merge);
Datum
edp_rollup_merge(PG_FUNCTION_ARGS)
{
	int			na,
				nb;
	int64	   *a = edp_rollup_pairs(PG_GETARG_ARRAYTYPE_P(0), &na);
	int64	   *b = edp_rollup_pairs(PG_GETARG_ARRAYTYPE_P(1), &nb);
	int64	   *out = palloc(sizeof(int64) * 2 * Max(na + nb, 1));
	int			i = 0,
				j = 0,
				k = 0;

	while (i < na || j < nb)
	{
		int64		slot;
		int64		sum;

		if (j >= nb || (i < na && a[2 * i] < b[2 * j]))
		{
			slot = a[2 * i];
			sum = a[2 * i + 1];
			i++;
		}
		else if (i >= na || b[2 * j] < a[2 * i])
		{
			slot = b[2 * j];
			sum = b[2 * j + 1];
			j++;
		}
		else
		{
			slot = a[2 * i];
			sum = a[2 * i + 1] + b[2 * j + 1];
			i++;
			j++;
		}
		if (sum != 0)
		{
			out[k++] = slot;
			out[k++] = sum;
		}
	}
	PG_RETURN_ARRAYTYPE_P(build_array(out, k));
}

/* edp_internal.rollup_count(a int8[], slot int4): the count of one slot (0 if absent) */
PG_FUNCTION_INFO_V1(edp_rollup_count);
Datum
edp_rollup_count(PG_FUNCTION_ARGS)
{
	int			n;
	int64	   *a = edp_rollup_pairs(PG_GETARG_ARRAYTYPE_P(0), &n);
	int64		slot = PG_GETARG_INT32(1);
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (a[2 * mid] == slot)
			PG_RETURN_INT64(a[2 * mid + 1]);
		if (a[2 * mid] < slot)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	PG_RETURN_INT64(0);
}

/*
 * edp_internal.rollup_chunk_start(ts, width): the start of the rollup row
 * (chunk) holding ts, as edp_rollup_chunk_of; NULL for +-infinity (in no
 * chunk).
 */
PG_FUNCTION_INFO_V1(edp_rollup_chunk_start);
Datum
edp_rollup_chunk_start(PG_FUNCTION_ARGS)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);
	Interval   *width = PG_GETARG_INTERVAL_P(1);
	int64		w = width->time + (int64) width->day * USECS_PER_DAY;

	if (w <= 0 || width->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rollup width must be a positive interval without months")));
	if (TIMESTAMP_NOT_FINITE(ts))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(edp_rollup_chunk_of(ts, w * EDP_ROLLUP_SLOTS));
}

/*
 * edp.rollup_buckets(chunk_start, width, packed)
 *		RETURNS TABLE (bucket_start timestamptz, events bigint)
 * The buckets of one rollup row, in order.
 */
PG_FUNCTION_INFO_V1(edp_rollup_buckets);
Datum
edp_rollup_buckets(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz chunk = PG_GETARG_TIMESTAMPTZ(0);
	Interval   *width = PG_GETARG_INTERVAL_P(1);
	int			n,
				i;
	int64	   *a = edp_rollup_pairs(PG_GETARG_ARRAYTYPE_P(2), &n);
	int64		w = width->time + (int64) width->day * USECS_PER_DAY;

	edp_init_materialized_srf(fcinfo);
	for (i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = TimestampTzGetDatum(chunk + a[2 * i] * w);
		values[1] = Int64GetDatum(a[2 * i + 1]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * edp_internal.rollup_agg(ts, width, sign): aggregate building one packed rollup
 * row from raw event times (all in one chunk: the caller groups by key and
 * chunk).  The state is a flat array of (slot, sign) pairs in the
 * aggregate's context (no per-group memory context, unlike array_agg),
 * sorted and summed by the final function.
 */
typedef struct RollupAggState
{
	int			n;
	int			cap;
	int64	   *pairs;
} RollupAggState;

PG_FUNCTION_INFO_V1(edp_rollup_agg_trans);
Datum
edp_rollup_agg_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	RollupAggState *st;
	TimestampTz ts;
	Interval   *width;
	int64		w;
	int64		chunk_len;
	int64		chunk;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_rollup_agg_trans called in non-aggregate context");	/* internal error */
	st = PG_ARGISNULL(0) ? NULL : (RollupAggState *) PG_GETARG_POINTER(0);
	if (st == NULL)
	{
		st = MemoryContextAlloc(aggcontext, sizeof(RollupAggState));
		st->n = 0;
		st->cap = 8;
		st->pairs = MemoryContextAlloc(aggcontext, sizeof(int64) * 2 * st->cap);
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_POINTER(st);
	ts = PG_GETARG_TIMESTAMPTZ(1);
	width = PG_GETARG_INTERVAL_P(2);
	w = width->time + (int64) width->day * USECS_PER_DAY;
	if (w <= 0 || width->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rollup width must be a positive interval without months")));
	if (TIMESTAMP_NOT_FINITE(ts))
		PG_RETURN_POINTER(st);	/* in no bucket (edp_rollup_chunk_of) */
	chunk_len = w * EDP_ROLLUP_SLOTS;
	chunk = edp_rollup_chunk_of(ts, chunk_len);
	if (st->n == st->cap)
	{
		st->cap *= 2;
		st->pairs = repalloc(st->pairs, sizeof(int64) * 2 * st->cap);
	}
	st->pairs[2 * st->n] = (ts - chunk) / w;
	st->pairs[2 * st->n + 1] = PG_GETARG_INT32(3);
	st->n++;
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(edp_rollup_agg_final);
Datum
edp_rollup_agg_final(PG_FUNCTION_ARGS)
{
	RollupAggState *st;
	int64	   *out;
	int			i,
				k = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (RollupAggState *) PG_GETARG_POINTER(0);
	qsort(st->pairs, st->n, 2 * sizeof(int64), pair_cmp);
	out = palloc(sizeof(int64) * 2 * Max(st->n, 1));
	for (i = 0; i < st->n; i++)
	{
		if (k > 0 && out[k - 2] == st->pairs[2 * i])
			out[k - 1] += st->pairs[2 * i + 1];
		else
		{
			if (k > 0 && out[k - 1] == 0)
				k -= 2;
			out[k++] = st->pairs[2 * i];
			out[k++] = st->pairs[2 * i + 1];
		}
	}
	if (k > 0 && out[k - 1] == 0)
		k -= 2;
	PG_RETURN_ARRAYTYPE_P(build_array(out, k));
}
