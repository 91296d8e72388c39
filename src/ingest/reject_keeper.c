/*-------------------------------------------------------------------------
 *
 * ingest/reject_keeper.c
 *		Keep the ledger row and the rejects of a synchronous load that
 *		passed its reject limit, although the load's transaction rolls back.
 *
 * A synchronous load (edp.ingest, edp.ingest_data, quarantine COPY) runs
 * in its caller's transaction, so the error of its reject limit rolls back
 * its job row and the rejects that explain the failure.  PostgreSQL 15
 * has no autonomous transactions; as parallel query and pg_background do,
 * the caller hands the job to a dynamic background worker ("edp keep
 * rejects") through a dynamic shared memory segment, waits for it to
 * commit, and only then raises its error.
 *
 * The caller's own job row (id X) is not committed and never will be: a
 * worker that touched it would wait for the caller, which waits for the
 * worker.  The worker therefore records the job under a new id Y, drawn
 * by the caller from the ledger's sequence (not transactional), and its
 * rejects under Y; nothing it writes references a row of the caller's
 * (edp.rejects and edp.job_events reference Y, inserted by the worker
 * itself), and a lock_timeout ends any other wait.  The caller's error
 * names Y.
 *
 * The segment holds a small shared struct (the worker's answer) and a
 * message queue the caller streams into: the job ('J'), its rejects ('R',
 * in line order, at most EDP_KEPT_REJECTS rows and EDP_KEPT_BYTES bytes),
 * then the error ('E', with the number of rejects sent).  The worker
 * commits only after 'E', and only while its caller is still attached to
 * the queue: a caller that errors out or is cancelled, while it sends or
 * while it waits, detaches at its abort, and the worker then ends without
 * recording anything (unless it was already committing).  The worker writes only through the ledger's own
 * functions (ingest/ledger.c: as the extension's owner, restricted, with
 * a pinned search_path) and runs no code of any user.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "ingest/ledger.h"
#include "ingest/reject_keeper.h"

#define EDP_KEEPER_MAGIC		0x65647072	/* "edpr" */
#define EDP_KEEPER_KEY_SHARED	1
#define EDP_KEEPER_KEY_QUEUE	2
#define EDP_KEEPER_QUEUE_SIZE	(64 * 1024)

/*
 * How long the worker waits for a lock before it gives up: its tables are
 * edp's own ledger, which nothing holds for long, but a caller that locked
 * one in its own transaction would otherwise wait for itself forever.
 */
#define EDP_KEEPER_LOCK_TIMEOUT "10s"

/* the worker's answer, read by the caller once the worker has stopped */
typedef struct KeeperShared
{
	slock_t		mutex;
	Oid			database;
	Oid			user;			/* whom the worker connects as */
	bool		committed;		/* the job and its rejects are recorded */
} KeeperShared;

struct EdpRejectKeeper
{
	int64		job_id;			/* the new job, Y */
	int64		kept;			/* rejects handed over */
	bool		capped;			/* more rejects than were handed over */
	dsm_segment *seg;
	KeeperShared *shared;
	shm_mq_handle *mqh;
	BackgroundWorkerHandle *handle;
	Size		bytes;			/* of the rejects handed over */
};

/* ------------------------------------------------------------ messages */

static void
put_text(StringInfo buf, const char *s)
{
	if (s == NULL)
	{
		pq_sendint32(buf, -1);
		return;
	}
	pq_sendint32(buf, (int32) strlen(s));
	pq_sendbytes(buf, s, strlen(s));
}

static char *
get_text(StringInfo buf)
{
	int32		len = pq_getmsgint(buf, 4);

	if (len < 0)
		return NULL;
	return pnstrdup(pq_getmsgbytes(buf, len), len);
}

static void
put_counts(StringInfo buf, const EdpJobCounts *c)
{
	pq_sendint64(buf, c->rows_in);
	pq_sendint64(buf, c->loaded);
	pq_sendint64(buf, c->rejected);
	pq_sendint64(buf, c->duplicates);
	pq_sendint64(buf, c->skipped_empty);
}

static void
get_counts(StringInfo buf, EdpJobCounts *c)
{
	memset(c, 0, sizeof(*c));
	c->rows_in = pq_getmsgint64(buf);
	c->loaded = pq_getmsgint64(buf);
	c->rejected = pq_getmsgint64(buf);
	c->duplicates = pq_getmsgint64(buf);
	c->skipped_empty = pq_getmsgint64(buf);
	/* lines_done stays 0: none of the load's lines were committed */
}

/* ------------------------------------------------------------- caller */

/*
 * The worker connects as the current user when that role may log in,
 * otherwise as the session's (a NOLOGIN role reached with SET ROLE cannot
 * start a session of its own in PostgreSQL 15).  Which it is changes
 * nothing of what is written: the job's owner is the current user, sent
 * as data, and the ledger writes as the extension's owner.
 */
static Oid
worker_user(void)
{
	Oid			user = GetUserId();
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(user));
	bool		canlogin = false;

	if (HeapTupleIsValid(tup))
	{
		canlogin = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
		ReleaseSysCache(tup);
	}
	return canlogin ? user : GetSessionUserId();
}

static void
keeper_warning(const char *why)
{
	ereport(WARNING,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("the job and the rejects of the failed load could not be kept"),
			 errdetail("%s", why),
			 errhint("They roll back with the load. You might need to increase max_worker_processes.")));
}

static void
keeper_drop(EdpRejectKeeper *k)
{
	if (k->handle != NULL)
		TerminateBackgroundWorker(k->handle);
	dsm_detach(k->seg);
	pfree(k);
}

static bool
send_message(EdpRejectKeeper *k, StringInfo buf)
{
	return shm_mq_send(k->mqh, buf->len, buf->data, false, true) == SHM_MQ_SUCCESS;
}

static bool
send_reject(void *arg, int64 line, const char *raw_line, const char *column,
			const char *sqlstate, const char *message)
{
	EdpRejectKeeper *k = (EdpRejectKeeper *) arg;
	StringInfoData buf;
	Size		size = (raw_line ? strlen(raw_line) : 0) + (column ? strlen(column) : 0) +
		strlen(sqlstate) + strlen(message);

	if (k->kept >= EDP_KEPT_REJECTS || k->bytes + size > EDP_KEPT_BYTES)
	{
		k->capped = true;
		return false;
	}
	initStringInfo(&buf);
	pq_sendbyte(&buf, 'R');
	pq_sendint64(&buf, line);
	put_text(&buf, raw_line);
	put_text(&buf, column);
	put_text(&buf, sqlstate);
	put_text(&buf, message);
	if (!send_message(k, &buf))
		return false;			/* the worker is gone: edp_keep_finish says so */
	pfree(buf.data);
	k->kept++;
	k->bytes += size;
	return true;
}

/*
 * Start a worker and hand it job_id's row (with counts) and its rejects,
 * under a new job id.  NULL, after a WARNING that says why, when no
 * worker can start: the load then fails as it always did.
 */
EdpRejectKeeper *
edp_keep_begin(int64 job_id, const EdpJobCounts *counts)
{
	EdpRejectKeeper *k;
	shm_toc_estimator e;
	Size		size;
	shm_toc    *toc;
	shm_mq	   *mq;
	BackgroundWorker worker;
	EdpJobSpec	spec;
	int64		input_size;
	StringInfoData buf;
	char	   *options;

	if (!IsUnderPostmaster)
	{
		keeper_warning("A single-user server starts no background workers.");
		return NULL;
	}
	edp_job_describe(job_id, &spec, &input_size);

	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(KeeperShared));
	shm_toc_estimate_chunk(&e, EDP_KEEPER_QUEUE_SIZE);
	shm_toc_estimate_keys(&e, 2);
	size = shm_toc_estimate(&e);

	k = palloc0(sizeof(EdpRejectKeeper));
	k->seg = dsm_create(size, DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (k->seg == NULL)
	{
		pfree(k);
		keeper_warning("No dynamic shared memory segment is free.");
		return NULL;
	}
	toc = shm_toc_create(EDP_KEEPER_MAGIC, dsm_segment_address(k->seg), size);
	k->shared = shm_toc_allocate(toc, sizeof(KeeperShared));
	SpinLockInit(&k->shared->mutex);
	k->shared->database = MyDatabaseId;
	k->shared->user = worker_user();
	k->shared->committed = false;
	shm_toc_insert(toc, EDP_KEEPER_KEY_SHARED, k->shared);
	mq = shm_mq_create(shm_toc_allocate(toc, EDP_KEEPER_QUEUE_SIZE), EDP_KEEPER_QUEUE_SIZE);
	shm_toc_insert(toc, EDP_KEEPER_KEY_QUEUE, mq);
	shm_mq_set_sender(mq, MyProc);
	k->mqh = shm_mq_attach(mq, k->seg, NULL);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "edp");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "edp_reject_keeper_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "edp keep rejects of job " INT64_FORMAT, job_id);
	snprintf(worker.bgw_type, BGW_MAXLEN, "edp keep rejects");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(k->seg));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &k->handle))
	{
		k->handle = NULL;
		keeper_drop(k);
		keeper_warning("No background worker slot is free (max_worker_processes).");
		return NULL;
	}
	shm_mq_set_handle(k->mqh, k->handle);

	/* drawn here, so that the caller's error can name it */
	k->job_id = edp_job_next_id();

	options = JsonbToCString(NULL, &spec.options->root, VARSIZE(spec.options));
	initStringInfo(&buf);
	pq_sendbyte(&buf, 'J');
	pq_sendint64(&buf, k->job_id);
	pq_sendint32(&buf, spec.owner);
	pq_sendint32(&buf, spec.run_as);
	put_text(&buf, spec.source);
	pq_sendint32(&buf, spec.target);
	put_text(&buf, spec.format);
	put_text(&buf, options);
	pq_sendint64(&buf, input_size);
	put_counts(&buf, counts);
	if (send_message(k, &buf))
		edp_job_foreach_reject(job_id, send_reject, k);
	pfree(buf.data);
	return k;
}

/* the new job's id, and how many of its rejects were kept */
int64
edp_keep_job_id(EdpRejectKeeper *k)
{
	return k->job_id;
}

int64
edp_keep_count(EdpRejectKeeper *k, bool *capped)
{
	*capped = k->capped;
	return k->kept;
}

/*
 * Hand over the job's error and wait for the worker to commit.  True when
 * the job and its rejects are recorded; otherwise a WARNING said why.
 * The wait ends with the worker, whatever it does; a cancel of the caller
 * meanwhile stops the worker too (unless it is already committing,
 * nothing is recorded: see the end of edp_reject_keeper_main).
 */
bool
edp_keep_finish(EdpRejectKeeper *k, const char *error, int sqlerrcode)
{
	StringInfoData buf;
	bool		sent;
	bool		committed;
	BgwHandleStatus status;

	initStringInfo(&buf);
	pq_sendbyte(&buf, 'E');
	put_text(&buf, error);
	pq_sendint32(&buf, sqlerrcode);
	pq_sendint64(&buf, k->kept);
	sent = send_message(k, &buf);
	pfree(buf.data);

	PG_TRY();
	{
		status = WaitForBackgroundWorkerShutdown(k->handle);
	}
	PG_CATCH();
	{
		TerminateBackgroundWorker(k->handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
	k->handle = NULL;			/* stopped */

	SpinLockAcquire(&k->shared->mutex);
	committed = k->shared->committed;
	SpinLockRelease(&k->shared->mutex);
	keeper_drop(k);

	if (!committed)
		keeper_warning(status == BGWH_POSTMASTER_DIED ? "The postmaster died." :
					   sent ? "Its background worker ended without recording them; the server log says why." :
					   "Its background worker could not start or ended early; the server log says why.");
	return committed;
}

/* ------------------------------------------------------------- worker */

static StringInfo
receive(shm_mq_handle *mqh, char expected)
{
	Size		len;
	void	   *data;
	StringInfo	buf;

	if (shm_mq_receive(mqh, &len, &data, false) != SHM_MQ_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("the failed load ended before it handed over its job"),
				 errdetail("Nothing of it is kept.")));
	buf = makeStringInfo();
	appendBinaryStringInfo(buf, data, len);
	if (buf->len < 1 || buf->data[0] != expected)
	{
		/* 'R' until 'E' is the only other choice: the caller decides */
		if (!(expected == 'R' && buf->len >= 1 && buf->data[0] == 'E'))
			elog(ERROR, "edp reject keeper: unexpected message");	/* internal error */
	}
	buf->cursor = 1;
	return buf;
}

void		edp_reject_keeper_main(Datum main_arg);

/*
 * "edp keep rejects": record one failed synchronous load under the job id
 * its caller drew, with its rejects, in one transaction, and tell the
 * caller it committed.
 */
void
edp_reject_keeper_main(Datum main_arg)
{
	dsm_segment *seg;
	shm_toc    *toc;
	KeeperShared *shared;
	shm_mq	   *mq;
	shm_mq_handle *mqh;
	StringInfo	msg;
	EdpJobSpec	spec;
	EdpJobCounts counts;
	int64		job_id;
	int64		input_size;
	int64		received = 0;
	char	   *options;
	char	   *error;
	int			sqlerrcode;
	Size		len;
	void	   *data;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "edp keep rejects");
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the failed load's shared memory segment is gone")));
	toc = shm_toc_attach(EDP_KEEPER_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		elog(ERROR, "edp reject keeper: bad shared memory segment");	/* internal error */
	shared = shm_toc_lookup(toc, EDP_KEEPER_KEY_SHARED, false);
	mq = shm_toc_lookup(toc, EDP_KEEPER_KEY_QUEUE, false);
	shm_mq_set_receiver(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);

	BackgroundWorkerInitializeConnectionByOid(shared->database, shared->user, 0);
	pgstat_report_appname("edp keep rejects");

	/*
	 * The role's and the database's settings apply to this session too: the
	 * few that could keep it from writing or waiting forever are fixed.
	 */
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", EDP_KEEPER_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "edp keep rejects");

	msg = receive(mqh, 'J');
	memset(&spec, 0, sizeof(spec));
	job_id = pq_getmsgint64(msg);
	spec.owner = (Oid) pq_getmsgint(msg, 4);
	spec.run_as = (Oid) pq_getmsgint(msg, 4);
	spec.source = get_text(msg);
	spec.target = (Oid) pq_getmsgint(msg, 4);
	spec.format = get_text(msg);
	options = get_text(msg);
	spec.options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(options)));
	input_size = pq_getmsgint64(msg);
	get_counts(msg, &counts);
	edp_job_create_kept(job_id, &spec, input_size);

	for (;;)
	{
		int64		line;
		char	   *raw_line;
		char	   *column;
		char	   *sqlstate;
		char	   *message;

		CHECK_FOR_INTERRUPTS();
		msg = receive(mqh, 'R');
		if (msg->data[0] == 'E')
			break;
		line = pq_getmsgint64(msg);
		raw_line = get_text(msg);
		column = get_text(msg);
		sqlstate = get_text(msg);
		message = get_text(msg);
		edp_job_add_reject(job_id, line, raw_line, column, sqlstate, message);
		received++;
		pfree(msg->data);
		pfree(msg);
	}
	error = get_text(msg);
	sqlerrcode = pq_getmsgint(msg, 4);
	if (pq_getmsgint64(msg) != received)
		elog(ERROR, "edp reject keeper: rejects lost on the way");	/* internal error */
	edp_job_fail_counts(job_id, &counts, error, sqlerrcode);

	/*
	 * Commit only for a caller that still waits: one that was cancelled or
	 * ended meanwhile has detached from the queue (at its abort, before it
	 * released its locks, so a worker that waited for one of them sees it).
	 */
	if (shm_mq_receive(mqh, &len, &data, true) != SHM_MQ_WOULD_BLOCK)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("the failed load stopped waiting for its job to be kept"),
				 errdetail("Nothing of it is kept.")));

	/* the failed notification goes with this commit */
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	SpinLockAcquire(&shared->mutex);
	shared->committed = true;
	SpinLockRelease(&shared->mutex);
	proc_exit(0);
}
