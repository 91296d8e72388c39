/*-------------------------------------------------------------------------
 *
 * ingest/worker.c
 *		Background ingest jobs: edp.ingest_async, edp.resume_job,
 *		edp.cancel_job, and the dynamic background worker ("edp ingest")
 *		that runs one job.
 *
 * edp.ingest_async inserts a queued job and registers a worker just
 * before its transaction commits (a rolled-back call starts nothing); the
 * worker first waits for that transaction to end, then claims the oldest
 * queued job of its database, runs it, and takes the next one until the
 * queue is empty.  When no worker slot is free the job simply waits in the
 * queue (ingest/worker_start.c): the submission never fails for it.
 * The worker commits after every batch, together with the job's counts,
 * its rejects and the number of input lines the batch covered, and sends
 * a progress notification with that commit.  After a crash the ledger
 * therefore says exactly what is in the table, and edp.resume_job()
 * continues after the committed lines without loading a row twice.
 *
 * Two roles take part in a job.  Its owner submitted it: the right to read
 * server files is the owner's, checked again when the worker starts.  Its
 * run_as role (by default the table's owner, see
 * edp_ingest_resolve_run_as) is whom the rows are inserted as: the table's
 * triggers, defaults and constraints run as that role, never as the
 * superuser the worker connects as.  That includes deferred triggers (edp's
 * partition routing is one): each batch's transaction commits while the
 * worker still acts as run_as.  The load is not a security-restricted
 * operation, because PostgreSQL refuses to queue deferred triggers in one;
 * the local user change still forbids SET ROLE and SET SESSION
 * AUTHORIZATION, and the worker's session ends with the job.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/async.h"
#include "commands/prepare.h"
#include "commands/sequence.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "ingest/inbox_files.h"
#include "ingest/workers.h"
#include "core/guc.h"
#include "ingest/ingest.h"
#include "ingest/ledger.h"
#include "core/security.h"

/*
 * The file of a background job must be there, and readable by the server,
 * when it is queued: a job for a path that cannot work fails at once.
 */
static void
check_readable_file(const char *path)
{
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	struct stat st;

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for reading: %m", path),
				 errhint("The path is read on the database server, by the server's operating-system user: it must exist there and be readable by that user.")));
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	CloseTransientFile(fd);
	if (S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is a directory", path),
				 errhint("Name a file; edp.watch_inbox() maps a directory.")));
}

/*
 * The job's options plus "target_name", the table's qualified name when it
 * was queued: a job whose table is dropped meanwhile can still name it.
 */
static Jsonb *
with_target_name(Jsonb *options, Oid relid)
{
	StringInfoData buf;
	Datum		extra;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"target_name\": ");
	escape_json(&buf, quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												 get_rel_name(relid)));
	appendStringInfoChar(&buf, '}');
	extra = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(options), extra));
}

/*
 * edp.ingest_async(target, path, ...): queue a server file; a background
 * worker loads it once the calling transaction commits.
 */
PG_FUNCTION_INFO_V1(edp_ingest_async);
Datum
edp_ingest_async(PG_FUNCTION_ARGS)
{
	EdpIngestOptions opts;
	Oid			relid;
	char	   *path;
	int64		job_id;
	Oid			run_as;

	edp_require_preload("edp.ingest_async()");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target and path must not be null")));
	edp_ingest_check_file_privilege();
	relid = PG_GETARG_OID(0);
	path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path of a background ingest job must be absolute")));
	check_readable_file(path);
	edp_ingest_options_from_args(fcinfo, &opts);
	edp_ingest_check_target(relid);
	run_as = edp_ingest_resolve_run_as(relid, PG_ARGISNULL(9) ? InvalidOid : PG_GETARG_OID(9));

	job_id = edp_job_create(GetUserId(), run_as, path, relid,
							opts.format,
							with_target_name(edp_ingest_options_jsonb(&opts), relid), "queued");
	edp_bgw_launch_at_commit(job_id);
	PG_RETURN_INT64(job_id);
}

/*
 * edp.resume_job(id): run a failed or cancelled job again, after the input
 * lines its committed batches covered.
 */
PG_FUNCTION_INFO_V1(edp_resume_job);
Datum
edp_resume_job(PG_FUNCTION_ARGS)
{
	int64		job_id = PG_GETARG_INT64(0);

	edp_require_preload("edp.resume_job()");
	edp_ingest_check_file_privilege();
	edp_job_fail_stale();		/* a job of a crashed worker can be resumed at once */
	if (!edp_job_requeue(job_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ingest job " INT64_FORMAT " cannot be resumed", job_id),
				 errdetail("Only failed or cancelled jobs of server files can be resumed, by their owner or a superuser.")));
	edp_bgw_launch_at_commit(job_id);
	PG_RETURN_INT64(job_id);
}

/*
 * edp.cancel_job(id): a queued job is cancelled at once; a running one
 * stops after its current batch (committed batches stay).
 */
PG_FUNCTION_INFO_V1(edp_cancel_job);
Datum
edp_cancel_job(PG_FUNCTION_ARGS)
{
	edp_job_fail_stale();		/* a dead worker's job is failed, not cancellable */
	PG_RETURN_BOOL(edp_job_request_cancel(PG_GETARG_INT64(0)));
}

/* ------------------------------------------------------------- worker */

static void
begin_step(const char *what)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);
}

static void
end_step(void)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* a text option of the job ("inbox", "target_name"), or NULL */
static char *
job_option(EdpJobSpec *spec, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&spec->options->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* the inbox a job's file was claimed from (options "inbox"), or NULL */
static char *
job_inbox(EdpJobSpec *spec)
{
	return job_option(spec, "inbox");
}

/*
 * Run the claimed job.  *ingp holds the load while it is open, so that
 * the caller can free it after an error.
 */
static void
run_job(EdpJobSpec *spec, EdpIngest **ingp)
{
	EdpIngestOptions opts;
	EdpIngestInput input = {0};
	EdpIngest  *ing;
	EdpIdentity as_run_as;
	int64		earlier = 0;
	bool		more = true;
	bool		cancel = false;
	EdpJobCounts counts = spec->counts;

	edp_ingest_options_from_jsonb(spec->options, &opts);
	opts.format = spec->format;
	input.path = spec->source;

	/*
	 * The file right is the owner's; the table is written as run_as, a role
	 * the owner could act as when submitting (checked again here: either
	 * may have lost its rights since).
	 */
	begin_step("edp ingest: open");
	if (!OidIsValid(spec->owner) || !OidIsValid(spec->run_as))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that submitted ingest job " INT64_FORMAT ", or the role it runs as, no longer exists",
						spec->id)));
	if (!has_privs_of_role(spec->owner, ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may no longer read server files",
						GetUserNameFromId(spec->owner, false)),
				 errdetail("A background job reads its file with the rights of the role that submitted it.")));
	if (spec->run_as != spec->owner && !has_privs_of_role(spec->owner, spec->run_as))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may no longer run loads as role \"%s\"",
						GetUserNameFromId(spec->owner, false), GetUserNameFromId(spec->run_as, false))));
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(spec->target)))
	{
		char	   *name = job_option(spec, "target_name");

		if (name)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("the target table of ingest job " INT64_FORMAT " (%s, OID %u) no longer exists",
							spec->id, name, spec->target),
					 errdetail("The table was dropped after the job was queued.")));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the target table of ingest job " INT64_FORMAT " (OID %u) no longer exists",
						spec->id, spec->target),
				 errdetail("The table was dropped after the job was queued.")));
	}
	edp_become(&as_run_as, spec->run_as, EDP_SESSION_PATH);
	edp_ingest_check_target(spec->target);
	ing = edp_ingest_begin(spec->id, spec->target, &input, &opts, EDP_INGEST_BACKGROUND,
						   spec->counts.lines_done, &spec->counts);
	*ingp = ing;
	/* a resumed job: the rows its earlier runs committed are its own */
	if (spec->counts.lines_done > 0)
		edp_ingest_resume_xids(ing, job_option(spec, "committed_xids"));
	edp_unbecome(&as_run_as);
	if (!opts.force && spec->counts.lines_done == 0 &&
		edp_ingest_is_duplicate_input(ing, spec->owner, &earlier))
	{
		EdpJobCounts zero = {0};

		*ingp = NULL;
		edp_ingest_end(ing);
		edp_job_update(spec->id, "skipped", "skipped", &zero,
					   psprintf("same input (SHA-256 and size) as job " INT64_FORMAT
								", which loaded it into the same table; force => true loads it again",
								earlier));
		end_step();
		return;
	}
	end_step();

	/*
	 * One transaction per edp.ingest_commit_rows input rows or more (whole
	 * batches): the table's upkeep (rollup, dedupe) runs once per
	 * transaction, before its commit; progress is notified with each commit.
	 */
	while (more && !cancel)
	{
		int64		rows_at_start = edp_ingest_counts(ing)->rows_in;

		CHECK_FOR_INTERRUPTS();
		begin_step("edp ingest: batch");
		edp_become(&as_run_as, spec->run_as, EDP_SESSION_PATH);
		do
			more = edp_ingest_next_batch(ing);
		while (more && edp_ingest_counts(ing)->rows_in - rows_at_start < edp_ingest_commit_rows);
		edp_ingest_end_transaction(ing);
		/* the last call may find only the end of the input: nothing to report */
		if (edp_ingest_counts(ing)->rows_in != counts.rows_in || more)
		{
			counts = *edp_ingest_counts(ing);
			cancel = edp_job_update(spec->id, "progress", NULL, &counts, NULL);
		}
		/* deferred triggers fire at this commit: still as run_as */
		end_step();
		edp_unbecome(&as_run_as);
	}

	begin_step("edp ingest: finish");
	edp_become(&as_run_as, spec->run_as, EDP_SESSION_PATH);
	*ingp = NULL;
	edp_ingest_end(ing);
	if (cancel && more)
		edp_job_update(spec->id, "cancelled", "cancelled", NULL, "cancelled by edp.cancel_job()");
	else
		edp_job_update(spec->id, "succeeded", "succeeded", NULL, NULL);
	end_step();
	edp_unbecome(&as_run_as);
}

/* move an inbox file to done/ or failed/ (with the reason beside it) */
static void
finish_inbox_file(EdpJobSpec *spec, const char *error)
{
	char	   *inbox = job_inbox(spec);

	if (inbox == NULL)
		return;
	edp_inbox_file_done(inbox, spec->source, error);
}

/* run one claimed job to its end; an error fails the job, not the worker */
static void
run_claimed_job(EdpJobSpec *spec, MemoryContext job_cxt)
{
	EdpIngest  *ing = NULL;

	edp_job_keep_rejects_on_abort();
	PG_TRY();
	{
		run_job(spec, &ing);
		begin_step("edp ingest: inbox");
		finish_inbox_file(spec, NULL);
		end_step();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(job_cxt);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(job_cxt);
		edp_ingest_abandon(ing);	/* NULL: the one whose begin failed */

		/* counts stay those of the committed batches */
		begin_step("edp ingest: failed");
		edp_job_replay_rejects(spec->id);	/* those of the rolled-back transaction */
		edp_job_fail(spec->id, edata->message, edata->sqlerrcode);
		finish_inbox_file(spec, edata->message);
		end_step();
	}
	PG_END_TRY();
}

/*
 * Between two jobs, reset the session as DISCARD ALL does: a job runs its
 * run_as role's triggers, which may leave session state behind (settings
 * such as search_path, temporary tables, prepared statements, cursors,
 * advisory locks, LISTEN); the next job, maybe of another role, starts
 * from a clean session as if in a worker of its own.
 */
static void
reset_session(void)
{
	begin_step("edp ingest: reset session");
	PortalHashTableDeleteAll();
	ResetAllOptions();
	DropAllPreparedStatements();
	Async_UnlistenAll();
	LockReleaseAll(USER_LOCKMETHOD, true);
	ResetPlanCache();
	ResetTempTableNamespace();
	ResetSequenceCaches();
	end_step();
	pgstat_report_appname("edp ingest");
}

void		edp_ingest_worker_main(Datum main_arg);

/*
 * An "edp ingest" worker: wait for the submitting transaction, then run
 * the queued jobs of this database, oldest first, until none is left.
 */
void
edp_ingest_worker_main(Datum main_arg)
{
	EdpWorkerArgs args;
	MemoryContext job_cxt;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.database, InvalidOid, 0);
	pgstat_report_appname("edp ingest");

	job_cxt = AllocSetContextCreate(TopMemoryContext, "edp ingest job", ALLOCSET_DEFAULT_SIZES);

	/* the submitting transaction is committing: wait until it has */
	if (TransactionIdIsValid(args.wait_xid))
	{
		begin_step("edp ingest: wait for the submitting transaction");
		XactLockTableWait(args.wait_xid, NULL, NULL, XLTW_None);
		end_step();
	}

	for (;;)
	{
		EdpJobSpec	spec;
		bool		claimed;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(job_cxt);
		begin_step("edp ingest: claim");
		MemoryContextSwitchTo(job_cxt);
		claimed = edp_job_claim_next(MyProcPid, &spec);
		end_step();
		if (!claimed)
			break;				/* the queue is empty */
		MemoryContextSwitchTo(job_cxt);
		run_claimed_job(&spec, job_cxt);
		reset_session();
	}

	proc_exit(0);
}
