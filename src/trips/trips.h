/*-------------------------------------------------------------------------
 *
 * trips/trips.h
 *		Shared pieces of the trips capability: EWKB points and distances in
 *		metres on WGS 84.
 *
 * edp links no PostGIS code (STYLE §13): points cross the boundary as
 * EWKB bytea, which SQL wrappers cast to and from geometry.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_TRIPS_H
#define EDP_TRIPS_H

/* load time: registers the trips COPY taker (trips/copy.c) */
extern void edp_trips_init(void);

/* WGS 84 ellipsoid */
#define EDP_WGS84_A		6378137.0
#define EDP_WGS84_F		(1.0 / 298.257223563)
#define EDP_WGS84_E2	(EDP_WGS84_F * (2.0 - EDP_WGS84_F))

/* EWKB of POINT(lon lat) with SRID 4326, as a palloc'd bytea */
extern bytea *edp_point_ewkb(double lon, double lat);

/*
 * Parse a (E)WKB point; false if the bytes are not a non-empty 2D point.
 * Accepts either byte order, with or without the SRID flag.
 */
extern bool edp_point_from_wkb(const bytea *wkb, double *lon, double *lat);

/* WKB reading: byte order (false for a bad order byte), numbers in that order */
extern bool edp_wkb_byte_order(const unsigned char *p, bool *swap);
extern uint32 edp_wkb_uint32(const unsigned char *p, bool swap);
extern double edp_wkb_double(const unsigned char *p, bool swap);

/*
 * Radii of curvature of WGS 84 at latitude lat (degrees), in metres per
 * radian: meridional (north-south) and parallel (east-west, N cos lat).
 */
extern void edp_wgs84_radii(double lat, double *meridional, double *parallel);

/*
 * One trip as the clustering sees it: both ends in radians with the WGS 84
 * radii of curvature there (metres per radian), and the time of day in
 * minutes after midnight.
 */
typedef struct EdpTripPoint
{
	int64		id;
	double		o_phi,
				o_lam,
				o_m,
				o_p;
	double		d_phi,
				d_lam,
				d_m,
				d_p;
	double		tod;
} EdpTripPoint;

typedef struct EdpDbscanParams
{
	double		eps_origin_m;
	double		eps_destination_m;
	double		eps_minutes;
	int			min_trips;
} EdpDbscanParams;

extern void edp_trip_point_set(EdpTripPoint *t, int64 id, double olon, double olat,
							   double dlon, double dlat, double minutes);

/*
 * DBSCAN over the trips (n of them, reordered in place).  On return
 * group[i] is the group id of trips[i] (the smallest trip id among the
 * group's core trips) or -1 for noise, and core[i] says whether trips[i]
 * is a core trip.  Arrays are allocated by the caller.
 */
extern void edp_trip_dbscan(EdpTripPoint *trips, int n, const EdpDbscanParams *params,
							int64 *group, bool *core);

/* installs the COPY hook with the fast WKT point input (trips/copy.c) */

#endif							/* EDP_TRIPS_H */
