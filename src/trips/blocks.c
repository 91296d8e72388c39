/*-------------------------------------------------------------------------
 *
 * trips/blocks.c
 *		Point blocks of a trips table: the trips' exact coordinates packed
 *		by fine spatial cell, so that the weekly counts of a small box read
 *		a few pages of packed points instead of one heap page per trip.
 *
 * A block is one row of <table>_point_blocks: (kind, c1, c2, n, points).
 * kind 1 holds origins keyed by origin cell (c2 = 0), kind 2 destinations
 * keyed by destination cell, kind 3 both ends keyed by (origin cell,
 * destination cell) at a coarser cell size.  points is a flat array of
 * records, each the point's float8 coordinates (x, y; for kind 3 the
 * origin's then the destination's) followed by the int32 date of the
 * trip's Monday in the table's rollup time zone.  Blocks are kept below a
 * page so that they are stored inline (STORAGE PLAIN) and read without
 * TOAST.  The statement triggers of the trips table maintain them in SQL
 * with the three functions here: edp_internal.trip_block_pack (aggregate: points
 * to blocks), edp_internal.trip_block_points (blocks to points) and
 * edp_internal.trip_cell_id.  A query recognises a box (edp_internal.trip_area_box), lists
 * its cells (edp_internal.trip_cell_ids) and counts their blocks' points per week
 * with the aggregate edp_internal.trip_block_counts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"

#include "trips/trips.h"

#define BLOCK_KIND_ORIGIN		1
#define BLOCK_KIND_DESTINATION	2
#define BLOCK_KIND_PAIR			3

/* points per block: about 4 kB of points, two blocks per 8 kB page */
#define BLOCK_CAP_SINGLE		200
#define BLOCK_CAP_PAIR			110

/* most cells one box may cover on the block path */
#define BLOCK_MAX_CELLS			100000

/* a cell id no finite coordinate maps to (NaN or infinite coordinates) */
#define BLOCK_CELL_NONE			PG_INT64_MIN

static int
block_kind_check(int32 kind)
{
	if (kind != BLOCK_KIND_ORIGIN && kind != BLOCK_KIND_DESTINATION && kind != BLOCK_KIND_PAIR)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid point block kind %d", kind),
				 errhint("Use 1 (origin), 2 (destination) or 3 (origin and destination).")));
	return kind;
}

/* bytes of one point record of a block of this kind */
static Size
block_record_size(int kind)
{
	return (kind == BLOCK_KIND_PAIR ? 4 : 2) * sizeof(float8) + sizeof(int32);
}

/* cell number of a coordinate: floor(v / size), as SQL's floor(v / size) */
static bool
cell_index(float8 v, float8 size, int64 *out)
{
	float8		f = floor(v / size);

	if (isnan(f) || f < -2147483648.0 || f > 2147483647.0)
		return false;
	*out = (int64) f;
	return true;
}

/* one 64-bit id for a cell: x number in the high half, y in the low half */
static int64
cell_id(int64 cx, int64 cy)
{
	return (int64) (((uint64) cx << 32) | ((uint64) cy & UINT64CONST(0xffffffff)));
}

static void
cell_size_check(float8 size)
{
	if (!(size > 0 && size <= 10))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cell size must be between 0 and 10 degrees")));
}

/*
 * edp_internal.trip_cell_id(x, y, size): the id of the cell of side size degrees
 * holding (x, y); coordinates outside any cell (NaN, infinite) share one
 * id that no box covers.
 */
PG_FUNCTION_INFO_V1(edp_trip_cell_id);
Datum
edp_trip_cell_id(PG_FUNCTION_ARGS)
{
	float8		size = PG_GETARG_FLOAT8(2);
	int64		cx,
				cy;

	cell_size_check(size);
	if (!cell_index(PG_GETARG_FLOAT8(0), size, &cx) || !cell_index(PG_GETARG_FLOAT8(1), size, &cy))
		PG_RETURN_INT64(BLOCK_CELL_NONE);
	PG_RETURN_INT64(cell_id(cx, cy));
}

/*
 * edp_internal.trip_cell_ids(xmin, ymin, xmax, ymax, size): the ids of every cell
 * a point of the box [xmin, xmax] x [ymin, ymax] can lie in (division and
 * floor are monotonic, so the cells of the corners bound them all); NULL
 * when the box spans more than BLOCK_MAX_CELLS cells or is not finite.
 */
PG_FUNCTION_INFO_V1(edp_trip_cell_ids);
Datum
edp_trip_cell_ids(PG_FUNCTION_ARGS)
{
	float8		size = PG_GETARG_FLOAT8(4);
	int64		x0,
				y0,
				x1,
				y1,
				x,
				y;
	Datum	   *ids;
	int			n = 0;

	cell_size_check(size);
	if (!cell_index(PG_GETARG_FLOAT8(0), size, &x0) || !cell_index(PG_GETARG_FLOAT8(1), size, &y0) ||
		!cell_index(PG_GETARG_FLOAT8(2), size, &x1) || !cell_index(PG_GETARG_FLOAT8(3), size, &y1) ||
		x0 > x1 || y0 > y1 || (float8) (x1 - x0 + 1) * (float8) (y1 - y0 + 1) > BLOCK_MAX_CELLS)
		PG_RETURN_NULL();
	ids = palloc(sizeof(Datum) * (x1 - x0 + 1) * (y1 - y0 + 1));
	for (x = x0; x <= x1; x++)
		for (y = y0; y <= y1; y++)
			ids[n++] = Int64GetDatum(cell_id(x, y));
	PG_RETURN_ARRAYTYPE_P(construct_array(ids, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * edp_internal.trip_area_box(wkb): {xmin, ymin, xmax, ymax} when the WKB is a
 * polygon that is an axis-aligned box with finite corners (one ring of
 * five points, each edge changing exactly one coordinate, the corners
 * distinct: the ring of ST_MakeEnvelope, in either direction), else NULL.
 * The corners are the polygon's own coordinates, so a point is inside the
 * polygon exactly when it is inside them.
 */
PG_FUNCTION_INFO_V1(edp_trip_area_box);
Datum
edp_trip_area_box(PG_FUNCTION_ARGS)
{
	bytea	   *wkb = PG_GETARG_BYTEA_PP(0);
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(wkb);
	size_t		len = VARSIZE_ANY_EXHDR(wkb);
	bool		swap;
	float8		x[5],
				y[5];
	Datum		box[4];
	int			i;

	/* byte order, type 3 (polygon, 2D, no SRID), 1 ring, 5 points */
	if (len != 1 + 4 + 4 + 4 + 5 * 16 || !edp_wkb_byte_order(p, &swap))
		PG_RETURN_NULL();
	if (edp_wkb_uint32(p + 1, swap) != 3 || edp_wkb_uint32(p + 5, swap) != 1 ||
		edp_wkb_uint32(p + 9, swap) != 5)
		PG_RETURN_NULL();
	for (i = 0; i < 5; i++)
	{
		x[i] = edp_wkb_double(p + 13 + 16 * i, swap);
		y[i] = edp_wkb_double(p + 13 + 16 * i + 8, swap);
		if (!isfinite(x[i]) || !isfinite(y[i]))
			PG_RETURN_NULL();
	}
	for (i = 0; i < 4; i++)
		if ((x[i] == x[i + 1]) == (y[i] == y[i + 1]))
			PG_RETURN_NULL();	/* an edge off the axes, or of length 0 */
	if (x[4] != x[0] || y[4] != y[0] || x[0] == x[2] || y[0] == y[2] || (x[1] == x[3] && y[1] == y[3]))
		PG_RETURN_NULL();
	box[0] = Float8GetDatum(Min(x[0], x[2]));
	box[1] = Float8GetDatum(Min(y[0], y[2]));
	box[2] = Float8GetDatum(Max(x[0], x[2]));
	box[3] = Float8GetDatum(Max(y[0], y[2]));
	PG_RETURN_ARRAYTYPE_P(construct_array(box, 4, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static int
block_count(int kind, bytea *points)
{
	Size		len = VARSIZE_ANY_EXHDR(points);
	Size		rec = block_record_size(kind);

	if (len % rec != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("point block of %zu bytes is not a whole number of %zu-byte points", len, rec)));
	return (int) (len / rec);
}

/* state of edp_internal.trip_block_pack: the records so far, in one growing buffer */
typedef struct BlockPackState
{
	int			kind;
	int64		n;
	StringInfoData buf;
} BlockPackState;

/*
 * edp_internal.trip_block_pack_add(state, kind, x, y, x2, y2, week, points):
 * appends one point record (x2, y2 only for kind 3), or, when points is
 * not null, the records of a whole block of the same kind as they are (the
 * triggers refill a partly filled block this way without unpacking it).
 */
PG_FUNCTION_INFO_V1(edp_trip_block_pack_add);
Datum
edp_trip_block_pack_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BlockPackState *st;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_trip_block_pack_add called in non-aggregate context");	/* internal error */
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("point block values must not be null")));

	st = PG_ARGISNULL(0) ? NULL : (BlockPackState *) PG_GETARG_POINTER(0);
	if (st == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(aggcontext);

		st = palloc(sizeof(BlockPackState));
		st->kind = block_kind_check(PG_GETARG_INT32(1));
		st->n = 0;
		initStringInfo(&st->buf);
		MemoryContextSwitchTo(old);
	}
	else if (PG_GETARG_INT32(1) != st->kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("one point block holds points of one kind")));

	if (!PG_ARGISNULL(7))
	{
		bytea	   *points = PG_GETARG_BYTEA_PP(7);
		int			n = block_count(st->kind, points);

		appendBinaryStringInfo(&st->buf, VARDATA_ANY(points), VARSIZE_ANY_EXHDR(points));
		st->n += n;
	}
	else
	{
		float8		c[4];
		int32		week;

		for (i = 2; i <= 6; i++)
			if (PG_ARGISNULL(i))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("point block values must not be null")));
		for (i = 0; i < 4; i++)
			c[i] = PG_GETARG_FLOAT8(i + 2);
		week = PG_GETARG_DATEADT(6);
		appendBinaryStringInfo(&st->buf, (char *) c, sizeof(float8) * (st->kind == BLOCK_KIND_PAIR ? 4 : 2));
		appendBinaryStringInfo(&st->buf, (char *) &week, sizeof(int32));
		st->n++;
	}
	PG_RETURN_POINTER(st);
}

/* edp_internal.trip_block_pack_final(state): the records cut into blocks, a bytea[] */
PG_FUNCTION_INFO_V1(edp_trip_block_pack_final);
Datum
edp_trip_block_pack_final(PG_FUNCTION_ARGS)
{
	BlockPackState *st = PG_ARGISNULL(0) ? NULL : (BlockPackState *) PG_GETARG_POINTER(0);
	Size		rec;
	int64		cap,
				nblocks,
				b;
	Datum	   *blocks;

	if (st == NULL)
		PG_RETURN_NULL();
	rec = block_record_size(st->kind);
	cap = st->kind == BLOCK_KIND_PAIR ? BLOCK_CAP_PAIR : BLOCK_CAP_SINGLE;
	nblocks = (st->n + cap - 1) / cap;
	blocks = palloc(sizeof(Datum) * nblocks);
	for (b = 0; b < nblocks; b++)
	{
		int64		k = Min(cap, st->n - b * cap);
		bytea	   *blk = palloc(VARHDRSZ + k * rec);

		SET_VARSIZE(blk, VARHDRSZ + k * rec);
		memcpy(VARDATA(blk), st->buf.data + b * cap * rec, k * rec);
		blocks[b] = PointerGetDatum(blk);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(blocks, (int) nblocks, BYTEAOID, -1, false, TYPALIGN_INT));
}

/*
 * edp_internal.trip_block_points(kind, points): the points of a block as rows
 * (x, y, x2, y2, week); x2 and y2 are 0 for kinds 1 and 2.
 */
PG_FUNCTION_INFO_V1(edp_trip_block_points);
Datum
edp_trip_block_points(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			kind = block_kind_check(PG_GETARG_INT32(0));
	bytea	   *points = PG_GETARG_BYTEA_PP(1);
	Size		rec = block_record_size(kind);
	int			n = block_count(kind, points);
	const char *p = VARDATA_ANY(points);
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < n; i++, p += rec)
	{
		float8		c[4] = {0, 0, 0, 0};
		int32		week;
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		int			nc = kind == BLOCK_KIND_PAIR ? 4 : 2;
		int			j;

		memcpy(c, p, sizeof(float8) * nc);
		memcpy(&week, p + sizeof(float8) * nc, sizeof(int32));
		for (j = 0; j < 4; j++)
			values[j] = Float8GetDatum(c[j]);
		values[4] = DateADTGetDatum(week);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* state of edp_internal.trip_block_counts: the box, its cells, the period, the counters */
typedef struct BlockCountState
{
	int			kind;
	float8		xmin,
				ymin,
				xmax,
				ymax;
	/* cells strictly between the box's edge cells hold only points inside */
	int64		cx0,
				cy0,
				cx1,
				cy1;
	DateADT		first_monday;
	int32		nweeks;
	int64	   *counts;
} BlockCountState;

static inline bool
in_box(const BlockCountState *st, float8 x, float8 y)
{
	return x >= st->xmin && x <= st->xmax && y >= st->ymin && y <= st->ymax;
}

/*
 * Whether every point of the cell lies inside the box: its numbers lie
 * strictly between those of the box's corners.  floor(v / size) is
 * monotonic in v, so a point of such a cell cannot lie left of xmin (its
 * cell number would be at most xmin's) nor right of xmax, and likewise in
 * y; rounding at the cell's edges cannot break that.
 */
static bool
cell_interior(const BlockCountState *st, int64 id)
{
	int64		cx = (int32) ((uint64) id >> 32);
	int64		cy = (int32) ((uint64) id & UINT64CONST(0xffffffff));

	return id != BLOCK_CELL_NONE && cx > st->cx0 && cx < st->cx1 && cy > st->cy0 && cy < st->cy1;
}

/*
 * edp_internal.trip_block_counts_add(state, points, c1, c2, kind, xmin, ymin, xmax,
 * ymax, cell_size, first_monday, last_monday): counts the block's points
 * inside the box (boundary included, as ST_Intersects of a point and a box)
 * per week of the period; kind 3 needs both ends inside.  c1 and c2 are the
 * block's cells (of side cell_size): blocks of interior cells count every
 * point without testing it.
 */
PG_FUNCTION_INFO_V1(edp_trip_block_counts_add);
Datum
edp_trip_block_counts_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BlockCountState *st;
	bytea	   *points;
	const char *p;
	Size		rec;
	int			nc,
				n,
				i;
	bool		inside;
	uint32		span;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "edp_trip_block_counts_add called in non-aggregate context");	/* internal error */

	st = PG_ARGISNULL(0) ? NULL : (BlockCountState *) PG_GETARG_POINTER(0);
	if (st == NULL)
	{
		MemoryContext old;
		DateADT		first,
					last;
		float8		size;

		for (i = 4; i <= 11; i++)
			if (PG_ARGISNULL(i))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("kind, box, cell size and period must not be null")));
		first = PG_GETARG_DATEADT(10);
		last = PG_GETARG_DATEADT(11);
		if (DATE_NOT_FINITE(first) || DATE_NOT_FINITE(last) || first > last ||
			(last - first) / 7 + 1 > 52 * 200)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid period from %s to %s",
							DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(first))),
							DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(last))))));
		size = PG_GETARG_FLOAT8(9);
		cell_size_check(size);
		old = MemoryContextSwitchTo(aggcontext);
		st = palloc(sizeof(BlockCountState));
		st->kind = block_kind_check(PG_GETARG_INT32(4));
		st->xmin = PG_GETARG_FLOAT8(5);
		st->ymin = PG_GETARG_FLOAT8(6);
		st->xmax = PG_GETARG_FLOAT8(7);
		st->ymax = PG_GETARG_FLOAT8(8);
		if (!cell_index(st->xmin, size, &st->cx0) || !cell_index(st->ymin, size, &st->cy0) ||
			!cell_index(st->xmax, size, &st->cx1) || !cell_index(st->ymax, size, &st->cy1))
		{
			/* no interior cells: every point is tested */
			st->cx0 = st->cy0 = PG_INT64_MAX;
			st->cx1 = st->cy1 = PG_INT64_MIN;
		}
		st->first_monday = first;
		st->nweeks = (last - first) / 7 + 1;
		st->counts = palloc0(sizeof(int64) * st->nweeks);
		MemoryContextSwitchTo(old);
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_POINTER(st);

	points = PG_GETARG_BYTEA_PP(1);
	n = block_count(st->kind, points);
	rec = block_record_size(st->kind);
	nc = st->kind == BLOCK_KIND_PAIR ? 4 : 2;
	inside = cell_interior(st, PG_GETARG_INT64(2)) &&
		(st->kind != BLOCK_KIND_PAIR || cell_interior(st, PG_GETARG_INT64(3)));
	span = (uint32) st->nweeks * 7;
	p = VARDATA_ANY(points);
	for (i = 0; i < n; i++, p += rec)
	{
		int32		week;
		uint32		d;

		if (!inside)
		{
			float8		c[4];

			memcpy(c, p, sizeof(float8) * nc);
			if (!in_box(st, c[0], c[1]) || (nc == 4 && !in_box(st, c[2], c[3])))
				continue;
		}
		memcpy(&week, p + sizeof(float8) * nc, sizeof(int32));
		/* weeks are Mondays: days since first_monday, a multiple of 7 */
		d = (uint32) (week - st->first_monday);
		if (d < span)
			st->counts[d / 7]++;
	}
	PG_RETURN_POINTER(st);
}

/* edp_internal.trip_block_counts_final(state): the counters as bigint[] */
PG_FUNCTION_INFO_V1(edp_trip_block_counts_final);
Datum
edp_trip_block_counts_final(PG_FUNCTION_ARGS)
{
	BlockCountState *st = PG_ARGISNULL(0) ? NULL : (BlockCountState *) PG_GETARG_POINTER(0);
	Datum	   *d;
	int			w;

	if (st == NULL)
		PG_RETURN_NULL();
	d = palloc(sizeof(Datum) * st->nweeks);
	for (w = 0; w < st->nweeks; w++)
		d[w] = Int64GetDatum(st->counts[w]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, st->nweeks, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
