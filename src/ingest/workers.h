/*-------------------------------------------------------------------------
 *
 * ingest/workers.h
 *		Starting edp's background workers (ingest/worker_start.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_WORKERS_H
#define EDP_WORKERS_H

#include "postmaster/bgworker.h"

/* what the worker needs besides the job id (bgw_extra) */
typedef struct EdpWorkerArgs
{
	Oid			database;
	TransactionId wait_xid;		/* submitter's transaction, or invalid */
} EdpWorkerArgs;

extern void edp_bgw_register(void);
extern bool edp_bgw_try_launch_job(int64 job_id, TransactionId wait_xid,
								   BackgroundWorkerHandle **handle);
extern void edp_bgw_launch_at_commit(int64 job_id);

#endif							/* EDP_WORKERS_H */
