/*-------------------------------------------------------------------------
 *
 * bgw.h
 *		edp's background workers: the launcher (inbox watcher, recovery of
 *		jobs) and the per-job ingest worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_BGW_H
#define EDP_BGW_H

extern void edp_bgw_register(void);
extern bool edp_bgw_try_launch_job(int64 job_id, TransactionId wait_xid);
extern void edp_bgw_launch_job(int64 job_id, TransactionId wait_xid);
extern void edp_inbox_file_done(const char *inbox, const char *path, const char *error);

#endif							/* EDP_BGW_H */
