/*-------------------------------------------------------------------------
 *
 * buckets/scalar_functions.c
 *		Scalar bucket helpers: edp.bucket_start(), edp.bucket_series() and
 *		edp.parse_timestamp() (the naive-timestamp policy).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "buckets/buckets.h"
#include "core/compat.h"

/* bucket spec cached across calls of one expression */
typedef struct SpecCache
{
	Interval	width;
	char		tz[64];
	EdpBucketSpec spec;
} SpecCache;

static const EdpBucketSpec *
cached_spec(FunctionCallInfo fcinfo, Interval *width, text *tz)
{
	SpecCache  *c = (SpecCache *) fcinfo->flinfo->fn_extra;
	char	   *tzname = text_to_cstring(tz);

	if (c != NULL && memcmp(&c->width, width, sizeof(Interval)) == 0 &&
		strcmp(c->tz, tzname) == 0)
		return &c->spec;
	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SpecCache));
		fcinfo->flinfo->fn_extra = c;
	}
	edp_bucket_spec_init(&c->spec, width, tzname);
	c->width = *width;
	strlcpy(c->tz, tzname, sizeof(c->tz));
	return &c->spec;
}

/*
 * edp.bucket_start(ts, width, tz): start of the bucket holding ts, with
 * boundaries on the local clock of tz (offsets east of UTC: '+05:30').
 */
PG_FUNCTION_INFO_V1(edp_bucket_start_sql);
Datum
edp_bucket_start_sql(PG_FUNCTION_ARGS)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);
	const EdpBucketSpec *spec = cached_spec(fcinfo, PG_GETARG_INTERVAL_P(1),
											PG_GETARG_TEXT_PP(2));

	PG_RETURN_TIMESTAMPTZ(edp_bucket_start(spec, ts));
}

/*
 * edp.bucket_series(from, to, width, tz): the start of every bucket that
 * overlaps [from, to), in order (the rows that zero fill produces).
 */
PG_FUNCTION_INFO_V1(edp_bucket_series);
Datum
edp_bucket_series(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(1);
	EdpBucketSpec spec;
	TimestampTz b;
	int64		n;

	edp_bucket_spec_init(&spec, PG_GETARG_INTERVAL_P(2), text_to_cstring(PG_GETARG_TEXT_PP(3)));
	edp_bucket_check_range(&spec, from, to);
	n = edp_bucket_estimate(&spec, from, to);
	if (n > edp_max_buckets)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bucket series would hold about " INT64_FORMAT " buckets", n),
				 errdetail("edp.max_buckets is %d.", edp_max_buckets)));
	edp_init_materialized_srf_scalar(fcinfo);
	for (b = edp_bucket_start(&spec, from); b < to; b = edp_bucket_next(&spec, b))
	{
		Datum		v = TimestampTzGetDatum(b);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &isnull);
	}
	return (Datum) 0;
}

/*
 * The zone edp.naive_timezone names, resolved the way bucket zones are
 * (a zone name, or an ISO offset east of UTC such as +05:30).
 */
pg_tz *
edp_naive_zone(void)
{
	EdpBucketSpec probe;
	Interval	hour = {USECS_PER_HOUR, 0, 0};
	pg_tz	   *naive;

	edp_bucket_spec_init(&probe, &hour, edp_naive_timezone);
	if (probe.tz != NULL)
		return probe.tz;
	else
	{
		/* ISO offset east of UTC is POSIX "<+hhmm>-hh:mm" */
		int64		secs = probe.offset_us / USECS_PER_SEC;
		int64		a = secs < 0 ? -secs : secs;
		char	   *posix;

		posix = psprintf("<%c%02d%02d>%c%02d:%02d",
						 secs < 0 ? '-' : '+', (int) (a / 3600), (int) ((a / 60) % 60),
						 secs < 0 ? '+' : '-', (int) (a / 3600), (int) ((a / 60) % 60));
		naive = pg_tzset(posix);
		if (naive == NULL)
			elog(ERROR, "could not load time zone \"%s\"", posix);	/* internal error */
	}
	return naive;
}

/* timestamptz input that reads text without an offset in zone naive */
static Datum
timestamptz_in_zone(char *s, pg_tz *naive, Oid typioparam, int32 typmod)
{
	pg_tz	   *saved = session_timezone;
	Datum		result;

	/* timestamptz input reads naive text in session_timezone: lend it ours */
	session_timezone = naive;
	PG_TRY();
	{
		result = DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
									 ObjectIdGetDatum(typioparam), Int32GetDatum(typmod));
	}
	PG_FINALLY();
	{
		session_timezone = saved;
	}
	PG_END_TRY();
	return result;
}

/*
 * edp.parse_timestamp(text): timestamptz from text written with any UTC
 * offset ('Z', '+00', '+01:30') and 0-6 fraction digits; text without an
 * offset is read in edp.naive_timezone (UTC by default), never in the
 * session's TimeZone.
 */
PG_FUNCTION_INFO_V1(edp_parse_timestamp);
Datum
edp_parse_timestamp(PG_FUNCTION_ARGS)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_DATUM(timestamptz_in_zone(s, edp_naive_zone(), InvalidOid, -1));
}

/*
 * An input function for timestamptz with the naive-timestamp policy:
 * edp's COPY path puts it in place of timestamptz_in for the columns of
 * event tables.  flinfo->fn_extra holds the zone (edp_naive_zone()).
 */
Datum
edp_timestamptz_in_naive(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(timestamptz_in_zone(PG_GETARG_CSTRING(0),
										(pg_tz *) fcinfo->flinfo->fn_extra,
										PG_GETARG_OID(1), PG_GETARG_INT32(2)));
}
