/*-------------------------------------------------------------------------
 *
 * trips/generator.c
 *		edp_internal.generate_trips_wkb(): a deterministic generator of vehicle trips
 *		(region, origin, destination, datetime, datasource) for tests,
 *		benchmarks and the demo.
 *
 * The city model: Prague, Turin and Hamburg, each with 200 hotspots spread
 * around the centre (a few hundred metres wide, Zipf-like popularity).  A
 * trip starts at a hotspot chosen by popularity and goes, usually, to one
 * of that hotspot's three favourite destinations, else to any hotspot of
 * the same city.  Times follow a morning and an evening peak over a number
 * of weeks; weekends are quieter and about one week in seven is nearly
 * empty.  Everything comes from our own PRNG seeded by (seed, row number),
 * so row i is the same whatever n is and however the rows are consumed.
 *
 * Points leave as EWKB (SRID 4326) bytea; the SQL wrapper
 * edp.generate_trips() casts them to geometry (no PostGIS code here).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#include "core/edp.h"
#include "trips/trips.h"

#define GEN_CITIES			3
#define GEN_HOTSPOTS		200		/* per city */
#define GEN_FAVOURITES		3		/* preferred destinations per hotspot */
#define GEN_MAX_WEEKS		520

typedef struct GenCity
{
	const char *name;
	double		lon;
	double		lat;
	double		radius_m;		/* spread of hotspot centres around the centre */
	double		share;			/* share of all trips */
} GenCity;

static const GenCity gen_cities[GEN_CITIES] = {
	{"Prague", 14.4378, 50.0755, 6000.0, 0.36},
	{"Turin", 7.6869, 45.0703, 5000.0, 0.38},
	{"Hamburg", 9.9937, 53.5511, 7000.0, 0.26},
};

static const char *const gen_datasources[] = {
	"cheap_mobile", "pt_search_app", "bad_diesel_vehicles", "baba_car", "funny_car"
};

typedef struct GenHotspot
{
	double		lon;
	double		lat;
	double		sigma_m;		/* spread of trip ends around the hotspot */
	int			favourite[GEN_FAVOURITES];
} GenHotspot;

typedef struct GenState
{
	uint64		seed;
	int64		n;
	int64		next;
	int			weeks;
	Timestamp	first_day;
	GenHotspot	hotspots[GEN_CITIES][GEN_HOTSPOTS];
	double		hotspot_cdf[GEN_HOTSPOTS];	/* same popularity curve per city */
	double		week_cdf[GEN_MAX_WEEKS];
	TupleDesc	tupdesc;
} GenState;

/* splitmix64: tiny, well-mixed, and enough for synthetic data */
static inline uint64
gen_next(uint64 *s)
{
	uint64		z = (*s += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static inline double
gen_uniform(uint64 *s)
{
	return (gen_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* standard normal (Box-Muller; one value per call keeps streams simple) */
static inline double
gen_normal(uint64 *s)
{
	double		u1 = gen_uniform(s);
	double		u2 = gen_uniform(s);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* index of the first cdf entry > u (cdf ascending, last entry 1) */
static int
gen_pick(const double *cdf, int len, double u)
{
	int			lo = 0,
				hi = len - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* move (lon, lat) by (east, north) metres on a local sphere approximation */
static void
gen_offset(double *lon, double *lat, double east_m, double north_m)
{
	double		lat_rad = *lat * M_PI / 180.0;

	*lat += north_m / 111320.0;
	*lon += east_m / (111320.0 * cos(lat_rad));
}

static void
gen_build_model(GenState *st)
{
	uint64		s = st->seed ^ UINT64CONST(0x5DEECE66D);
	double		sum;
	int			c,
				h,
				w;

	for (c = 0; c < GEN_CITIES; c++)
	{
		for (h = 0; h < GEN_HOTSPOTS; h++)
		{
			GenHotspot *hs = &st->hotspots[c][h];
			int			f;

			hs->lon = gen_cities[c].lon;
			hs->lat = gen_cities[c].lat;
			gen_offset(&hs->lon, &hs->lat,
					   gen_normal(&s) * gen_cities[c].radius_m / 2.0,
					   gen_normal(&s) * gen_cities[c].radius_m / 2.0);
			hs->sigma_m = 60.0 + 240.0 * gen_uniform(&s);
			for (f = 0; f < GEN_FAVOURITES; f++)
				hs->favourite[f] = (int) (gen_uniform(&s) * GEN_HOTSPOTS);
		}
	}

	/* popularity ~ 1 / rank^0.8 */
	sum = 0;
	for (h = 0; h < GEN_HOTSPOTS; h++)
	{
		sum += 1.0 / pow(h + 1, 0.8);
		st->hotspot_cdf[h] = sum;
	}
	for (h = 0; h < GEN_HOTSPOTS; h++)
		st->hotspot_cdf[h] /= sum;
	st->hotspot_cdf[GEN_HOTSPOTS - 1] = 1.0;

	/* week weights: about one week in seven nearly empty */
	sum = 0;
	for (w = 0; w < st->weeks; w++)
	{
		double		weight = (gen_uniform(&s) < 0.15) ? 0.01 : 0.7 + 0.6 * gen_uniform(&s);

		sum += weight;
		st->week_cdf[w] = sum;
	}
	for (w = 0; w < st->weeks; w++)
		st->week_cdf[w] /= sum;
	st->week_cdf[st->weeks - 1] = 1.0;
}

/* minutes after midnight: morning peak, evening peak, background */
static double
gen_time_of_day(uint64 *s)
{
	double		u = gen_uniform(s);
	double		m;

	if (u < 0.40)
		m = 8 * 60 + gen_normal(s) * 50.0;
	else if (u < 0.75)
		m = 17 * 60 + 30 + gen_normal(s) * 70.0;
	else
		m = gen_uniform(s) * 1440.0;
	m = fmod(m, 1440.0);
	if (m < 0)
		m += 1440.0;
	return m;
}

static Datum
gen_point(const GenHotspot *hs, uint64 *s)
{
	double		lon = hs->lon,
				lat = hs->lat;

	gen_offset(&lon, &lat, gen_normal(s) * hs->sigma_m, gen_normal(s) * hs->sigma_m);
	return PointerGetDatum(edp_point_ewkb(lon, lat));
}

/*
 * edp_internal.generate_trips_wkb(n, seed, first_day, weeks): n generated trips with
 * EWKB points; wrapped by edp.generate_trips(), which returns geometries.
 */
PG_FUNCTION_INFO_V1(edp_generate_trips_wkb);
Datum
edp_generate_trips_wkb(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	GenState   *st;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcontext;
		int64		n = PG_GETARG_INT64(0);
		int32		weeks = PG_GETARG_INT32(3);
		TupleDesc	tupdesc;

		if (n < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("number of trips must not be negative")));
		if (weeks < 1 || weeks > GEN_MAX_WEEKS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weeks must be between 1 and %d", GEN_MAX_WEEKS)));

		funcctx = SRF_FIRSTCALL_INIT();
		oldcontext = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");	/* internal error */

		st = palloc0(sizeof(GenState));
		st->seed = (uint64) PG_GETARG_INT64(1);
		st->n = n;
		st->weeks = weeks;
		st->first_day = (Timestamp) PG_GETARG_DATEADT(2) * USECS_PER_DAY;
		st->tupdesc = BlessTupleDesc(tupdesc);
		gen_build_model(st);
		funcctx->user_fctx = st;
		MemoryContextSwitchTo(oldcontext);
	}

	funcctx = SRF_PERCALL_SETUP();
	st = funcctx->user_fctx;

	if (st->next < st->n)
	{
		uint64		s = st->seed ^ ((uint64) st->next * UINT64CONST(0xD1B54A32D192ED03));
		double		u;
		int			city,
					from,
					to,
					week,
					day;
		double		minutes;
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		HeapTuple	tuple;

		st->next++;
		(void) gen_next(&s);	/* decorrelate neighbouring row numbers */
		u = gen_uniform(&s);
		city = (u < gen_cities[0].share) ? 0 :
			(u < gen_cities[0].share + gen_cities[1].share) ? 1 : 2;
		from = gen_pick(st->hotspot_cdf, GEN_HOTSPOTS, gen_uniform(&s));
		if (gen_uniform(&s) < 0.7)
			to = st->hotspots[city][from].favourite[(int) (gen_uniform(&s) * GEN_FAVOURITES)];
		else
			to = gen_pick(st->hotspot_cdf, GEN_HOTSPOTS, gen_uniform(&s));

		week = gen_pick(st->week_cdf, st->weeks, gen_uniform(&s));
		/* weekdays carry twice the weight of a weekend day */
		day = (int) (gen_uniform(&s) * 12.0);
		day = (day < 10) ? day / 2 : day - 5;
		minutes = gen_time_of_day(&s);

		values[0] = CStringGetTextDatum(gen_cities[city].name);
		values[1] = gen_point(&st->hotspots[city][from], &s);
		values[2] = gen_point(&st->hotspots[city][to], &s);
		values[3] = TimestampGetDatum(st->first_day
									  + (int64) (week * 7 + day) * USECS_PER_DAY
									  + (int64) floor(minutes * 60.0) * USECS_PER_SEC);
		values[4] = CStringGetTextDatum(gen_datasources[gen_next(&s) % lengthof(gen_datasources)]);

		tuple = heap_form_tuple(st->tupdesc, values, nulls);
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(tuple));
	}

	SRF_RETURN_DONE(funcctx);
}
