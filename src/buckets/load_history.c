/*-------------------------------------------------------------------------
 *
 * buckets/load_history.c
 *		What a background job stored in its committed transactions, so
 *		that dedupe tells its own earlier rows from other loads' rows.
 *
 * Dedupe on a table with a live rollup takes as candidates the rows
 * repeated in the statement and the rows whose rollup bucket already held
 * events (buckets/rollup_batch.c).  A background job commits every
 * edp.ingest_commit_rows rows, so from its second transaction on, most
 * buckets it meets hold its own earlier rows: a third or more of every
 * transaction's rows became candidates, and the DELETE that settles them
 * read the whole table each time (ingest_async at 10M rows: 0.57x the
 * speed of one \copy).
 *
 * The job knows its own rows.  It keeps, for the rest of its run:
 *   - the key fingerprints of the rows its upkeeps saw (8 bytes a row,
 *     sorted): a row whose fingerprint is not among them repeats none of
 *     the job's earlier rows;
 *   - per rollup row it wrote, the slots that other loads' rows held when
 *     it last looked, and the xid of its last write.  When the rollup row
 *     still carries that xmin, no other transaction has written it since,
 *     so those slots are still all that other loads hold there.  Any
 *     other xmin (a concurrent load, a DELETE, an UPDATE, a freeze) and
 *     the history knows nothing: the row's whole occupancy counts, as
 *     without a history.
 * A candidate is then a row repeated in the statement, a row whose
 * fingerprint the job stored before, or a row in a slot other loads hold.
 * Equal keys have equal fingerprints and, the key holding the rollup's
 * key and time columns, share a slot: no duplicate escapes.
 *
 * The history stops serving (and the job goes back to the whole
 * occupancy) when its fingerprints outgrow the larger of hash_mem and
 * maintenance_work_mem, when a statement's fingerprints had to be sorted
 * on disk, when an upkeep took the SQL path, or when any other upkeep of
 * inserted rows ran in this backend between two of the job's (a trigger
 * of the user's writing into the table at commit, after the job's upkeep,
 * with the job's own xid).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "buckets/load_history.h"
#include "buckets/rollup_batch.h"

EdpLoadHistory *edp_dedupe_load_history = NULL;
uint64		edp_insert_upkeeps = 0;

typedef struct HistKey
{
	Datum		key;
	int64		chunk;
} HistKey;

typedef struct HistEntry
{
	HistKey		k;
	uint32		hash;
	char		status;
	TransactionId last_xid;		/* xid of the job's last write of the row */
	uint64	   *others;			/* slots other loads' rows hold, or NULL */
} HistEntry;

struct EdpLoadHistory
{
	MemoryContext cxt;
	bool		bound;			/* root and key type set by the first upkeep */
	bool		valid;
	bool		sealed_once;
	uint64		upkeeps_at_seal;	/* edp_insert_upkeeps after the last upkeep */
	Oid			root;
	Oid			key_type;
	Oid			key_coll;
	int16		key_len;
	bool		key_byval;
	FmgrInfo	key_hash;
	FmgrInfo	key_eq;
	struct histtab_hash *groups;
	Size		bytes;			/* groups and fingerprints held */
	Size		limit;
	uint64	   *fps;			/* distinct, sorted unsigned */
	int64		nfps;
};

static inline uint32
hist_key_hash(EdpLoadHistory *h, HistKey k)
{
	return edp_rollup_row_hash(&h->key_hash, h->key_coll, k.key, k.chunk);
}

static inline bool
hist_keys_equal(EdpLoadHistory *h, HistKey a, HistKey b)
{
	return a.chunk == b.chunk &&
		DatumGetBool(FunctionCall2Coll(&h->key_eq, h->key_coll, a.key, b.key));
}

#define SH_PREFIX histtab
#define SH_ELEMENT_TYPE HistEntry
#define SH_KEY_TYPE HistKey
#define SH_KEY k
#define SH_HASH_KEY(tb, key) hist_key_hash((EdpLoadHistory *) (tb)->private_data, key)
#define SH_EQUAL(tb, a, b) hist_keys_equal((EdpLoadHistory *) (tb)->private_data, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) (a)->hash
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

EdpLoadHistory *
edp_load_history_create(MemoryContext parent)
{
	EdpLoadHistory *h = MemoryContextAllocZero(parent, sizeof(EdpLoadHistory));

	/* what it holds, freed at once when it stops serving */
	h->cxt = AllocSetContextCreate(parent, "edp load history", ALLOCSET_DEFAULT_SIZES);
	h->valid = true;
	return h;
}

void
edp_load_history_invalidate(EdpLoadHistory *h)
{
	if (h == NULL || !h->valid)
		return;
	h->valid = false;
	MemoryContextReset(h->cxt);
	h->groups = NULL;
	h->fps = NULL;
	h->nfps = 0;
}

bool
edp_load_history_usable(EdpLoadHistory *h, Oid root, Oid key_type, Oid key_coll,
						int16 key_len, bool key_byval)
{
	if (h == NULL || !h->valid)
		return false;
	/* an upkeep of inserted rows ran since the job's last one */
	if (h->sealed_once && h->upkeeps_at_seal != edp_insert_upkeeps)
	{
		edp_load_history_invalidate(h);
		return false;
	}
	if (!h->bound)
	{
		TypeCacheEntry *tce = lookup_type_cache(key_type, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);

		if (!OidIsValid(tce->hash_proc_finfo.fn_oid) || !OidIsValid(tce->eq_opr_finfo.fn_oid))
		{
			edp_load_history_invalidate(h);
			return false;
		}
		h->root = root;
		h->key_type = key_type;
		h->key_coll = key_coll;
		h->key_len = key_len;
		h->key_byval = key_byval;
		fmgr_info_copy(&h->key_hash, &tce->hash_proc_finfo, h->cxt);
		fmgr_info_copy(&h->key_eq, &tce->eq_opr_finfo, h->cxt);
		h->groups = histtab_create(h->cxt, 1024, h);
		/* as a statement's fingerprints (buckets/rollup_batch.c) */
		h->limit = Max(get_hash_memory_limit(), (Size) maintenance_work_mem * 1024);
		h->bound = true;
	}
	if (h->root != root || h->key_type != key_type || h->key_coll != key_coll)
	{
		edp_load_history_invalidate(h);
		return false;
	}
	return true;
}

bool
edp_load_history_others(EdpLoadHistory *h, Datum key, int64 chunk, TransactionId xmin,
						const uint64 **others)
{
	HistKey		k;
	HistEntry  *e;

	*others = NULL;
	if (h == NULL || !h->valid)
		return false;
	k.key = key;
	k.chunk = chunk;
	e = histtab_lookup(h->groups, k);
	if (e == NULL || !TransactionIdIsNormal(xmin) || !TransactionIdEquals(e->last_xid, xmin))
		return false;
	*others = e->others;
	return true;
}

void
edp_load_history_note(EdpLoadHistory *h, Datum key, int64 chunk, const uint64 *others, int nwords)
{
	HistKey		k;
	HistEntry  *e;
	bool		found;
	MemoryContext old;

	if (h == NULL || !h->valid)
		return;
	old = MemoryContextSwitchTo(h->cxt);
	k.key = key;
	k.chunk = chunk;
	e = histtab_insert(h->groups, k, &found);
	if (!found)
	{
		e->k.key = datumCopy(key, h->key_byval, h->key_len);
		e->others = NULL;
		h->bytes += sizeof(HistEntry) * 2 + (h->key_byval ? 0 : VARSIZE_ANY(DatumGetPointer(e->k.key)));
	}
	if (others == NULL)
	{
		if (e->others != NULL)
			pfree(e->others);
		e->others = NULL;
	}
	else
	{
		if (e->others == NULL)
		{
			e->others = palloc(sizeof(uint64) * nwords);
			h->bytes += sizeof(uint64) * nwords;
		}
		memcpy(e->others, others, sizeof(uint64) * nwords);
	}
	/* the xid the upkeep's write of the rollup row will carry */
	e->last_xid = GetCurrentTransactionId();
	MemoryContextSwitchTo(old);
	if (h->bytes > h->limit)
		edp_load_history_invalidate(h);
}

bool
edp_load_history_has_fingerprints(const EdpLoadHistory *h)
{
	return h != NULL && h->valid && h->nfps > 0;
}

bool
edp_load_history_has_fingerprint(const EdpLoadHistory *h, uint64 fp)
{
	int64		lo = 0,
				hi;

	if (h == NULL || !h->valid)
		return false;
	hi = h->nfps - 1;
	while (lo <= hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (h->fps[mid] == fp)
			return true;
		if (h->fps[mid] < fp)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

void
edp_load_history_add_fingerprints(EdpLoadHistory *h, const uint64 *fps, int64 n)
{
	uint64	   *merged;
	int64		i = 0,
				j = 0,
				m = 0;

	if (h == NULL || !h->valid || n == 0)
		return;
	/* the merge holds both arrays for a moment */
	if ((Size) (h->nfps + n) * sizeof(uint64) * 2 > h->limit)
	{
		edp_load_history_invalidate(h);
		return;
	}
	merged = MemoryContextAllocHuge(h->cxt, sizeof(uint64) * (h->nfps + n));
	while (i < h->nfps || j < n)
	{
		uint64		v;

		if (j >= n || (i < h->nfps && h->fps[i] <= fps[j]))
			v = h->fps[i++];
		else
			v = fps[j++];
		if (m == 0 || merged[m - 1] != v)
			merged[m++] = v;
		if (((i + j) & 0xfffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	if (h->fps != NULL)
	{
		h->bytes -= sizeof(uint64) * h->nfps;
		pfree(h->fps);
	}
	h->fps = merged;
	h->nfps = m;
	h->bytes += sizeof(uint64) * m;
	if (h->bytes > h->limit)
		edp_load_history_invalidate(h);
}

void
edp_load_history_seal(EdpLoadHistory *h)
{
	if (h == NULL || !h->valid)
		return;
	h->sealed_once = true;
	h->upkeeps_at_seal = edp_insert_upkeeps;
}
