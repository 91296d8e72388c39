/*-------------------------------------------------------------------------
 *
 * trips/geometry.c
 *		EWKB points and short distances on WGS 84 for the trips capability.
 *
 * Distances: for two points a few kilometres apart we use the ellipsoid's
 * tangent plane at their mean latitude,
 *		d^2 = (M(phi_m) * dphi)^2 + (N(phi_m) cos(phi_m) * dlambda)^2,
 * with M and N the meridional and prime-vertical radii of curvature of
 * WGS 84.  The error against the geodesic grows with the square of the
 * distance over the Earth's radius: measured against PostGIS's spheroid
 * distance (geography, Karney's algorithm) it stays below 1e-6 relative
 * for distances up to 10 km at latitudes up to 70 degrees (doc/edp.md,
 * test sql/trips_cluster.sql), i.e. under a millimetre per kilometre.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"

#include "trips/trips.h"

static double edp_local_distance_m(double lon1, double lat1, double lon2, double lat2);

#define EWKB_POINT			1
#define EWKB_SRID_FLAG		0x20000000
#define EWKB_TYPE_MASK		0x0FFFFFFF	/* drops Z/M/SRID flags of EWKB */

bytea *
edp_point_ewkb(double lon, double lat)
{
	bytea	   *result = palloc(VARHDRSZ + 25);
	char	   *p = VARDATA(result);
	uint32		type = EWKB_POINT | EWKB_SRID_FLAG;
	uint32		srid = 4326;

	SET_VARSIZE(result, VARHDRSZ + 25);
#ifdef WORDS_BIGENDIAN
	p[0] = 0;
#else
	p[0] = 1;
#endif
	memcpy(p + 1, &type, 4);
	memcpy(p + 5, &srid, 4);
	memcpy(p + 9, &lon, 8);
	memcpy(p + 17, &lat, 8);
	return result;
}

/* whether WKB in byte order p[0] must be swapped here; false for a bad order byte */
bool
edp_wkb_byte_order(const unsigned char *p, bool *swap)
{
	if (p[0] != 0 && p[0] != 1)
		return false;
#ifdef WORDS_BIGENDIAN
	*swap = (p[0] == 1);
#else
	*swap = (p[0] == 0);
#endif
	return true;
}

uint32
edp_wkb_uint32(const unsigned char *p, bool swap)
{
	uint32		v;

	memcpy(&v, p, 4);
	return swap ? pg_bswap32(v) : v;
}

double
edp_wkb_double(const unsigned char *p, bool swap)
{
	uint64		v;
	double		d;

	memcpy(&v, p, 8);
	if (swap)
		v = pg_bswap64(v);
	memcpy(&d, &v, 8);
	return d;
}

bool
edp_point_from_wkb(const bytea *wkb, double *lon, double *lat)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(wkb);
	size_t		len = VARSIZE_ANY_EXHDR(wkb);
	bool		swap;
	uint32		type;
	size_t		off = 5;

	if (len < 21 || !edp_wkb_byte_order(p, &swap))
		return false;
	type = edp_wkb_uint32(p + 1, swap);
	if ((type & EWKB_TYPE_MASK) != EWKB_POINT || (type & 0xC0000000) != 0)
		return false;			/* not a point, or has Z/M */
	if (type & EWKB_SRID_FLAG)
		off += 4;
	if (len != off + 16)
		return false;
	*lon = edp_wkb_double(p + off, swap);
	*lat = edp_wkb_double(p + off + 8, swap);
	return !isnan(*lon) && !isnan(*lat);	/* POINT EMPTY is NaN NaN */
}

void
edp_wgs84_radii(double lat, double *meridional, double *parallel)
{
	double		phi = lat * (M_PI / 180.0);
	double		s = sin(phi);
	double		w2 = 1.0 - EDP_WGS84_E2 * s * s;
	double		w = sqrt(w2);

	*meridional = EDP_WGS84_A * (1.0 - EDP_WGS84_E2) / (w2 * w);
	*parallel = EDP_WGS84_A / w * cos(phi);
}

/*
 * The radii are taken at both points and averaged (rather than computed at
 * the mean latitude) so that clustering can precompute them per point; the
 * difference is of second order in the latitude difference.
 */
static double
edp_local_distance_m(double lon1, double lat1, double lon2, double lat2)
{
	double		m1,
				p1,
				m2,
				p2;
	double		dy,
				dx;

	edp_wgs84_radii(lat1, &m1, &p1);
	edp_wgs84_radii(lat2, &m2, &p2);
	dy = (m1 + m2) * 0.5 * (lat2 - lat1) * (M_PI / 180.0);
	dx = (p1 + p2) * 0.5 * (lon2 - lon1) * (M_PI / 180.0);
	return sqrt(dx * dx + dy * dy);
}

/*
 * edp.trip_distance_m(lon1, lat1, lon2, lat2): the distance in metres that
 * edp's trip clustering uses, exposed so users (and tests) can check it.
 */
PG_FUNCTION_INFO_V1(edp_trip_distance_m);
Datum
edp_trip_distance_m(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(edp_local_distance_m(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1),
										  PG_GETARG_FLOAT8(2), PG_GETARG_FLOAT8(3)));
}

/*
 * edp_internal.trip_point_check(x, y, column, cell_size): the rule every
 * origin and destination of a trips table keeps (its CHECK constraints):
 * a point with coordinates (not POINT EMPTY, whose ST_X is NULL), both
 * finite, within WGS 84 degrees (longitude -180..180, latitude -90..90),
 * so that its rollup cell floor(coordinate / cell_size) is an integer of
 * the grid.  True, or an error that names the column and the rule.
 */
PG_FUNCTION_INFO_V1(edp_trip_point_check);
Datum
edp_trip_point_check(PG_FUNCTION_ARGS)
{
	const char *column = PG_ARGISNULL(2) ? "point" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	double		cell = PG_ARGISNULL(3) ? 0 : PG_GETARG_FLOAT8(3);
	double		x,
				y;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s of a trip must not be an empty point", column),
				 errdetail("A trip's origin and destination are points with finite coordinates in WGS 84 degrees: longitude -180 to 180, latitude -90 to 90.")));
	x = PG_GETARG_FLOAT8(0);
	y = PG_GETARG_FLOAT8(1);
	if (isnan(x) || isnan(y) || isinf(x) || isinf(y))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s of a trip must have finite coordinates, not (%g %g)", column, x, y),
				 errdetail("A trip's origin and destination are points with finite coordinates in WGS 84 degrees: longitude -180 to 180, latitude -90 to 90.")));
	if (x < -180 || x > 180 || y < -90 || y > 90)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s of a trip lies outside WGS 84 degrees: (%g %g)", column, x, y),
				 errdetail("A trip's origin and destination have longitude -180 to 180 and latitude -90 to 90.")));
	if (cell > 0 && (fabs(x) / cell >= (double) PG_INT32_MAX || fabs(y) / cell >= (double) PG_INT32_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s of a trip lies outside the rollup grid of cell size %g degrees: (%g %g)", column, cell, x, y),
				 errdetail("A point's rollup cell, floor(coordinate / cell size), must be a 32-bit integer.")));
	PG_RETURN_BOOL(true);
}
