/*-------------------------------------------------------------------------
 *
 * trips/clustering.c
 *		edp.trip_assignments(): cluster the trips of a table by origin,
 *		destination and time of day (trips/dbscan.c) and return each
 *		trip's group, or NULL for noise.
 *
 * The trips are read through one SPI cursor in batches; points cross from
 * PostGIS as EWKB (the geometry -> bytea cast), so no PostGIS code is
 * linked.  Times of day are taken in a time zone given by the caller
 * (datetime holds UTC wall-clock times).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/compat.h"
#include "trips/trips.h"
#include "core/security.h"

#define FETCH_BATCH		10000
#define MAX_TRIPS		(1 << 30)

static void
check_eps(double v, const char *what)
{
	if (!(v > 0) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive number", what)));
}

/*
 * Read (id, origin, destination, time of day) of every row of relid into
 * an array allocated in mcxt; *n_out gets the count.
 */
static EdpTripPoint *
read_trips(Oid relid, text *time_zone, MemoryContext mcxt, int *n_out)
{
	EdpIdentity spi;
	char	   *relname = get_rel_name(relid);
	char	   *query;
	const char *time_of_day;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Portal		portal;
	EdpTripPoint *trips;
	int			cap = 1024;
	int			n = 0;

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	/*
	 * In UTC, the default, the stored wall-clock time is the time of day
	 * already: skip the two AT TIME ZONE, which look the zone names up for
	 * every row.
	 */
	if (pg_strcasecmp(text_to_cstring(time_zone), "UTC") == 0)
		time_of_day = "datetime::pg_catalog.timestamp";
	else
		time_of_day = "(datetime::pg_catalog.timestamp AT TIME ZONE 'UTC') AT TIME ZONE $1";
	query = psprintf("SELECT id::pg_catalog.int8, origin::pg_catalog.bytea, destination::pg_catalog.bytea, %s FROM %s",
					 time_of_day,
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												relname));
	args[0] = PointerGetDatum(time_zone);
	/* size the array from the planner's row estimate to avoid regrowing it */
	{
		Relation	rel = table_open(relid, AccessShareLock);

		if (rel->rd_rel->reltuples > cap && rel->rd_rel->reltuples < MAX_TRIPS)
			cap = (int) (rel->rd_rel->reltuples * 1.02) + 1024;
		table_close(rel, AccessShareLock);
	}
	trips = MemoryContextAllocExtended(mcxt, sizeof(EdpTripPoint) * cap, MCXT_ALLOC_HUGE);

	edp_spi_begin(&spi, InvalidOid, EDP_AS_CALLER);
	portal = SPI_cursor_open_with_args(NULL, query, 1, argtypes, args, NULL, true, 0);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, FETCH_BATCH);
		if (SPI_processed == 0)
			break;
		if (n + SPI_processed > MAX_TRIPS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many trips to cluster"),
					 errdetail("At most %d trips can be clustered in one call.", MAX_TRIPS)));
		while (n + SPI_processed > (uint64) cap)
		{
			cap *= 2;
			trips = repalloc_huge(trips, sizeof(EdpTripPoint) * cap);
		}
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull[4];
			Datum		v[4];
			int			a;
			double		olon,
						olat,
						dlon,
						dlat;
			Timestamp	ts;
			int64		usec;

			for (a = 0; a < 4; a++)
				v[a] = SPI_getbinval(tup, desc, a + 1, &isnull[a]);
			if (isnull[0] || isnull[1] || isnull[2] || isnull[3])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("trip %s of \"%s\" has a null id, origin, destination or datetime",
								isnull[0] ? "(null)" : psprintf(INT64_FORMAT, DatumGetInt64(v[0])),
								relname)));
			if (!edp_point_from_wkb(DatumGetByteaPP(v[1]), &olon, &olat) ||
				!edp_point_from_wkb(DatumGetByteaPP(v[2]), &dlon, &dlat))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("trip " INT64_FORMAT " of \"%s\" has an origin or destination that is not a non-empty 2D point",
								DatumGetInt64(v[0]), relname)));
			ts = DatumGetTimestamp(v[3]);
			usec = ts % USECS_PER_DAY;
			if (usec < 0)
				usec += USECS_PER_DAY;
			edp_trip_point_set(&trips[n++], DatumGetInt64(v[0]), olon, olat, dlon, dlat,
							   (double) usec / (double) USECS_PER_MINUTE);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	edp_spi_end(&spi);
	*n_out = n;
	return trips;
}

/*
 * edp.trip_assignments(trip_table, eps_origin_m, eps_destination_m,
 * eps_minutes, min_trips, time_zone): one row per trip (trip_id,
 * group_id, core); group_id is NULL for noise.
 */
PG_FUNCTION_INFO_V1(edp_trip_assignments);
Datum
edp_trip_assignments(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EdpDbscanParams params;
	MemoryContext work;
	MemoryContext old;
	EdpTripPoint *trips;
	int64	   *group;
	bool	   *core;
	int			n;
	int			i;

	params.eps_origin_m = PG_GETARG_FLOAT8(1);
	params.eps_destination_m = PG_GETARG_FLOAT8(2);
	params.eps_minutes = PG_GETARG_FLOAT8(3);
	params.min_trips = PG_GETARG_INT32(4);
	check_eps(params.eps_origin_m, "origin distance");
	check_eps(params.eps_destination_m, "destination distance");
	check_eps(params.eps_minutes, "time window");
	if (params.min_trips < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("minimum trips per group must be at least 1")));

	edp_init_materialized_srf(fcinfo);

	work = AllocSetContextCreate(CurrentMemoryContext, "edp trip clustering",
								 ALLOCSET_DEFAULT_SIZES);
	trips = read_trips(PG_GETARG_OID(0), PG_GETARG_TEXT_PP(5), work, &n);

	old = MemoryContextSwitchTo(work);
	group = palloc_extended(sizeof(int64) * Max(n, 1), MCXT_ALLOC_HUGE);
	core = palloc_extended(sizeof(bool) * Max(n, 1), MCXT_ALLOC_HUGE);
	edp_trip_dbscan(trips, n, &params, group, core);
	MemoryContextSwitchTo(old);

	for (i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, group[i] < 0, false};

		values[0] = Int64GetDatum(trips[i].id);
		values[1] = Int64GetDatum(group[i]);
		values[2] = BoolGetDatum(core[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(work);
	return (Datum) 0;
}
