/*-------------------------------------------------------------------------
 *
 * ingest/launcher.c
 *		The edp launcher: a static background worker (shared_preload_libraries)
 *		connected to edp.database that
 *		  - marks jobs failed whose worker is gone (crash, restart), and
 *		  - watches the inbox directories of edp.inboxes.
 *
 * Inbox watching is a latch-driven scan, not inotify: every edp.naptime
 * (default 250 ms) the launcher reads each inbox with AllocateDir/ReadDir.
 * A file is taken when its size and modification time are the same as at
 * the previous scan, so a file renamed in is taken on the second scan
 * after its arrival (within 2 x edp.naptime), and one written in place is
 * left alone while it grows.  Names starting with "." or ending in ".tmp"
 * or ".part" are never taken: writers should write under such a name and
 * rename, which is atomic.  A taken file is claimed by durable_rename into
 * processing/, recorded as a queued job, and handed to an "edp ingest"
 * worker, which moves it to done/ or failed/ (with NAME.reason beside it).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
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

#include "ingest/inbox_files.h"
#include "ingest/workers.h"
#include "core/guc.h"
#include "ingest/ledger.h"
#include "core/security.h"

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
	if (stable)
		hash_search(seen_files, path, HASH_REMOVE, NULL);
	return stable;
}

/* claim a file: rename it into processing/, record the job, start its worker */
static void
claim_file(const char *inbox, const char *name, Oid owner, Oid run_as, Oid target,
		   const char *format, Jsonb *options)
{
	char	   *from = psprintf("%s/%s", inbox, name);
	char	   *processing = psprintf("%s/processing", inbox);
	char	   *to;
	int64		job_id;
	struct stat st;

	edp_inbox_ensure_dir(processing);
	to = psprintf("%s/%s", processing, name);
	if (stat(to, &st) == 0)
		return;					/* a file of that name is being loaded: later */
	if (durable_rename(from, to, LOG) != 0)
		return;

	job_id = edp_job_create(owner, run_as, to, target, format, options, "queued");
	/* the worker starts once this transaction has committed */
	if (!edp_bgw_try_launch_job(job_id, GetTopTransactionId()))
		ereport(LOG,
				(errmsg("edp launcher could not start a worker for ingest job " INT64_FORMAT " (file \"%s\")", job_id, to),
				 errhint("Increase max_worker_processes. The job stays queued; edp.cancel_job() cancels it.")));
}

static void
scan_inbox(const char *inbox, Oid owner, Oid run_as, Oid target, const char *format, Jsonb *options)
{
	DIR		   *dir = AllocateDir(inbox);
	struct dirent *de;

	if (dir == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("edp launcher could not open inbox \"%s\": %m", inbox)));
		return;
	}
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
			claim_file(inbox, de->d_name, owner, run_as, target, format, options);
	}
	FreeDir(dir);
}

static void
scan_inboxes(void)
{
	static const char *sql =
	"SELECT i.directory, i.mapped_by::pg_catalog.oid, "
	"  i.target::pg_catalog.oid, i.format, "
	"  i.options OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('inbox', i.directory), "
	"  COALESCE(i.run_as::pg_catalog.oid, c.relowner) "
	"FROM edp.inboxes i JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.target::pg_catalog.oid "
	"ORDER BY 1";
	MemoryContext caller = CurrentMemoryContext;
	int			n;
	int			i;
	char	  **dirs;
	Oid		   *owners;
	Oid		   *run_as;
	Oid		   *targets;
	EdpIdentity id;
	char	  **formats;
	Jsonb	  **options;

	edp_spi_begin(&id, InvalidOid, EDP_PIN_PATH);
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", sql);	/* internal error */
	n = (int) SPI_processed;
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		dirs = palloc(sizeof(char *) * (n + 1));
		owners = palloc(sizeof(Oid) * (n + 1));
		run_as = palloc(sizeof(Oid) * (n + 1));
		targets = palloc(sizeof(Oid) * (n + 1));
		formats = palloc(sizeof(char *) * (n + 1));
		options = palloc(sizeof(Jsonb *) * (n + 1));
		for (i = 0; i < n; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	d = SPI_tuptable->tupdesc;
			bool		isnull;

			dirs[i] = SPI_getvalue(t, d, 1);
			owners[i] = DatumGetObjectId(SPI_getbinval(t, d, 2, &isnull));
			if (isnull)
				owners[i] = InvalidOid;
			targets[i] = DatumGetObjectId(SPI_getbinval(t, d, 3, &isnull));
			formats[i] = SPI_getvalue(t, d, 4);
			options[i] = DatumGetJsonbPCopy(SPI_getbinval(t, d, 5, &isnull));
			run_as[i] = DatumGetObjectId(SPI_getbinval(t, d, 6, &isnull));
		}
		MemoryContextSwitchTo(old);
	}
	edp_spi_end(&id);

	for (i = 0; i < n; i++)
		if (OidIsValid(owners[i]))
			scan_inbox(dirs[i], owners[i], run_as[i], targets[i], formats[i], options[i]);
}

/* inbox files of jobs that failed without their worker: to failed/ */
static void
settle_orphaned_files(void)
{
	static const char *sql =
	"SELECT options OPERATOR(pg_catalog.->>) 'inbox', source, error FROM edp.jobs "
	"WHERE status OPERATOR(pg_catalog.=) 'failed' AND options OPERATOR(pg_catalog.?) 'inbox' "
	"  AND source OPERATOR(pg_catalog.~~) ((options OPERATOR(pg_catalog.->>) 'inbox') OPERATOR(pg_catalog.||) '/processing/%')";
	int			i;
	EdpIdentity id;

	edp_spi_begin(&id, InvalidOid, EDP_PIN_PATH);
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", sql);	/* internal error */
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;

		edp_inbox_file_done(SPI_getvalue(t, d, 1), SPI_getvalue(t, d, 2), SPI_getvalue(t, d, 3));
	}
	edp_spi_end(&id);
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

/*
 * Jobs still queued when the launcher starts lost their worker to a crash or
 * restart (dynamic workers are not restarted): start one for each.  A job
 * that already has a worker is skipped by the new one's claim.
 */
static void
relaunch_queued_jobs(void)
{
	static const char *sql =
	"SELECT id FROM edp.jobs WHERE status OPERATOR(pg_catalog.=) 'queued' ORDER BY id";
	int64	   *ids;
	int			n;
	int			i;
	EdpIdentity id;

	edp_spi_begin(&id, InvalidOid, EDP_PIN_PATH);
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", sql);	/* internal error */
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	edp_spi_end(&id);
	for (i = 0; i < n; i++)
		if (!edp_bgw_try_launch_job(ids[i], InvalidTransactionId))
			ereport(LOG,
					(errmsg("edp launcher could not start a worker for queued ingest job " INT64_FORMAT, ids[i]),
					 errhint("Increase max_worker_processes. The job stays queued; edp.cancel_job() cancels it.")));
}

static void
launcher_iteration(void)
{
	static bool first = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	if (OidIsValid(get_extension_oid("edp", true)))
	{
		pgstat_report_activity(STATE_RUNNING, "edp launcher: recover jobs and scan inboxes");
		if (edp_job_fail_stale() > 0)
			settle_orphaned_files();
		if (first)
			relaunch_queued_jobs();
		first = false;
		scan_number++;
		scan_inboxes();
		forget_vanished_files();
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
