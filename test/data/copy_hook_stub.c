/*
 * copy_hook_stub.c -- a test fixture for test/t/012_copy_passthrough.pl:
 * a ProcessUtility hook loaded before edp (as Citus is), so that edp's hook
 * runs first and passes on what it does not take.  It reports every COPY
 * that reaches it (NOTICE: table, format, whether this backend already
 * holds a lock on the table) and takes COPY ... WITH (format result) itself,
 * for any name, the way Citus takes its intermediate results on a worker;
 * everything else goes on to PostgreSQL.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/utility.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static ProcessUtility_hook_type prev_hook = NULL;

static void
stub_process_utility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, CopyStmt) && ((CopyStmt *) parsetree)->relation != NULL)
	{
		CopyStmt   *stmt = (CopyStmt *) parsetree;
		const char *format = "text";
		Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
		bool		locked = false;
		ListCell   *lc;

		foreach(lc, stmt->options)
		{
			DefElem    *opt = (DefElem *) lfirst(lc);

			if (strcmp(opt->defname, "format") == 0)
				format = defGetString(opt);
		}
		if (OidIsValid(relid))
		{
			LOCKTAG		tag;

			SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
			locked = LockHeldByMe(&tag, AccessShareLock) ||
				LockHeldByMe(&tag, RowExclusiveLock);
		}
		ereport(NOTICE,
				(errmsg("stub hook: COPY %s format %s locked %s",
						stmt->relation->relname, format, locked ? "yes" : "no")));
		if (strcmp(format, "result") == 0)
		{
			if (qc)
				SetQueryCompletion(qc, CMDTAG_COPY, 0);
			return;
		}
	}
	if (prev_hook)
		prev_hook(pstmt, queryString, readOnlyTree, context, params,
				  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

void
_PG_init(void)
{
	prev_hook = ProcessUtility_hook;
	ProcessUtility_hook = stub_process_utility;
}
