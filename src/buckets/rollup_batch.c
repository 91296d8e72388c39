/*-------------------------------------------------------------------------
 *
 * buckets/rollup_batch.c
 *		One pass in C over a statement's transition table: the rollup
 *		delta per (key, chunk) and, for dedupe, the rows that may repeat
 *		an event.
 *
 * The SQL form of this work (an aggregate over the transition table, and
 * a GROUP BY over the whole dedupe key to find keys repeated in the
 * batch) costs two executor passes and a hash table with an entry per
 * distinct event: at 2M time-ordered rows it took twice as long as the
 * COPY that loaded them.  Here every row is read once; its (key, chunk)
 * group is a hash lookup (usually the previous row's group), and its
 * dedupe key is reduced to a 64-bit fingerprint with the columns' own
 * extended hash functions.
 *
 * Why fingerprints are safe: equal keys always have equal fingerprints,
 * so every duplicate inside the batch shows up as a repeated fingerprint.
 * A collision of two different keys only makes both rows candidates; the
 * DELETE that removes duplicates (buckets/triggers.c) compares the real
 * columns and keeps them.  A duplicate of a row loaded earlier lies in a
 * bucket that already held events, which the rollup tells; those rows
 * are candidates too.  A fresh load in time order has almost none.
 *
 * The fingerprints take 8 bytes per row and as much again while they are
 * sorted, within the larger of hash_mem (work_mem * hash_mem_multiplier)
 * and maintenance_work_mem (4M rows per statement at the defaults); a
 * larger statement sorts them on disk (buckets/fingerprints.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "buckets/buckets.h"
#include "buckets/dedupe_order.h"
#include "buckets/fingerprints.h"
#include "buckets/load_history.h"
#include "buckets/rollup_batch.h"
#include "buckets/rollup_packed.h"

/* a rollup row of the batch: (key, chunk start) */
typedef struct GroupKey
{
	Datum		key;
	int64		chunk;
} GroupKey;

typedef struct GroupEntry
{
	GroupKey	k;
	uint32		hash;
	int32		group;			/* index into RollupBatch.groups */
	char		status;
} GroupEntry;

/* the batch's (slot, count) pairs of one rollup row, in arrival order */
typedef struct RollupGroup
{
	Datum		key;
	int64		chunk;
	int			npairs;
	int			cap;
	int64	   *pairs;
	bool		sorted;			/* pairs arrived in slot order */
	uint64	   *had;			/* dedupe: slots holding events before */
} RollupGroup;

struct RollupBatch
{
	RollupBatchSpec spec;
	Tuplestorestate *rows;
	MemoryContext cxt;

	Oid			key_type;
	Oid			key_coll;
	int16		key_len;
	bool		key_byval;
	FmgrInfo	key_hash;
	FmgrInfo	key_eq;

	FmgrInfo   *fp_hash;		/* extended hash function per dedupe column */
	Oid		   *fp_coll;

	int64		chunk_len;
	struct grouptab_hash *by_key;
	RollupGroup *groups;
	int			ngroups;
	int			groups_cap;
	int			last;			/* the previous row's group, or -1 */

	bool		with_fps;		/* dedupe: the rows' fingerprints are collected */
	EdpFingerprints fps;
	uint64	   *repeats;		/* fingerprints seen more than once, sorted */
	int64		nrepeats;
	int64		nfps;			/* rows with a fingerprint */
	uint64	   *sorted_fps;		/* spec.keep_fingerprints: all of them sorted,
								 * or NULL when they were sorted on disk */
	int64		nsorted_fps;
};

#define SLOT_WORDS ((EDP_ROLLUP_SLOTS + 63) / 64)

static inline uint32
group_key_hash(RollupBatch *b, GroupKey k)
{
	return edp_rollup_row_hash(&b->key_hash, b->key_coll, k.key, k.chunk);
}

static inline bool
keys_equal(RollupBatch *b, Datum x, Datum y)
{
	return DatumGetBool(FunctionCall2Coll(&b->key_eq, b->key_coll, x, y));
}

#define SH_PREFIX grouptab
#define SH_ELEMENT_TYPE GroupEntry
#define SH_KEY_TYPE GroupKey
#define SH_KEY k
#define SH_HASH_KEY(tb, key) group_key_hash((RollupBatch *) (tb)->private_data, key)
#define SH_EQUAL(tb, a, b) ((a).chunk == (b).chunk && \
							keys_equal((RollupBatch *) (tb)->private_data, (a).key, (b).key))
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) (a)->hash
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* the group of (key, chunk), made on first sight */
static int
group_of(RollupBatch *b, Datum key, int64 chunk)
{
	GroupKey	k;
	GroupEntry *e;
	bool		found;
	RollupGroup *g;

	/* rows of one key tend to come together */
	if (b->last >= 0 && b->groups[b->last].chunk == chunk &&
		keys_equal(b, b->groups[b->last].key, key))
		return b->last;

	k.key = key;
	k.chunk = chunk;
	e = grouptab_insert(b->by_key, k, &found);
	if (!found)
	{
		if (b->ngroups == b->groups_cap)
		{
			b->groups_cap *= 2;
			b->groups = repalloc_huge(b->groups, sizeof(RollupGroup) * b->groups_cap);
		}
		g = &b->groups[b->ngroups];
		g->key = datumCopy(key, b->key_byval, b->key_len);
		g->chunk = chunk;
		g->npairs = 0;
		g->cap = 4;
		g->pairs = palloc(sizeof(int64) * 2 * g->cap);
		g->sorted = true;
		g->had = NULL;
		e->k.key = g->key;		/* the row's datum does not outlive the row */
		e->group = b->ngroups++;
	}
	b->last = e->group;
	return e->group;
}

static void
group_add(RollupGroup *g, int64 slot, int64 count)
{
	int			n = g->npairs;

	if (n > 0 && g->pairs[2 * n - 2] == slot)
	{
		g->pairs[2 * n - 1] += count;
		return;
	}
	if (n == g->cap)
	{
		g->cap *= 2;
		g->pairs = repalloc(g->pairs, sizeof(int64) * 2 * g->cap);
	}
	if (n > 0 && g->pairs[2 * n - 2] > slot)
		g->sorted = false;
	g->pairs[2 * n] = slot;
	g->pairs[2 * n + 1] = count;
	g->npairs++;
}

/* chunk start and slot of a timestamp, exactly as edp_internal.rollup_agg() */
static inline void
chunk_and_slot(const RollupBatch *b, TimestampTz ts, int64 *chunk, int64 *slot)
{
	*chunk = edp_rollup_chunk_of(ts, b->chunk_len);
	*slot = (ts - *chunk) / b->spec.width_us;
}

/* fingerprint of the row's dedupe key; false when a column is NULL */
static bool
fingerprint(RollupBatch *b, TupleTableSlot *slot, uint64 *fp)
{
	uint64		h = UINT64CONST(0x45445031);
	int			i;

	for (i = 0; i < b->spec.ndedupe; i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, b->spec.dedupe_atts[i], &isnull);

		if (isnull)
			return false;		/* never a duplicate (as in SQL: NULL <> NULL) */
		h = hash_combine64(h, DatumGetUInt64(FunctionCall2Coll(&b->fp_hash[i], b->fp_coll[i],
															   d, UInt64GetDatum(i))));
	}
	*fp = h;
	return true;
}

static void
find_repeats(RollupBatch *b)
{
	b->nfps = b->fps.n;
	b->repeats = edp_fingerprints_repeats(&b->fps, &b->nrepeats,
										  b->spec.keep_fingerprints ? &b->sorted_fps : NULL,
										  &b->nsorted_fps);
}

static bool
is_repeat(const RollupBatch *b, uint64 fp)
{
	return edp_fingerprint_is_repeat(b->repeats, b->nrepeats, fp);
}

/* a read pointer of our own, at the start (SPI scans use theirs) */
static void
rewind_rows(Tuplestorestate *rows)
{
	int			ptr = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(rows, ptr);
	tuplestore_rescan(rows);
}

RollupBatch *
edp_rollup_batch_scan(Tuplestorestate *rows, const RollupBatchSpec *spec)
{
	Form_pg_attribute katt = TupleDescAttr(spec->desc, spec->key_att - 1);
	TypeCacheEntry *tce;
	RollupBatch *b;
	MemoryContext cxt;
	MemoryContext old;
	TupleTableSlot *slot;
	int			i;
	uint64		nrows = 0;

	tce = lookup_type_cache(katt->atttypid, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	if (!OidIsValid(tce->hash_proc_finfo.fn_oid) || !OidIsValid(tce->eq_opr_finfo.fn_oid))
		return NULL;
	for (i = 0; i < spec->ndedupe; i++)
	{
		Form_pg_attribute a = TupleDescAttr(spec->desc, spec->dedupe_atts[i] - 1);

		if (!OidIsValid(lookup_type_cache(a->atttypid, TYPECACHE_HASH_EXTENDED_PROC_FINFO)->hash_extended_proc_finfo.fn_oid))
			return NULL;
	}

	cxt = AllocSetContextCreate(CurrentMemoryContext, "edp rollup batch", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	b = palloc0(sizeof(RollupBatch));
	b->spec = *spec;
	b->rows = rows;
	b->cxt = cxt;
	b->key_type = katt->atttypid;
	b->key_coll = katt->attcollation;
	b->key_len = katt->attlen;
	b->key_byval = katt->attbyval;
	fmgr_info_copy(&b->key_hash, &tce->hash_proc_finfo, cxt);
	fmgr_info_copy(&b->key_eq, &tce->eq_opr_finfo, cxt);
	b->chunk_len = spec->width_us * EDP_ROLLUP_SLOTS;
	b->by_key = grouptab_create(cxt, 1024, b);
	b->groups_cap = 1024;
	b->groups = palloc(sizeof(RollupGroup) * b->groups_cap);
	b->last = -1;
	if (spec->ndedupe > 0)
	{
		b->fp_hash = palloc(sizeof(FmgrInfo) * spec->ndedupe);
		b->fp_coll = palloc(sizeof(Oid) * spec->ndedupe);
		for (i = 0; i < spec->ndedupe; i++)
		{
			Form_pg_attribute a = TupleDescAttr(spec->desc, spec->dedupe_atts[i] - 1);

			tce = lookup_type_cache(a->atttypid, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
			fmgr_info_copy(&b->fp_hash[i], &tce->hash_extended_proc_finfo, cxt);
			b->fp_coll[i] = a->attcollation;
		}
		/* a bulk operation over the statement, like an index build's sort */
		edp_fingerprints_init(&b->fps, Max(get_hash_memory_limit(), (size_t) maintenance_work_mem * 1024));
		b->with_fps = true;
	}

	slot = MakeSingleTupleTableSlot(spec->desc, &TTSOpsMinimalTuple);
	rewind_rows(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		knull,
					tnull;
		Datum		key = slot_getattr(slot, spec->key_att, &knull);
		Datum		ts = slot_getattr(slot, spec->ts_att, &tnull);

		if ((++nrows & 0x3fff) == 0)
			CHECK_FOR_INTERRUPTS();
		/* +-infinity is in no bucket: not counted, as NULL is not */
		if (!knull && !tnull && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(ts)))
		{
			int64		chunk,
						s;
			int			gi;

			chunk_and_slot(b, DatumGetTimestampTz(ts), &chunk, &s);
			gi = group_of(b, key, chunk);	/* may move b->groups */
			group_add(&b->groups[gi], s, spec->sign);
		}
		if (b->with_fps)
		{
			uint64		fp;

			if (fingerprint(b, slot, &fp))
				edp_fingerprints_add(&b->fps, fp);
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	if (b->with_fps)
		find_repeats(b);
	MemoryContextSwitchTo(old);
	return b;
}

/* keys and chunk starts of the batch's groups as two arrays */
static void
group_arrays(RollupBatch *b, Datum *keys, Datum *chunks)
{
	Datum	   *k = palloc(sizeof(Datum) * Max(b->ngroups, 1));
	Datum	   *c = palloc(sizeof(Datum) * Max(b->ngroups, 1));
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	for (i = 0; i < b->ngroups; i++)
	{
		k[i] = b->groups[i].key;
		c[i] = TimestampTzGetDatum(b->groups[i].chunk);
	}
	get_typlenbyvalalign(b->key_type, &typlen, &typbyval, &typalign);
	*keys = PointerGetDatum(construct_array(k, b->ngroups, b->key_type, typlen, typbyval, typalign));
	*chunks = PointerGetDatum(construct_array(c, b->ngroups, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * The slots of the batch's rollup rows that held events before the
 * statement; true when there are any.  With a load history, the slots
 * that other loads' rows hold, where the history knows them.
 */
static bool
mark_existing_slots(RollupBatch *b, const char *rollup, EdpLoadHistory *history)
{
	Oid			types[2] = {get_array_type(b->key_type), TIMESTAMPTZARRAYOID};
	Datum		values[2];
	Portal		portal;
	bool		any = false;
	char	   *sql;

	if (b->ngroups == 0)
		return false;
	group_arrays(b, &values[0], &values[1]);
	sql = psprintf("SELECT u.i, r.packed, r.xmin FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) WITH ORDINALITY AS u(k, c, i)"
				   " JOIN %s r ON r.key OPERATOR(pg_catalog.=) u.k AND r.chunk_start OPERATOR(pg_catalog.=) u.c", rollup);
	/*
	 * Not read-only: the cursor must see the rollup as it is now, after
	 * the dedupe lock was granted (a concurrent load may have committed
	 * its rows and their buckets meanwhile), not as the statement's
	 * snapshot saw it.
	 */
	portal = SPI_cursor_open_with_args(NULL, sql, 2, types, values, NULL, false, 0);
	for (;;)
	{
		uint64		r;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			bool		isnull;
			int64		gi = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull)) - 1;
			Datum		packed = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
			RollupGroup *g;
			int64	   *pairs;
			int			npairs;
			int			p;

			const uint64 *others;

			if (isnull || gi < 0 || gi >= b->ngroups)
				continue;
			g = &b->groups[gi];
			if (history != NULL &&
				edp_load_history_others(history, g->key, g->chunk,
										DatumGetTransactionId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull)),
										&others))
			{
				/* only the slots of other loads' rows: the job's own are in its fingerprints */
				if (others != NULL)
				{
					g->had = MemoryContextAlloc(b->cxt, sizeof(uint64) * SLOT_WORDS);
					memcpy(g->had, others, sizeof(uint64) * SLOT_WORDS);
					any = true;
				}
				continue;
			}
			pairs = edp_rollup_pairs(DatumGetArrayTypeP(packed), &npairs);
			for (p = 0; p < npairs; p++)
			{
				int64		s = pairs[2 * p];

				if (pairs[2 * p + 1] <= 0 || s < 0 || s >= EDP_ROLLUP_SLOTS)
					continue;
				if (g->had == NULL)
					g->had = MemoryContextAllocZero(b->cxt, sizeof(uint64) * SLOT_WORDS);
				g->had[s / 64] |= UINT64CONST(1) << (s % 64);
				any = true;
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	return any;
}

bool
edp_rollup_batch_candidates(RollupBatch *b, const char *rollup, int64 array_limit,
							DedupeCandidates *dc, EdpLoadHistory *history, Oid root)
{
	int			nd = b->spec.ndedupe;
	bool		had_any;
	Datum	  **vals;
	int64		cap = 1024;
	TupleTableSlot *slot;
	int			i;

	if (nd == 0)
		return false;
	dc->n = 0;
	/* the rows of keys repeated in the batch are noted with their arrival */
	dc->order = b->nrepeats > 0 ? edp_dedupe_arrival_create(b->spec.desc) : NULL;
	dc->ordered = true;
	dc->arrays = palloc(sizeof(Datum) * nd);
	dc->types = palloc(sizeof(Oid) * nd);
	vals = palloc(sizeof(Datum *) * nd);
	for (i = 0; i < nd; i++)
	{
		Form_pg_attribute a = TupleDescAttr(b->spec.desc, b->spec.dedupe_atts[i] - 1);

		dc->types[i] = get_array_type(a->atttypid);
		vals[i] = palloc(sizeof(Datum) * cap);
	}

	/* a load's history serves when it can take all of this statement's fingerprints */
	if (history != NULL &&
		(!b->spec.keep_fingerprints || (b->sorted_fps == NULL && b->nfps > 0) ||
		 !edp_load_history_usable(history, root, b->key_type, b->key_coll, b->key_len, b->key_byval)))
	{
		edp_load_history_invalidate(history);
		history = NULL;
	}
	had_any = mark_existing_slots(b, rollup, history);
	if (b->nrepeats > 0 || had_any || edp_load_history_has_fingerprints(history))
	{
		uint64		nrows = 0;

		/* second pass: the rows with a repeated fingerprint or an occupied bucket */
		b->last = -1;
		slot = MakeSingleTupleTableSlot(b->spec.desc, &TTSOpsMinimalTuple);
		rewind_rows(b->rows);
		while (tuplestore_gettupleslot(b->rows, true, false, slot))
		{
			uint64		fp;
			bool		cand = false;
			int64		pos = (int64) nrows++;

			if ((nrows & 0x3fff) == 0)
				CHECK_FOR_INTERRUPTS();
			if (!fingerprint(b, slot, &fp))
				continue;
			if (b->nrepeats > 0 && is_repeat(b, fp))
			{
				cand = true;
				edp_dedupe_arrival_note(dc->order, slot,
										b->spec.arrival != NULL ? b->spec.arrival[pos] : pos);
			}
			else if (edp_load_history_has_fingerprint(history, fp))
				cand = true;	/* may repeat a row of the load's earlier transactions */
			else if (had_any)
			{
				bool		knull,
							tnull;
				Datum		key = slot_getattr(slot, b->spec.key_att, &knull);
				Datum		ts = slot_getattr(slot, b->spec.ts_att, &tnull);
				int64		chunk,
							s;
				int			gi;
				RollupGroup *g;

				/*
				 * dedupe keys hold the key and ts columns: never NULL here;
				 * an infinite time has no rollup counts to tell, so its row
				 * is always a candidate
				 */
				if (TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(ts)))
					cand = true;
				else
				{
					chunk_and_slot(b, DatumGetTimestampTz(ts), &chunk, &s);
					gi = group_of(b, key, chunk);	/* may move b->groups */
					g = &b->groups[gi];
					cand = g->had != NULL && s >= 0 && s < EDP_ROLLUP_SLOTS &&
						(g->had[s / 64] & (UINT64CONST(1) << (s % 64))) != 0;
				}
			}
			if (!cand)
				continue;
			if (dc->n < array_limit)
			{
				if (dc->n == cap)
				{
					cap *= 2;
					for (i = 0; i < nd; i++)
						vals[i] = repalloc_huge(vals[i], sizeof(Datum) * cap);
				}
				for (i = 0; i < nd; i++)
				{
					Form_pg_attribute a = TupleDescAttr(b->spec.desc, b->spec.dedupe_atts[i] - 1);
					bool		isnull;

					vals[i][dc->n] = datumCopy(slot_getattr(slot, b->spec.dedupe_atts[i], &isnull),
											   a->attbyval, a->attlen);
				}
			}
			dc->n++;
		}
		ExecDropSingleTupleTableSlot(slot);
	}
	for (i = 0; i < nd; i++)
	{
		Form_pg_attribute a = TupleDescAttr(b->spec.desc, b->spec.dedupe_atts[i] - 1);

		dc->arrays[i] = PointerGetDatum(construct_array(vals[i], (int) Min(dc->n, array_limit), a->atttypid,
														a->attlen, a->attbyval, a->attalign));
	}
	if (history != NULL)
	{
		/* what the next transactions of the load must know of this one */
		for (i = 0; i < b->ngroups; i++)
			edp_load_history_note(history, b->groups[i].key, b->groups[i].chunk,
								  b->groups[i].had, SLOT_WORDS);
		edp_load_history_add_fingerprints(history, b->sorted_fps, b->nsorted_fps);
	}
	return true;
}

static int
pair_cmp(const void *a, const void *b)
{
	int64		x = ((const int64 *) a)[0];
	int64		y = ((const int64 *) b)[0];

	return (x > y) - (x < y);
}

/* groups in the order their rollup rows are written (and locked) */
typedef struct GroupOrder
{
	RollupBatch *b;
	FmgrInfo	cmp;
} GroupOrder;

static int
group_order_cmp(const void *x, const void *y, void *arg)
{
	GroupOrder *o = (GroupOrder *) arg;
	const RollupGroup *a = &o->b->groups[*(const int *) x];
	const RollupGroup *c = &o->b->groups[*(const int *) y];
	int32		r = DatumGetInt32(FunctionCall2Coll(&o->cmp, o->b->key_coll, a->key, c->key));

	if (r != 0)
		return r;
	return (a->chunk > c->chunk) - (a->chunk < c->chunk);
}

/*
 * At most this many int8 values (slot, count pairs) in one INSERT: 64 MB.
 * A statement of 100M events over a year holds some 60M (key, hour)
 * pairs, more than one array may hold (1 GB).
 */
#define ROLLUP_WRITE_MAX_FLAT	(8 * 1024 * 1024)

/* one INSERT ... ON CONFLICT for n rollup rows, the packed pairs of all in flat */
static void
write_rollup_rows(RollupBatch *b, const char *rollup, Datum *k, Datum *c, Datum *lo, Datum *hi,
				  int n, Datum *flat, int64 nflat)
{
	Oid			types[5] = {get_array_type(b->key_type), TIMESTAMPTZARRAYOID, INT8ARRAYOID,
	INT4ARRAYOID, INT4ARRAYOID};
	Datum		values[5];
	int16		typlen;
	bool		typbyval;
	char		typalign;
	char	   *sql;

	get_typlenbyvalalign(b->key_type, &typlen, &typbyval, &typalign);
	values[0] = PointerGetDatum(construct_array(k, n, b->key_type, typlen, typbyval, typalign));
	values[1] = PointerGetDatum(construct_array(c, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(flat, (int) nflat, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(construct_array(lo, n, INT4OID, 4, true, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(hi, n, INT4OID, 4, true, TYPALIGN_INT));
	/* in the order given (WITH ORDINALITY): every writer locks rollup rows in one order */
	sql = psprintf("INSERT INTO %s AS r (key, chunk_start, packed) "
				   "SELECT u.k, u.c, $3[u.lo:u.hi] FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($4), pg_catalog.unnest($5)) WITH ORDINALITY AS u(k, c, lo, hi, i) "
				   " ORDER BY u.i "
				   "ON CONFLICT (key, chunk_start) DO UPDATE SET packed = edp_internal.rollup_merge(r.packed, excluded.packed)",
				   rollup);
	if (SPI_execute_with_args(sql, 5, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "edp rollup batch write failed");	/* internal error */
	pfree(DatumGetPointer(values[0]));
	pfree(DatumGetPointer(values[1]));
	pfree(DatumGetPointer(values[2]));
	pfree(DatumGetPointer(values[3]));
	pfree(DatumGetPointer(values[4]));
}

/*
 * rollup += the batch's counts: INSERT ... ON CONFLICT of its rollup rows,
 * the packed pairs passed as one flat array with bounds, in statements of
 * at most ROLLUP_WRITE_MAX_FLAT values, the rows sorted by (key, chunk)
 * with the key column's comparison and collation so that concurrent
 * writers of one rollup lock its rows in the same order.
 */
void
edp_rollup_batch_write(RollupBatch *b, const char *rollup)
{
	Datum	   *k;
	Datum	   *c;
	Datum	   *flat;
	Datum	   *lo;
	Datum	   *hi;
	int		   *order;
	int64		cap;
	int64		nflat = 0;
	int			n = 0;
	int			i;

	if (b->ngroups == 0)
		return;
	order = palloc_extended(sizeof(int) * b->ngroups, MCXT_ALLOC_HUGE);
	for (i = 0; i < b->ngroups; i++)
		order[i] = i;
	if (b->ngroups > 1)
	{
		GroupOrder o;
		TypeCacheEntry *tce = lookup_type_cache(b->key_type, TYPECACHE_CMP_PROC_FINFO);

		if (!OidIsValid(tce->cmp_proc_finfo.fn_oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("could not identify a comparison function for type %s",
							format_type_be(b->key_type))));
		o.b = b;
		fmgr_info_copy(&o.cmp, &tce->cmp_proc_finfo, CurrentMemoryContext);
		qsort_arg(order, b->ngroups, sizeof(int), group_order_cmp, &o);
	}
	k = palloc_extended(sizeof(Datum) * b->ngroups, MCXT_ALLOC_HUGE);
	c = palloc_extended(sizeof(Datum) * b->ngroups, MCXT_ALLOC_HUGE);
	lo = palloc_extended(sizeof(Datum) * b->ngroups, MCXT_ALLOC_HUGE);
	hi = palloc_extended(sizeof(Datum) * b->ngroups, MCXT_ALLOC_HUGE);
	/* a group merges into at most one pair per slot */
	cap = ROLLUP_WRITE_MAX_FLAT + 2 * EDP_ROLLUP_SLOTS;
	flat = palloc_extended(sizeof(Datum) * cap, MCXT_ALLOC_HUGE);
	for (i = 0; i < b->ngroups; i++)
	{
		RollupGroup *g = &b->groups[order[i]];
		int64		start;
		int			p;

		if (nflat >= ROLLUP_WRITE_MAX_FLAT)
		{
			write_rollup_rows(b, rollup, k, c, lo, hi, n, flat, nflat);
			n = 0;
			nflat = 0;
		}
		start = nflat;
		if (!g->sorted)
			qsort(g->pairs, g->npairs, 2 * sizeof(int64), pair_cmp);
		for (p = 0; p < g->npairs; p++)
		{
			if (nflat > start && DatumGetInt64(flat[nflat - 2]) == g->pairs[2 * p])
				flat[nflat - 1] = Int64GetDatum(DatumGetInt64(flat[nflat - 1]) + g->pairs[2 * p + 1]);
			else
			{
				if (nflat > start && DatumGetInt64(flat[nflat - 1]) == 0)
					nflat -= 2;
				flat[nflat++] = Int64GetDatum(g->pairs[2 * p]);
				flat[nflat++] = Int64GetDatum(g->pairs[2 * p + 1]);
			}
		}
		if (nflat > start && DatumGetInt64(flat[nflat - 1]) == 0)
			nflat -= 2;
		if (nflat == start)
			continue;			/* no net change */
		k[n] = g->key;
		c[n] = TimestampTzGetDatum(g->chunk);
		lo[n] = Int32GetDatum((int32) start + 1);
		hi[n] = Int32GetDatum((int32) nflat);
		n++;
	}
	if (n > 0)
		write_rollup_rows(b, rollup, k, c, lo, hi, n, flat, nflat);
	pfree(flat);
	pfree(order);
}
