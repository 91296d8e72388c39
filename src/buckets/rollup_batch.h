/*-------------------------------------------------------------------------
 *
 * buckets/rollup_batch.h
 *		A statement's rows read once in C: the rollup delta per (key,
 *		chunk) and the rows that may repeat an event (dedupe candidates).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_ROLLUP_BATCH_H
#define EDP_ROLLUP_BATCH_H

#include "access/attnum.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/tuplestore.h"

/* dedupe keys of the rows that may repeat an event, one array per column */
typedef struct DedupeCandidates
{
	int64		n;				/* number of candidate rows */
	Datum	   *arrays;			/* one array per key column (n <= limit) */
	Oid		   *types;			/* their array types */
	struct DedupeArrival *order;	/* arrival of the rows whose key repeats
									 * in the statement (buckets/dedupe_order.h),
									 * or NULL */
	bool		ordered;		/* order is known (NULL: no key repeats) */
} DedupeCandidates;

typedef struct RollupBatch RollupBatch;

/* hash of a rollup row's (key, chunk start), with the key type's hash function */
static inline uint32
edp_rollup_row_hash(FmgrInfo *key_hash, Oid key_coll, Datum key, int64 chunk)
{
	uint32		h = DatumGetUInt32(FunctionCall1Coll(key_hash, key_coll, key));

	return hash_combine(h, murmurhash32((uint32) (chunk ^ (chunk >> 32))));
}

/*
 * What to read.  The attribute numbers are those of the transition
 * table's tuple descriptor (the relation the trigger fired on).
 */
typedef struct RollupBatchSpec
{
	TupleDesc	desc;
	AttrNumber	key_att;
	AttrNumber	ts_att;
	int64		width_us;		/* rollup bucket width */
	int			sign;			/* +1 rows added, -1 rows removed */
	int			ndedupe;		/* 0: no fingerprints */
	AttrNumber *dedupe_atts;
	const int64 *arrival;		/* each row's arrival by position, or NULL:
								 * the rows are in arrival order */
	bool		keep_fingerprints;	/* for a load history (load_history.h) */
} RollupBatchSpec;

/* NULL when the key or a dedupe column has no hash support: use SQL */
extern RollupBatch *edp_rollup_batch_scan(Tuplestorestate *rows,
										  const RollupBatchSpec *spec);

/*
 * false without dedupe columns: find candidates in SQL.  history: the
 * load's (buckets/load_history.h) for root, or NULL.
 */
struct EdpLoadHistory;
extern bool edp_rollup_batch_candidates(RollupBatch *batch, const char *rollup,
										int64 array_limit, DedupeCandidates *dc,
										struct EdpLoadHistory *history, Oid root);

extern void edp_rollup_batch_write(RollupBatch *batch, const char *rollup);


#endif							/* EDP_ROLLUP_BATCH_H */
