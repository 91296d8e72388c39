/*-------------------------------------------------------------------------
 *
 * trips/weekly_aggregates.c
 *		Aggregates edp.weekly_trip_average(datetime, first_week, last_week,
 *		time_zone) and edp.weekly_trip_counts_agg(...): trips per ISO week
 *		over a fixed period, weeks without trips counting as 0.
 *
 * The state is one counter per week of the period.  Weeks start on Monday
 * 00:00 in time_zone; datetime holds UTC wall-clock times.  The UTC
 * instants of the week boundaries are computed once per state (they move
 * with daylight saving time), and each row is placed by binary search.
 * Rows outside the period are not counted.  Parallel aggregation: partial
 * states combine by adding counters and travel as a flat bytea.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#define WEEKLY_FORMAT_VERSION	1
#define WEEKLY_MAX_WEEKS		(52 * 200)

typedef struct WeeklyState
{
	int32		nweeks;
	DateADT		first_monday;
	Timestamp  *bounds;			/* nweeks + 1 UTC instants */
	int64	   *counts;			/* nweeks */
} WeeklyState;

/* Monday of the week containing d */
static DateADT
monday_of(DateADT d)
{
	/* date 0 (2000-01-01) was a Saturday: Monday is 2 days later, mod 7 */
	int			dow = (int) ((((int64) d - 2) % 7 + 7) % 7);

	return d - dow;
}

static WeeklyState *
weekly_state_new(MemoryContext mcxt, DateADT first, DateADT last, text *zone)
{
	WeeklyState *st;
	MemoryContext old;
	int			w;

	if (DATE_NOT_FINITE(first) || DATE_NOT_FINITE(last))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("first and last week must be finite dates")));
	first = monday_of(first);
	last = monday_of(last);
	if (first > last)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("first week is after last week")));
	if ((last - first) / 7 + 1 > WEEKLY_MAX_WEEKS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period must not exceed %d weeks", WEEKLY_MAX_WEEKS)));

	old = MemoryContextSwitchTo(mcxt);
	st = palloc0(sizeof(WeeklyState));
	st->first_monday = first;
	st->nweeks = (last - first) / 7 + 1;
	st->counts = palloc0(sizeof(int64) * st->nweeks);
	st->bounds = palloc(sizeof(Timestamp) * (st->nweeks + 1));
	for (w = 0; w <= st->nweeks; w++)
	{
		/* local Monday 00:00 -> timestamptz (UTC instant) */
		Timestamp	local = (Timestamp) (first + 7 * w) * USECS_PER_DAY;

		st->bounds[w] = DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone,
																PointerGetDatum(zone),
																TimestampGetDatum(local)));
	}
	MemoryContextSwitchTo(old);
	return st;
}

static void
weekly_state_add(WeeklyState *st, Timestamp ts)
{
	int			lo = 0,
				hi = st->nweeks;

	if (ts < st->bounds[0] || ts >= st->bounds[st->nweeks])
		return;					/* outside the period */
	/* largest w with bounds[w] <= ts */
	while (hi - lo > 1)
	{
		int			mid = (lo + hi) / 2;

		if (st->bounds[mid] <= ts)
			lo = mid;
		else
			hi = mid;
	}
	st->counts[lo]++;
}

/*
 * edp_internal.weekly_trips_add(state, datetime, first_week, last_week, time_zone):
 * transition function; the first row fixes the period and zone.
 */
PG_FUNCTION_INFO_V1(edp_weekly_trips_add);
Datum
edp_weekly_trips_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	WeeklyState *st;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_weekly_trips_add called in non-aggregate context");	/* internal error */

	st = PG_ARGISNULL(0) ? NULL : (WeeklyState *) PG_GETARG_POINTER(0);
	if (st == NULL)
	{
		if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("first week, last week and time zone must not be null")));
		st = weekly_state_new(aggcontext, PG_GETARG_DATEADT(2), PG_GETARG_DATEADT(3),
							  PG_GETARG_TEXT_PP(4));
	}
	if (!PG_ARGISNULL(1))
		weekly_state_add(st, PG_GETARG_TIMESTAMP(1));
	PG_RETURN_POINTER(st);
}

/*
 * edp_internal.weekly_trips_combine(a, b): adds b's counters to a's (parallel
 * aggregation); both must cover the same weeks.
 */
PG_FUNCTION_INFO_V1(edp_weekly_trips_combine);
Datum
edp_weekly_trips_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	WeeklyState *a;
	WeeklyState *b;
	int			w;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_weekly_trips_combine called in non-aggregate context");	/* internal error */

	a = PG_ARGISNULL(0) ? NULL : (WeeklyState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (WeeklyState *) PG_GETARG_POINTER(1);
	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(aggcontext);

		a = palloc(sizeof(WeeklyState));
		*a = *b;
		a->counts = palloc(sizeof(int64) * b->nweeks);
		memcpy(a->counts, b->counts, sizeof(int64) * b->nweeks);
		a->bounds = palloc(sizeof(Timestamp) * (b->nweeks + 1));
		memcpy(a->bounds, b->bounds, sizeof(Timestamp) * (b->nweeks + 1));
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(a);
	}
	if (a->nweeks != b->nweeks || a->first_monday != b->first_monday ||
		memcmp(a->bounds, b->bounds, sizeof(Timestamp) * (a->nweeks + 1)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weekly trip aggregates over different periods or time zones cannot be combined")));
	for (w = 0; w < a->nweeks; w++)
		a->counts[w] += b->counts[w];
	PG_RETURN_POINTER(a);
}

/*
 * edp_internal.weekly_trips_serialize(state): flat bytea of version, nweeks,
 * first_monday, bounds[nweeks + 1], counts[nweeks].
 */
PG_FUNCTION_INFO_V1(edp_weekly_trips_serialize);
Datum
edp_weekly_trips_serialize(PG_FUNCTION_ARGS)
{
	WeeklyState *st = (WeeklyState *) PG_GETARG_POINTER(0);
	Size		len = 3 * sizeof(int32) + sizeof(Timestamp) * (st->nweeks + 1) +
		sizeof(int64) * st->nweeks;
	bytea	   *out = palloc(VARHDRSZ + len);
	char	   *p = VARDATA(out);
	int32		head[3] = {WEEKLY_FORMAT_VERSION, st->nweeks, st->first_monday};

	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(p, head, sizeof(head));
	p += sizeof(head);
	memcpy(p, st->bounds, sizeof(Timestamp) * (st->nweeks + 1));
	p += sizeof(Timestamp) * (st->nweeks + 1);
	memcpy(p, st->counts, sizeof(int64) * st->nweeks);
	PG_RETURN_BYTEA_P(out);
}

/*
 * edp_internal.weekly_trips_deserialize(bytea, internal): the state back, lengths
 * checked before any copy.
 */
PG_FUNCTION_INFO_V1(edp_weekly_trips_deserialize);
Datum
edp_weekly_trips_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	Size		len = VARSIZE_ANY_EXHDR(in);
	int32		head[3];
	WeeklyState *st;
	MemoryContext old;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_weekly_trips_deserialize called in non-aggregate context");	/* internal error */
	if (len < sizeof(head))
		elog(ERROR, "weekly trips state is truncated");	/* internal error */
	memcpy(head, p, sizeof(head));
	if (head[0] != WEEKLY_FORMAT_VERSION || head[1] < 1 || head[1] > WEEKLY_MAX_WEEKS ||
		len != sizeof(head) + sizeof(Timestamp) * (head[1] + 1) + sizeof(int64) * head[1])
		elog(ERROR, "weekly trips state is malformed");	/* internal error */
	p += sizeof(head);

	old = MemoryContextSwitchTo(aggcontext);
	st = palloc(sizeof(WeeklyState));
	st->nweeks = head[1];
	st->first_monday = head[2];
	st->bounds = palloc(sizeof(Timestamp) * (st->nweeks + 1));
	memcpy(st->bounds, p, sizeof(Timestamp) * (st->nweeks + 1));
	p += sizeof(Timestamp) * (st->nweeks + 1);
	st->counts = palloc(sizeof(int64) * st->nweeks);
	memcpy(st->counts, p, sizeof(int64) * st->nweeks);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

/* average trips per week of the period (NULL when no row was aggregated) */
PG_FUNCTION_INFO_V1(edp_weekly_trips_average);
Datum
edp_weekly_trips_average(PG_FUNCTION_ARGS)
{
	WeeklyState *st;
	int64		sum = 0;
	int			w;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (WeeklyState *) PG_GETARG_POINTER(0);
	for (w = 0; w < st->nweeks; w++)
		sum += st->counts[w];
	PG_RETURN_FLOAT8((double) sum / st->nweeks);
}

/* trips per week of the period, in week order */
PG_FUNCTION_INFO_V1(edp_weekly_trips_counts);
Datum
edp_weekly_trips_counts(PG_FUNCTION_ARGS)
{
	WeeklyState *st;
	Datum	   *elems;
	int			w;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (WeeklyState *) PG_GETARG_POINTER(0);
	elems = palloc(sizeof(Datum) * st->nweeks);
	for (w = 0; w < st->nweeks; w++)
		elems[w] = Int64GetDatum(st->counts[w]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, st->nweeks, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
