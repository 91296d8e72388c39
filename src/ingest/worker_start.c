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
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/memutils.h"

#include "core/guc.h"
#include "ingest/workers.h"

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

/*
 * Start a job worker for this database: it waits for wait_xid (the
 * submitting transaction, or invalid) to end, then runs queued jobs.
 * False when no worker slot is free.  With handle, the caller is notified
 * when the worker starts and stops (bgw_notify_pid) and gets its handle.
 */
bool
edp_bgw_try_launch_job(int64 job_id, TransactionId wait_xid, BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;
	EdpWorkerArgs args;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "edp");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "edp_ingest_worker_main");
	if (job_id > 0)
		snprintf(worker.bgw_name, BGW_MAXLEN, "edp ingest job " INT64_FORMAT, job_id);
	else
		snprintf(worker.bgw_name, BGW_MAXLEN, "edp ingest queue");
	snprintf(worker.bgw_type, BGW_MAXLEN, "edp ingest");
	worker.bgw_main_arg = Int64GetDatum(job_id);
	worker.bgw_notify_pid = handle ? MyProcPid : 0;
	args.database = MyDatabaseId;
	args.wait_xid = wait_xid;
	memcpy(worker.bgw_extra, &args, sizeof(args));

	return RegisterDynamicBackgroundWorker(&worker, handle);
}

/*
 * Just before the commit of a transaction that queued jobs: one worker per
 * job while slots are free.  A job without a worker stays queued (the
 * running workers and the launcher take it), so this never fails the
 * commit; outside edp.database, where no launcher looks, a warning says
 * the job waits for this database's next worker.
 */
static void
launch_pending_jobs(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event == XACT_EVENT_PRE_COMMIT && pending_jobs != NIL)
	{
		TransactionId xid = GetTopTransactionId();
		List	   *jobs = pending_jobs;
		int64		waiting = 0;
		int			started = 0;

		pending_jobs = NIL;
		foreach(lc, jobs)
		{
			int64		job_id = *(int64 *) lfirst(lc);

			if (waiting == 0 && edp_bgw_try_launch_job(job_id, xid, NULL))
				started++;
			else if (waiting == 0)
				waiting = job_id;
		}
		list_free_deep(jobs);
		if (waiting != 0 && started == 0)
		{
			char	   *db = get_database_name(MyDatabaseId);

			if (db == NULL || edp_database == NULL || strcmp(db, edp_database) != 0)
				ereport(WARNING,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("no background worker slot is free for ingest job " INT64_FORMAT, waiting),
						 errdetail("The job stays queued. Outside edp.database no launcher watches the queue: it starts when a job worker of this database finishes, or with the next job queued here."),
						 errhint("You might need to increase max_worker_processes.")));
		}
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
