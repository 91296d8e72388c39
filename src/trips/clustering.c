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
 * Bounded memory.  When the trips need more memory than
 * edp.trip_cluster_mem (default -1: maintenance_work_mem) allows, they go
 * to a temporary file (BufFile) as they are read and are clustered in
 * chunks: a chunk is a box of grid cells (trips/dbscan.c) and holds the
 * trips of the box (owned), of the cells one cell around it (halo) and two
 * cells around it (outer halo).  Every neighbour of an owned or halo trip
 * is one cell from it, so in the chunk the core status of owned and halo
 * trips is exact, and so are the core neighbours of owned trips.  Chunks
 * come from splitting a box into as many parts as should fit (up to
 * MAX_PARTS) at quantiles of a sample of the owned trips' cells, along the
 * dimension whose parts hold the fewest trips with their halos, and again
 * for a part that still does not fit; each split reads its file once and
 * writes the parts (halos included) to new files.
 *
 * Groups across chunks: a group of a chunk (core trips connected in it)
 * that holds a halo core trip, or an owned core trip on the box's edge
 * (one cell from outside), may go on beyond the box; it becomes a node of
 * a union-find kept for the whole call, and its edge and halo core trips
 * are entered, by trip id, in a hash table: a trip entered by two chunks
 * joins their nodes.  (Two core neighbours in different chunks are each on
 * their own box's edge and in the other's halo: both chunks enter both.)
 * A group with no such trip is complete, and its trips are returned at
 * once; the trips of other groups, and border trips next to them, wait in
 * a second temporary file until every chunk is done and the union-find
 * gives each node its group id (the smallest core trip id of all its
 * chunks' parts).  The result is the in-memory run's, trip by trip.
 *
 * What the bound covers: the trips in memory (about TRIP_BYTES each: the
 * trip, its cell, group, core flag, union-find and labels), read whole
 * when they fit, else one chunk at a time.  Beyond it: fixed buffers (one
 * SPI batch, file buffers), and the nodes and entries of groups that cross
 * chunks (about 50 bytes per core trip on a chunk's edge or halo).  A
 * single cell whose neighbourhood holds more trips than the bound cannot
 * be split and is clustered whole (counted in the DEBUG1 summary).  Rows
 * come back through the function's tuplestore, which spills past
 * work_mem.
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
#include "storage/buffile.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/compat.h"
#include "trips/trips.h"
#include "core/security.h"

#define FETCH_BATCH		10000
#define MAX_TRIPS		(1 << 30)
#define DIMS			EDP_TRIP_DIMS

/*
 * Clustering memory per trip held (trips/dbscan.c): the trip (80 bytes),
 * its sort key (24), group (8), core flag, chunk status, union-find parent
 * (4), label (8) and its share of the cells (up to 24) and of the
 * border pairs.
 */
#define TRIP_BYTES		160

/* trips whose cells a chunk samples to choose its split */
#define SAMPLE_SIZE		1024

/* most parts one split writes in its one pass over the chunk */
#define MAX_PARTS		16

/* edp.trip_cluster_mem: kB, -1 = maintenance_work_mem */
static int	edp_trip_cluster_mem = -1;

void
edp_trips_cluster_guc_init(void)
{
	DefineCustomIntVariable("edp.trip_cluster_mem",
							"Memory for the trips one edp.trip_assignments() call holds (-1: maintenance_work_mem).",
							"Trips beyond it are clustered in chunks from temporary files, with the same result; values under 64 kB count as 64 kB.",
							&edp_trip_cluster_mem,
							-1, -1, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
}

/* most trips one call holds in memory at a time */
static int64
max_trips_in_memory(void)
{
	int64		kb = edp_trip_cluster_mem >= 0 ? edp_trip_cluster_mem : maintenance_work_mem;

	kb = Max(kb, 64);
	return Max(kb * 1024 / TRIP_BYTES, 1);
}

static void
buf_read(BufFile *file, void *ptr, size_t size)
{
	if (BufFileRead(file, ptr, size) != size)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read from trip clustering temporary file: %m")));
}

static void
check_eps(double v, const char *what)
{
	if (!(v > 0) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive number", what)));
}

/*
 * Where read_trips puts the trips: an array in memory while at most
 * max_mem of them have come, then (spilled) a temporary file of
 * EdpTripPoint records, the array staying as its write buffer.
 */
typedef struct TripSink
{
	MemoryContext mcxt;
	EdpTripPoint *trips;
	int			n;				/* trips in the array */
	int			cap;
	int64		max_mem;
	BufFile    *file;			/* NULL until spilled */
	int64		total;			/* trips read */
	EdpTripGrid spec;			/* widened to every trip read */
} TripSink;

static void
sink_flush(TripSink *sink)
{
	MemoryContext old;

	if (sink->file == NULL)
	{
		old = MemoryContextSwitchTo(sink->mcxt);
		sink->file = BufFileCreateTemp(false);
		MemoryContextSwitchTo(old);
	}
	if (sink->n > 0)
		BufFileWrite(sink->file, sink->trips, sizeof(EdpTripPoint) * sink->n);
	sink->n = 0;
}

/*
 * Read (id, origin, destination, time of day) of every row of relid into
 * the sink (allocated in sink->mcxt).
 */
static void
read_trips(Oid relid, text *time_zone, TripSink *sink)
{
	EdpIdentity spi;
	char	   *relname = get_rel_name(relid);
	char	   *query;
	const char *time_of_day;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Portal		portal;
	int			cap = 1024;

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
	/*
	 * Size the array from the planner's row estimate to avoid regrowing it,
	 * but never past what may be held: beyond that, it is the buffer of
	 * the spill file.
	 */
	{
		Relation	rel = table_open(relid, AccessShareLock);

		if (rel->rd_rel->reltuples > cap && rel->rd_rel->reltuples < MAX_TRIPS)
			cap = (int) (rel->rd_rel->reltuples * 1.02) + 1024;
		table_close(rel, AccessShareLock);
	}
	if (cap > sink->max_mem)
		cap = (int) Max(sink->max_mem, FETCH_BATCH);
	sink->cap = cap;
	sink->n = 0;
	sink->total = 0;
	sink->file = NULL;
	sink->trips = MemoryContextAllocExtended(sink->mcxt, sizeof(EdpTripPoint) * cap, MCXT_ALLOC_HUGE);

	edp_spi_begin(&spi, InvalidOid, EDP_AS_CALLER);
	portal = SPI_cursor_open_with_args(NULL, query, 1, argtypes, args, NULL, true, 0);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, FETCH_BATCH);
		if (SPI_processed == 0)
			break;
		if (sink->total + SPI_processed > MAX_TRIPS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many trips to cluster"),
					 errdetail("At most %d trips can be clustered in one call.", MAX_TRIPS)));
		/*
		 * Past the bound, the trips so far go to the file; from then on the
		 * array is the file's write buffer.
		 */
		if (sink->file == NULL ?
			sink->total + (int64) SPI_processed > sink->max_mem :
			sink->n + SPI_processed > (uint64) sink->cap)
			sink_flush(sink);
		while (sink->n + SPI_processed > (uint64) sink->cap)
		{
			sink->cap *= 2;
			sink->trips = repalloc_huge(sink->trips, sizeof(EdpTripPoint) * sink->cap);
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
			EdpTripPoint *t;

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
			t = &sink->trips[sink->n++];
			edp_trip_point_set(t, DatumGetInt64(v[0]), olon, olat, dlon, dlat,
							   (double) usec / (double) USECS_PER_MINUTE);
			edp_trip_grid_add(&sink->spec, t);
		}
		sink->total += SPI_processed;
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	edp_spi_end(&spi);
	if (sink->file != NULL)
	{
		sink_flush(sink);
		pfree(sink->trips);
		sink->trips = NULL;
	}
}

/* ---- the bounded path ---- */

/* a box of cells: time slots lo..hi (no wrap inside a box), rows, columns */
typedef struct ChunkBox
{
	int64		lo[DIMS];
	int64		hi[DIMS];
} ChunkBox;

typedef struct Chunk
{
	BufFile    *file;
	ChunkBox	box;
	int64		n;				/* trips in the file (owned, halo, outer halo) */
	int64		owned;
	int32		min[DIMS];		/* cells of the owned trips */
	int32		max[DIMS];
	int32	   *sample;			/* SAMPLE_SIZE cells of the trips, every stride-th */
	bool	   *sample_owned;
	int			nsample;
	int64		stride;
	int64		skip;
} Chunk;

/* an entry of the cross-chunk table: a core trip on an edge or in a halo */
typedef struct LinkEntry
{
	int64		trip_id;		/* key */
	int64		node;
} LinkEntry;

/* a group of one chunk */
typedef struct LocalGroup
{
	int64		group_id;		/* key: smallest core trip id in the chunk's part */
	int64		node;			/* -1: complete within the chunk */
} LocalGroup;

/* a trip waiting for the union-find: its group is the smallest of these */
typedef struct PendingTrip
{
	int64		trip_id;
	int64		closed_min;		/* smallest complete group among its candidates */
	int32		nnodes;			/* nodes follow */
	bool		core;
} PendingTrip;

typedef struct Bounded
{
	EdpDbscanParams params;
	EdpTripGrid spec;			/* the cells of chunks: the grid of all trips */
	int64		max_trips;
	MemoryContext mcxt;			/* lives for the call */
	HTAB	   *links;			/* trip id -> node */
	int64	   *node_parent;
	int64	   *node_min;
	int64		nnodes;
	int64		node_cap;
	BufFile    *pending;
	int64		npending;
	ReturnSetInfo *rsinfo;
	/* for the DEBUG1 summary */
	int64		chunks;
	int64		splits;
	int64		written;
	int64		largest;
	int64		over_limit;
} Bounded;

/* distance in cells of cell coordinate k from the box along dimension d */
static int64
box_dim_distance(const Bounded *b, const ChunkBox *box, int d, int32 k)
{
	if (d == 0)
	{
		int64		t = b->spec.time_slots;
		int64		a,
					c;

		if ((box->lo[0] == 0 && box->hi[0] == t - 1) || (k >= box->lo[0] && k <= box->hi[0]))
			return 0;
		a = Abs(k - box->lo[0]);
		c = Abs(k - box->hi[0]);
		a = Min(a, t - a);
		c = Min(c, t - c);
		return Min(a, c);
	}
	if (k < box->lo[d])
		return box->lo[d] - k;
	if (k > box->hi[d])
		return k - box->hi[d];
	return 0;
}

/* EDP_CHUNK_OWNED, _HALO, _OUTER, or 3: not in the chunk */
static int
box_status(const Bounded *b, const ChunkBox *box, const int32 *k)
{
	int64		dist = 0;
	int			d;

	for (d = 0; d < DIMS; d++)
	{
		dist = Max(dist, box_dim_distance(b, box, d, k[d]));
		if (dist > EDP_CHUNK_OUTER)
			return EDP_CHUNK_OUTER + 1;
	}
	return (int) dist;
}

/* an owned cell with a neighbour cell outside the box */
static bool
box_edge(const Bounded *b, const ChunkBox *box, const int32 *k)
{
	int			d;

	if (!(box->lo[0] == 0 && box->hi[0] == b->spec.time_slots - 1) &&
		(k[0] == box->lo[0] || k[0] == box->hi[0]))
		return true;
	for (d = 1; d < DIMS; d++)
		if ((int64) k[d] - 1 < box->lo[d] || (int64) k[d] + 1 > box->hi[d])
			return true;
	return false;
}

/* a chunk of box, with no trips yet; in file, or in a new temporary file */
static void
chunk_init(Bounded *b, Chunk *c, const ChunkBox *box, BufFile *file)
{
	MemoryContext old = MemoryContextSwitchTo(b->mcxt);
	int			d;

	c->file = file ? file : BufFileCreateTemp(false);
	c->box = *box;
	c->n = 0;
	c->owned = 0;
	for (d = 0; d < DIMS; d++)
	{
		c->min[d] = PG_INT32_MAX;
		c->max[d] = PG_INT32_MIN;
	}
	c->sample = palloc(sizeof(int32) * DIMS * SAMPLE_SIZE);
	c->sample_owned = palloc(sizeof(bool) * SAMPLE_SIZE);
	c->nsample = 0;
	c->stride = 1;
	c->skip = 0;
	MemoryContextSwitchTo(old);
}

/* count a trip of the chunk (cell k) in its statistics */
static void
chunk_note(Chunk *c, const int32 *k, bool owned)
{
	int			d;

	c->n++;
	if (owned)
	{
		c->owned++;
		for (d = 0; d < DIMS; d++)
		{
			c->min[d] = Min(c->min[d], k[d]);
			c->max[d] = Max(c->max[d], k[d]);
		}
	}
	/* systematic sample: every stride-th trip, halved when full */
	if (c->skip > 0)
	{
		c->skip--;
		return;
	}
	if (c->nsample == SAMPLE_SIZE)
	{
		int			i;

		for (i = 0; i < SAMPLE_SIZE / 2; i++)
		{
			memcpy(&c->sample[i * DIMS], &c->sample[2 * i * DIMS], sizeof(int32) * DIMS);
			c->sample_owned[i] = c->sample_owned[2 * i];
		}
		c->nsample = SAMPLE_SIZE / 2;
		c->stride *= 2;
	}
	memcpy(&c->sample[c->nsample * DIMS], k, sizeof(int32) * DIMS);
	c->sample_owned[c->nsample] = owned;
	c->nsample++;
	c->skip = c->stride - 1;
}

/* write a trip of the chunk (status: its status there) */
static void
chunk_add(Bounded *b, Chunk *c, EdpTripPoint *t, const int32 *k, int status)
{
	BufFileWrite(c->file, t, sizeof(EdpTripPoint));
	b->written++;
	chunk_note(c, k, status == EDP_CHUNK_OWNED);
}

static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* a split of a chunk: parts along one dimension, cut at cuts[] */
typedef struct ChunkSplit
{
	int			dim;
	int			nparts;
	int32		cuts[MAX_PARTS - 1];	/* part i starts at cuts[i - 1] */
} ChunkSplit;

static void
split_part_box(const Chunk *c, const ChunkSplit *sp, int i, ChunkBox *box)
{
	*box = c->box;
	if (i > 0)
		box->lo[sp->dim] = sp->cuts[i - 1];
	if (i < sp->nparts - 1)
		box->hi[sp->dim] = (int64) sp->cuts[i] - 1;
}

/*
 * The split of a chunk: enough parts that each fits with its halos (up to
 * MAX_PARTS; a part that still does not fit is split again), cut at
 * quantiles of the sampled owned trips' cells along one dimension.  Of
 * the dimensions where the owned trips span more than one cell, the one
 * whose parts hold the fewest sampled trips (halos included), counting
 * twice those of parts that will need splitting again.  False when all
 * owned trips share one cell.
 */
static bool
chunk_split_choice(const Bounded *b, const Chunk *c, ChunkSplit *best)
{
	int32	   *vals = palloc(sizeof(int32) * Max(c->nsample, 1));
	int64		best_score = -1;
	int			want;
	int			d;

	want = (int) Min((c->n * 5 / 4) / Max(b->max_trips, 1) + 1, MAX_PARTS);
	want = Max(want, 2);
	for (d = 0; d < DIMS; d++)
	{
		ChunkSplit	sp;
		int			i,
					j,
					nv = 0;
		int64		score = 0;

		if (c->min[d] >= c->max[d])
			continue;
		for (i = 0; i < c->nsample; i++)
			if (c->sample_owned[i])
				vals[nv++] = c->sample[i * DIMS + d];
		qsort(vals, nv, sizeof(int32), int32_cmp);
		/* cuts in (min, max], ascending, distinct */
		sp.dim = d;
		sp.nparts = 1;
		for (j = 1; j < want; j++)
		{
			int32		m = nv > 0 ? vals[(int64) nv * j / want] : c->max[d];

			if (m <= c->min[d])
				continue;
			if (sp.nparts > 1 && m <= sp.cuts[sp.nparts - 2])
				continue;
			sp.cuts[sp.nparts - 1] = m;
			sp.nparts++;
		}
		if (sp.nparts == 1)
		{
			/* the sample saw one cell: cut below the largest */
			sp.cuts[0] = c->max[d];
			sp.nparts = 2;
		}
		for (j = 0; j < sp.nparts; j++)
		{
			ChunkBox	box;
			int64		size = 0;

			split_part_box(c, &sp, j, &box);
			for (i = 0; i < c->nsample; i++)
				size += box_status(b, &box, &c->sample[i * DIMS]) <= EDP_CHUNK_OUTER;
			score += size;
			/* parts over the bound are read and written again */
			if (c->nsample > 0 && size * c->n / c->nsample > b->max_trips)
				score += size;
		}
		if (best_score < 0 || score < best_score)
		{
			best_score = score;
			*best = sp;
		}
	}
	pfree(vals);
	return best_score >= 0;
}

static int64
node_find(Bounded *b, int64 x)
{
	while (b->node_parent[x] != x)
	{
		b->node_parent[x] = b->node_parent[b->node_parent[x]];
		x = b->node_parent[x];
	}
	return x;
}

static int64
node_new(Bounded *b, int64 group_id)
{
	if (b->nnodes == b->node_cap)
	{
		b->node_cap *= 2;
		b->node_parent = repalloc_huge(b->node_parent, sizeof(int64) * b->node_cap);
		b->node_min = repalloc_huge(b->node_min, sizeof(int64) * b->node_cap);
	}
	b->node_parent[b->nnodes] = b->nnodes;
	b->node_min[b->nnodes] = group_id;
	return b->nnodes++;
}

/* a core trip on an edge or in a halo of a chunk, in that chunk's node */
static void
node_link(Bounded *b, int64 trip_id, int64 node)
{
	bool		found;
	LinkEntry  *e = hash_search(b->links, &trip_id, HASH_ENTER, &found);

	if (!found)
		e->node = node;
	else
	{
		int64		x = node_find(b, e->node);
		int64		y = node_find(b, node);

		if (x != y)
		{
			if (y < x)
			{
				int64		t = x;

				x = y;
				y = t;
			}
			b->node_parent[y] = x;
			b->node_min[x] = Min(b->node_min[x], b->node_min[y]);
		}
	}
}

static void
put_assignment(Bounded *b, int64 trip_id, int64 group_id, bool core)
{
	Datum		values[3];
	bool		nulls[3] = {false, group_id < 0 || group_id == PG_INT64_MAX, false};

	values[0] = Int64GetDatum(trip_id);
	values[1] = Int64GetDatum(group_id);
	values[2] = BoolGetDatum(core);
	tuplestore_putvalues(b->rsinfo->setResult, b->rsinfo->setDesc, values, nulls);
}

static void
put_pending(Bounded *b, int64 trip_id, bool core, int64 closed_min, const int64 *nodes, int nnodes)
{
	PendingTrip p;

	if (b->pending == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(b->mcxt);

		b->pending = BufFileCreateTemp(false);
		MemoryContextSwitchTo(old);
	}
	memset(&p, 0, sizeof(p));
	p.trip_id = trip_id;
	p.core = core;
	p.closed_min = closed_min;
	p.nnodes = nnodes;
	BufFileWrite(b->pending, &p, sizeof(p));
	BufFileWrite(b->pending, (void *) nodes, sizeof(int64) * nnodes);
	b->npending++;
}

/* cluster one chunk in memory and hand its owned trips on */
static void
chunk_cluster(Bounded *b, Chunk *c)
{
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "edp trip clustering chunk",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ctx);
	int			n = (int) c->n;
	EdpTripPoint *trips = palloc_extended(sizeof(EdpTripPoint) * Max(n, 1), MCXT_ALLOC_HUGE);
	uint8	   *status = palloc_extended(Max(n, 1), MCXT_ALLOC_HUGE);
	uint8	   *edge = palloc_extended(Max(n, 1), MCXT_ALLOC_HUGE);
	int64	   *group = palloc_extended(sizeof(int64) * Max(n, 1), MCXT_ALLOC_HUGE);
	bool	   *core = palloc_extended(sizeof(bool) * Max(n, 1), MCXT_ALLOC_HUGE);
	int64	   *nodes = palloc(sizeof(int64) * Max(b->params.min_trips, 1));
	EdpDbscanChunk chunk;
	HASHCTL		hctl;
	HTAB	   *local;
	int64		pi = 0;
	int			i;

	b->chunks++;
	b->largest = Max(b->largest, c->n);
	if (c->n > b->max_trips)
		b->over_limit++;
	if (BufFileSeek(c->file, 0, 0, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rewind trip clustering temporary file: %m")));
	if (n > 0)
		buf_read(c->file, trips, sizeof(EdpTripPoint) * n);
	BufFileClose(c->file);
	c->file = NULL;
	for (i = 0; i < n; i++)
	{
		int32		k[DIMS];

		edp_trip_grid_cell(&b->spec, &trips[i], k);
		status[i] = (uint8) box_status(b, &c->box, k);
		Assert(status[i] <= EDP_CHUNK_OUTER);
	}
	chunk.status = status;
	edp_trip_dbscan(trips, n, &b->params, group, core, &chunk);

	/* the chunk's groups, and which of them may go on beyond the box */
	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = sizeof(int64);
	hctl.entrysize = sizeof(LocalGroup);
	hctl.hcxt = ctx;
	local = hash_create("edp trip clustering chunk groups", 1024, &hctl,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = 0; i < n; i++)
	{
		LocalGroup *g;
		bool		found;

		edge[i] = false;
		if (!core[i])
			continue;
		if (status[i] == EDP_CHUNK_HALO)
			edge[i] = true;
		else if (status[i] == EDP_CHUNK_OWNED)
		{
			int32		k[DIMS];

			edp_trip_grid_cell(&b->spec, &trips[i], k);
			edge[i] = box_edge(b, &c->box, k);
		}
		g = hash_search(local, &group[i], HASH_ENTER, &found);
		if (!found)
			g->node = -1;
		if (edge[i] && g->node < 0)
		{
			MemoryContextSwitchTo(b->mcxt);
			g->node = node_new(b, group[i]);
			MemoryContextSwitchTo(ctx);
		}
	}
	MemoryContextSwitchTo(b->mcxt);
	for (i = 0; i < n; i++)
		if (edge[i])
		{
			LocalGroup *g = hash_search(local, &group[i], HASH_FIND, NULL);

			node_link(b, trips[i].id, g->node);
		}
	MemoryContextSwitchTo(ctx);

	/* the owned trips: complete groups now, the others at the end */
	for (i = 0; i < n; i++)
	{
		int64		closed_min = PG_INT64_MAX;
		int			nn = 0;
		bool		any = false;

		if (status[i] != EDP_CHUNK_OWNED)
		{
			Assert(pi >= chunk.npairs || chunk.pairs[2 * pi] != i);
			continue;
		}
		if (core[i])
		{
			LocalGroup *g = hash_search(local, &group[i], HASH_FIND, NULL);

			if (g->node < 0)
				put_assignment(b, trips[i].id, group[i], true);
			else
				put_pending(b, trips[i].id, true, PG_INT64_MAX, &g->node, 1);
			continue;
		}
		/* a border trip joins the smallest group among its core neighbours' */
		for (; pi < chunk.npairs && chunk.pairs[2 * pi] == i; pi++)
		{
			int32		q = chunk.pairs[2 * pi + 1];
			LocalGroup *g;
			int			j;

			if (!core[q])
				continue;
			any = true;
			g = hash_search(local, &group[q], HASH_FIND, NULL);
			if (g->node < 0)
			{
				closed_min = Min(closed_min, group[q]);
				continue;
			}
			for (j = 0; j < nn; j++)
				if (nodes[j] == g->node)
					break;
			if (j == nn)
				nodes[nn++] = g->node;
		}
		if (!any)
			put_assignment(b, trips[i].id, -1, false);
		else if (nn == 0)
			put_assignment(b, trips[i].id, closed_min, false);
		else
			put_pending(b, trips[i].id, false, closed_min, nodes, nn);
	}
	if (chunk.pairs)
		pfree(chunk.pairs);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
}

/* cluster a chunk: split it while it does not fit, else in memory */
static void
chunk_process(Bounded *b, Chunk *c)
{
	ChunkSplit	sp;
	Chunk	   *parts;
	ChunkBox	boxes[MAX_PARTS];
	int64		i;
	int			j;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	memset(&sp, 0, sizeof(sp));
	if (c->n <= b->max_trips || !chunk_split_choice(b, c, &sp))
	{
		pfree(c->sample);
		pfree(c->sample_owned);
		chunk_cluster(b, c);
		return;
	}
	pfree(c->sample);
	pfree(c->sample_owned);
	parts = palloc(sizeof(Chunk) * sp.nparts);
	for (j = 0; j < sp.nparts; j++)
	{
		split_part_box(c, &sp, j, &boxes[j]);
		chunk_init(b, &parts[j], &boxes[j], NULL);
	}
	if (BufFileSeek(c->file, 0, 0, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rewind trip clustering temporary file: %m")));
	for (i = 0; i < c->n; i++)
	{
		EdpTripPoint t;
		int32		k[DIMS];
		int64		rest = 0;
		int			d;

		buf_read(c->file, &t, sizeof(t));
		edp_trip_grid_cell(&b->spec, &t, k);
		/* the parts differ in sp.dim only */
		for (d = 0; d < DIMS; d++)
			if (d != sp.dim)
				rest = Max(rest, box_dim_distance(b, &c->box, d, k[d]));
		for (j = 0; j < sp.nparts; j++)
		{
			int64		s = Max(rest, box_dim_distance(b, &boxes[j], sp.dim, k[sp.dim]));

			if (s <= EDP_CHUNK_OUTER)
				chunk_add(b, &parts[j], &t, k, (int) s);
		}
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	BufFileClose(c->file);
	c->file = NULL;
	b->splits++;
	for (j = 0; j < sp.nparts; j++)
		chunk_process(b, &parts[j]);
	pfree(parts);
}

/*
 * Cluster the trips of sink->file (sink->total of them) in chunks, putting
 * the assignments into rsinfo's tuplestore.
 */
static void
cluster_bounded(TripSink *sink, const EdpDbscanParams *params, ReturnSetInfo *rsinfo)
{
	Bounded		b;
	Chunk		root;
	ChunkBox	box;
	HASHCTL		hctl;
	MemoryContext old;
	int64		i;
	int			d;

	memset(&b, 0, sizeof(b));
	b.params = *params;
	b.spec = sink->spec;
	b.max_trips = sink->max_mem;
	b.mcxt = sink->mcxt;
	b.rsinfo = rsinfo;
	old = MemoryContextSwitchTo(b.mcxt);
	b.node_cap = 1024;
	b.node_parent = palloc(sizeof(int64) * b.node_cap);
	b.node_min = palloc(sizeof(int64) * b.node_cap);
	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = sizeof(int64);
	hctl.entrysize = sizeof(LinkEntry);
	hctl.hcxt = b.mcxt;
	b.links = hash_create("edp trip clustering links", 1024, &hctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	MemoryContextSwitchTo(old);

	/* the root chunk: every cell; its file is the one read_trips wrote */
	box.lo[0] = 0;
	box.hi[0] = b.spec.time_slots - 1;
	for (d = 1; d < DIMS; d++)
	{
		box.lo[d] = PG_INT32_MIN;
		box.hi[d] = PG_INT32_MAX;
	}
	chunk_init(&b, &root, &box, sink->file);
	sink->file = NULL;
	if (BufFileSeek(root.file, 0, 0, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rewind trip clustering temporary file: %m")));
	for (i = 0; i < sink->total; i++)
	{
		EdpTripPoint t;
		int32		k[DIMS];

		buf_read(root.file, &t, sizeof(t));
		edp_trip_grid_cell(&b.spec, &t, k);
		chunk_note(&root, k, true);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	chunk_process(&b, &root);

	/* the trips that waited: their nodes' group ids are final now */
	if (b.pending != NULL)
	{
		int64	   *nodes = palloc(sizeof(int64) * Max(params->min_trips, 1));

		if (BufFileSeek(b.pending, 0, 0, SEEK_SET) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not rewind trip clustering temporary file: %m")));
		for (i = 0; i < b.npending; i++)
		{
			PendingTrip p;
			int64		label;
			int			j;

			buf_read(b.pending, &p, sizeof(p));
			if (p.nnodes < 1 || p.nnodes > Max(params->min_trips, 1))
				elog(ERROR, "corrupt trip clustering temporary file");	/* internal error */
			buf_read(b.pending, nodes, sizeof(int64) * p.nnodes);
			label = p.closed_min;
			for (j = 0; j < p.nnodes; j++)
				label = Min(label, b.node_min[node_find(&b, nodes[j])]);
			put_assignment(&b, p.trip_id, label, p.core);
		}
		BufFileClose(b.pending);
		pfree(nodes);
	}
	ereport(DEBUG1,
			(errmsg_internal("edp.trip_assignments: " INT64_FORMAT " trips over the memory bound of " INT64_FORMAT " trips: "
							 INT64_FORMAT " chunks (largest " INT64_FORMAT " trips, " INT64_FORMAT " over the bound), "
							 INT64_FORMAT " splits, " INT64_FORMAT " trips written to temporary files, "
							 INT64_FORMAT " groups and " INT64_FORMAT " trips linking chunks, " INT64_FORMAT " trips waiting",
							 sink->total, b.max_trips, b.chunks, b.largest, b.over_limit, b.splits,
							 b.written + sink->total, b.nnodes, (int64) hash_get_num_entries(b.links),
							 b.npending)));
	hash_destroy(b.links);
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
	TripSink	sink;
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
	memset(&sink, 0, sizeof(sink));
	sink.mcxt = work;
	sink.max_mem = max_trips_in_memory();
	edp_trip_grid_init(&sink.spec, NULL, 0, &params);
	read_trips(PG_GETARG_OID(0), PG_GETARG_TEXT_PP(5), &sink);

	if (sink.file != NULL)
	{
		cluster_bounded(&sink, &params, rsinfo);
		MemoryContextDelete(work);
		return (Datum) 0;
	}

	n = sink.n;
	old = MemoryContextSwitchTo(work);
	group = palloc_extended(sizeof(int64) * Max(n, 1), MCXT_ALLOC_HUGE);
	core = palloc_extended(sizeof(bool) * Max(n, 1), MCXT_ALLOC_HUGE);
	edp_trip_dbscan(sink.trips, n, &params, group, core, NULL);
	MemoryContextSwitchTo(old);

	for (i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, group[i] < 0, false};

		values[0] = Int64GetDatum(sink.trips[i].id);
		values[1] = Int64GetDatum(group[i]);
		values[2] = BoolGetDatum(core[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(work);
	return (Datum) 0;
}
