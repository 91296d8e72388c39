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
 * Rows a COPY into a table edp partitions keeps aside, at most, before it
 * creates their partitions: the loader spools what routing sends to the
 * DEFAULT partition (rows of days, or types, without a partition yet).
 */
#define SPOOL_ROUND_ROWS	1000

/*
 * One COPY's writing: its loader (one per round, see next_round) and the
 * store of the rows written, whose upkeep waits for the whole statement.
 */
typedef struct CopyLoad
{
	EdpCopyTarget *target;		/* target->rel: the table, reopened by rounds */
	CopyFromState cstate;
	CopyLineState *line_state;
	EdpPartitionPlan *plan;		/* the table's, when edp partitions it */
	int			flags;			/* the first loader's */
	CommandId	first_cid;
	EdpLoader  *loader;
	Tuplestorestate *written;
	uint64		processed;
	int			rounds;
} CopyLoad;

static void
begin_loader(CopyLoad *cl, int more_flags)
{
	cl->loader = edp_loader_begin(cl->target->rel, cl->flags | more_flags);
	edp_loader_set_line_callback(cl->loader, copy_line_callback, cl->line_state);
	if (cl->written != NULL)
		edp_loader_set_written_store(cl->loader, cl->written);
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
 * End the statement's loader.  If it spooled rows, create their
 * partitions, with the table closed meanwhile (CREATE TABLE ... PARTITION
 * OF refuses a parent in use in this session; the lock stays), and begin a
 * loader that continues the statement (no second BEFORE STATEMENT
 * triggers; the AFTER STATEMENT ones wait for the last loader) with them:
 * returns true.  Their line numbers go with them, so dedupe still knows
 * which copy came first.  Creating the partitions in rounds, not once at
 * the end, writes every row once: an input whose days have no partition
 * yet would otherwise be spooled whole.
 */
static bool
next_round(CopyLoad *cl)
{
	Tuplestorestate *spool;
	uint64	   *spool_lines;
	Relation	rel = cl->target->rel;
	TupleTableSlot *slot;
	uint64		i = 0;

	cl->processed += edp_loader_end_spooled(cl->loader, &cl->written, &spool, &spool_lines);
	cl->loader = NULL;
	if (spool == NULL)
		return false;

	edp_partitions_prepare(cl->plan, &rel, note_spooled_rows, spool);
	cl->target->rel = rel;		/* the hook closes the one we hold */
	cl->cstate->rel = rel;
	cl->rounds++;
	begin_loader(cl, EDP_LOADER_CONTINUES);

	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	tuplestore_rescan(spool);
	while (tuplestore_gettupleslot(spool, true, false, slot))
	{
		TupleTableSlot *in = edp_loader_slot(cl->loader);

		ExecClearTuple(in);
		slot_getallattrs(slot);
		memcpy(in->tts_values, slot->tts_values, sizeof(Datum) * slot->tts_tupleDescriptor->natts);
		memcpy(in->tts_isnull, slot->tts_isnull, sizeof(bool) * slot->tts_tupleDescriptor->natts);
		ExecStoreVirtualTuple(in);
		edp_loader_add_unspooled(cl->loader, in, spool_lines[i++]);
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(spool);
	pfree(spool_lines);
	return true;
}

/* The COPY loop: parse, convert, split the document, hand to the loader. */
static uint64
flattening_copy(EdpCopyTarget *target, EdpFlattener *f, List *attnums,
				int source_field)
{
	ParseState *pstate = target->pstate;
	CopyStmt   *stmt = target->stmt;
	Relation	rel = target->rel;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	CopyFromState cstate;
	CopyLoad	cl = {0};
	EState	   *estate;
	ExprContext *econtext;
	ErrorContextCallback errcallback;
	CopyLineState line_state = {0};
	ListCell   *lc;
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
	 * are spooled and written once their partitions exist (next_round), not
	 * through the DEFAULT partition.
	 */
	cl.target = target;
	cl.cstate = cstate;
	cl.line_state = &line_state;
	cl.flags = EDP_LOADER_SKIP_FLATTEN_TRIGGER |
		(cstate->volatile_defexprs ? EDP_LOADER_SINGLE_ROW : 0);
	cl.first_cid = GetCurrentCommandId(true);
	cl.plan = edp_partitions_plan_begin(rel);
	if (cl.plan != NULL)
		cl.flags |= EDP_LOADER_SPOOL_DEFAULT;
	line_state.cstate = cstate;
	begin_loader(&cl, 0);

	/* defaults are evaluated in a per-row expression context, as in COPY */
	estate = CreateExecutorState();
	econtext = GetPerTupleExprContext(estate);

	errcallback.callback = CopyFromErrorCallback;
	errcallback.arg = (void *) cstate;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (;;)
	{
		TupleTableSlot *slot = edp_loader_slot(cl.loader);
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

		edp_loader_add(cl.loader, slot, cstate->cur_lineno);
		/* as COPY does, for pg_stat_progress_copy */
		pgstat_progress_update_param(PROGRESS_COPY_TUPLES_PROCESSED, ++rows);

		if (cl.plan != NULL && edp_loader_spooled_rows(cl.loader) >= SPOOL_ROUND_ROWS)
			(void) next_round(&cl);
	}

	/* the last rounds: until no row waits for a partition */
	while (next_round(&cl))
		;
	error_context_stack = errcallback.previous;
	if (cl.written != NULL)
	{
		/* the statement's rows, from its first loader on, are its own */
		edp_loader_upkeep(target->rel, cl.written,
						  cl.rounds > 0 ? cl.first_cid : InvalidCommandId);
		tuplestore_end(cl.written);
	}
	FreeExecutorState(estate);
	EndCopyFrom(cstate);

	if (f != NULL)
		edp_flattener_report(f);
	return cl.processed;
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
	*processed = flattening_copy(target, f, target->attnums, source_field);
	return true;
}

/* offer event tables' COPY to the hook (from edp_flatten_init) */
void
edp_flatten_copy_init(void)
{
	edp_copy_register_taker(edp_is_event_relid, flatten_take_copy);
}
