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
 * The clustering grid (trips/dbscan.c): cells at least eps wide, made from
 * the smallest parallel radii among the trips it is built for; a grid
 * built for a superset of some trips is a valid grid for them too.
 */
#define EDP_TRIP_DIMS	5		/* time slot, origin row, column, destination row, column */

typedef struct EdpTripGrid
{
	double		eps_origin_m;
	double		eps_destination_m;
	double		po_min;			/* smallest parallel radius of the origins */
	double		pd_min;			/* ... and of the destinations */
	int			time_slots;		/* 1: time never separates cells */
	double		slot;			/* minutes per time slot */
} EdpTripGrid;

extern void edp_trip_grid_init(EdpTripGrid *spec, const EdpTripPoint *trips, int64 n,
							   const EdpDbscanParams *params);
extern void edp_trip_grid_add(EdpTripGrid *spec, const EdpTripPoint *t);
extern void edp_trip_grid_cell(const EdpTripGrid *spec, const EdpTripPoint *t, int32 *k);

/*
 * A chunk of a bounded clustering (trips/clustering.c): the trips of a box
 * of cells (owned) with the trips one cell around it (halo: their core
 * status is needed, and all their neighbours are in the chunk) and two
 * cells around it (outer halo: only neighbours of others).
 */
#define EDP_CHUNK_OWNED		0
#define EDP_CHUNK_HALO		1
#define EDP_CHUNK_OUTER		2

typedef struct EdpDbscanChunk
{
	uint8	   *status;			/* in: per trip, EDP_CHUNK_*; moves with the trips */
	int32	   *pairs;			/* out: (owned non-core trip, neighbour) pairs, by trip */
	int64		npairs;
} EdpDbscanChunk;

/*
 * DBSCAN over the trips (n of them, reordered in place).  On return
 * group[i] is the group id of trips[i] (the smallest trip id among the
 * group's core trips) or -1 for noise, and core[i] says whether trips[i]
 * is a core trip.  Arrays are allocated by the caller.
 *
 * With a chunk: core[] is exact for owned and halo trips (false for the
 * outer halo), group[] of a core trip is the smallest id among the core
 * trips connected to it within the chunk, group[] of other trips is -1,
 * and the neighbours of owned non-core trips come back in chunk->pairs
 * (palloc'd; the caller frees it) for the caller to pick their groups.
 */
extern void edp_trip_dbscan(EdpTripPoint *trips, int n, const EdpDbscanParams *params,
							int64 *group, bool *core, EdpDbscanChunk *chunk);

/* the memory bound of edp.trip_assignments (edp.trip_cluster_mem, trips/clustering.c) */
extern void edp_trips_cluster_guc_init(void);

/* installs the COPY hook with the fast WKT point input (trips/copy.c) */

#endif							/* EDP_TRIPS_H */
