/*-------------------------------------------------------------------------
 *
 * buckets/arithmetic.c
 *		Where bucket boundaries lie: validates a width and a time zone and
 *		maps an instant to the start of its bucket.
 *
 * Widths are whole minutes dividing a day (1, 5, 15, 60 minutes ...) or
 * one day.  Sub-day buckets are laid on the local clock of the zone, so
 * with +05:30 an hourly bucket starts at :30 UTC; daily buckets start at
 * local midnight, so a DST day is 23 or 25 hours long.
 *
 * Offsets written like "+05:30" mean east of UTC (ISO 8601).  PostgreSQL's
 * own AT TIME ZONE '+05:30' reads the POSIX way (west of UTC), a classic
 * trap, so we parse offsets ourselves and hand only names to pg_tzset().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

#include "buckets/buckets.h"

/* "+05:30", "-03", "+0530", "Z", "UTC": fixed offset in seconds east */
static bool
parse_fixed_offset(const char *s, int *seconds_east)
{
	int			sign;
	int			hh = 0;
	int			mm = 0;
	const char *p = s;

	if (pg_strcasecmp(s, "Z") == 0 || pg_strcasecmp(s, "UTC") == 0)
	{
		*seconds_east = 0;
		return true;
	}
	if (*p != '+' && *p != '-')
		return false;
	sign = (*p == '-') ? -1 : 1;
	p++;
	if (!isdigit((unsigned char) p[0]) || !isdigit((unsigned char) p[1]))
		return false;
	hh = (p[0] - '0') * 10 + (p[1] - '0');
	p += 2;
	if (*p == ':')
		p++;
	if (*p != '\0')
	{
		if (!isdigit((unsigned char) p[0]) || !isdigit((unsigned char) p[1]) || p[2] != '\0')
			return false;
		mm = (p[0] - '0') * 10 + (p[1] - '0');
	}
	if (hh > 15 || mm > 59)
		return false;
	*seconds_east = sign * (hh * 3600 + mm * 60);
	return true;
}

/*
 * Validate width and zone; errors name the bad value and the SQLSTATE
 * 22023 (invalid_parameter_value).
 */
void
edp_bucket_spec_init(EdpBucketSpec *spec, const Interval *width,
					 const char *tzname)
{
	int			east;

	memset(spec, 0, sizeof(*spec));
	if (width->month == 0 && width->day == 1 && width->time == 0)
		spec->daily = true;
	else if (width->month == 0 && width->day == 0 && width->time == USECS_PER_DAY)
		spec->daily = true;
	else if (width->month != 0 || width->day != 0 || width->time <= 0 ||
			 width->time % USECS_PER_MINUTE != 0 ||
			 USECS_PER_DAY % width->time != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported bucket width \"%s\"",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum((Interval *) width)))),
				 errdetail("A bucket width is a whole number of minutes that divides one day (such as 1, 5, 15 or 60 minutes), or 1 day.")));
	spec->width_us = spec->daily ? USECS_PER_DAY : width->time;

	strlcpy(spec->tzname, tzname, sizeof(spec->tzname));
	if (parse_fixed_offset(tzname, &east))
	{
		spec->fixed = true;
		spec->offset_us = (int64) east * USECS_PER_SEC;
	}
	else
	{
		long		gmtoff;

		spec->tz = pg_tzset(tzname);
		if (spec->tz == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("time zone \"%s\" not recognized", tzname),
					 errhint("Use a zone name such as \"Europe/Berlin\" or an offset east of UTC such as \"+05:30\".")));
		/* zones without DST rules behave like fixed offsets, only faster */
		if (pg_get_timezone_offset(spec->tz, &gmtoff))
		{
			spec->fixed = true;
			spec->offset_us = (int64) gmtoff * USECS_PER_SEC;
		}
	}
}

/* offset east of UTC in force at instant t */
static int64
offset_at(const EdpBucketSpec *spec, TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzwest;

	if (spec->fixed)
		return spec->offset_us;
	if (timestamp2tm(t, &tzwest, &tm, &fsec, NULL, spec->tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return -(int64) tzwest * USECS_PER_SEC;
}

/* start of the bucket holding instant t */
TimestampTz
edp_bucket_start(const EdpBucketSpec *spec, TimestampTz t)
{
	int64		off;

	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot bucket an infinite timestamp")));
	off = offset_at(spec, t);
	if (spec->daily && !spec->fixed)
	{
		/* local midnight of the local date, back to UTC through the zone */
		struct pg_tm tm;
		fsec_t		fsec;
		int			tzwest;
		TimestampTz result;

		if (timestamp2tm(t, &tzwest, &tm, &fsec, NULL, spec->tz) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
		tm.tm_hour = 0;
		tm.tm_min = 0;
		tm.tm_sec = 0;
		tzwest = DetermineTimeZoneOffset(&tm, spec->tz);
		if (tm2timestamp(&tm, 0, &tzwest, &result) != 0 || result < MIN_TIMESTAMP)
			result = MIN_TIMESTAMP;	/* the first day of the range: see below */
		return result;
	}

	/*
	 * The bucket of an instant near the lower end of the range may start
	 * before the earliest timestamptz (4714-11-24 00:00 BC UTC) on the local
	 * clock of a zone east of UTC: that first bucket starts at the earliest
	 * timestamptz instead, so every finite instant has a bucket that can be
	 * returned and stored.
	 */
	return Max(edp_floor_div(t + off, spec->width_us) * spec->width_us - off, MIN_TIMESTAMP);
}

/* start of the bucket after the one starting at b */
TimestampTz
edp_bucket_next(const EdpBucketSpec *spec, TimestampTz b)
{
	TimestampTz next;

	if (spec->fixed)
		return b + spec->width_us;
	/* half a width more lands inside the next bucket even on 23/25 h days */
	next = edp_bucket_start(spec, b + spec->width_us + spec->width_us / 2);
	if (next <= b)
		next = b + spec->width_us;
	return next;
}

/* upper bound of the number of buckets in [from, to) */
int64
edp_bucket_estimate(const EdpBucketSpec *spec, TimestampTz from, TimestampTz to)
{
	int64		shortest = spec->daily ? 23 * USECS_PER_HOUR : spec->width_us;

	if (to <= from)
		return 0;
	return (to - from) / shortest + 2;
}

/* errors for NULL-free but unusable ranges; zero fill also checks the count */
void
edp_bucket_check_range(const EdpBucketSpec *spec, TimestampTz from, TimestampTz to)
{
	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket range bounds must be finite")));
	if (from > to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket range start is after its end"),
				 errdetail("The range is [from, to): from must not be later than to.")));
}
