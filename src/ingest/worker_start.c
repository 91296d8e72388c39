/*-------------------------------------------------------------------------
 *
 * ingest/worker_start.c
 *		Registering edp's background workers: the launcher at postmaster
 *		start, and one dynamic "edp ingest" worker per job, started when
 *		the transaction that queued the job commits.
 *
 * Both the launcher (ingest/launcher.c) and the SQL functions of
 * ingest/worker.c start job workers through here, so neither calls the
 * other.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/memutils.h"

#include "ingest/workers.h"

static void edp_bgw_launch_job(int64 job_id, TransactionId wait_xid);

void
edp_bgw_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "edp");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "edp_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "edp launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "edp launcher");
	RegisterBackgroundWorker(&worker);
}

/* jobs to start when the current transaction commits */
static List *pending_jobs = NIL;
static bool xact_callback_registered = false;

/* start the worker for a committed (or committing) job; false if no slot */
bool
edp_bgw_try_launch_job(int64 job_id, TransactionId wait_xid)
{
	BackgroundWorker worker;
	EdpWorkerArgs args;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "edp");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "edp_ingest_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "edp ingest job " INT64_FORMAT, job_id);
	snprintf(worker.bgw_type, BGW_MAXLEN, "edp ingest");
	worker.bgw_main_arg = Int64GetDatum(job_id);
	worker.bgw_notify_pid = MyProcPid;
	args.database = MyDatabaseId;
	args.wait_xid = wait_xid;
	memcpy(worker.bgw_extra, &args, sizeof(args));

	return RegisterDynamicBackgroundWorker(&worker, NULL);
}

static void
edp_bgw_launch_job(int64 job_id, TransactionId wait_xid)
{
	if (!edp_bgw_try_launch_job(job_id, wait_xid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker for ingest job " INT64_FORMAT, job_id),
				 errhint("You might need to increase max_worker_processes.")));
}

static void
launch_pending_jobs(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event == XACT_EVENT_PRE_COMMIT && pending_jobs != NIL)
	{
		TransactionId xid = GetTopTransactionId();
		List	   *jobs = pending_jobs;

		pending_jobs = NIL;
		foreach(lc, jobs)
			edp_bgw_launch_job(*(int64 *) lfirst(lc), xid);
		list_free_deep(jobs);
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		list_free_deep(pending_jobs);
		pending_jobs = NIL;
	}
}

void
edp_bgw_launch_at_commit(int64 job_id)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	int64	   *id = palloc(sizeof(int64));

	*id = job_id;
	pending_jobs = lappend(pending_jobs, id);
	MemoryContextSwitchTo(old);
	if (!xact_callback_registered)
	{
		RegisterXactCallback(launch_pending_jobs, NULL);
		xact_callback_registered = true;
	}
}
