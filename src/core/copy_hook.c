/*-------------------------------------------------------------------------
 *
 * core/copy_hook.c
 *		edp's ProcessUtility hook: COPY FROM into edp's tables, COPY TO in
 *		edp's formats.
 *
 * The hook offers each COPY FROM to the capabilities that take over COPY
 * for their tables (event tables, then trips tables), each COPY TO to the
 * capabilities that write formats PostgreSQL lacks (Parquet), and passes
 * everything else on.  Before any of them, every COPY FROM goes to the
 * takers of COPY options PostgreSQL 15 lacks (ON_ERROR and its kin), which
 * must see the statement before PostgreSQL's option parser refuses them.
 * The checks below are COPY FROM's own (DoCopy): the takers run
 * PostgreSQL's COPY machinery and must refuse what COPY would refuse.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/copy.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/rls.h"

#include "core/citus.h"
#include "core/copy_hook.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * Is this a COPY FROM a takeover can handle: into a table, from STDIN or a
 * server file, in a format edp reads (text or csv, the default text
 * included), without WHERE or FREEZE?  The rest stays with PostgreSQL's
 * COPY, and so does every format edp does not own (binary, and the formats
 * other extensions add: Citus's "result" for intermediate results).
 */
static bool
copy_stmt_supported(CopyStmt *stmt)
{
	ListCell   *lc;

	if (!stmt->is_from || stmt->relation == NULL || stmt->query != NULL ||
		stmt->whereClause != NULL || stmt->is_program)
		return false;
	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "format") == 0)
		{
			const char *format = defGetString(opt);

			if (strcmp(format, "text") != 0 && strcmp(format, "csv") != 0)
				return false;
		}
		if (strcmp(opt->defname, "freeze") == 0)
			return false;
	}
	return true;
}

/* COPY FROM's check for a server file, made before the table is opened */
static void
check_file_privilege(CopyStmt *stmt)
{
	if (stmt->filename != NULL &&
		!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser or have privileges of the pg_read_server_files role to COPY from a file"),
				 errhint("Anyone can COPY to stdout or from stdin. "
						 "psql's \\copy command also works for anyone.")));
}

/*
 * COPY FROM's table privilege checks: INSERT on the columns COPY fills
 * (attnums) and on any further columns the taker fills (more_attnums), and
 * no COPY FROM in a read-only transaction.
 */
void
edp_copy_check_privileges(ParseState *pstate, Relation rel, List *attnums,
						  List *more_attnums)
{
	ParseNamespaceItem *nsitem;
	RangeTblEntry *rte;
	ListCell   *lc;

	nsitem = addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock,
										   NULL, false, false);
	rte = nsitem->p_rte;
	rte->requiredPerms = ACL_INSERT;
	foreach(lc, attnums)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber);
	foreach(lc, more_attnums)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber);
	ExecCheckRTPerms(pstate->p_rtable, true);

	if (XactReadOnly && !rel->rd_islocaltemp)
		PreventCommandIfReadOnly("COPY FROM");
}

typedef struct CopyTakerEntry
{
	EdpCopyOwns owns;
	EdpCopyTaker take;
} CopyTakerEntry;

static CopyTakerEntry takers[4];
static int	ntakers = 0;

/*
 * Offer a COPY FROM to the takers; returns false when none took it and
 * PostgreSQL's COPY is to run it.
 */
static bool
take_copy(CopyStmt *stmt, const char *queryString, QueryEnvironment *queryEnv,
		  QueryCompletion *qc)
{
	EdpCopyTarget target;
	MemoryContext copycontext;
	MemoryContext oldcontext;
	uint64		processed = 0;
	bool		taken;
	int			i;
	Oid			relid;

	if (ntakers == 0 || !copy_stmt_supported(stmt) ||
		!OidIsValid(get_extension_oid("edp", true)))
		return false;

	/*
	 * Only a table in edp's catalogs is edp's: look the name up without a
	 * lock and ask the takers' catalogs before opening anything, so that a
	 * COPY into any other table (or into a name that is not a table at all)
	 * reaches PostgreSQL, or the next hook, exactly as it came.
	 */
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return false;
	for (i = 0; i < ntakers && !takers[i].owns(relid); i++)
		;
	if (i == ntakers)
		return false;

	check_file_privilege(stmt);
	target.stmt = stmt;
	target.rel = table_openrv(stmt->relation, RowExclusiveLock);
	if (RelationGetRelid(target.rel) != relid)
	{
		/* renamed or replaced while we looked: PostgreSQL's COPY decides */
		table_close(target.rel, NoLock);
		return false;
	}
	/* an edp table that Citus distributed since: its rows are in the shards */
	edp_refuse_citus_table(target.rel);
	if (check_enable_rls(RelationGetRelid(target.rel), InvalidOid, false) == RLS_ENABLED)
	{
		table_close(target.rel, NoLock);
		return false;
	}

	copycontext = AllocSetContextCreate(CurrentMemoryContext, "edp COPY",
										ALLOCSET_DEFAULT_SIZES);
	oldcontext = MemoryContextSwitchTo(copycontext);
	target.attnums = CopyGetAttnums(RelationGetDescr(target.rel), target.rel,
									stmt->attlist);
	target.pstate = make_parsestate(NULL);
	target.pstate->p_sourcetext = queryString;
	target.pstate->p_queryEnv = queryEnv;

	taken = false;
	for (i = 0; i < ntakers && !taken; i++)
		taken = takers[i].take(&target, &processed);

	table_close(target.rel, NoLock);	/* a taker may have reopened it */
	target.rel = NULL;
	MemoryContextSwitchTo(oldcontext);
	MemoryContextDelete(copycontext);

	if (taken && qc)
		SetQueryCompletion(qc, CMDTAG_COPY, processed);
	return taken;
}

static EdpCopyToTaker to_takers[2];
static int	nto_takers = 0;

/*
 * Offer a COPY TO to the COPY TO takers, in a database where edp is
 * installed; false when none took it.
 */
static bool
take_copy_to(CopyStmt *stmt, PlannedStmt *pstmt, const char *queryString,
			 QueryEnvironment *queryEnv, QueryCompletion *qc)
{
	EdpCopyToTarget target;
	MemoryContext copycontext;
	MemoryContext oldcontext;
	uint64		processed = 0;
	bool		taken = false;
	int			i;

	if (nto_takers == 0 || stmt->is_from ||
		!OidIsValid(get_extension_oid("edp", true)))
		return false;

	copycontext = AllocSetContextCreate(CurrentMemoryContext, "edp COPY TO",
										ALLOCSET_DEFAULT_SIZES);
	oldcontext = MemoryContextSwitchTo(copycontext);
	target.stmt = stmt;
	target.pstate = make_parsestate(NULL);
	target.pstate->p_sourcetext = queryString;
	target.pstate->p_queryEnv = queryEnv;
	target.stmt_location = pstmt->stmt_location;
	target.stmt_len = pstmt->stmt_len;
	for (i = 0; i < nto_takers && !taken; i++)
		taken = to_takers[i] (&target, &processed);
	MemoryContextSwitchTo(oldcontext);
	MemoryContextDelete(copycontext);

	if (taken && qc)
		SetQueryCompletion(qc, CMDTAG_COPY, processed);
	return taken;
}

static EdpCopyFromOptionTaker option_takers[2];
static int	noption_takers = 0;

/*
 * Offer a COPY FROM to the option takers, before anything reads its
 * options.  True when one took it; otherwise *stmt may have been replaced
 * by a rewritten copy that PostgreSQL's COPY (or the table takers) can run.
 */
static bool
take_copy_options(CopyStmt **stmt, const char *queryString,
				  QueryEnvironment *queryEnv, QueryCompletion *qc)
{
	EdpCopyFromTarget target;
	MemoryContext copycontext;
	MemoryContext oldcontext;
	uint64		processed = 0;
	bool		taken = false;
	int			i;

	if (noption_takers == 0 || !(*stmt)->is_from ||
		!OidIsValid(get_extension_oid("edp", true)))
		return false;

	copycontext = AllocSetContextCreate(CurrentMemoryContext, "edp COPY options",
										ALLOCSET_DEFAULT_SIZES);
	oldcontext = MemoryContextSwitchTo(copycontext);
	target.stmt = *stmt;
	target.pstate = make_parsestate(NULL);
	target.pstate->p_sourcetext = queryString;
	target.pstate->p_queryEnv = queryEnv;
	for (i = 0; i < noption_takers && !taken; i++)
		taken = option_takers[i] (&target, &processed);
	MemoryContextSwitchTo(oldcontext);
	if (!taken && target.stmt != *stmt)
		*stmt = copyObject(target.stmt);	/* outlives copycontext */
	MemoryContextDelete(copycontext);

	if (taken && qc)
		SetQueryCompletion(qc, CMDTAG_COPY, processed);
	return taken;
}

static void
edp_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, CopyStmt))
	{
		CopyStmt   *copy = (CopyStmt *) parsetree;

		if (take_copy_options(&copy, queryString, queryEnv, qc))
			return;
		if (copy != (CopyStmt *) parsetree)
		{
			/* rewritten: PostgreSQL's COPY runs the rewritten statement */
			pstmt = copyObject(pstmt);
			pstmt->utilityStmt = (Node *) copy;
			parsetree = (Node *) copy;
			readOnlyTree = false;
		}
	}
	if (IsA(parsetree, CopyStmt) &&
		take_copy((CopyStmt *) parsetree, queryString, queryEnv, qc))
		return;
	if (IsA(parsetree, CopyStmt) &&
		take_copy_to((CopyStmt *) parsetree, pstmt, queryString, queryEnv, qc))
		return;

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/* the capabilities' COPY takers, in the order _PG_init registered them */
void
edp_copy_register_taker(EdpCopyOwns owns, EdpCopyTaker taker)
{
	if (ntakers >= (int) lengthof(takers))
		elog(ERROR, "too many edp COPY takers");	/* internal error */
	takers[ntakers].owns = owns;
	takers[ntakers].take = taker;
	ntakers++;
}

/* the COPY FROM option takers, offered every COPY FROM first */
void
edp_copy_register_option_taker(EdpCopyFromOptionTaker taker)
{
	if (noption_takers >= (int) lengthof(option_takers))
		elog(ERROR, "too many edp COPY option takers");	/* internal error */
	option_takers[noption_takers++] = taker;
}

/* the COPY TO takers, in the order _PG_init registered them */
void
edp_copy_register_to_taker(EdpCopyToTaker taker)
{
	if (nto_takers >= (int) lengthof(to_takers))
		elog(ERROR, "too many edp COPY TO takers");	/* internal error */
	to_takers[nto_takers++] = taker;
}

void
edp_copy_hook_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = edp_process_utility;
}
