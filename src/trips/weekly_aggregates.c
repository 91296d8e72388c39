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
 * Rows outside the period are not counted.  The state is a flat bytea
 * (STYPE bytea, not internal: Citus splits only aggregates whose state is
 * a real type, into worker_partial_agg on the workers and
 * coord_combine_agg on the coordinator): format word, weeks, first Monday,
 * the week bounds and the counters.  The transition function adds to its
 * own state in place; a state it did not make is checked before it is read.
 * Partial states combine by adding counters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/version.h"

#define WEEKLY_FORMAT_VERSION	1
#define WEEKLY_MAX_WEEKS		(52 * 200)

/*
 * The state, one bytea: this header (16 bytes with the length word) then
 * Timestamp bounds[nweeks + 1] (UTC instants) and int64 counts[nweeks].
 */
typedef struct WeeklyState
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int32		version;
	int32		nweeks;
	DateADT		first_monday;
} WeeklyState;

#define WEEKLY_SIZE(n)	(sizeof(WeeklyState) + sizeof(Timestamp) * ((Size) (n) + 1) + sizeof(int64) * (Size) (n))
#define WEEKLY_BOUNDS(st)	((Timestamp *) ((char *) (st) + sizeof(WeeklyState)))
#define WEEKLY_COUNTS(st)	((int64 *) ((char *) (st) + sizeof(WeeklyState) + \
										sizeof(Timestamp) * ((Size) (st)->nweeks + 1)))

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
	Timestamp  *bounds;
	int32		nweeks;
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

	nweeks = (last - first) / 7 + 1;
	st = MemoryContextAllocZero(mcxt, WEEKLY_SIZE(nweeks));
	SET_VARSIZE(st, WEEKLY_SIZE(nweeks));
	st->version = WEEKLY_FORMAT_VERSION;
	st->first_monday = first;
	st->nweeks = nweeks;
	bounds = WEEKLY_BOUNDS(st);
	for (w = 0; w <= st->nweeks; w++)
	{
		/* local Monday 00:00 -> timestamptz (UTC instant) */
		Timestamp	local = (Timestamp) (first + 7 * w) * USECS_PER_DAY;

		bounds[w] = DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone,
															PointerGetDatum(zone),
															TimestampGetDatum(local)));
	}
	return st;
}

/* a state not made here (or made by a user's aggregate): is it well formed? */
static WeeklyState *
weekly_state_check(bytea *raw)
{
	WeeklyState *st = (WeeklyState *) raw;

	if (VARSIZE(raw) < sizeof(WeeklyState) || st->version != WEEKLY_FORMAT_VERSION ||
		st->nweeks < 1 || st->nweeks > WEEKLY_MAX_WEEKS ||
		VARSIZE(raw) != WEEKLY_SIZE(st->nweeks))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("weekly trips aggregate state is corrupt")));
	return st;
}

/*
 * The aggregate's own state of argument argno, to change in place: the
 * value itself when it is a 4-byte-header chunk of the aggregate context
 * (the transition value the executor, or Citus, keeps there), a checked
 * copy in that context otherwise.
 */
static WeeklyState *
weekly_state_own(FunctionCallInfo fcinfo, int argno, MemoryContext aggcontext)
{
	bytea	   *raw = PG_GETARG_BYTEA_P(argno);

	if ((Pointer) raw != DatumGetPointer(PG_GETARG_DATUM(argno)) ||
		GetMemoryChunkContext(raw) != aggcontext)
	{
		MemoryContext old = MemoryContextSwitchTo(aggcontext);

		raw = (bytea *) pg_detoast_datum_copy((struct varlena *) raw);
		MemoryContextSwitchTo(old);
	}
	return weekly_state_check(raw);
}

static void
weekly_state_add(WeeklyState *st, Timestamp ts)
{
	const Timestamp *bounds = WEEKLY_BOUNDS(st);
	int			lo = 0,
				hi = st->nweeks;

	if (ts < bounds[0] || ts >= bounds[st->nweeks])
		return;					/* outside the period */
	/* largest w with bounds[w] <= ts */
	while (hi - lo > 1)
	{
		int			mid = (lo + hi) / 2;

		if (bounds[mid] <= ts)
			lo = mid;
		else
			hi = mid;
	}
	WEEKLY_COUNTS(st)[lo]++;
}

/*
 * edp_internal.weekly_trips_add(state, datetime, first_week, last_week, time_zone):
 * transition function; the first row fixes the period and zone.
 */
PG_FUNCTION_INFO_V1(edp_weekly_trips_step);
Datum
edp_weekly_trips_step(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	WeeklyState *st;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_weekly_trips_step called in non-aggregate context");	/* internal error */

	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("first week, last week and time zone must not be null")));
		st = weekly_state_new(aggcontext, PG_GETARG_DATEADT(2), PG_GETARG_DATEADT(3),
							  PG_GETARG_TEXT_PP(4));
	}
	else
		st = weekly_state_own(fcinfo, 0, aggcontext);
	if (!PG_ARGISNULL(1))
		weekly_state_add(st, PG_GETARG_TIMESTAMP(1));
	PG_RETURN_BYTEA_P((bytea *) st);
}

/*
 * edp_internal.weekly_trips_combine(a, b): adds b's counters to a's (parallel
 * query's and Citus's partial aggregates); both must cover the same weeks.
 * In an aggregate a changes in place; called directly, a new state.
 */
PG_FUNCTION_INFO_V1(edp_weekly_trips_merge);
Datum
edp_weekly_trips_merge(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = NULL;
	MemoryContext target;
	WeeklyState *a;
	WeeklyState *b;
	int64	   *ac;
	int64	   *bc;
	int			w;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		aggcontext = NULL;
	target = aggcontext ? aggcontext : CurrentMemoryContext;
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	b = weekly_state_check(PG_GETARG_BYTEA_P(1));
	if (PG_ARGISNULL(0))
	{
		a = MemoryContextAlloc(target, VARSIZE(b));
		memcpy(a, b, VARSIZE(b));
		PG_RETURN_BYTEA_P((bytea *) a);
	}
	if (aggcontext)
		a = weekly_state_own(fcinfo, 0, aggcontext);
	else
		a = weekly_state_check((bytea *) pg_detoast_datum_copy((struct varlena *) PG_GETARG_BYTEA_P(0)));
	if (a->nweeks != b->nweeks || a->first_monday != b->first_monday ||
		memcmp(WEEKLY_BOUNDS(a), WEEKLY_BOUNDS(b), sizeof(Timestamp) * (a->nweeks + 1)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weekly trip aggregates over different periods or time zones cannot be combined")));
	ac = WEEKLY_COUNTS(a);
	bc = WEEKLY_COUNTS(b);
	for (w = 0; w < a->nweeks; w++)
		ac[w] += bc[w];
	PG_RETURN_BYTEA_P((bytea *) a);
}

/* average trips per week of the period (NULL when no row was aggregated) */
PG_FUNCTION_INFO_V1(edp_weekly_trips_mean);
Datum
edp_weekly_trips_mean(PG_FUNCTION_ARGS)
{
	WeeklyState *st;
	const int64 *counts;
	int64		sum = 0;
	int			w;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = weekly_state_check(PG_GETARG_BYTEA_P(0));
	counts = WEEKLY_COUNTS(st);
	for (w = 0; w < st->nweeks; w++)
		sum += counts[w];
	PG_RETURN_FLOAT8((double) sum / st->nweeks);
}

/* trips per week of the period, in week order */
PG_FUNCTION_INFO_V1(edp_weekly_trips_array);
Datum
edp_weekly_trips_array(PG_FUNCTION_ARGS)
{
	WeeklyState *st;
	const int64 *counts;
	Datum	   *elems;
	int			w;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = weekly_state_check(PG_GETARG_BYTEA_P(0));
	counts = WEEKLY_COUNTS(st);
	elems = palloc(sizeof(Datum) * st->nweeks);
	for (w = 0; w < st->nweeks; w++)
		elems[w] = Int64GetDatum(counts[w]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, st->nweeks, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * 1.0's support functions of the weekly aggregates, with an internal state:
 * named by sql/edp--1.0.sql only, replaced by the update to 1.1
 */
EDP_RETIRED_FUNCTION(edp_weekly_trips_add)
EDP_RETIRED_FUNCTION(edp_weekly_trips_combine)
EDP_RETIRED_FUNCTION(edp_weekly_trips_serialize)
EDP_RETIRED_FUNCTION(edp_weekly_trips_deserialize)
EDP_RETIRED_FUNCTION(edp_weekly_trips_average)
EDP_RETIRED_FUNCTION(edp_weekly_trips_counts)
