/*-------------------------------------------------------------------------
 *
 * core/loader.h
 *		Batched row insertion into a table with all of PostgreSQL's insert
 *		semantics in force: constraints, generated columns, indexes, row and
 *		statement triggers (with transition tables), partition routing.
 *
 * The COPY paths of edp (flattening COPY, validated ingest) convert input
 * rows into slots and hand them here; the loader buffers them and writes
 * them with table_multi_insert, as COPY does, unless a BEFORE ROW trigger
 * other than edp's own flattening trigger forces row-at-a-time inserts.
 *
 * Typical use:
 *		loader = edp_loader_begin(rel, 0);
 *		while (...)
 *		{
 *			TupleTableSlot *slot = edp_loader_slot(loader);
 *			ExecClearTuple(slot);
 *			... fill slot->tts_values / tts_isnull ...
 *			ExecStoreVirtualTuple(slot);
 *			edp_loader_add(loader, slot, lineno);
 *		}
 *		rows = edp_loader_end(loader);
 *
 * The caller holds at least RowExclusiveLock on rel and has checked the
 * privileges its statement needs; edp_loader_begin itself checks INSERT
 * on the table and refuses tables with row-level security enabled, as
 * COPY FROM does.
 *
 * Subtransactions: a loader must not outlive a subtransaction it was begun
 * in, and must not be used across a rolled-back subtransaction (the abort
 * releases the relations, locks and buffer pins the loader holds).  To
 * isolate batches, begin and end one loader inside each subtransaction,
 * in a memory context the caller resets per batch; on error, roll the
 * subtransaction back and forget the loader.  Statement triggers then fire
 * once per batch, which is what a per-batch COPY would do.
 *
 * Upkeep: a capability whose table state is kept by an AFTER INSERT
 * statement trigger with a transition table (edp's rollup and dedupe)
 * registers that trigger's function and a callback.  The loader then leaves
 * the trigger out, records where it wrote each row, and at its end calls the
 * callback once with the rows as stored (in the table's row type): COPY
 * keeps multi-inserts into partitioned tables (a transition table forces
 * row-at-a-time routing), and a load of several batches can take the rows
 * of all its batches to one upkeep (edp_loader_end_keep_written, then
 * edp_loader_upkeep once) instead of one per batch.  The line number given
 * to edp_loader_add is the row's arrival for the upkeep (dedupe keeps the
 * copy that arrived first): callers give increasing numbers in input order.
 *
 * Spooling (EDP_LOADER_SPOOL_DEFAULT): rows that routing sends to a DEFAULT
 * partition are kept aside (in the root's row type) instead of written,
 * when the table has no transition table of a user's trigger, so that a
 * COPY can create their partitions once it has closed the table and write
 * them in a second loader (EDP_LOADER_CONTINUES) of the same statement:
 * edp_loader_end_spooled then skips the AFTER STATEMENT triggers, which
 * the last loader fires.  edp_loader_spooled_rows tells how many wait.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_LOADER_H
#define EDP_LOADER_H

#include "executor/tuptable.h"
#include "utils/tuplestore.h"
#include "utils/rel.h"

typedef struct EdpLoader EdpLoader;

/* flags for edp_loader_begin */
#define EDP_LOADER_SKIP_FLATTEN_TRIGGER	0x01	/* rows arrive flattened */
#define EDP_LOADER_SINGLE_ROW			0x02	/* no multi-insert (volatile
												 * defaults, ...) */
#define EDP_LOADER_SPOOL_DEFAULT		0x04	/* rows routed to a DEFAULT
												 * partition are spooled */
#define EDP_LOADER_CONTINUES			0x08	/* continues a statement: no
												 * BEFORE STATEMENT triggers */

/*
 * keeps rel's state for the rows of one load, given in rel's row type;
 * arrival: each row's input line by its position in rows, when rows are
 * not in the order they arrived in (else NULL); first_cid: the command id
 * of the load's first statement when it has several (its rows since then
 * are its own), else InvalidCommandId
 */
typedef void (*EdpLoaderUpkeep) (Relation rel, Tuplestorestate *rows, const int64 *arrival,
								 CommandId first_cid);

/*
 * Called with the input line number of the row being written whenever the
 * loader works on a buffered row (index insertion, AFTER ROW triggers), so
 * that the caller's error context names the right line; called with 0 when
 * it is done.
 */
typedef void (*EdpLoaderLineCallback) (void *arg, uint64 lineno);

extern EdpLoader *edp_loader_begin(Relation rel, int flags);
extern void edp_loader_set_line_callback(EdpLoader *loader,
										 EdpLoaderLineCallback callback,
										 void *arg);
extern TupleTableSlot *edp_loader_slot(EdpLoader *loader);
extern void edp_loader_add(EdpLoader *loader, TupleTableSlot *slot, uint64 lineno);
extern uint64 edp_loader_end(EdpLoader *loader);

extern void edp_loader_register_upkeep(const char *trigger_function, EdpLoaderUpkeep upkeep);
extern uint64 edp_loader_end_keep_written(EdpLoader *loader, Tuplestorestate **written);
extern uint64 edp_loader_end_spooled(EdpLoader *loader, Tuplestorestate **written,
									 Tuplestorestate **spool, uint64 **spool_lines);
extern void edp_loader_add_unspooled(EdpLoader *loader, TupleTableSlot *slot, uint64 lineno);
extern uint64 edp_loader_spooled_rows(EdpLoader *loader);
extern void edp_loader_set_written_store(EdpLoader *loader, Tuplestorestate *store);
extern Tuplestorestate *edp_loader_written_store(void);
extern void edp_loader_append_written(Tuplestorestate *to, Tuplestorestate *from);
extern void edp_loader_upkeep(Relation rel, Tuplestorestate *written, CommandId first_cid);

#endif							/* EDP_LOADER_H */
