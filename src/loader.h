/*-------------------------------------------------------------------------
 *
 * loader.h
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
 *			... fill slot->tts_values / tts_isnull, then ...
 *			edp_loader_add(loader, slot, lineno);
 *		}
 *		rows = edp_loader_end(loader);
 *
 * edp_loader_flush() writes what is buffered now; callers that isolate
 * batches in subtransactions flush before releasing the subtransaction.
 * edp_loader_discard() drops buffered rows (after a rolled-back batch).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_LOADER_H
#define EDP_LOADER_H

#include "executor/tuptable.h"
#include "utils/rel.h"

typedef struct EdpLoader EdpLoader;

/* flags for edp_loader_begin */
#define EDP_LOADER_SKIP_FLATTEN_TRIGGER	0x01	/* rows arrive flattened */

extern EdpLoader *edp_loader_begin(Relation rel, int flags);
extern TupleTableSlot *edp_loader_slot(EdpLoader *loader);
extern void edp_loader_add(EdpLoader *loader, TupleTableSlot *slot, uint64 lineno);
extern void edp_loader_flush(EdpLoader *loader);
extern void edp_loader_discard(EdpLoader *loader);
extern uint64 edp_loader_end(EdpLoader *loader);

#endif							/* EDP_LOADER_H */
