/*-------------------------------------------------------------------------
 *
 * buckets/dedupe_order.h
 *		The arrival order of a statement's rows, for dedupe: which of the
 *		statement's stored copies of one event it wrote first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_DEDUPE_ORDER_H
#define EDP_DEDUPE_ORDER_H

#include "access/attnum.h"
#include "executor/tuptable.h"
#include "utils/tuplestore.h"

typedef struct DedupeArrival DedupeArrival;

extern DedupeArrival *edp_dedupe_arrival_create(TupleDesc desc);
extern void edp_dedupe_arrival_note(DedupeArrival *order, TupleTableSlot *slot, int64 arrival);
extern int64 edp_dedupe_arrival_count(const DedupeArrival *order);
extern DedupeArrival *edp_dedupe_arrival_scan(Tuplestorestate *rows, TupleDesc desc,
											  int nkey, const AttrNumber *key_atts,
											  const int64 *arrival);
extern DedupeArrival *edp_dedupe_arrival_activate(DedupeArrival *order);

#endif							/* EDP_DEDUPE_ORDER_H */
