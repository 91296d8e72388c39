/*-------------------------------------------------------------------------
 *
 * core/loader.c
 *		Batched inserts with PostgreSQL's full insert semantics (see loader.h).
 *
 * This is the write half of a COPY FROM, built from the executor's own
 * pieces: a range table entry and ResultRelInfo for the target, tuple
 * routing for partitioned tables, BEFORE/AFTER row and statement triggers,
 * transition capture, constraint checks, and table_multi_insert() followed
 * by index insertion for buffered rows.  Rows are buffered per target
 * partition so that input in any order still goes out in batches.
 *
 * One deliberate difference from COPY: edp's own flattening trigger is
 * left out of the trigger set when the caller has flattened the rows
 * itself, because any BEFORE ROW trigger forces row-at-a-time inserts,
 * and flattening on the COPY path exists precisely to keep batching.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/hio.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/execPartition.h"
#include "executor/nodeModifyTable.h"
#include "foreign/fdwapi.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "core/citus.h"
#include "core/edp.h"
#include "core/loader.h"

static void edp_loader_flush(EdpLoader *loader);

/*
 * A target's rows are written when it holds this many rows or bytes (the
 * values COPY uses for all its targets together).  All targets are written
 * when they hold the larger totals together: rows that arrive in no order
 * of the partitions (events of a year into day partitions) then go in
 * batches of hundreds per partition instead of COPY's two or three, with
 * the partition's pages and index at hand.
 */
#define LOADER_MAX_BUFFERED_ROWS	1000
#define LOADER_MAX_BUFFERED_BYTES	65535
#define LOADER_MAX_TOTAL_ROWS		(64 * LOADER_MAX_BUFFERED_ROWS)
#define LOADER_MAX_TOTAL_BYTES		(8 * 1024 * 1024)

/* rows waiting for one target relation (the table, or one partition) */
typedef struct LoaderBuffer
{
	ResultRelInfo *rri;
	TupleTableSlot *slots[LOADER_MAX_BUFFERED_ROWS];
	uint64		linenos[LOADER_MAX_BUFFERED_ROWS];
	int			nused;
	Size		nbytes;
	BulkInsertState bistate;
} LoaderBuffer;

/* what we know about one target relation's triggers */
typedef struct LoaderTarget
{
	ResultRelInfo *rri;
	bool		has_br_trigger; /* BEFORE ROW INSERT, after filtering */
	bool		batched;		/* rows go through a LoaderBuffer */
	bool		spooled;		/* a DEFAULT partition whose rows are spooled */
	LoaderBuffer *buffer;
} LoaderTarget;

struct EdpLoader
{
	EState	   *estate;
	ModifyTableState *mtstate;
	ResultRelInfo *root;
	PartitionTupleRouting *proute;
	TransitionCaptureState *transition_capture;
	CommandId	cid;
	int			ti_options;
	int			flags;
	bool		batching_allowed;
	Oid			flatten_trigger_fn;
	TupleTableSlot *input_slot;
	BulkInsertState single_bistate;
	Oid			single_rel;		/* relation single_bistate last wrote to */

	List	   *targets;		/* LoaderTarget *, one per relation seen */
	LoaderTarget *last_target;
	int			buffered_rows;
	Size		buffered_bytes;
	uint64		processed;

	EdpLoaderLineCallback line_callback;
	void	   *line_callback_arg;

	Tuplestorestate *spool;		/* rows bound for a DEFAULT partition, or NULL */
	uint64	   *spool_lines;
	uint64		nspooled;
	uint64		spool_cap;
	bool		spool_paused;	/* edp_loader_add_unspooled is adding */
	MemoryContext caller_cxt;	/* outlives the loader: the spool's */

	int			upkeeps;		/* mask of registered upkeeps this table has */
	Tuplestorestate *written;	/* (relid, tid, line) of each row written, or
								 * NULL */
	TupleDesc	written_desc;
};

/* registered upkeeps (see loader.h) */
#define LOADER_MAX_UPKEEPS 4
typedef struct LoaderUpkeep
{
	const char *trigger_function;	/* in edp_internal */
	EdpLoaderUpkeep upkeep;
} LoaderUpkeep;

static LoaderUpkeep upkeeps[LOADER_MAX_UPKEEPS];
static int	nupkeeps = 0;

static Oid	flatten_trigger_function(void);
static int	filter_upkeep_triggers(ResultRelInfo *rri);
static void record_written(EdpLoader *loader, Oid relid, ItemPointer tid, uint64 lineno);
static void filter_flatten_trigger(EdpLoader *loader, ResultRelInfo *rri);
static LoaderTarget *loader_target(EdpLoader *loader, ResultRelInfo *rri);
static void insert_one(EdpLoader *loader, LoaderTarget *target,
					   TupleTableSlot *slot, uint64 lineno);
static void flush_buffer(EdpLoader *loader, LoaderBuffer *buffer);
static void report_line(EdpLoader *loader, uint64 lineno);

/*
 * OID of edp_internal.flatten_trigger(), or InvalidOid when it does not exist (the
 * loader is then used before the flattening objects are installed).
 */
static Oid
flatten_trigger_function(void)
{
	List	   *name = list_make2(makeString(EDP_INTERNAL_SCHEMA),
								  makeString("flatten_trigger"));

	return LookupFuncName(name, 0, NULL, true);
}

/*
 * Remove edp's flattening trigger from the executor's private copy of a
 * target's trigger descriptor, recomputing the one flag it affects.
 */
static void
filter_flatten_trigger(EdpLoader *loader, ResultRelInfo *rri)
{
	TriggerDesc *trigdesc = rri->ri_TrigDesc;
	int			i,
				kept = 0;
	bool		before_row = false;

	if (trigdesc == NULL || !OidIsValid(loader->flatten_trigger_fn))
		return;

	for (i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];
		uint16		type = trigger->tgtype;

		if (trigger->tgfoid == loader->flatten_trigger_fn)
			continue;
		if (kept != i)
			trigdesc->triggers[kept] = *trigger;
		kept++;
		if (TRIGGER_FOR_ROW(type) && TRIGGER_FOR_BEFORE(type) &&
			TRIGGER_FOR_INSERT(type))
			before_row = true;
	}
	if (kept == trigdesc->numtriggers)
		return;
	trigdesc->numtriggers = kept;
	trigdesc->trig_insert_before_row = before_row;
	if (kept == 0)
		rri->ri_TrigDesc = NULL;
}

/*
 * Register an upkeep: tables with an AFTER INSERT statement trigger calling
 * edp_internal.<trigger_function>() get their upkeep from the loader
 * (loader.h).  Called from _PG_init.
 */
void
edp_loader_register_upkeep(const char *trigger_function, EdpLoaderUpkeep upkeep)
{
	if (nupkeeps >= LOADER_MAX_UPKEEPS)
		elog(ERROR, "too many edp loader upkeeps");	/* internal error */
	upkeeps[nupkeeps].trigger_function = trigger_function;
	upkeeps[nupkeeps].upkeep = upkeep;
	nupkeeps++;
}

/* would PostgreSQL fire this trigger now (session_replication_role)? */
static bool
trigger_fires(Trigger *trigger)
{
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return trigger->tgenabled == TRIGGER_FIRES_ON_REPLICA ||
			trigger->tgenabled == TRIGGER_FIRES_ALWAYS;
	return trigger->tgenabled == TRIGGER_FIRES_ON_ORIGIN ||
		trigger->tgenabled == TRIGGER_FIRES_ALWAYS;
}

/* the registered upkeep whose trigger this is, or -1 */
static int
upkeep_of_trigger(Trigger *trigger, const Oid *fnoids)
{
	int			u;
	uint16		type = trigger->tgtype;

	if (!TRIGGER_FOR_INSERT(type) || TRIGGER_FOR_ROW(type) || TRIGGER_FOR_BEFORE(type) ||
		TRIGGER_FOR_INSTEAD(type) || trigger->tgnewtable == NULL || trigger->tgqual != NULL)
		return -1;
	for (u = 0; u < nupkeeps; u++)
		if (OidIsValid(fnoids[u]) && trigger->tgfoid == fnoids[u])
			return u;
	return -1;
}

static void
upkeep_function_oids(Oid *fnoids)
{
	int			u;

	for (u = 0; u < nupkeeps; u++)
		fnoids[u] = LookupFuncName(list_make2(makeString(EDP_INTERNAL_SCHEMA),
											  makeString(unconstify(char *, upkeeps[u].trigger_function))),
								   0, NULL, true);
}

/* mask of the upkeeps whose triggers fire on rel */
static int
upkeeps_of_relation(Relation rel)
{
	Oid			fnoids[LOADER_MAX_UPKEEPS];
	int			mask = 0;
	int			i;

	if (rel->trigdesc == NULL || nupkeeps == 0)
		return 0;
	upkeep_function_oids(fnoids);
	for (i = 0; i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &rel->trigdesc->triggers[i];
		int			u = upkeep_of_trigger(trigger, fnoids);

		if (u >= 0 && trigger_fires(trigger))
			mask |= 1 << u;
	}
	return mask;
}

/*
 * Remove the upkeep triggers from the executor's private copy of the
 * root's trigger descriptor, recomputing the INSERT flags they affect;
 * returns the mask of upkeeps removed (and so owed by the loader).
 */
static int
filter_upkeep_triggers(ResultRelInfo *rri)
{
	TriggerDesc *trigdesc = rri->ri_TrigDesc;
	Oid			fnoids[LOADER_MAX_UPKEEPS];
	int			mask = 0;
	int			i,
				kept = 0;
	bool		after_statement = false;
	bool		new_table = false;

	if (trigdesc == NULL || nupkeeps == 0)
		return 0;
	upkeep_function_oids(fnoids);
	for (i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];
		uint16		type = trigger->tgtype;
		int			u = upkeep_of_trigger(trigger, fnoids);

		if (u >= 0)
		{
			/* a disabled upkeep trigger stays out, owed by no one (as PostgreSQL would) */
			if (trigger_fires(trigger))
				mask |= 1 << u;
			continue;
		}
		if (kept != i)
			trigdesc->triggers[kept] = *trigger;
		kept++;
		if (TRIGGER_FOR_INSERT(type) && !TRIGGER_FOR_ROW(type) && !TRIGGER_FOR_BEFORE(type) &&
			!TRIGGER_FOR_INSTEAD(type))
			after_statement = true;
		if (TRIGGER_FOR_INSERT(type) && trigger->tgnewtable != NULL)
			new_table = true;
	}
	if (kept == trigdesc->numtriggers)
		return 0;
	trigdesc->numtriggers = kept;
	trigdesc->trig_insert_after_statement = after_statement;
	trigdesc->trig_insert_new_table = new_table;
	if (kept == 0)
		rri->ri_TrigDesc = NULL;
	return mask;
}

/* a store for the (relid, tid, line) of written rows, in the current context */
Tuplestorestate *
edp_loader_written_store(void)
{
	return tuplestore_begin_heap(false, false, work_mem);
}

static TupleDesc
written_desc(void)
{
	TupleDesc	desc = CreateTemplateTupleDesc(3);

	TupleDescInitEntry(desc, 1, "relid", OIDOID, -1, 0);
	TupleDescInitEntry(desc, 2, "tid", TIDOID, -1, 0);
	TupleDescInitEntry(desc, 3, "line", INT8OID, -1, 0);
	return desc;
}

/*
 * The line is the row's arrival: rows are written per partition, and
 * spooled rows after the others, so the order of the store is not the
 * order of the input (dedupe keeps the copy that arrived first).
 */
static void
record_written(EdpLoader *loader, Oid relid, ItemPointer tid, uint64 lineno)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = ObjectIdGetDatum(relid);
	values[1] = PointerGetDatum(tid);
	values[2] = Int64GetDatum((int64) lineno);
	tuplestore_putvalues(loader->written, loader->written_desc, values, nulls);
}

/*
 * Record the rows written in the caller's store instead of the loader's
 * own: a store that must outlive the subtransaction the loader lives in
 * has to be made outside it (its temporary file belongs to the resource
 * owner that was current then).  Does nothing for a table without upkeep.
 */
void
edp_loader_set_written_store(EdpLoader *loader, Tuplestorestate *store)
{
	if (loader->written == NULL)
		return;
	tuplestore_end(loader->written);
	loader->written = store;
}

/* append the written rows of from (a batch) to to (its load) */
void
edp_loader_append_written(Tuplestorestate *to, Tuplestorestate *from)
{
	TupleDesc	desc = written_desc();
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);

	tuplestore_rescan(from);
	while (tuplestore_gettupleslot(from, true, false, slot))
		tuplestore_puttupleslot(to, slot);
	ExecDropSingleTupleTableSlot(slot);
	FreeTupleDesc(desc);
}

/*
 * The line of each row of written by its position, when the rows were not
 * written in the order of their lines (NULL when they were)
 */
static int64 *
written_arrival(Tuplestorestate *written, TupleDesc wdesc)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(wdesc, &TTSOpsMinimalTuple);
	int64	   *arrival = NULL;
	int64		n = 0;
	int64		last = PG_INT64_MIN;
	bool		sorted = true;
	bool		isnull;

	tuplestore_rescan(written);
	while (tuplestore_gettupleslot(written, true, false, slot))
	{
		int64		line = DatumGetInt64(slot_getattr(slot, 3, &isnull));

		if (line < last)
			sorted = false;
		last = line;
		n++;
	}
	if (!sorted)
	{
		arrival = palloc_extended(sizeof(int64) * Max(n, 1), MCXT_ALLOC_HUGE);
		n = 0;
		tuplestore_rescan(written);
		while (tuplestore_gettupleslot(written, true, false, slot))
			arrival[n++] = DatumGetInt64(slot_getattr(slot, 3, &isnull));
	}
	ExecDropSingleTupleTableSlot(slot);
	return arrival;
}

/*
 * Run the upkeeps rel has for the rows recorded in written: the rows are
 * read back by their tids, as stored (any later change was seen by the
 * upkeep's own UPDATE and DELETE triggers), in rel's row type, in the
 * order they were written, with their arrival (input line) when that is
 * another order.  The tids stay valid: the rows' transaction is still
 * running, so nothing can prune them.
 */
void
edp_loader_upkeep(Relation rel, Tuplestorestate *written, CommandId first_cid)
{
	int			mask = upkeeps_of_relation(rel);
	TupleDesc	wdesc;
	TupleTableSlot *wslot;
	TupleTableSlot *rootslot;
	Tuplestorestate *rows;
	Relation	part = NULL;
	TupleTableSlot *partslot = NULL;
	TupleConversionMap *map = NULL;
	int64	   *arrival;
	int			u;

	if (mask == 0 || written == NULL || tuplestore_tuple_count(written) == 0)
		return;
	wdesc = written_desc();
	arrival = written_arrival(written, wdesc);
	wslot = MakeSingleTupleTableSlot(wdesc, &TTSOpsMinimalTuple);
	rootslot = table_slot_create(rel, NULL);
	rows = tuplestore_begin_heap(false, false, work_mem);
	tuplestore_rescan(written);
	while (tuplestore_gettupleslot(written, true, false, wslot))
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(slot_getattr(wslot, 1, &isnull));
		ItemPointer tid = (ItemPointer) DatumGetPointer(slot_getattr(wslot, 2, &isnull));
		TupleTableSlot *slot;

		CHECK_FOR_INTERRUPTS();
		if (part == NULL || RelationGetRelid(part) != relid)
		{
			if (part != NULL && part != rel)
			{
				ExecDropSingleTupleTableSlot(partslot);
				table_close(part, NoLock);
			}
			/* locked since the rows were written */
			part = relid == RelationGetRelid(rel) ? rel : table_open(relid, NoLock);
			partslot = part == rel ? rootslot : table_slot_create(part, NULL);
			map = part == rel ? NULL :
				convert_tuples_by_name(RelationGetDescr(part), RelationGetDescr(rel));
		}
		if (!table_tuple_fetch_row_version(part, tid, SnapshotAny, partslot))
			elog(ERROR, "edp loader could not read back a row it wrote");	/* internal error */
		slot = partslot;
		if (part != rel)
			slot = map != NULL ? execute_attr_map_slot(map->attrMap, partslot, rootslot) : partslot;
		tuplestore_puttupleslot(rows, slot);
	}
	if (part != NULL && part != rel)
	{
		ExecDropSingleTupleTableSlot(partslot);
		table_close(part, NoLock);
	}
	ExecDropSingleTupleTableSlot(wslot);
	ExecDropSingleTupleTableSlot(rootslot);
	FreeTupleDesc(wdesc);

	for (u = 0; u < nupkeeps; u++)
		if (mask & (1 << u))
		{
			tuplestore_rescan(rows);
			upkeeps[u].upkeep(rel, rows, arrival, first_cid);
		}
	tuplestore_end(rows);
	if (arrival != NULL)
		pfree(arrival);
}

EdpLoader *
edp_loader_begin(Relation rel, int flags)
{
	EdpLoader  *loader = palloc0(sizeof(EdpLoader));
	EState	   *estate = CreateExecutorState();
	RangeTblEntry *rte;
	ResultRelInfo *root;
	ModifyTableState *mtstate;

	edp_refuse_citus_table(rel);
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("edp cannot load into \"%s\" because it has row-level security enabled",
						RelationGetRelationName(rel)),
				 errhint("Use INSERT statements instead.")));

	loader->estate = estate;
	loader->flags = flags;
	loader->cid = GetCurrentCommandId(true);

	/* the range table entry the executor checks and reports against */
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	ExecCheckRTPerms(list_make1(rte), true);

	ExecInitRangeTable(estate, list_make1(rte));
	root = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, root, 1);
	CheckValidResultRel(root, CMD_INSERT);
	ExecOpenIndices(root, false);
	loader->root = root;

	mtstate = makeNode(ModifyTableState);
	mtstate->ps.plan = NULL;
	mtstate->ps.state = estate;
	mtstate->operation = CMD_INSERT;
	mtstate->mt_nrels = 1;
	mtstate->resultRelInfo = root;
	mtstate->rootResultRelInfo = root;
	loader->mtstate = mtstate;

	/* a table new in this (sub)transaction needs no free-space lookups */
	if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind) &&
		(rel->rd_createSubid != InvalidSubTransactionId ||
		 rel->rd_firstRelfilenodeSubid != InvalidSubTransactionId))
		loader->ti_options |= TABLE_INSERT_SKIP_FSM;

	loader->flatten_trigger_fn = (flags & EDP_LOADER_SKIP_FLATTEN_TRIGGER) ?
		flatten_trigger_function() : InvalidOid;
	filter_flatten_trigger(loader, root);

	/* edp's own upkeep triggers: the loader keeps their state itself */
	loader->upkeeps = filter_upkeep_triggers(root);
	if (loader->upkeeps != 0)
	{
		loader->written = edp_loader_written_store();
		loader->written_desc = written_desc();
	}

	AfterTriggerBeginQuery();
	loader->transition_capture = mtstate->mt_transition_capture =
		MakeTransitionCaptureState(root->ri_TrigDesc, RelationGetRelid(rel), CMD_INSERT);

	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		loader->proute = ExecSetupPartitionTupleRouting(estate, rel);

	/*
	 * Batching is off when COPY would turn it off: foreign tables, and
	 * transition tables on a partitioned table (captured rows must be in
	 * the root's form, which only row-at-a-time inserts keep at hand).
	 * BEFORE ROW triggers turn it off per target, below.
	 */
	loader->batching_allowed = !(flags & EDP_LOADER_SINGLE_ROW) &&
		root->ri_FdwRoutine == NULL &&
		!(loader->proute != NULL && root->ri_TrigDesc != NULL &&
		  root->ri_TrigDesc->trig_insert_new_table);

	loader->input_slot = table_slot_create(rel, &estate->es_tupleTable);
	loader->single_bistate = GetBulkInsertState();
	loader->single_rel = InvalidOid;

	/* spooling would split a user's transition table in two: not then */
	if ((flags & EDP_LOADER_SPOOL_DEFAULT) && loader->proute != NULL &&
		!(root->ri_TrigDesc != NULL && root->ri_TrigDesc->trig_insert_new_table))
	{
		loader->caller_cxt = CurrentMemoryContext;
		loader->spool = tuplestore_begin_heap(false, false, work_mem);
	}

	if (!(flags & EDP_LOADER_CONTINUES))
		ExecBSInsertTriggers(estate, root);

	return loader;
}

void
edp_loader_set_line_callback(EdpLoader *loader, EdpLoaderLineCallback callback,
							 void *arg)
{
	loader->line_callback = callback;
	loader->line_callback_arg = arg;
}

static void
report_line(EdpLoader *loader, uint64 lineno)
{
	if (loader->line_callback)
		loader->line_callback(loader->line_callback_arg, lineno);
}

/* The slot, in the target table's row type, that callers fill. */
TupleTableSlot *
edp_loader_slot(EdpLoader *loader)
{
	return loader->input_slot;
}

/* Find or set up what we keep for one target relation. */
static LoaderTarget *
loader_target(EdpLoader *loader, ResultRelInfo *rri)
{
	LoaderTarget *target;
	ListCell   *lc;

	if (loader->last_target && loader->last_target->rri == rri)
		return loader->last_target;

	foreach(lc, loader->targets)
	{
		target = (LoaderTarget *) lfirst(lc);
		if (target->rri == rri)
			return loader->last_target = target;
	}

	target = MemoryContextAllocZero(loader->estate->es_query_cxt,
									sizeof(LoaderTarget));
	target->rri = rri;
	if (rri != loader->root)
		filter_flatten_trigger(loader, rri);
	if (loader->spool != NULL && rri != loader->root &&
		rri->ri_RelationDesc->rd_rel->relispartition)
	{
		Oid			relid = RelationGetRelid(rri->ri_RelationDesc);

		target->spooled = get_default_partition_oid(get_partition_parent(relid, false)) == relid;
	}
	target->has_br_trigger = rri->ri_TrigDesc != NULL &&
		(rri->ri_TrigDesc->trig_insert_before_row ||
		 rri->ri_TrigDesc->trig_insert_instead_row);
	target->batched = loader->batching_allowed && !target->has_br_trigger &&
		rri->ri_FdwRoutine == NULL;
	if (target->batched)
	{
		target->buffer = MemoryContextAllocZero(loader->estate->es_query_cxt,
												sizeof(LoaderBuffer));
		target->buffer->rri = rri;
		target->buffer->bistate = GetBulkInsertState();
	}
	loader->targets = lappend(loader->targets, target);
	return loader->last_target = target;
}

/*
 * Add one row, given in the target table's row type.  The slot's contents
 * are copied (or inserted) before this returns, so the caller may reuse
 * the slot and the memory its values live in.
 */
void
edp_loader_add(EdpLoader *loader, TupleTableSlot *slot, uint64 lineno)
{
	EState	   *estate = loader->estate;
	ResultRelInfo *rri = loader->root;
	LoaderTarget *target;
	Relation	rel;
	MemoryContext oldcontext;

	CHECK_FOR_INTERRUPTS();
	ResetPerTupleExprContext(estate);

	if (TTS_EMPTY(slot))
		ExecStoreVirtualTuple(slot);
	slot->tts_tableOid = RelationGetRelid(loader->root->ri_RelationDesc);

	if (loader->proute)
		rri = ExecFindPartition(loader->mtstate, loader->root, loader->proute,
								slot, estate);
	target = loader_target(loader, rri);
	rel = rri->ri_RelationDesc;

	if (target->spooled && !loader->spool_paused)
	{
		/* the caller creates this row's partition and writes it later */
		if (loader->nspooled >= loader->spool_cap)
		{
			loader->spool_cap = Max(1024, loader->spool_cap * 2);
			loader->spool_lines = loader->spool_lines == NULL
				? MemoryContextAllocHuge(loader->caller_cxt, sizeof(uint64) * loader->spool_cap)
				: repalloc_huge(loader->spool_lines, sizeof(uint64) * loader->spool_cap);
		}
		loader->spool_lines[loader->nspooled++] = lineno;
		tuplestore_puttupleslot(loader->spool, slot);
		return;
	}

	if (!target->batched)
	{
		TupleConversionMap *map = rri->ri_RootToPartitionMap;

		if (loader->transition_capture != NULL)
			loader->transition_capture->tcs_original_insert_tuple =
				target->has_br_trigger ? NULL : slot;
		if (loader->proute && map != NULL)
			slot = execute_attr_map_slot(map->attrMap, slot,
										 rri->ri_PartitionTupleSlot);
		slot->tts_tableOid = RelationGetRelid(rel);
		insert_one(loader, target, slot, lineno);
		return;
	}
	else
	{
		LoaderBuffer *buffer = target->buffer;
		TupleTableSlot *batchslot;
		TupleConversionMap *map = rri->ri_RootToPartitionMap;

		if (buffer->slots[buffer->nused] == NULL)
			buffer->slots[buffer->nused] = table_slot_create(rel, NULL);
		batchslot = buffer->slots[buffer->nused];

		oldcontext = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
		if (loader->proute && map != NULL)
			batchslot = execute_attr_map_slot(map->attrMap, slot, batchslot);
		else
			ExecCopySlot(batchslot, slot);
		MemoryContextSwitchTo(oldcontext);
		batchslot->tts_tableOid = RelationGetRelid(rel);

		if (rel->rd_att->constr && rel->rd_att->constr->has_generated_stored)
			ExecComputeStoredGenerated(rri, estate, batchslot, CMD_INSERT);
		if (rel->rd_att->constr)
			ExecConstraints(rri, batchslot, estate);
		if (rel->rd_rel->relispartition && loader->proute == NULL)
			ExecPartitionCheck(rri, batchslot, estate, true);

		/* the buffered row must outlive the per-tuple context */
		ExecMaterializeSlot(batchslot);
		{
			Size		len = batchslot->tts_ops == &TTSOpsBufferHeapTuple ?
				((BufferHeapTupleTableSlot *) batchslot)->base.tuple->t_len : 0;

			buffer->linenos[buffer->nused] = lineno;
			buffer->nused++;
			buffer->nbytes += len;
			loader->buffered_rows++;
			loader->buffered_bytes += len;
		}
		loader->processed++;

		if (buffer->nused >= LOADER_MAX_BUFFERED_ROWS ||
			buffer->nbytes >= LOADER_MAX_BUFFERED_BYTES)
		{
			loader->buffered_rows -= buffer->nused;
			loader->buffered_bytes -= buffer->nbytes;
			flush_buffer(loader, buffer);
		}
		else if (loader->buffered_rows >= LOADER_MAX_TOTAL_ROWS ||
				 loader->buffered_bytes >= LOADER_MAX_TOTAL_BYTES)
			edp_loader_flush(loader);
	}
}

/* Row-at-a-time insert, with BEFORE ROW triggers, as COPY does it. */
static void
insert_one(EdpLoader *loader, LoaderTarget *target, TupleTableSlot *slot,
		   uint64 lineno)
{
	EState	   *estate = loader->estate;
	ResultRelInfo *rri = target->rri;
	Relation	rel = rri->ri_RelationDesc;
	List	   *recheck = NIL;

	/* rows buffered for other targets go first, to keep input order */
	if (loader->buffered_rows > 0)
		edp_loader_flush(loader);

	if (target->has_br_trigger)
	{
		if (rri->ri_TrigDesc->trig_insert_instead_row)
		{
			ExecIRInsertTriggers(estate, rri, slot);
			loader->processed++;
			return;
		}
		if (!ExecBRInsertTriggers(estate, rri, slot))
			return;				/* the trigger said "do nothing" */
	}

	if (rel->rd_att->constr && rel->rd_att->constr->has_generated_stored)
		ExecComputeStoredGenerated(rri, estate, slot, CMD_INSERT);

	if (rri->ri_FdwRoutine != NULL)
	{
		if (loader->written != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("edp cannot keep the rollup or dedupe of \"%s\" for rows written to foreign table \"%s\"",
							RelationGetRelationName(loader->root->ri_RelationDesc), RelationGetRelationName(rel)),
					 errhint("Load into the foreign table's server directly, or detach it from \"%s\".",
							 RelationGetRelationName(loader->root->ri_RelationDesc))));
		slot = rri->ri_FdwRoutine->ExecForeignInsert(estate, rri, slot, NULL);
		if (slot == NULL)
			return;
		slot->tts_tableOid = RelationGetRelid(rel);
	}
	else
	{
		if (rel->rd_att->constr)
			ExecConstraints(rri, slot, estate);
		if (rel->rd_rel->relispartition &&
			(loader->proute == NULL || target->has_br_trigger))
			ExecPartitionCheck(rri, slot, estate, true);

		/*
		 * A bulk insert state keeps the last page it wrote pinned and writes
		 * there again: switching relations without releasing it would put
		 * this row into the previous partition's page (COPY releases it
		 * when the partition changes, for the same reason).
		 */
		if (loader->single_rel != RelationGetRelid(rel))
		{
			ReleaseBulkInsertStatePin(loader->single_bistate);
			loader->single_rel = RelationGetRelid(rel);
		}
		table_tuple_insert(rel, slot, loader->cid, loader->ti_options,
						   loader->single_bistate);
		if (loader->written != NULL)
			record_written(loader, RelationGetRelid(rel), &slot->tts_tid, lineno);
		if (rri->ri_NumIndices > 0)
			recheck = ExecInsertIndexTuples(rri, slot, estate, false, false,
											NULL, NIL);
	}
	ExecARInsertTriggers(estate, rri, slot, recheck, loader->transition_capture);
	list_free(recheck);
	loader->processed++;
}

/* Write one target's buffered rows: heap first, then indexes and triggers. */
static void
flush_buffer(EdpLoader *loader, LoaderBuffer *buffer)
{
	EState	   *estate = loader->estate;
	ResultRelInfo *rri = buffer->rri;
	MemoryContext oldcontext;
	bool		after_row = rri->ri_TrigDesc != NULL &&
		(rri->ri_TrigDesc->trig_insert_after_row ||
		 rri->ri_TrigDesc->trig_insert_new_table);
	int			i;

	if (buffer->nused == 0)
		return;

	/* table_multi_insert may leak memory: run it in the per-tuple context */
	oldcontext = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	table_multi_insert(rri->ri_RelationDesc, buffer->slots, buffer->nused,
					   loader->cid, loader->ti_options, buffer->bistate);
	MemoryContextSwitchTo(oldcontext);

	for (i = 0; i < buffer->nused; i++)
	{
		TupleTableSlot *slot = buffer->slots[i];

		if (loader->written != NULL)
			record_written(loader, RelationGetRelid(rri->ri_RelationDesc), &slot->tts_tid,
						   buffer->linenos[i]);
		if (rri->ri_NumIndices > 0 || after_row)
		{
			List	   *recheck = NIL;

			report_line(loader, buffer->linenos[i]);
			if (rri->ri_NumIndices > 0)
				recheck = ExecInsertIndexTuples(rri, slot, estate, false,
												false, NULL, NIL);
			if (after_row)
				ExecARInsertTriggers(estate, rri, slot, recheck,
									 loader->transition_capture);
			list_free(recheck);
			ResetPerTupleExprContext(estate);
		}
		ExecClearTuple(slot);
	}
	report_line(loader, 0);

	/* no buffer pin may outlive this call (callers end subtransactions) */
	ReleaseBulkInsertStatePin(buffer->bistate);
	buffer->nused = 0;
	buffer->nbytes = 0;
}

/* Write every buffered row now. */
static void
edp_loader_flush(EdpLoader *loader)
{
	ListCell   *lc;

	foreach(lc, loader->targets)
	{
		LoaderTarget *target = (LoaderTarget *) lfirst(lc);

		if (target->buffer)
			flush_buffer(loader, target->buffer);
	}
	loader->buffered_rows = 0;
	loader->buffered_bytes = 0;
	ResetPerTupleExprContext(loader->estate);
}

/*
 * Flush, fire AFTER STATEMENT triggers and queued AFTER ROW triggers,
 * release everything.  Returns the number of rows inserted.
 */
uint64
edp_loader_end(EdpLoader *loader)
{
	Relation	rel = loader->root->ri_RelationDesc;
	Tuplestorestate *written;
	uint64		processed;

	processed = edp_loader_end_keep_written(loader, &written);
	if (written != NULL)
	{
		edp_loader_upkeep(rel, written, InvalidCommandId);
		tuplestore_end(written);
	}
	return processed;
}

/*
 * The same, but the upkeep of the rows written is left to the caller:
 * *written gets their (relid, tid) store (NULL when the table has no
 * upkeep), for edp_loader_upkeep() now or after more batches.
 */
uint64
edp_loader_end_keep_written(EdpLoader *loader, Tuplestorestate **written)
{
	Tuplestorestate *spool;
	uint64	   *lines;
	uint64		processed = edp_loader_end_spooled(loader, written, &spool, &lines);

	if (spool != NULL)
		elog(ERROR, "edp loader spooled rows nobody writes");	/* internal error */
	return processed;
}

/*
 * Add a row spooled before, whose partition the caller has created since:
 * written wherever routing sends it now, a DEFAULT partition included (a
 * row that belongs there, as one without a time, is not spooled twice).
 */
void
edp_loader_add_unspooled(EdpLoader *loader, TupleTableSlot *slot, uint64 lineno)
{
	loader->spool_paused = true;	/* an error ends the loader's statement */
	edp_loader_add(loader, slot, lineno);
	loader->spool_paused = false;
}

/* rows spooled so far for DEFAULT partitions (EDP_LOADER_SPOOL_DEFAULT) */
uint64
edp_loader_spooled_rows(EdpLoader *loader)
{
	return loader->nspooled;
}

/*
 * The same, and *spool gets the rows spooled for DEFAULT partitions (in
 * the table's row type, NULL when none), *spool_lines their line numbers:
 * then the statement goes on in another loader (EDP_LOADER_CONTINUES),
 * which fires the AFTER STATEMENT triggers this one leaves out.
 */
uint64
edp_loader_end_spooled(EdpLoader *loader, Tuplestorestate **written,
					   Tuplestorestate **spool, uint64 **spool_lines)
{
	EState	   *estate = loader->estate;
	uint64		processed;
	ListCell   *lc;
	bool		more = loader->spool != NULL && loader->nspooled > 0;

	edp_loader_flush(loader);

	if (!more)
		ExecASInsertTriggers(estate, loader->root, loader->transition_capture);
	AfterTriggerEndQuery(estate);

	ReleaseBulkInsertStatePin(loader->single_bistate);
	FreeBulkInsertState(loader->single_bistate);
	foreach(lc, loader->targets)
	{
		LoaderTarget *target = (LoaderTarget *) lfirst(lc);
		LoaderBuffer *buffer = target->buffer;
		int			i;

		if (buffer == NULL)
			continue;
		FreeBulkInsertState(buffer->bistate);
		for (i = 0; i < LOADER_MAX_BUFFERED_ROWS && buffer->slots[i]; i++)
			ExecDropSingleTupleTableSlot(buffer->slots[i]);
		table_finish_bulk_insert(target->rri->ri_RelationDesc,
								 loader->ti_options);
	}

	ExecResetTupleTable(estate->es_tupleTable, false);
	if (loader->proute)
		ExecCleanupTupleRouting(loader->mtstate, loader->proute);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);

	processed = loader->processed;
	*written = loader->written;
	if (more)
	{
		*spool = loader->spool;
		*spool_lines = loader->spool_lines;
	}
	else
	{
		if (loader->spool != NULL)
			tuplestore_end(loader->spool);
		*spool = NULL;
		*spool_lines = NULL;
	}
	if (loader->written_desc)
		FreeTupleDesc(loader->written_desc);
	FreeExecutorState(estate);
	pfree(loader);
	return processed;
}
