/*-------------------------------------------------------------------------
 *
 * events/flatten_copy.c
 *		edp's COPY FROM path for event tables: metrics flattened on the way
 *		in, naive timestamps read by edp's policy, COPY's batched inserts
 *		kept.
 *
 * A BEFORE ROW trigger would flatten COPY's rows too, but any such trigger
 * makes COPY insert row by row.  So for tables in edp.event_tables edp
 * takes over `COPY t [(cols)] FROM STDIN | 'file'` (text and csv formats)
 * through the ProcessUtility hook and runs its own loop built from
 * PostgreSQL's parts: BeginCopyFrom/NextCopyFrom parse and convert every
 * column but the metrics document as COPY would (options, defaults,
 * FORCE_NULL, error context), the document's raw field text is split once
 * by edp_flatten_text(), and the loader writes the rows in batches with
 * every other trigger, constraint and index in force.  timestamptz
 * columns get an input function that reads text without a UTC offset in
 * edp.naive_timezone rather than in the session's TimeZone.
 *
 * Anything unusual falls back to PostgreSQL's own COPY, where the row
 * trigger flattens: binary format, COPY ... WHERE, FROM PROGRAM, FREEZE,
 * tables with row-level security.  The rows are the same, except that a
 * blank document field is an error there and naive timestamps follow the
 * session's TimeZone.
 *
 * The hook is installed when the edp library is loaded; with edp in
 * shared_preload_libraries (or session_preload_libraries) it is there for
 * every session's first COPY.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/progress.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/backend_progress.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "buckets/buckets.h"
#include "core/copy_hook.h"
#include "core/edp.h"
#include "events/flatten.h"
#include "core/loader.h"

/* restores COPY's error context after the loader reported a row's line */
typedef struct CopyLineState
{
	CopyFromState cstate;
	uint64		saved_lineno;
	bool		saved_valid;
	bool		active;
} CopyLineState;

static void
copy_line_callback(void *arg, uint64 lineno)
{
	CopyLineState *state = (CopyLineState *) arg;

	if (lineno != 0)
	{
		if (!state->active)
		{
			state->saved_lineno = state->cstate->cur_lineno;
			state->saved_valid = state->cstate->line_buf_valid;
			state->active = true;
		}
		state->cstate->cur_lineno = lineno;
		state->cstate->line_buf_valid = false;
	}
	else if (state->active)
	{
		state->cstate->cur_lineno = state->saved_lineno;
		state->cstate->line_buf_valid = state->saved_valid;
		state->active = false;
	}
}

/*
 * Position of the document column among the COPY fields, or -1 when the
 * column list leaves it out (then there is nothing to flatten).
 */
static int
source_field_position(EdpFlattener *f, List *attnums)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, attnums)
	{
		if (lfirst_int(lc) == f->source_attnum)
			return i;
		i++;
	}
	return -1;
}

/* COPY's privilege checks, for the columns the flattening COPY fills. */
static void
check_copy_privileges(ParseState *pstate, Relation rel, EdpFlattener *f,
					  List *attnums)
{
	List	   *metric_attnums = NIL;
	int			m;

	for (m = 0; f != NULL && m < f->nmetrics; m++)
		metric_attnums = lappend_int(metric_attnums, f->metrics[m].attnum);
	edp_copy_check_privileges(pstate, rel, attnums, metric_attnums);
}

/*
 * What a COPY into a table partitioned by edp leaves for after the table
 * is closed: the rows routing sent to a DEFAULT partition (their
 * partitions are created then), and the rows written so far, whose upkeep
 * waits for the whole statement.
 */
typedef struct SpooledCopy
{
	Oid			relid;
	int			loader_flags;
	CommandId	first_cid;
	Tuplestorestate *written;
	Tuplestorestate *spool;
	uint64	   *spool_lines;
	EdpPartitionPlan *plan;		/* the table's, to create the partitions */
} SpooledCopy;

static void finish_spooled_copy(EdpCopyTarget *target, uint64 *processed);

/* The COPY loop: parse, convert, split the document, hand to the loader. */
static uint64
flattening_copy(EdpCopyTarget *target, Relation rel,
				EdpFlattener *f, List *attnums, int source_field)
{
	ParseState *pstate = target->pstate;
	CopyStmt   *stmt = target->stmt;
	int			loader_flags;
	CommandId	first_cid;
	Tuplestorestate *written;
	Tuplestorestate *spool;
	uint64	   *spool_lines;
	EdpPartitionPlan *plan;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	CopyFromState cstate;
	EdpLoader  *loader;
	EState	   *estate;
	ExprContext *econtext;
	TupleTableSlot *slot;
	ErrorContextCallback errcallback;
	CopyLineState line_state = {0};
	ListCell   *lc;
	uint64		processed;
	int64		rows = 0;
	pg_tz	   *naive = NULL;

	cstate = BeginCopyFrom(pstate, rel, NULL, stmt->filename, false, NULL,
						   stmt->attlist, stmt->options);

	/* convert every column as COPY does, except the document */
	if (f != NULL)
	{
		cstate->convert_select_flags = palloc0(sizeof(bool) * tupdesc->natts);
		foreach(lc, attnums)
			cstate->convert_select_flags[lfirst_int(lc) - 1] =
				(lfirst_int(lc) != f->source_attnum);
	}

	/*
	 * Event tables read timestamps written without a UTC offset in
	 * edp.naive_timezone, not in the session's TimeZone: their timestamptz
	 * columns get an input function that applies that policy.
	 */
	foreach(lc, attnums)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, lfirst_int(lc) - 1);

		if (att->atttypid == TIMESTAMPTZOID)
		{
			FmgrInfo   *in = &cstate->in_functions[att->attnum - 1];

			if (naive == NULL)
				naive = edp_naive_zone();
			in->fn_addr = edp_timestamptz_in_naive;
			in->fn_extra = naive;
		}
	}

	/*
	 * In a table edp partitions, rows of days (or types) without a partition
	 * are spooled, and written once their partitions exist, after the table
	 * is closed (finish_spooled_copy); not through the DEFAULT partition.
	 */
	loader_flags = EDP_LOADER_SKIP_FLATTEN_TRIGGER |
		(cstate->volatile_defexprs ? EDP_LOADER_SINGLE_ROW : 0);
	first_cid = GetCurrentCommandId(true);
	plan = edp_partitions_plan_begin(rel);
	loader = edp_loader_begin(rel, loader_flags | (plan != NULL ? EDP_LOADER_SPOOL_DEFAULT : 0));
	line_state.cstate = cstate;
	edp_loader_set_line_callback(loader, copy_line_callback, &line_state);
	slot = edp_loader_slot(loader);

	/* defaults are evaluated in a per-row expression context, as in COPY */
	estate = CreateExecutorState();
	econtext = GetPerTupleExprContext(estate);

	errcallback.callback = CopyFromErrorCallback;
	errcallback.arg = (void *) cstate;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (;;)
	{
		MemoryContext oldcontext;
		char	   *document;

		CHECK_FOR_INTERRUPTS();
		ResetPerTupleExprContext(estate);
		oldcontext = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));

		ExecClearTuple(slot);
		if (!NextCopyFrom(cstate, econtext, slot->tts_values, slot->tts_isnull))
		{
			MemoryContextSwitchTo(oldcontext);
			break;
		}

		document = f ? cstate->raw_fields[source_field] : NULL;
		if (f != NULL && cstate->opts.csv_mode)
		{
			/* NextCopyFrom applies these only to the columns it converts */
			int			m = f->source_attnum - 1;

			if (document == NULL && cstate->opts.force_notnull_flags[m])
				document = cstate->opts.null_print;
			else if (document != NULL && cstate->opts.force_null_flags[m] &&
					 strcmp(document, cstate->opts.null_print) == 0)
				document = NULL;
		}
		if (document != NULL)
		{
			cstate->cur_attname = f->source_name;
			cstate->cur_attval = document;
			edp_flatten_text(f, document, strlen(document),
							 slot->tts_values, slot->tts_isnull);
			cstate->cur_attname = NULL;
			cstate->cur_attval = NULL;
		}
		ExecStoreVirtualTuple(slot);
		MemoryContextSwitchTo(oldcontext);

		edp_loader_add(loader, slot, cstate->cur_lineno);
		/* as COPY does, for pg_stat_progress_copy */
		pgstat_progress_update_param(PROGRESS_COPY_TUPLES_PROCESSED, ++rows);
	}

	processed = edp_loader_end_spooled(loader, &written, &spool, &spool_lines);
	if (spool != NULL)
	{
		SpooledCopy *sc = palloc0(sizeof(SpooledCopy));

		sc->relid = RelationGetRelid(rel);
		sc->loader_flags = loader_flags | EDP_LOADER_CONTINUES;
		sc->first_cid = first_cid;
		sc->written = written;
		sc->spool = spool;
		sc->spool_lines = spool_lines;
		sc->plan = plan;
		target->after_close = finish_spooled_copy;
		target->after_close_arg = sc;
	}
	else if (written != NULL)
	{
		edp_loader_upkeep(rel, written, InvalidCommandId);
		tuplestore_end(written);
	}
	error_context_stack = errcallback.previous;
	FreeExecutorState(estate);
	EndCopyFrom(cstate);

	if (f != NULL)
		edp_flattener_report(f);
	return processed;
}

static void
note_spooled_rows(EdpPartitionPlan *plan, Relation rel, void *arg)
{
	Tuplestorestate *spool = (Tuplestorestate *) arg;
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);

	tuplestore_rescan(spool);
	while (tuplestore_gettupleslot(spool, true, false, slot))
	{
		slot_getallattrs(slot);
		edp_partitions_plan_row(plan, rel, slot->tts_values, slot->tts_isnull);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * The rest of a COPY that spooled rows (see SpooledCopy): create their
 * partitions (the table is closed; its lock stays), write them through a
 * second loader of the same statement, then run the upkeep of all the
 * statement's rows at once, as its first statement's own.
 */
static void
finish_spooled_copy(EdpCopyTarget *target, uint64 *processed)
{
	SpooledCopy *sc = (SpooledCopy *) target->after_close_arg;
	Relation	rel;
	EdpLoader  *loader;
	TupleTableSlot *slot;
	Tuplestorestate *written;
	uint64		line = 0;

	rel = table_open(sc->relid, RowExclusiveLock);
	edp_partitions_prepare(sc->plan, &rel, note_spooled_rows, sc->spool);
	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);

	loader = edp_loader_begin(rel, sc->loader_flags);
	if (sc->written != NULL)
		edp_loader_set_written_store(loader, sc->written);
	tuplestore_rescan(sc->spool);
	while (tuplestore_gettupleslot(sc->spool, true, false, slot))
	{
		TupleTableSlot *in = edp_loader_slot(loader);

		ExecClearTuple(in);
		slot_getallattrs(slot);
		memcpy(in->tts_values, slot->tts_values, sizeof(Datum) * slot->tts_tupleDescriptor->natts);
		memcpy(in->tts_isnull, slot->tts_isnull, sizeof(bool) * slot->tts_tupleDescriptor->natts);
		ExecStoreVirtualTuple(in);
		edp_loader_add(loader, in, sc->spool_lines[line++]);
	}
	*processed += edp_loader_end_keep_written(loader, &written);
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(sc->spool);
	if (written != NULL)
	{
		/* the statement's rows, from its first loader on, are its own */
		edp_loader_upkeep(rel, written, sc->first_cid);
		tuplestore_end(written);
	}
	table_close(rel, NoLock);
}

/*
 * The taker for event tables: a COPY into a table of edp.event_tables
 * (flattening or not) runs edp's COPY loop.
 */
static bool
flatten_take_copy(EdpCopyTarget *target, uint64 *processed)
{
	Relation	rel = target->rel;
	EdpFlattener *f;
	int			source_field;

	f = edp_flattener_create(rel, CurrentMemoryContext);
	source_field = f ? source_field_position(f, target->attnums) : -1;
	if (source_field < 0)
		f = NULL;				/* no document in this COPY */
	if (f == NULL && !edp_is_event_table(rel))
		return false;

	check_copy_privileges(target->pstate, rel, f, target->attnums);
	*processed = flattening_copy(target, rel, f, target->attnums, source_field);
	return true;
}

/* offer event tables' COPY to the hook (from edp_flatten_init) */
void
edp_flatten_copy_init(void)
{
	edp_copy_register_taker(edp_is_event_relid, flatten_take_copy);
}
