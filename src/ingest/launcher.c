/*-------------------------------------------------------------------------
 *
 * ingest/launcher.c
 *		The edp launcher: a static background worker (shared_preload_libraries)
 *		connected to edp.database that
 *		  - marks jobs failed whose worker is gone (crash, restart), and
 *		    settles the files such jobs left in an inbox's processing/,
 *		  - watches the inbox directories of edp.inboxes, recording each
 *		    one's state (edp.inbox_status), and
 *		  - starts job workers while jobs wait in the queue for a free
 *		    worker slot.
 *
 * Inbox watching is a latch-driven scan, not inotify: every edp.naptime
 * (default 250 ms) the launcher reads each inbox with AllocateDir/ReadDir.
 * A file is taken when its size and modification time are the same as at
 * the previous scan, so a file renamed in is taken on the second scan
 * after its arrival (within 2 x edp.naptime), and one written in place is
 * left alone while it grows.  Names starting with "." or ending in ".tmp"
 * or ".part" are never taken: writers should write under such a name and
 * rename, which is atomic.  A taken file is recorded as a queued job,
 * moved into processing/<job id>/ (ingest/inbox_files.c) and run by an
 * "edp ingest" worker, which moves it to done/ or failed/ (with
 * NAME.reason beside it).  Each inbox is listed, and each file claimed, in
 * a subtransaction of its own: an error (directory missing, not writable)
 * becomes the inbox's state and one log line, and the other inboxes go on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "core/edp.h"
#include "core/guc.h"
#include "core/security.h"
#include "ingest/inbox_files.h"
#include "ingest/ledger.h"
#include "ingest/workers.h"

/* what a file looked like at the previous scan */
typedef struct SeenFile
{
	char		path[MAXPGPATH];	/* hash key */
	off_t		size;
	struct timespec mtime;
	uint64		scan;			/* last scan that saw it */
} SeenFile;

static HTAB *seen_files = NULL;
static uint64 scan_number = 0;

void		edp_launcher_main(Datum main_arg);

static bool
is_ignored_name(const char *name)
{
	size_t		len = strlen(name);

	return name[0] == '.' ||
		(len > 4 && strcmp(name + len - 4, ".tmp") == 0) ||
		(len > 5 && strcmp(name + len - 5, ".part") == 0);
}

/* has the file kept its size and time since the previous scan? */
static bool
is_stable(const char *path, struct stat *st)
{
	bool		found;
	SeenFile   *seen = hash_search(seen_files, path, HASH_ENTER, &found);
	bool		stable;

	stable = found && seen->size == st->st_size &&
		seen->mtime.tv_sec == st->st_mtim.tv_sec && seen->mtime.tv_nsec == st->st_mtim.tv_nsec;
	seen->size = st->st_size;
	seen->mtime = st->st_mtim;
	seen->scan = scan_number;
	/* kept until the file is claimed: a claim that fails is tried again */
	return stable;
}

/* jobs this round queued (claims, retries): workers to start at its end */
static int	jobs_to_start = 0;

/*
 * Claim a stable file: record a queued job and move the file into
 * processing/<job id>/; a worker is started at the end of the round.
 */
static void
claim_file(const char *inbox, const char *name, Oid owner, Oid run_as, Oid target,
		   const char *format, Jsonb *options)
{
	char	   *from = psprintf("%s/%s", inbox, name);
	int64		job_id;

	job_id = edp_job_create(owner, run_as, from, target, format, options, "queued");
	edp_job_set_source(job_id, edp_inbox_claim(inbox, name, job_id));
	jobs_to_start++;
}

/* the names of the files of an inbox that are ready to be claimed */
static List *
stable_files(const char *inbox)
{
	DIR		   *dir = AllocateDir(inbox);
	struct dirent *de;
	List	   *names = NIL;

	if (dir == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open inbox directory \"%s\": %m", inbox)));
	/* claims move files out of it: say so once rather than fail each claim */
	if (access(inbox, W_OK | X_OK) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("the database server may not move files out of inbox directory \"%s\": %m", inbox)));
	while ((de = ReadDir(dir, inbox)) != NULL)
	{
		char	   *path;
		struct stat st;

		if (is_ignored_name(de->d_name))
			continue;
		path = psprintf("%s/%s", inbox, de->d_name);
		if (strlen(path) >= MAXPGPATH || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (is_stable(path, &st))
			names = lappend(names, pstrdup(de->d_name));
	}
	FreeDir(dir);
	return names;
}

/* ------------------------------------------------------------ guarded */

typedef void (*InboxStep) (void *arg);

/*
 * Run step in a subtransaction; on an error, roll it back and return the
 * message (NULL on success).  One inbox's trouble (a missing directory,
 * no write permission) is recorded as that inbox's state instead of
 * ending the launcher.
 */
static char *
run_guarded(InboxStep step, void *arg)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile error = NULL;
	int			started = jobs_to_start;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		step(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		error = edata->message;
		jobs_to_start = started;	/* its jobs were rolled back */
	}
	PG_END_TRY();
	return error;
}

/* one row of edp.inboxes */
typedef struct InboxRow
{
	char	   *directory;
	Oid			mapped_by;
	Oid			target;
	bool		target_exists;
	char	   *format;
	Jsonb	   *options;
	Oid			run_as;
	char	   *state;
	char	   *error;
	List	   *stable;			/* files ready to be claimed (scan_step) */
	char	   *claiming;		/* the one claim_step claims */
} InboxRow;

static InboxRow *
read_inboxes(int *n)
{
	static const char *sql =
	"SELECT i.directory, i.mapped_by::pg_catalog.oid, "
	"  i.target::pg_catalog.oid, c.oid IS NOT NULL, i.format, "
	"  i.options OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('inbox', i.directory, "
	"    'target_name', i.target::pg_catalog.text), "
	"  COALESCE(i.run_as::pg_catalog.oid, c.relowner), i.state, i.error "
	"FROM edp.inboxes i LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.target::pg_catalog.oid "
	"ORDER BY 1";
	MemoryContext caller = CurrentMemoryContext;
	EdpIdentity id;
	InboxRow   *rows;
	int			i;

	edp_spi_begin(&id, InvalidOid, EDP_PIN_PATH);
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", sql);	/* internal error */
	*n = (int) SPI_processed;
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		rows = palloc0(sizeof(InboxRow) * (*n + 1));
		for (i = 0; i < *n; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	d = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		v;

			rows[i].directory = SPI_getvalue(t, d, 1);
			rows[i].mapped_by = DatumGetObjectId(SPI_getbinval(t, d, 2, &isnull));
			if (isnull)
				rows[i].mapped_by = InvalidOid;
			rows[i].target = DatumGetObjectId(SPI_getbinval(t, d, 3, &isnull));
			rows[i].target_exists = DatumGetBool(SPI_getbinval(t, d, 4, &isnull));
			rows[i].format = SPI_getvalue(t, d, 5);
			rows[i].options = DatumGetJsonbPCopy(SPI_getbinval(t, d, 6, &isnull));
			v = SPI_getbinval(t, d, 7, &isnull);
			rows[i].run_as = isnull ? InvalidOid : DatumGetObjectId(v);
			rows[i].state = SPI_getvalue(t, d, 8);
			rows[i].error = SPI_getvalue(t, d, 9);
		}
		MemoryContextSwitchTo(old);
	}
	edp_spi_end(&id);
	return rows;
}

/* record an inbox's state when it changed; log the change once */
static void
set_inbox_state(InboxRow *row, const char *state, const char *error)
{
	static const char *sql =
	"UPDATE edp.inboxes SET state = $2, error = $3, state_since = pg_catalog.clock_timestamp() "
	"WHERE directory OPERATOR(pg_catalog.=) $1";
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";
	EdpIdentity id;

	if (row->state && strcmp(row->state, state) == 0 &&
		((row->error == NULL && error == NULL) ||
		 (row->error && error && strcmp(row->error, error) == 0)))
		return;
	values[0] = CStringGetTextDatum(row->directory);
	values[1] = CStringGetTextDatum(state);
	if (error)
		values[2] = CStringGetTextDatum(error);
	else
		nulls[2] = 'n';
	edp_spi_begin(&id, InvalidOid, EDP_PIN_PATH);
	if (SPI_execute_with_args(sql, 3, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_with_args failed: %s", sql);	/* internal error */
	edp_spi_end(&id);
	if (error)
		ereport(LOG,
				(errmsg("edp inbox \"%s\" is not watched: %s", row->directory, error),
				 errdetail("The launcher retries every edp.naptime and records the state in edp.inbox_status; this message is logged once.")));
	else if (row->state && strcmp(row->state, "error") == 0)
		ereport(LOG,
				(errmsg("edp inbox \"%s\" is watched again", row->directory)));
}

static void
scan_step(void *arg)
{
	InboxRow   *r = (InboxRow *) arg;

	r->stable = stable_files(r->directory);
}

static void
claim_step(void *arg)
{
	InboxRow   *r = (InboxRow *) arg;

	claim_file(r->directory, r->claiming, r->mapped_by, r->run_as, r->target, r->format, r->options);
}

/*
 * List an inbox, then claim each ready file in a subtransaction of its
 * own: a claim that fails rolls back only its own job, and stops the
 * inbox's round with that error.
 */
static char *
scan_one_inbox(InboxRow *r)
{
	char	   *error = run_guarded(scan_step, r);
	ListCell   *lc;

	if (error)
		return error;
	foreach(lc, r->stable)
	{
		r->claiming = (char *) lfirst(lc);
		error = run_guarded(claim_step, r);
		if (error)
			return error;
		hash_search(seen_files, psprintf("%s/%s", r->directory, r->claiming), HASH_REMOVE, NULL);
	}
	return NULL;
}

static void
scan_inboxes(void)
{
	int			n;
	int			i;
	InboxRow   *rows = read_inboxes(&n);

	for (i = 0; i < n; i++)
	{
		char	   *error;

		if (!OidIsValid(rows[i].mapped_by))
			error = pstrdup("the superuser who mapped it no longer exists; map it again with edp.watch_inbox()");
		else if (!rows[i].target_exists)
			error = psprintf("its target table (OID %u) no longer exists", rows[i].target);
		else
			error = scan_one_inbox(&rows[i]);
		set_inbox_state(&rows[i], error ? "error" : "watching", error);
	}
}

/* --------------------------------------------------- after a crash */

/*
 * A file found in processing/ when the launcher starts (or after a worker
 * died): settle it by its job, found by path (each claimed file has a
 * path of its own job).
 *   - no job (the claim never committed): back into the inbox, retried;
 *   - queued or running: a worker has it, left alone;
 *   - succeeded or skipped: to done/;
 *   - failed by a dead worker for the first time: the job is queued again
 *     and continues after its committed batches (edp.resume_job's way);
 *   - failed again, failed otherwise (its worker could not move the file),
 *     or cancelled: to failed/ with the reason.
 */
static void
settle_processing_file(const char *inbox, const char *path)
{
	static const char *sql =
	"SELECT j.id, j.status, j.error, (SELECT pg_catalog.count(*) FROM edp.job_events e "
	"  WHERE e.job_id OPERATOR(pg_catalog.=) j.id AND e.event OPERATOR(pg_catalog.=) 'failed') "
	"FROM edp.jobs j WHERE j.source OPERATOR(pg_catalog.=) $1 ORDER BY j.id DESC LIMIT 1";
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	EdpIdentity id;
	MemoryContext caller = CurrentMemoryContext;
	int64		job_id = 0;
	char	   *status = NULL;
	char	   *error = NULL;
	int64		failures = 0;
	bool		died;

	values[0] = CStringGetTextDatum(path);
	edp_spi_begin(&id, InvalidOid, EDP_PIN_PATH);
	/* not read-only: see the jobs this round has just marked failed */
	if (SPI_execute_with_args(sql, 1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", sql);	/* internal error */
	if (SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(caller);

		job_id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		status = SPI_getvalue(t, d, 2);
		error = SPI_getvalue(t, d, 3);
		failures = DatumGetInt64(SPI_getbinval(t, d, 4, &isnull));
		MemoryContextSwitchTo(old);
	}
	edp_spi_end(&id);

	died = error != NULL && strncmp(error, EDP_JOB_WORKER_DIED, strlen(EDP_JOB_WORKER_DIED)) == 0;
	if (job_id == 0)
	{
		ereport(LOG,
				(errmsg("edp inbox \"%s\": \"%s\" has no job (its claim did not commit): returned to the inbox", inbox, path)));
		edp_inbox_file_return(inbox, path);
	}
	else if (strcmp(status, "queued") == 0 || strcmp(status, "running") == 0)
		return;
	else if (strcmp(status, "succeeded") == 0 || strcmp(status, "skipped") == 0)
		edp_inbox_file_done(inbox, path, NULL);
	else if (strcmp(status, "failed") == 0 && died && failures <= 1)
	{
		ereport(LOG,
				(errmsg("edp inbox \"%s\": ingest job " INT64_FORMAT " ended with its worker: retried after its committed batches", inbox, job_id)));
		if (edp_job_requeue_crashed(job_id))
			jobs_to_start++;
	}
	else if (strcmp(status, "failed") == 0 && died)
		edp_inbox_file_done(inbox, path,
							psprintf("%s (ingest job " INT64_FORMAT " failed this way again after its retry; its committed batches stay loaded)",
									 error, job_id));
	else
		edp_inbox_file_done(inbox, path, error ? error : status);
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* every file in an inbox's processing/ (and its job directories) */
static void
recover_step(void *arg)
{
	InboxRow   *r = (InboxRow *) arg;
	char	   *processing = psprintf("%s/processing", r->directory);
	DIR		   *dir;
	struct dirent *de;
	List	   *files = NIL;
	ListCell   *lc;

	dir = AllocateDir(processing);
	if (dir == NULL)
	{
		if (errno == ENOENT)
			return;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open directory \"%s\": %m", processing)));
	}
	while ((de = ReadDir(dir, processing)) != NULL)
	{
		char	   *path = psprintf("%s/%s", processing, de->d_name);
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || lstat(path, &st) != 0)
			continue;
		if (S_ISREG(st.st_mode))
			files = lappend(files, path);	/* the layout before job directories */
		else if (S_ISDIR(st.st_mode) && all_digits(de->d_name))
		{
			DIR		   *jobdir = AllocateDir(path);
			struct dirent *je;
			bool		empty = true;

			if (jobdir == NULL)
				continue;
			while ((je = ReadDir(jobdir, path)) != NULL)
			{
				if (strcmp(je->d_name, ".") == 0 || strcmp(je->d_name, "..") == 0)
					continue;
				files = lappend(files, psprintf("%s/%s", path, je->d_name));
				empty = false;
			}
			FreeDir(jobdir);
			if (empty)
				(void) rmdir(path);
		}
	}
	FreeDir(dir);

	foreach(lc, files)
		settle_processing_file(r->directory, (char *) lfirst(lc));
}

static void
recover_processing(void)
{
	int			n;
	int			i;
	InboxRow   *rows = read_inboxes(&n);

	for (i = 0; i < n; i++)
	{
		char	   *error = run_guarded(recover_step, &rows[i]);

		if (error)
			ereport(LOG,
					(errmsg("edp inbox \"%s\": could not recover the files in processing/: %s",
							rows[i].directory, error)));
	}
}

/* forget files no longer in any inbox */
static void
forget_vanished_files(void)
{
	HASH_SEQ_STATUS status;
	SeenFile   *seen;

	hash_seq_init(&status, seen_files);
	while ((seen = hash_seq_search(&status)) != NULL)
		if (seen->scan != scan_number)
			hash_search(seen_files, seen->path, HASH_REMOVE, NULL);
}

/* ------------------------------------------------------------- queue */

/* the job worker the launcher started last, until it has started */
static BackgroundWorkerHandle *queue_worker = NULL;

/*
 * Jobs wait in edp.jobs when no worker slot was free as they were queued
 * (or their worker was lost to a crash).  While any is queued, start one
 * more job worker per round, as soon as the previous one has started: it
 * takes the oldest queued job, then the next.  A round without a free
 * slot just tries again; the launcher is woken when a worker it started
 * stops, and every edp.naptime.
 */
static void
start_queue_worker(void)
{
	MemoryContext old;

	if (queue_worker != NULL)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(queue_worker, &pid) == BGWH_NOT_YET_STARTED)
			return;
		pfree(queue_worker);
		queue_worker = NULL;
	}
	if (edp_job_count_queued() == 0)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!edp_bgw_try_launch_job(0, InvalidTransactionId, &queue_worker))
		queue_worker = NULL;
	MemoryContextSwitchTo(old);
}

static void
launcher_iteration(void)
{
	static bool first = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	/* edp installed at this library's version (1.1 added edp_internal) */
	if (OidIsValid(get_extension_oid("edp", true)) &&
		OidIsValid(get_namespace_oid(EDP_INTERNAL_SCHEMA, true)))
	{
		pgstat_report_activity(STATE_RUNNING, "edp launcher: recover jobs and scan inboxes");
		jobs_to_start = 0;
		if (edp_job_fail_stale() > 0 || first)
			recover_processing();
		first = false;
		scan_number++;
		scan_inboxes();
		forget_vanished_files();
		if (jobs_to_start > 0)
		{
			/* they wait for this round to commit; no slot: they wait queued */
			TransactionId xid = GetTopTransactionId();

			while (jobs_to_start-- > 0)
				if (!edp_bgw_try_launch_job(0, xid, NULL))
					break;
		}
		else
			start_queue_worker();
	}

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
edp_launcher_main(Datum main_arg)
{
	MemoryContext loop_cxt;
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(edp_database, NULL, 0);
	pgstat_report_appname("edp launcher");

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MAXPGPATH;
	ctl.entrysize = sizeof(SeenFile);
	seen_files = hash_create("edp inbox files", 64, &ctl, HASH_ELEM | HASH_STRINGS);

	ereport(LOG, (errmsg("edp launcher started in database \"%s\"", edp_database)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "edp launcher loop", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		old = MemoryContextSwitchTo(loop_cxt);
		launcher_iteration();
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop_cxt);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 edp_naptime, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
