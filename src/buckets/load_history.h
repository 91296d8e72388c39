/*-------------------------------------------------------------------------
 *
 * buckets/load_history.h
 *		What a load of several transactions (a background job) stored in
 *		its committed ones, so that dedupe tells its own earlier rows from
 *		other loads' rows (buckets/load_history.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_LOAD_HISTORY_H
#define EDP_LOAD_HISTORY_H

typedef struct EdpLoadHistory EdpLoadHistory;

/* a new, empty history, freed with parent (the job's memory context) */
extern EdpLoadHistory *edp_load_history_create(MemoryContext parent);

/*
 * Set by a background job around its upkeep to its history, or NULL: the
 * upkeep then reads the rollup's occupancy as other loads' rows only.
 */
extern EdpLoadHistory *edp_dedupe_load_history;

/* upkeeps of inserted rows this backend has run, of any table */
extern uint64 edp_insert_upkeeps;

/*
 * For buckets/rollup_batch.c and buckets/triggers.c: h can serve an upkeep
 * of root (whose rollup key has key_type) that begins now.
 */
extern bool edp_load_history_usable(EdpLoadHistory *h, Oid root, Oid key_type,
									Oid key_coll, int16 key_len, bool key_byval);
extern void edp_load_history_invalidate(EdpLoadHistory *h);

/*
 * The slots of rollup row (key, chunk), whose xmin is given, that rows of
 * other loads hold, as this history knows them: false when it does not
 * (a row it never wrote, or one another transaction wrote since);
 * *others NULL when none.
 */
extern bool edp_load_history_others(EdpLoadHistory *h, Datum key, int64 chunk,
									TransactionId xmin, const uint64 **others);

/* this upkeep writes rollup row (key, chunk); others as it found them */
extern void edp_load_history_note(EdpLoadHistory *h, Datum key, int64 chunk,
								  const uint64 *others, int nwords);

/* could a row with this key fingerprint be one the load stored before? */
extern bool edp_load_history_has_fingerprint(const EdpLoadHistory *h, uint64 fp);
extern bool edp_load_history_has_fingerprints(const EdpLoadHistory *h);

/* the upkeep's rows' fingerprints, sorted (unsigned), repeats allowed */
extern void edp_load_history_add_fingerprints(EdpLoadHistory *h, const uint64 *fps, int64 n);

/* the upkeep is over: what it noted holds from the next one on */
extern void edp_load_history_seal(EdpLoadHistory *h);

#endif							/* EDP_LOAD_HISTORY_H */
