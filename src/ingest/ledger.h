/*-------------------------------------------------------------------------
 *
 * ingest/ledger.h
 *		The ingest job ledger (edp.jobs, edp.rejects, edp.job_events).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_JOB_H
#define EDP_JOB_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/jsonb.h"

/*
 * The transaction-level advisory lock (database, key1, key2) that
 * serialises job claims: pg_advisory_xact_lock(1701081136, 1) in SQL terms
 * ("edp0" as an int4).
 */
#define EDP_CLAIM_LOCK_KEY1 0x65647030
#define EDP_CLAIM_LOCK_KEY2 1

/* how edp_job_fail_stale's error begins (a job whose worker died) */
#define EDP_JOB_WORKER_DIED "the job's background worker ended without finishing it"

/* counts of a job; rows_in = loaded + rejected + duplicates + skipped_empty */
typedef struct EdpJobCounts
{
	int64		rows_in;
	int64		loaded;
	int64		rejected;
	int64		duplicates;
	int64		skipped_empty;
	int64		lines_done;		/* input lines covered by committed batches */
	int64		bytes_done;		/* bytes of the input read (progress events only) */
} EdpJobCounts;

/* a job as the worker reads it back from the ledger */
typedef struct EdpJobSpec
{
	int64		id;
	Oid			owner;			/* who submitted it: file rights, ledger */
	Oid			run_as;			/* whom the load runs as (never InvalidOid once
								 * resolved at submit time) */
	char	   *source;
	Oid			target;
	char	   *format;
	Jsonb	   *options;
	EdpJobCounts counts;
} EdpJobSpec;

extern int64 edp_job_create(Oid owner, Oid run_as, const char *source, Oid target, const char *format,
							Jsonb *options, const char *status);
extern bool edp_job_update(int64 job_id, const char *event, const char *status,
						   const EdpJobCounts *counts, const char *error);
extern void edp_job_fail(int64 job_id, const char *error, int sqlerrcode);
extern void edp_job_fail_counts(int64 job_id, const EdpJobCounts *counts, const char *error,
								int sqlerrcode);
extern void edp_job_set_kind(int64 job_id, const char *kind);
extern void edp_job_add_committed_xids(int64 job_id, const char *xids);
extern void edp_job_set_input(int64 job_id, const char *format, const char *checksum, int64 size);
extern int64 edp_job_find_loaded(Oid owner, Oid target, const char *checksum, int64 size, bool size_only);
extern void edp_job_add_reject(int64 job_id, int64 line, const char *raw_line, const char *column,
							   const char *sqlstate, const char *message);
extern void edp_job_keep_rejects_on_abort(void);
extern void edp_job_replay_rejects(int64 job_id);
extern HeapTuple edp_job_fetch(int64 job_id, TupleDesc *tupdesc);
extern bool edp_job_claim_next(int pid, EdpJobSpec *spec);
extern int64 edp_job_count_queued(void);
extern void edp_job_set_source(int64 job_id, const char *source);
extern bool edp_job_requeue_crashed(int64 job_id);
extern int	edp_job_fail_stale(void);
extern bool edp_job_requeue(int64 job_id);
extern bool edp_job_request_cancel(int64 job_id);

/* a synchronous load kept after its rollback (ingest/reject_keeper.c) */
typedef bool (*EdpRejectFn) (void *arg, int64 line, const char *raw_line, const char *column,
							 const char *sqlstate, const char *message);
extern int64 edp_job_next_id(void);
extern void edp_job_describe(int64 job_id, EdpJobSpec *spec, int64 *size);
extern void edp_job_create_kept(int64 job_id, const EdpJobSpec *spec, int64 size);
extern void edp_job_foreach_reject(int64 job_id, EdpRejectFn fn, void *arg);

#endif							/* EDP_JOB_H */
