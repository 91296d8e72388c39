/*-------------------------------------------------------------------------
 *
 * buckets/dedupe_order.c
 *		Which of a statement's own copies of one event arrived first:
 *		the order dedupe's rule keeps (keep first: the first copy; keep
 *		latest: the first of the copies tied on the ordering column).
 *
 * Nothing stored tells it.  Rows of one statement share their xmin and
 * command id; their ctids order them only inside one heap, and not even
 * there once the free-space map hands out an earlier page: copies routed to
 * different partitions (another day, another type, the DEFAULT partition
 * for a row without a time) or spooled by edp's COPY until their partition
 * exists have no order at all.  What does know it is the upkeep's input:
 * the statement's transition table lists its rows in the order they were
 * inserted, and the loader (core/loader.h) gives the input line of each
 * row it wrote.
 *
 * So, before dedupe's DELETE, the rows whose key occurs more than once in
 * the statement (found as buckets/rollup_batch.c finds them: a 64-bit
 * fingerprint of the key per row, radix-sorted) are noted by a 64-bit hash
 * of their whole image (every column's bytes, detoasted, as
 * record_image_eq compares them), with the earliest arrival of that image.
 * The DELETE reads the stored copies back and asks
 * edp_internal.dedupe_arrival(row) for each: the stored row has the image
 * it was inserted with, so it finds its own arrival.  Copies with the same
 * image are the same row to anyone reading the table; which of them stays
 * does not matter.  Two different rows of one key whose images hash alike
 * (1 in 2^64) tie, and the DELETE's last resort (partition, ctid) decides
 * between them.
 *
 * Only keys repeated in the statement are noted: 16 bytes per such row
 * (a file loaded a second time repeats keys of the table, not of the
 * statement, and notes nothing).  The fingerprints take 16 bytes per row
 * while sorted, within the larger of hash_mem and maintenance_work_mem,
 * as in rollup_batch.c; a larger statement sorts them on disk
 * (buckets/fingerprints.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/attmap.h"
#include "access/htup_details.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "buckets/dedupe_order.h"
#include "buckets/fingerprints.h"
#include "buckets/rollup_batch.h"

/* one image seen in the statement and its earliest arrival */
typedef struct ArrivalEntry
{
	uint64		image;
	int64		arrival;
	char		status;
} ArrivalEntry;

#define SH_PREFIX arrivaltab
#define SH_ELEMENT_TYPE ArrivalEntry
#define SH_KEY_TYPE uint64
#define SH_KEY image
#define SH_HASH_KEY(tb, key) ((uint32) ((key) ^ ((key) >> 32)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

struct DedupeArrival
{
	MemoryContext cxt;
	TupleDesc	desc;			/* the noted rows' row type */
	arrivaltab_hash *tab;
	int64		n;

	/* the row type of the records looked up, and its columns in desc's order */
	Oid			rec_type;
	int32		rec_typmod;
	TupleDesc	rec_desc;
	AttrMap    *map;			/* NULL: the same layout as desc */
	Datum	   *rec_values;
	bool	   *rec_isnull;
	Datum	   *values;
	bool	   *isnull;
};

/* the order edp_internal.dedupe_arrival() answers from, during a DELETE */
static DedupeArrival *active = NULL;

/* NULL columns count too, as a fixed value */
#define IMAGE_NULL	UINT64CONST(0x9e3779b97f4a7c15)

/* a hash of the row's bytes, column by column, as record_image_eq sees them */
static uint64
image_hash(TupleDesc desc, const Datum *values, const bool *isnull)
{
	uint64		h = UINT64CONST(0x45445032);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		uint64		v;

		if (att->attisdropped)
			continue;
		if (isnull[i])
			v = IMAGE_NULL;
		else if (att->attbyval)
		{
			Datum		d = values[i];

			v = hash_bytes_extended((const unsigned char *) &d, sizeof(Datum), 0);
		}
		else if (att->attlen > 0)
			v = hash_bytes_extended((const unsigned char *) DatumGetPointer(values[i]), att->attlen, 0);
		else if (att->attlen == -1)
		{
			/* the stored copy may be compressed or toasted, the inserted one not */
			struct varlena *p = PG_DETOAST_DATUM_PACKED(values[i]);

			v = hash_bytes_extended((const unsigned char *) VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p), 0);
			if ((Pointer) p != DatumGetPointer(values[i]))
				pfree(p);
		}
		else
		{
			const char *c = DatumGetCString(values[i]);

			v = hash_bytes_extended((const unsigned char *) c, strlen(c), 0);
		}
		h = hash_combine64(h, v);
	}
	return h;
}

/* an empty order for rows of type desc, in the current memory context */
DedupeArrival *
edp_dedupe_arrival_create(TupleDesc desc)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "edp dedupe arrival",
											  ALLOCSET_DEFAULT_SIZES);
	DedupeArrival *order = MemoryContextAllocZero(cxt, sizeof(DedupeArrival));

	order->cxt = cxt;
	order->desc = desc;
	order->tab = arrivaltab_create(cxt, 256, NULL);
	return order;
}

/* the row in slot (of the order's row type) arrived as number arrival */
void
edp_dedupe_arrival_note(DedupeArrival *order, TupleTableSlot *slot, int64 arrival)
{
	ArrivalEntry *e;
	bool		found;

	slot_getallattrs(slot);
	e = arrivaltab_insert(order->tab, image_hash(order->desc, slot->tts_values, slot->tts_isnull),
						  &found);
	if (!found)
	{
		e->arrival = arrival;
		order->n++;
	}
	else if (arrival < e->arrival)
		e->arrival = arrival;
}

/* how many distinct rows it knows */
int64
edp_dedupe_arrival_count(const DedupeArrival *order)
{
	return order == NULL ? 0 : order->n;
}

/* fingerprint of a row's key (false when a column is NULL: never a duplicate) */
static bool
key_fingerprint(TupleTableSlot *slot, int nkey, const AttrNumber *atts,
				FmgrInfo *procs, const Oid *colls, uint64 *fp)
{
	uint64		h = UINT64CONST(0x45445033);
	int			i;

	for (i = 0; i < nkey; i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, atts[i], &isnull);

		if (isnull)
			return false;
		if (procs != NULL)
			h = hash_combine64(h, DatumGetUInt64(FunctionCall2Coll(&procs[i], colls[i], d,
																	UInt64GetDatum(i))));
	}
	*fp = h;
	return true;
}

/* a read pointer of our own, at the start (SPI scans use theirs) */
static void
rewind_rows(Tuplestorestate *rows)
{
	int			ptr = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(rows, ptr);
	tuplestore_rescan(rows);
}

/*
 * The order of the rows of a statement (rows, of type desc) whose key
 * (key_atts) occurs more than once in it; arrival gives each row's
 * arrival by its position, NULL when the rows are in arrival order.
 * NULL when no key repeats, or when the fingerprints would outgrow their
 * memory.  A key with a column of a type without an extended hash
 * function cannot be fingerprinted: then every row with a whole key is
 * noted.
 */
DedupeArrival *
edp_dedupe_arrival_scan(Tuplestorestate *rows, TupleDesc desc, int nkey,
						const AttrNumber *key_atts, const int64 *arrival)
{
	FmgrInfo   *procs = palloc(sizeof(FmgrInfo) * Max(nkey, 1));
	Oid		   *colls = palloc(sizeof(Oid) * Max(nkey, 1));
	size_t		limit = Max(get_hash_memory_limit(), (size_t) maintenance_work_mem * 1024);
	uint64	   *repeats = NULL;
	int64		nrepeats = 0;
	bool		hashable = true;
	TupleTableSlot *slot;
	DedupeArrival *order = NULL;
	int64		pos;
	int			i;

	for (i = 0; i < nkey; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, key_atts[i] - 1);
		TypeCacheEntry *tce = lookup_type_cache(att->atttypid, TYPECACHE_HASH_EXTENDED_PROC_FINFO);

		if (!OidIsValid(tce->hash_extended_proc_finfo.fn_oid))
			hashable = false;
		else
			fmgr_info_copy(&procs[i], &tce->hash_extended_proc_finfo, CurrentMemoryContext);
		colls[i] = att->attcollation;
	}

	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	if (hashable)
	{
		EdpFingerprints fps;
		int64		n = 0;
		uint64		fp;

		edp_fingerprints_init(&fps, limit);
		rewind_rows(rows);
		while (tuplestore_gettupleslot(rows, true, false, slot))
		{
			if ((++n & 0x3fff) == 0)
				CHECK_FOR_INTERRUPTS();
			if (key_fingerprint(slot, nkey, key_atts, procs, colls, &fp))
				edp_fingerprints_add(&fps, fp);
		}
		repeats = edp_fingerprints_repeats(&fps, &nrepeats, NULL, NULL);
		if (nrepeats == 0)
		{
			ExecDropSingleTupleTableSlot(slot);
			return NULL;
		}
	}

	order = edp_dedupe_arrival_create(desc);
	rewind_rows(rows);
	for (pos = 0; tuplestore_gettupleslot(rows, true, false, slot); pos++)
	{
		uint64		fp;

		if ((pos & 0x3fff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!key_fingerprint(slot, nkey, key_atts, hashable ? procs : NULL, colls, &fp))
			continue;
		if (hashable && !edp_fingerprint_is_repeat(repeats, nrepeats, fp))
			continue;
		edp_dedupe_arrival_note(order, slot, arrival != NULL ? arrival[pos] : pos);
	}
	ExecDropSingleTupleTableSlot(slot);
	if (repeats != NULL)
		pfree(repeats);
	return order;
}

/* make order the one dedupe_arrival() answers from; returns the one before */
DedupeArrival *
edp_dedupe_arrival_activate(DedupeArrival *order)
{
	DedupeArrival *previous = active;

	active = order;
	return previous;
}

/* set up the lookups of records of type (typid, typmod) */
static void
prepare_record_type(DedupeArrival *order, Oid typid, int32 typmod)
{
	MemoryContext old = MemoryContextSwitchTo(order->cxt);

	order->rec_desc = lookup_rowtype_tupdesc_copy(typid, typmod);
	order->rec_type = typid;
	order->rec_typmod = typmod;
	/* the table's row type when the rows are a partition's: by column name */
	order->map = build_attrmap_by_name_if_req(order->rec_desc, order->desc);
	order->rec_values = palloc(sizeof(Datum) * Max(order->rec_desc->natts, 1));
	order->rec_isnull = palloc(sizeof(bool) * Max(order->rec_desc->natts, 1));
	order->values = palloc(sizeof(Datum) * Max(order->desc->natts, 1));
	order->isnull = palloc(sizeof(bool) * Max(order->desc->natts, 1));
	MemoryContextSwitchTo(old);
}

/*
 * edp_internal.dedupe_arrival(record) RETURNS int8: the arrival of a stored
 * row in the statement whose dedupe is running (its position in the
 * statement's rows, or its input line), NULL when the row is not one of
 * those whose key repeats in the statement, or outside dedupe.
 */
PG_FUNCTION_INFO_V1(edp_dedupe_arrival);
Datum
edp_dedupe_arrival(PG_FUNCTION_ARGS)
{
	DedupeArrival *order = active;
	HeapTupleHeader th;
	HeapTupleData tuple;
	Oid			typid;
	int32		typmod;
	Datum	   *values;
	bool	   *isnull;
	ArrivalEntry *e;

	if (order == NULL || order->n == 0 || PG_ARGISNULL(0))
		PG_RETURN_NULL();
	th = PG_GETARG_HEAPTUPLEHEADER(0);
	typid = HeapTupleHeaderGetTypeId(th);
	typmod = HeapTupleHeaderGetTypMod(th);
	if (order->rec_desc == NULL || order->rec_type != typid || order->rec_typmod != typmod)
		prepare_record_type(order, typid, typmod);

	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;
	heap_deform_tuple(&tuple, order->rec_desc, order->rec_values, order->rec_isnull);
	values = order->rec_values;
	isnull = order->rec_isnull;
	if (order->map != NULL)
	{
		int			i;

		for (i = 0; i < order->desc->natts; i++)
		{
			AttrNumber	j = order->map->attnums[i];

			order->isnull[i] = j == 0 || order->rec_isnull[j - 1];
			order->values[i] = j == 0 ? (Datum) 0 : order->rec_values[j - 1];
		}
		values = order->values;
		isnull = order->isnull;
	}
	else if (order->rec_desc->natts != order->desc->natts)
		PG_RETURN_NULL();		/* not a row of the table */

	e = arrivaltab_lookup(order->tab, image_hash(order->desc, values, isnull));
	if (e == NULL)
		PG_RETURN_NULL();
	PG_RETURN_INT64(e->arrival);
}
