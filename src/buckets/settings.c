/*-------------------------------------------------------------------------
 *
 * buckets/settings.c
 *		Settings of the bucket capability.
 *
 * edp.max_buckets        most buckets a zero-filled answer may hold
 * edp.naive_timezone     zone that edp.parse_timestamp() applies to
 *                        timestamps written without an offset
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "buckets/buckets.h"

int			edp_max_buckets = 1000000;
char	   *edp_naive_timezone = NULL;

/* the zone must be one bucket_spec_init accepts */
static bool
check_naive_timezone(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || **newval == '\0')
	{
		GUC_check_errdetail("edp.naive_timezone must name a time zone or an offset such as \"+02:00\".");
		return false;
	}
	return true;
}

void
edp_buckets_guc_init(void)
{
	DefineCustomIntVariable("edp.max_buckets",
							"Largest number of buckets a zero-filled bucket query may return.",
							"Guards against ranges such as ten years of one-minute buckets.",
							&edp_max_buckets,
							1000000, 1, INT_MAX / 2,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("edp.naive_timezone",
							   "Time zone applied to timestamps written without a UTC offset.",
							   "Used by edp.parse_timestamp(); an offset such as +02:00 means east of UTC.",
							   &edp_naive_timezone,
							   "UTC",
							   PGC_USERSET, 0,
							   check_naive_timezone, NULL, NULL);
}
