/*-------------------------------------------------------------------------
 *
 * core/guc.c
 *		All of edp's configuration parameters (edp.*).
 *
 * User-settable parameters are defined whenever the library loads; the
 * ones the launcher reads at start (edp.database) only when edp is in
 * shared_preload_libraries, where they can take effect.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "core/guc.h"

char	   *edp_database = NULL;
int			edp_naptime = 250;
int			edp_ingest_commit_rows = 1000000;
int			edp_ingest_batch_size = 100000;
bool		edp_preloaded = false;

void
edp_guc_init(void)
{
	DefineCustomIntVariable("edp.ingest_batch_size",
							"Rows per ingest batch (one subtransaction, one commit in background jobs).",
							"A bad row costs one subtransaction rollback; background jobs commit after whole batches (edp.ingest_commit_rows).",
							&edp_ingest_batch_size,
							100000, 1, 10000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("edp.ingest_commit_rows",
							"Input rows a background ingest job reads between two commits (whole batches; 0: commit after every batch).",
							"Each commit runs the table's upkeep (rollup, dedupe) for the rows since the last one and notifies progress; "
							"fewer, larger transactions cost less upkeep.",
							&edp_ingest_commit_rows,
							1000000, 0, INT_MAX,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
}

/* parameters of the launcher: only meaningful when edp is preloaded */
void
edp_guc_init_postmaster(void)
{
	edp_preloaded = true;

	DefineCustomStringVariable("edp.database",
							   "Database the edp launcher connects to (inbox watching, crash recovery of jobs).",
							   NULL,
							   &edp_database,
							   "postgres",
							   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("edp.naptime",
							"Interval between two scans of the watched inboxes by the edp launcher.",
							NULL,
							&edp_naptime,
							250, 10, 60000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("edp");
}

/* raise the documented error when a function needs the background workers */
void
edp_require_preload(const char *what)
{
	if (!edp_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s requires edp to be loaded via shared_preload_libraries", what),
				 errhint("Add edp to shared_preload_libraries in postgresql.conf and restart the server.")));
}
