/*-------------------------------------------------------------------------
 *
 * trips/dbscan.c
 *		Grid-accelerated DBSCAN over trips: two trips are neighbours when
 *		their origins are within eps_origin metres, their destinations
 *		within eps_destination metres and their times of day (circular,
 *		23:50 and 00:10 are 20 minutes apart) within eps_minutes, i.e.
 *		max(d_o/eps_o, d_d/eps_d, d_t/eps_t) <= 1.
 *
 * Semantics (the reference a brute-force O(n^2) DBSCAN in the tests
 * reproduces):
 *	- a trip is core when at least min_trips trips (itself included) are
 *	  its neighbours;
 *	- core trips that are neighbours belong to the same group (transitively);
 *	- a group's id is the smallest trip id among its core trips;
 *	- a non-core trip with core neighbours is a border trip and joins the
 *	  group with the smallest id among its core neighbours' groups;
 *	- every other trip is noise (-1).
 * The result depends only on the set of trips, never on their order.
 *
 * The grid: each trip falls in a 5-dimensional cell (origin row and
 * column, destination row and column, time slot) whose sides are at
 * least eps in the metric above: rows use the smallest meridional radius
 * of WGS 84 (at the equator), columns the smallest parallel radius among
 * the data's points, time slots are 1440/floor(1440/eps_t) minutes.  Two
 * neighbours are therefore never more than one cell apart in any
 * dimension, so a trip's neighbours are all in the 3^5 = 243 cells around
 * its own (time slots wrap at midnight).  Trips are sorted by cell and the
 * neighbour cells are found once per cell, not per trip, by a trie descent
 * of the sorted cells over time and origin, then runs of destination cells
 * (grid_neighbours).  Expected work is O(n) for
 * bounded density; memory is O(n) (about 150 bytes per trip).  Past a
 * memory bound, trips/clustering.c runs this over chunks of cells with
 * their halos (EdpDbscanChunk): core status for the trips of the chunk's
 * box and one cell around it, groups within the chunk, and the
 * neighbours of the box's non-core trips for the caller's border rule.
 *
 * Longitudes are not wrapped at +-180 degrees: trips whose ends straddle
 * the antimeridian are not neighbours.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "trips/trips.h"

#define DIMS			5
#define TIME_DIM		0		/* first: it prunes best (see grid_neighbours) */
#define TRIE_DIMS		3		/* time, origin row and column; then the destination */
#define MINUTES_PER_DAY	1440.0

typedef struct CellKey
{
	int32		k[DIMS];
	int32		idx;			/* trip index before sorting */
} CellKey;

typedef struct Grid
{
	int			ncells;
	int32	   *cell_start;		/* ncells + 1 offsets into the sorted trips */
	int32	   *cell_key;		/* ncells * TRIE_DIMS: time, origin row, column */
	int64	   *cell_dest;		/* ncells: destination row and column (dest_pack) */
	int			time_slots;		/* 1: time never separates cells */
} Grid;

typedef struct Metric
{
	double		eps_o2;
	double		eps_d2;
	double		eps_t;
} Metric;

void
edp_trip_point_set(EdpTripPoint *t, int64 id, double olon, double olat,
				   double dlon, double dlat, double minutes)
{
	t->id = id;
	t->o_phi = olat * (M_PI / 180.0);
	t->o_lam = olon * (M_PI / 180.0);
	edp_wgs84_radii(olat, &t->o_m, &t->o_p);
	t->d_phi = dlat * (M_PI / 180.0);
	t->d_lam = dlon * (M_PI / 180.0);
	edp_wgs84_radii(dlat, &t->d_m, &t->d_p);
	t->tod = minutes;
}

/* the neighbour relation (symmetric, reflexive) */
static inline bool
trips_within(const EdpTripPoint *a, const EdpTripPoint *b, const Metric *m)
{
	double		dt = fabs(a->tod - b->tod);
	double		dx,
				dy;

	if (dt > MINUTES_PER_DAY / 2)
		dt = MINUTES_PER_DAY - dt;
	if (dt > m->eps_t)
		return false;
	dy = (a->o_m + b->o_m) * 0.5 * (a->o_phi - b->o_phi);
	dx = (a->o_p + b->o_p) * 0.5 * (a->o_lam - b->o_lam);
	if (dx * dx + dy * dy > m->eps_o2)
		return false;
	dy = (a->d_m + b->d_m) * 0.5 * (a->d_phi - b->d_phi);
	dx = (a->d_p + b->d_p) * 0.5 * (a->d_lam - b->d_lam);
	return dx * dx + dy * dy <= m->eps_d2;
}

static inline int
cellkey_cmp(const CellKey *x, const CellKey *y)
{
	int			i;

	for (i = 0; i < DIMS; i++)
		if (x->k[i] != y->k[i])
			return x->k[i] < y->k[i] ? -1 : 1;
	return x->idx < y->idx ? -1 : (x->idx > y->idx ? 1 : 0);
}

/* sort_cellkeys(): qsort specialized for CellKey with an inlined comparison */
#define ST_SORT sort_cellkeys
#define ST_ELEMENT_TYPE CellKey
#define ST_COMPARE(a, b) cellkey_cmp(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Destination row and column as one int64 that sorts like the pair, so the
 * last two levels of the neighbour search are one search on one array.
 */
static inline int64
dest_pack(int32 row, int32 col)
{
	return (int64) row * (INT64CONST(1) << 32) + ((int64) col + INT64CONST(2147483648));
}

static inline void
dest_unpack(int64 key, int32 *row, int32 *col)
{
	int64		low = key & INT64CONST(0xFFFFFFFF);

	*row = (int32) ((key - low) / (INT64CONST(1) << 32));
	*col = (int32) (low - INT64CONST(2147483648));
}

/* grid coordinate, refusing cells so small that they overflow int32 */
static int32
grid_coord(double v)
{
	double		f = floor(v);

	if (!(f > -2147483000.0 && f < 2147483000.0))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("clustering distance is too small for the extent of the trips")));
	return (int32) f;
}

/* first cell in [lo, hi) whose coordinate d is >= v (cells sorted by key) */
static inline int
grid_lower_bound(const Grid *g, int lo, int hi, int d, int32 v)
{
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (g->cell_key[mid * TRIE_DIMS + d] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Neighbour cells by descending the sorted cell array as a trie: after
 * level d, the frontier holds the ranges of cells whose first d
 * coordinates are each within one of the cell's (time slots wrap); empty
 * prefixes drop out at once, which keeps sparse data cheap.  Cells are
 * visited in sorted order, so consecutive cells share leading
 * coordinates and the frontiers of those levels are reused: only the
 * levels from the first differing coordinate on are recomputed.  And
 * while the frontier of a level is reused, the cell's coordinate there
 * only grows (cells ascend), so each range's searches gallop on from
 * where the previous cell's ended (from[][]) instead of bisecting the
 * whole range again: with about one trip per cell, that bisecting was
 * most of the clustering's time.
 */
typedef struct NeighbourCursor
{
	bool		valid;
	int32		key[TRIE_DIMS]; /* key the frontiers were built for */
	int			n[TRIE_DIMS + 1];
	int32		lo[TRIE_DIMS + 1][27];
	int32		hi[TRIE_DIMS + 1][27];
	int32		from[TRIE_DIMS + 1][27];	/* where the next search in the range
											 * starts */
} NeighbourCursor;

/*
 * First cell in [from, hi) whose coordinate d is >= v, galloping from
 * `from': the searches within one range start where the previous one
 * ended (see frontier_expand), so the answer is usually a few cells on
 * and a full binary search over the range would waste most of its steps.
 */
static inline int
grid_gallop(const Grid *g, int from, int hi, int d, int32 v)
{
	int			step = 1;
	int			lo = from;

	while (from < hi && g->cell_key[from * TRIE_DIMS + d] < v)
	{
		lo = from + 1;
		from += step;
		step *= 2;
	}
	return grid_lower_bound(g, lo, Min(from, hi), d, v);
}

static void
frontier_expand(const Grid *g, NeighbourCursor *nc, int d, int32 kd)
{
	int32		vals[3];
	int			nvals = 0;
	int			r,
				i;

	if (d == TIME_DIM)
	{
		vals[nvals++] = kd;
		if (g->time_slots >= 3)
		{
			vals[nvals++] = (kd + g->time_slots - 1) % g->time_slots;
			vals[nvals++] = (kd + 1) % g->time_slots;
		}
		/* ascending, so the cells come out sorted */
		for (i = 1; i < nvals; i++)
		{
			int32		v = vals[i];
			int			j;

			for (j = i; j > 0 && vals[j - 1] > v; j--)
				vals[j] = vals[j - 1];
			vals[j] = v;
		}
	}
	else
	{
		vals[nvals++] = kd - 1;
		vals[nvals++] = kd;
		vals[nvals++] = kd + 1;
	}

	nc->n[d + 1] = 0;
	for (r = 0; r < nc->n[d]; r++)
	{
		/* time slots wrap, so they do not ascend: search the whole range */
		int			lo = (d == TIME_DIM) ? nc->lo[d][r] : nc->from[d][r];
		int			hi = nc->hi[d][r];
		bool		first = true;

		if (hi - lo <= 8)
		{
			/* short run: one linear pass beats binary searches */
			int			a = lo;

			while (a < hi)
			{
				int32		v = g->cell_key[a * TRIE_DIMS + d];
				int			b = a + 1;

				while (b < hi && g->cell_key[b * TRIE_DIMS + d] == v)
					b++;
				if (v < vals[0])
					nc->from[d][r] = b; /* later cells need v >= vals[0] too */
				else if (v == vals[0] || (nvals > 1 && (v == vals[1] || v == vals[2])))
				{
					nc->lo[d + 1][nc->n[d + 1]] = a;
					nc->hi[d + 1][nc->n[d + 1]] = b;
					nc->from[d + 1][nc->n[d + 1]] = a;
					nc->n[d + 1]++;
				}
				else if (v > vals[nvals - 1])
					break;
				a = b;
			}
			continue;
		}
		for (i = 0; i < nvals && lo < hi; i++)
		{
			int			a = grid_gallop(g, lo, hi, d, vals[i]);
			int			b;

			if (first)
			{
				/* the next cell's smallest value is >= vals[0] */
				nc->from[d][r] = a;
				first = false;
			}
			if (a >= hi || g->cell_key[a * TRIE_DIMS + d] != vals[i])
			{
				lo = a;
				continue;
			}
			b = grid_gallop(g, a, hi, d, vals[i] + 1);
			nc->lo[d + 1][nc->n[d + 1]] = a;
			nc->hi[d + 1][nc->n[d + 1]] = b;
			nc->from[d + 1][nc->n[d + 1]] = a;
			nc->n[d + 1]++;
			lo = b;				/* values ascend: search on after this run */
		}
	}
}

/* first cell in [from, hi) whose destination key is >= v, galloping */
static inline int
dest_gallop(const Grid *g, int from, int hi, int64 v)
{
	int			step = 1;
	int			lo = from;

	while (from < hi && g->cell_dest[from] < v)
	{
		lo = from + 1;
		from += step;
		step *= 2;
	}
	hi = Min(from, hi);
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (g->cell_dest[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Cells of the neighbours of cell c (c itself included), ascending; returns
 * how many.  With `forward', ranges wholly before c are skipped (callers
 * that take each pair of cells once need only the cells from c on; some
 * cells before c may still come).  Call with the cells in ascending order
 * for the reuse to pay.
 *
 * The trie descends the first TRIE_DIMS levels; each range left then holds
 * the cells of one (time slot, origin row, origin column), sorted by
 * destination (row, column), and the neighbours in it are three runs, one
 * per destination row, found by galloping on the packed destination key.
 * (With about one trip per cell, one level per destination coordinate
 * meant twice as many short ranges to walk.)
 */
static int
grid_neighbours(const Grid *g, NeighbourCursor *nc, int c, bool forward, int32 *out)
{
	const int32 *k = &g->cell_key[c * TRIE_DIMS];
	int32		drow,
				dcol;
	int64		first;
	int			d = 0;
	int			nout = 0;
	int			r;

	if (nc->valid)
		while (d < TRIE_DIMS && nc->key[d] == k[d])
			d++;
	else
	{
		nc->n[0] = 1;
		nc->lo[0][0] = 0;
		nc->hi[0][0] = g->ncells;
		nc->from[0][0] = 0;
		nc->valid = true;
	}
	for (; d < TRIE_DIMS; d++)
	{
		nc->key[d] = k[d];
		frontier_expand(g, nc, d, k[d]);
	}

	dest_unpack(g->cell_dest[c], &drow, &dcol);
	first = dest_pack(drow - 1, dcol - 1);
	for (r = 0; r < nc->n[TRIE_DIMS]; r++)
	{
		int			q = nc->from[TRIE_DIMS][r];
		int			hi = nc->hi[TRIE_DIMS][r];
		int32		row;

		if (forward && hi <= c)
			continue;
		/* cells of one frontier range ascend, so `first' only grows */
		q = dest_gallop(g, q, hi, first);
		nc->from[TRIE_DIMS][r] = q;
		for (row = drow - 1; row <= drow + 1 && q < hi; row++)
		{
			int64		last = dest_pack(row, dcol + 1);

			if (row > drow - 1)
				q = dest_gallop(g, q, hi, dest_pack(row, dcol - 1));
			while (q < hi && g->cell_dest[q] <= last)
				out[nout++] = q++;
		}
	}
	return nout;
}

static inline int32
uf_find(int32 *parent, int32 x)
{
	while (parent[x] != x)
	{
		parent[x] = parent[parent[x]];
		x = parent[x];
	}
	return x;
}

/*
 * The grid of a set of trips: the smallest parallel radii among them and
 * the time slots of eps_minutes (see the file header).
 */
void
edp_trip_grid_init(EdpTripGrid *spec, const EdpTripPoint *trips, int64 n,
				   const EdpDbscanParams *params)
{
	int64		i;

	spec->eps_origin_m = params->eps_origin_m;
	spec->eps_destination_m = params->eps_destination_m;
	spec->po_min = INFINITY;
	spec->pd_min = INFINITY;
	for (i = 0; i < n; i++)
		edp_trip_grid_add(spec, &trips[i]);
	spec->time_slots = (int) floor(MINUTES_PER_DAY / params->eps_minutes);
	if (spec->time_slots < 3)
		spec->time_slots = 1;
	spec->slot = MINUTES_PER_DAY / spec->time_slots;
}

/* widen the grid's smallest parallel radii to one more trip */
void
edp_trip_grid_add(EdpTripGrid *spec, const EdpTripPoint *t)
{
	spec->po_min = Min(spec->po_min, t->o_p);
	spec->pd_min = Min(spec->pd_min, t->d_p);
}

/* the cell of a trip: k[0] time slot, then origin and destination row, column */
void
edp_trip_grid_cell(const EdpTripGrid *spec, const EdpTripPoint *t, int32 *k)
{
	const double m_min = EDP_WGS84_A * (1.0 - EDP_WGS84_E2);	/* at the equator */
	int			ts = (int) (t->tod / spec->slot);

	k[TIME_DIM] = Min(Max(ts, 0), spec->time_slots - 1);
	k[1] = grid_coord(t->o_phi * m_min / spec->eps_origin_m);
	k[2] = grid_coord(t->o_lam * spec->po_min / spec->eps_origin_m);
	k[3] = grid_coord(t->d_phi * m_min / spec->eps_destination_m);
	k[4] = grid_coord(t->d_lam * spec->pd_min / spec->eps_destination_m);
}

static void
grid_build(Grid *g, EdpTripPoint *trips, uint8 *status, int n, const EdpDbscanParams *params)
{
	EdpTripGrid spec;
	CellKey    *keys;
	int			i,
				c;

	edp_trip_grid_init(&spec, trips, n, params);
	g->time_slots = spec.time_slots;

	keys = palloc_extended(sizeof(CellKey) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (i = 0; i < n; i++)
	{
		edp_trip_grid_cell(&spec, &trips[i], keys[i].k);
		keys[i].idx = i;
	}
	sort_cellkeys(keys, n);
	CHECK_FOR_INTERRUPTS();

	/*
	 * Trips in cell order, for locality: apply the permutation in place,
	 * cycle by cycle (trips[i] <- trips[keys[i].idx]), marking each done
	 * position with idx = -1; no second copy of the trips.  The statuses
	 * of a chunk (if any) move with their trips.
	 */
	for (i = 0; i < n; i++)
	{
		EdpTripPoint first;
		uint8		first_status = 0;
		int			j = i;

		if (keys[i].idx < 0 || keys[i].idx == i)
			continue;
		first = trips[i];
		if (status)
			first_status = status[i];
		for (;;)
		{
			int			k = keys[j].idx;

			keys[j].idx = -1;
			if (k == i)
			{
				trips[j] = first;
				if (status)
					status[j] = first_status;
				break;
			}
			trips[j] = trips[k];
			if (status)
				status[j] = status[k];
			j = k;
		}
	}

	g->ncells = 0;
	for (i = 0; i < n; i++)
		if (i == 0 || memcmp(keys[i].k, keys[i - 1].k, sizeof(int32) * DIMS) != 0)
			g->ncells++;
	g->cell_start = palloc_extended(sizeof(int32) * (g->ncells + 1), MCXT_ALLOC_HUGE);
	g->cell_key = palloc_extended(sizeof(int32) * TRIE_DIMS * Max(g->ncells, 1), MCXT_ALLOC_HUGE);
	g->cell_dest = palloc_extended(sizeof(int64) * Max(g->ncells, 1), MCXT_ALLOC_HUGE);
	c = 0;
	for (i = 0; i < n; i++)
		if (i == 0 || memcmp(keys[i].k, keys[i - 1].k, sizeof(int32) * DIMS) != 0)
		{
			g->cell_start[c] = i;
			memcpy(&g->cell_key[c * TRIE_DIMS], keys[i].k, sizeof(int32) * TRIE_DIMS);
			g->cell_dest[c] = dest_pack(keys[i].k[3], keys[i].k[4]);
			c++;
		}
	g->cell_start[g->ncells] = n;
	pfree(keys);
}

void
edp_trip_dbscan(EdpTripPoint *trips, int n, const EdpDbscanParams *params,
				int64 *group, bool *core, EdpDbscanChunk *chunk)
{
	uint8	   *status = chunk ? chunk->status : NULL;
	Grid		g;
	Metric		m;
	int32	   *parent;
	int64	   *label;
	int32		nb[243];
	NeighbourCursor *cursor = palloc(sizeof(NeighbourCursor));
	int32	   *buf;
	int32	   *pairs;			/* (non-core trip, neighbour) pairs */
	int64		npairs = 0;
	int64		pairs_cap;
	int64		i;
	int			c;

	if (chunk)
	{
		chunk->pairs = NULL;
		chunk->npairs = 0;
	}
	if (n <= 0)
		return;
	m.eps_o2 = params->eps_origin_m * params->eps_origin_m;
	m.eps_d2 = params->eps_destination_m * params->eps_destination_m;
	m.eps_t = params->eps_minutes;

	grid_build(&g, trips, status, n, params);

	/*
	 * 1. core trips: count neighbours until min_trips is reached.  A trip
	 * that stays below min_trips has had all its neighbours enumerated;
	 * they are kept (fewer than min_trips per trip) for step 4.
	 */
	cursor->valid = false;
	memset(core, 0, sizeof(bool) * n);
	buf = palloc(sizeof(int32) * params->min_trips);
	pairs_cap = 1024;
	pairs = palloc_extended(sizeof(int32) * 2 * pairs_cap, MCXT_ALLOC_HUGE);
	for (c = 0; c < g.ncells; c++)
	{
		int			nnb = grid_neighbours(&g, cursor, c, false, nb);
		int			p;
		int			j;

		CHECK_FOR_INTERRUPTS();
		/* own cell first: its trips are the likeliest neighbours (early exit) */
		for (j = 0; j < nnb; j++)
			if (nb[j] == c)
			{
				nb[j] = nb[0];
				nb[0] = c;
				break;
			}
		for (p = g.cell_start[c]; p < g.cell_start[c + 1]; p++)
		{
			int			count = 0;

			/* in a chunk, the outer halo's trips only count for others */
			if (status && status[p] > EDP_CHUNK_HALO)
				continue;
			for (j = 0; j < nnb && count < params->min_trips; j++)
			{
				int			q;

				for (q = g.cell_start[nb[j]]; q < g.cell_start[nb[j] + 1]; q++)
					if (trips_within(&trips[p], &trips[q], &m))
					{
						buf[count] = q;
						if (++count >= params->min_trips)
							break;
					}
			}
			core[p] = (count >= params->min_trips);
			if (!core[p] && (status == NULL || status[p] == EDP_CHUNK_OWNED))
			{
				if (npairs + count > pairs_cap)
				{
					pairs_cap = Max(pairs_cap * 2, npairs + count);
					pairs = repalloc_huge(pairs, sizeof(int32) * 2 * pairs_cap);
				}
				for (j = 0; j < count; j++)
					if (buf[j] != p)
					{
						pairs[2 * npairs] = p;
						pairs[2 * npairs + 1] = buf[j];
						npairs++;
					}
			}
		}
	}
	pfree(buf);

	/* 2. connect neighbouring core trips (each pair of cells once) */
	parent = palloc_extended(sizeof(int32) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (c = 0; c < n; c++)
		parent[c] = c;
	cursor->valid = false;
	for (c = 0; c < g.ncells; c++)
	{
		int			nnb = -1;
		int			p;

		CHECK_FOR_INTERRUPTS();
		for (p = g.cell_start[c]; p < g.cell_start[c + 1]; p++)
		{
			int32		rp;
			int			j;

			if (!core[p])
				continue;
			if (nnb < 0)
				nnb = grid_neighbours(&g, cursor, c, true, nb);
			rp = uf_find(parent, p);	/* kept current below */
			for (j = 0; j < nnb; j++)
			{
				int			q;

				if (nb[j] < c)
					continue;
				q = (nb[j] == c) ? p + 1 : g.cell_start[nb[j]];
				for (; q < g.cell_start[nb[j] + 1]; q++)
				{
					int32		rq;

					if (!core[q])
						continue;
					rq = uf_find(parent, q);
					if (rp != rq && trips_within(&trips[p], &trips[q], &m))
					{
						if (rp < rq)
							parent[rq] = rp;
						else
						{
							parent[rp] = rq;
							rp = rq;
						}
					}
				}
			}
		}
	}

	/* 3. group id = smallest trip id among the group's core trips */
	label = palloc_extended(sizeof(int64) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (c = 0; c < n; c++)
		label[c] = PG_INT64_MAX;
	for (c = 0; c < n; c++)
		if (core[c])
		{
			int32		r = uf_find(parent, c);

			label[r] = Min(label[r], trips[c].id);
		}
	for (c = 0; c < n; c++)
		group[c] = core[c] ? label[uf_find(parent, c)] : -1;

	/*
	 * 4. border trips join the smallest group among their core neighbours;
	 * in a chunk, some of those groups go on in other chunks: the caller
	 * resolves them from the pairs.
	 */
	if (chunk)
	{
		chunk->pairs = pairs;
		chunk->npairs = npairs;
		pairs = NULL;
		npairs = 0;
	}
	for (i = 0; i < npairs; i++)
	{
		int32		p = pairs[2 * i];
		int32		q = pairs[2 * i + 1];

		if (core[q] && (group[p] < 0 || group[q] < group[p]))
			group[p] = group[q];
	}
	if (pairs)
		pfree(pairs);

	pfree(cursor);
	pfree(label);
	pfree(parent);
	pfree(g.cell_key);
	pfree(g.cell_dest);
	pfree(g.cell_start);
}
