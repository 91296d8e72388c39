/*
 * loader_standin.c -- TEMPORARY stand-in for the lead's src/loader.c, so
 * that ingest can run end to end before loader.c lands on main.  Rows are
 * inserted one at a time with ExecSimpleRelationInsert.  Deleted before the
 * final commit.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/rel.h"

#include "loader.h"

struct EdpLoader
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	uint64		pending;
	uint64		written;
};

EdpLoader *
edp_loader_begin(Relation rel, int flags)
{
	EdpLoader  *l = palloc0(sizeof(EdpLoader));
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	l->rel = rel;
	l->estate = CreateExecutorState();
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(l->estate, list_make1(rte));
	l->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(l->rri, rel, 1, NULL, 0);
	l->estate->es_opened_result_relations = lappend(l->estate->es_opened_result_relations, l->rri);
	l->estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(l->rri, false);
	l->slot = table_slot_create(rel, NULL);
	AfterTriggerBeginQuery();
	return l;
}

TupleTableSlot *
edp_loader_slot(EdpLoader *l)
{
	return l->slot;
}

void
edp_loader_add(EdpLoader *l, TupleTableSlot *slot, uint64 lineno)
{
	l->estate->es_output_cid = GetCurrentCommandId(true);
	ExecSimpleRelationInsert(l->rri, l->estate, slot);
	l->pending++;
}

void
edp_loader_flush(EdpLoader *l)
{
	l->written += l->pending;
	l->pending = 0;
}

void
edp_loader_discard(EdpLoader *l)
{
	l->pending = 0;
}

uint64
edp_loader_end(EdpLoader *l)
{
	uint64		n = l->written + l->pending;

	AfterTriggerEndQuery(l->estate);
	ExecCloseIndices(l->rri);
	ExecDropSingleTupleTableSlot(l->slot);
	FreeExecutorState(l->estate);
	return n;
}
