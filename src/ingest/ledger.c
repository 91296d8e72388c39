/*-------------------------------------------------------------------------
 *
 * ingest/ledger.c
 *		The ingest job ledger through SPI: edp.jobs, edp.rejects and
 *		edp.job_events, and the edp_ingest notifications.
 *
 * Ordinary users can read their own jobs (row-level security) but have no
 * write privilege on the ledger, so that counts and statuses are only
 * ever written here.  Every statement therefore runs as the bootstrap
 * superuser, in a restricted security context, and switches back before
 * returning; an error on the way restores the user at (sub)transaction
 * abort.
 *
 * The row is the truth: queued -> running -> succeeded | failed |
 * cancelled (or skipped when the same input was already loaded).  Each
 * change of status, and each committed batch of a background job, adds a
 * row to edp.job_events and sends the same JSON on channel edp_ingest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "ingest/ledger.h"
#include "ingest/notify.h"
#include "core/security.h"
#include "core/version.h"

/*
 * Ledger statements run as the bootstrap superuser, restricted, with the
 * search path pinned (core/security.c): whoever calls, nothing of the caller's
 * is looked up.
 */
#define ledger_enter(id) edp_spi_begin((id), BOOTSTRAP_SUPERUSERID, EDP_RESTRICTED)
#define ledger_leave(id) edp_spi_end(id)

static Datum
text_or_null(const char *s, char *nulls, int i)
{
	if (s == NULL)
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	nulls[i] = ' ';
	return CStringGetTextDatum(s);
}

static void
execute(const char *sql, int nargs, Oid *types, Datum *values, char *nulls, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_with_args failed (%d): %s", rc, sql);
}

/* the statuses a job ends in, as an SQL array */
#define EDP_JOB_FINAL "'{succeeded,failed,cancelled,skipped}'::pg_catalog.text[]"

/* insert a job; the "started" event is sent when status is running */
int64
edp_job_create(Oid owner, Oid run_as, const char *source, Oid target, const char *format,
			   Jsonb *options, const char *status)
{
	static const char *sql =
	"INSERT INTO edp.jobs (owner, run_as, source, target, format, options, status, started_at) "
	"VALUES ($1::pg_catalog.regrole, $7::pg_catalog.regrole, $2, $3::pg_catalog.regclass, $4, $5, $6, "
	"        CASE WHEN $6 OPERATOR(pg_catalog.=) 'running' THEN pg_catalog.clock_timestamp() END) "
	"RETURNING id";
	Oid			types[7] = {OIDOID, TEXTOID, OIDOID, TEXTOID, JSONBOID, TEXTOID, OIDOID};
	Datum		values[7];
	char		nulls[7] = "       ";
	EdpIdentity lu;
	bool		isnull;
	int64		id;

	edp_require_current_extension();
	values[0] = ObjectIdGetDatum(owner);
	values[1] = CStringGetTextDatum(source);
	values[2] = ObjectIdGetDatum(target);
	values[3] = text_or_null(format, nulls, 3);
	values[4] = JsonbPGetDatum(options);
	values[5] = CStringGetTextDatum(status);
	values[6] = ObjectIdGetDatum(run_as);
	if (!OidIsValid(run_as))
		nulls[6] = 'n';

	ledger_enter(&lu);
	execute(sql, 7, types, values, nulls, SPI_OK_INSERT_RETURNING);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ledger_leave(&lu);

	edp_job_update(id, strcmp(status, "running") == 0 ? "started" : "queued", NULL, NULL, NULL);
	return id;
}

/*
 * Record a change (new status, counts, error; NULL keeps the old value),
 * add the event to edp.job_events and send it on edp_ingest.  Returns
 * whether a cancel was requested for the job.
 */
static bool job_update(int64 job_id, const char *event, const char *status,
					   const EdpJobCounts *counts, const char *error, const char *sqlstate);

bool
edp_job_update(int64 job_id, const char *event, const char *status,
			   const EdpJobCounts *counts, const char *error)
{
	return job_update(job_id, event, status, counts, error, NULL);
}

/*
 * A job failed: the ledger keeps the message, the notification carries
 * only the SQLSTATE (no row data, no text that could hold any).
 */
void
edp_job_fail(int64 job_id, const char *error, int sqlerrcode)
{
	job_update(job_id, "failed", "failed", NULL, error,
			   sqlerrcode != 0 ? unpack_sql_state(sqlerrcode) : NULL);
}

/* the same with the job's counts (a synchronous load kept after its rollback) */
void
edp_job_fail_counts(int64 job_id, const EdpJobCounts *counts, const char *error, int sqlerrcode)
{
	job_update(job_id, "failed", "failed", counts, error,
			   sqlerrcode != 0 ? unpack_sql_state(sqlerrcode) : NULL);
}

/*
 * The event's payload: the job's ids, status and counts; a progress event
 * also the bytes read and the input's size (bytes_done, bytes_total), a
 * failed one the SQLSTATE of its error.
 */
static bool
job_update(int64 job_id, const char *event, const char *status,
		   const EdpJobCounts *counts, const char *error, const char *sqlstate)
{
	static const char *update_sql =
	"UPDATE edp.jobs SET status = COALESCE($2, status), "
	"  rows_in = COALESCE($3, rows_in), loaded = COALESCE($4, loaded), "
	"  rejected = COALESCE($5, rejected), duplicates = COALESCE($6, duplicates), "
	"  skipped_empty = COALESCE($7, skipped_empty), lines_done = COALESCE($8, lines_done), "
	"  error = COALESCE($9, error), "
	"  worker_pid = CASE WHEN $2 OPERATOR(pg_catalog.=) ANY (" EDP_JOB_FINAL ") THEN NULL ELSE worker_pid END, "
	"  finished_at = CASE WHEN $2 OPERATOR(pg_catalog.=) ANY (" EDP_JOB_FINAL ") "
	"                THEN pg_catalog.clock_timestamp() ELSE finished_at END "
	"WHERE id OPERATOR(pg_catalog.=) $1 RETURNING cancel_requested, owner::pg_catalog.oid";
	static const char *event_sql =
	"INSERT INTO edp.job_events (id, job_id, event, payload) "
	"SELECT s.n, j.id, $2, pg_catalog.jsonb_build_object('event_id', s.n, 'job_id', j.id, 'event', $2, "
	"       'status', j.status, 'rows_in', j.rows_in, 'loaded', j.loaded, 'rejected', j.rejected, "
	"       'duplicates', j.duplicates, 'skipped_empty', j.skipped_empty) "
	"       OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
	"       'bytes_done', $3, 'bytes_total', CASE WHEN $3 IS NOT NULL THEN j.size END, 'sqlstate', $4)) "
	"FROM edp.jobs j, (SELECT pg_catalog.nextval('edp.job_events_id_seq') AS n) s "
	"WHERE j.id OPERATOR(pg_catalog.=) $1 RETURNING payload::pg_catalog.text";
	Oid			types[9] = {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID};
	Datum		values[9];
	char		nulls[9];
	Oid			etypes[4] = {INT8OID, TEXTOID, INT8OID, TEXTOID};
	Datum		evalues[4];
	char		enulls[4] = "    ";
	EdpIdentity lu;
	bool		isnull;
	bool		cancel;
	Oid			owner;
	char	   *payload;
	int			i;

	values[0] = Int64GetDatum(job_id);
	nulls[0] = ' ';
	values[1] = text_or_null(status, nulls, 1);
	for (i = 2; i <= 7; i++)
		nulls[i] = counts ? ' ' : 'n';
	if (counts)
	{
		values[2] = Int64GetDatum(counts->rows_in);
		values[3] = Int64GetDatum(counts->loaded);
		values[4] = Int64GetDatum(counts->rejected);
		values[5] = Int64GetDatum(counts->duplicates);
		values[6] = Int64GetDatum(counts->skipped_empty);
		values[7] = Int64GetDatum(counts->lines_done);
	}
	values[8] = text_or_null(error, nulls, 8);

	ledger_enter(&lu);
	execute(update_sql, 9, types, values, nulls, SPI_OK_UPDATE_RETURNING);
	if (SPI_processed != 1)
		elog(ERROR, "edp job " INT64_FORMAT " not found", job_id);	/* internal error */
	cancel = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	evalues[0] = Int64GetDatum(job_id);
	evalues[1] = CStringGetTextDatum(event);
	evalues[2] = Int64GetDatum(counts ? counts->bytes_done : 0);
	if (counts == NULL || strcmp(event, "progress") != 0)
		enulls[2] = 'n';
	evalues[3] = text_or_null(sqlstate, enulls, 3);
	execute(event_sql, 4, etypes, evalues, enulls, SPI_OK_INSERT_RETURNING);
	payload = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	edp_notify_ingest(payload, owner);
	ledger_leave(&lu);

	return cancel;
}

/* one text column of one job: sql is an UPDATE taking (id, value) */
static void
set_job_text(int64 job_id, const char *sql, const char *value)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	EdpIdentity lu;

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(value);
	ledger_enter(&lu);
	execute(sql, 2, types, values, NULL, SPI_OK_UPDATE);
	ledger_leave(&lu);
}

/*
 * The (sub)transaction ids "xid,xid" a background job's batches wrote rows
 * with, added in the transaction that commits them to the job's options
 * ("committed_xids"): a resumed run finds the rows of its earlier runs as
 * the job's own (dedupe's ledger counts, ingest.c).
 */
void
edp_job_add_committed_xids(int64 job_id, const char *xids)
{
	set_job_text(job_id,
				 "UPDATE edp.jobs SET options = options OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('committed_xids', "
				 "  pg_catalog.concat_ws(',', options OPERATOR(pg_catalog.->>) 'committed_xids', $2)) "
				 "WHERE id OPERATOR(pg_catalog.=) $1", xids);
}

/*
 * What kind of job this is: 'ingest' (the column's default) or 'export'
 * (export/export.c), set right after edp_job_create in the same
 * transaction, so no one sees the job without it.
 */
void
edp_job_set_kind(int64 job_id, const char *kind)
{
	set_job_text(job_id, "UPDATE edp.jobs SET kind = $2 WHERE id OPERATOR(pg_catalog.=) $1", kind);
}

/* what is known of the input: its format, size and (at the end) checksum */
void
edp_job_set_input(int64 job_id, const char *format, const char *checksum, int64 size)
{
	static const char *sql =
	"UPDATE edp.jobs SET format = $2, checksum = COALESCE($3, checksum), size = $4 "
	"WHERE id OPERATOR(pg_catalog.=) $1";
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[4];
	char		nulls[4] = "    ";
	EdpIdentity lu;

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(format);
	values[2] = text_or_null(checksum, nulls, 2);
	values[3] = Int64GetDatum(size);
	ledger_enter(&lu);
	execute(sql, 4, types, values, nulls, SPI_OK_UPDATE);
	ledger_leave(&lu);
}

/*
 * An earlier job of owner's that loaded the same input into the same table
 * (0 if none).  Only the owner's own jobs count: another role's job must
 * neither skip this load nor confirm a guess about its input.  With
 * size_only, any such job of that size counts: the caller then computes
 * the checksum to be sure.
 */
int64
edp_job_find_loaded(Oid owner, Oid target, const char *checksum, int64 size, bool size_only)
{
	static const char *sql =
	"SELECT id FROM edp.jobs WHERE target OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
	"  AND owner OPERATOR(pg_catalog.=) $4::pg_catalog.regrole "
	"  AND size OPERATOR(pg_catalog.=) $3 AND status OPERATOR(pg_catalog.=) 'succeeded' "
	"  AND kind OPERATOR(pg_catalog.=) 'ingest' "
	"  AND ($2 IS NULL OR checksum OPERATOR(pg_catalog.=) $2) ORDER BY id LIMIT 1";
	Oid			types[4] = {OIDOID, TEXTOID, INT8OID, OIDOID};
	Datum		values[4];
	char		nulls[4] = "    ";
	EdpIdentity lu;
	int64		id = 0;
	bool		isnull;

	values[0] = ObjectIdGetDatum(target);
	values[1] = text_or_null(size_only ? NULL : checksum, nulls, 1);
	values[2] = Int64GetDatum(size);
	values[3] = ObjectIdGetDatum(owner);
	ledger_enter(&lu);
	execute(sql, 4, types, values, nulls, SPI_OK_SELECT);
	if (SPI_processed > 0)
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ledger_leave(&lu);
	return id;
}

/*
 * A background job's rejects of the transaction under way, kept in memory
 * (at most EDP_PENDING_REJECTS) so that those of a transaction that rolls
 * back (the batch that passed the reject limit, an error that ended the
 * job) are recorded again with the job's failure: they say why it failed.
 * Forgotten at each commit.
 */
#define EDP_PENDING_REJECTS 10000

typedef struct PendingReject
{
	int64		job_id;
	int64		line;
	char	   *raw_line;
	char	   *column;
	char	   *sqlstate;
	char	   *message;
} PendingReject;

static bool keep_pending = false;
static MemoryContext pending_cxt = NULL;
static List *pending = NIL;

static void
forget_pending(void)
{
	pending = NIL;
	if (pending_cxt)
		MemoryContextReset(pending_cxt);
}

static void
pending_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		forget_pending();
}

/* a background worker keeps its transaction's rejects for edp_job_replay_rejects */
void
edp_job_keep_rejects_on_abort(void)
{
	if (pending_cxt == NULL)
	{
		pending_cxt = AllocSetContextCreate(TopMemoryContext, "edp pending rejects",
											ALLOCSET_DEFAULT_SIZES);
		RegisterXactCallback(pending_xact_callback, NULL);
	}
	keep_pending = true;
}

static void
remember_reject(int64 job_id, int64 line, const char *raw_line, const char *column,
				const char *sqlstate, const char *message)
{
	MemoryContext old;
	PendingReject *r;

	if (!keep_pending || list_length(pending) >= EDP_PENDING_REJECTS)
		return;
	old = MemoryContextSwitchTo(pending_cxt);
	r = palloc(sizeof(PendingReject));
	r->job_id = job_id;
	r->line = line;
	r->raw_line = raw_line ? pstrdup(raw_line) : NULL;
	r->column = column ? pstrdup(column) : NULL;
	r->sqlstate = pstrdup(sqlstate);
	r->message = pstrdup(message);
	pending = lappend(pending, r);
	MemoryContextSwitchTo(old);
}

/*
 * After a rollback, in the transaction that records the job's failure:
 * the rejects the rolled-back transaction had found, recorded again.
 */
void
edp_job_replay_rejects(int64 job_id)
{
	List	   *todo = pending;
	ListCell   *lc;

	keep_pending = false;
	pending = NIL;
	foreach(lc, todo)
	{
		PendingReject *r = lfirst(lc);

		if (r->job_id == job_id)
			edp_job_add_reject(r->job_id, r->line, r->raw_line, r->column, r->sqlstate, r->message);
	}
	if (pending_cxt)
		MemoryContextReset(pending_cxt);
}

/* quarantine one input row; the statement is planned once per backend */
void
edp_job_add_reject(int64 job_id, int64 line, const char *raw_line, const char *column,
				   const char *sqlstate, const char *message)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[6] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = "      ";
	EdpIdentity lu;
	int			rc;

	values[0] = Int64GetDatum(job_id);
	values[1] = Int64GetDatum(line);
	values[2] = text_or_null(raw_line, nulls, 2);
	values[3] = text_or_null(column, nulls, 3);
	values[4] = CStringGetTextDatum(sqlstate);
	values[5] = CStringGetTextDatum(message);

	ledger_enter(&lu);
	if (plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("INSERT INTO edp.rejects (job_id, line, raw_line, column_name, sqlstate, message) "
									"VALUES ($1, $2, $3, $4, $5, $6)", 6, types);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the edp.rejects insert");	/* internal error */
		plan = p;
	}
	rc = SPI_execute_plan(plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan failed (%d) inserting into edp.rejects", rc);
	ledger_leave(&lu);
	remember_reject(job_id, line, raw_line, column, sqlstate, message);
}

/* the job row, as the caller's rowtype, copied into the caller's context */
HeapTuple
edp_job_fetch(int64 job_id, TupleDesc *tupdesc)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	EdpIdentity lu;
	HeapTuple	tuple;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext old;

	values[0] = Int64GetDatum(job_id);
	ledger_enter(&lu);
	execute("SELECT * FROM edp.jobs WHERE id OPERATOR(pg_catalog.=) $1", 1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "edp job " INT64_FORMAT " not found", job_id);	/* internal error */
	old = MemoryContextSwitchTo(caller);
	tuple = heap_copytuple(SPI_tuptable->vals[0]);
	*tupdesc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
	MemoryContextSwitchTo(old);
	ledger_leave(&lu);
	return tuple;
}

/*
 * A background worker takes the oldest queued ingest job of its database:
 * running, with its pid.  Claims are serialised by a transaction-level
 * advisory lock (EDP_CLAIM_LOCK_KEY1/2), so jobs start in the order of their
 * ids and started_at grows with it; FOR UPDATE SKIP LOCKED passes over a
 * job whose row another transaction holds (a cancel in progress).  False
 * when no job is queued.
 */
bool
edp_job_claim_next(int pid, EdpJobSpec *spec)
{
	static const char *sql =
	"UPDATE edp.jobs j SET status = 'running', worker_pid = $1, error = NULL, finished_at = NULL, "
	"  started_at = pg_catalog.clock_timestamp() "
	"WHERE j.id OPERATOR(pg_catalog.=) (SELECT q.id FROM edp.jobs q WHERE q.status OPERATOR(pg_catalog.=) 'queued' "
	"               AND q.kind OPERATOR(pg_catalog.=) 'ingest' ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED) "
	"RETURNING j.id, j.owner::pg_catalog.oid, j.source, j.target::pg_catalog.oid, j.format, j.options, j.rows_in, j.loaded, j.rejected, "
	"  j.duplicates, j.skipped_empty, j.lines_done, j.run_as::pg_catalog.oid";
	Oid			types[1] = {INT4OID};
	Datum		values[1];
	EdpIdentity lu;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext old;
	bool		found = false;
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, EDP_CLAIM_LOCK_KEY1, EDP_CLAIM_LOCK_KEY2, 2);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	values[0] = Int32GetDatum(pid);
	ledger_enter(&lu);
	execute(sql, 1, types, values, NULL, SPI_OK_UPDATE_RETURNING);
	if (SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;

		old = MemoryContextSwitchTo(caller);
		spec->id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		spec->owner = DatumGetObjectId(SPI_getbinval(t, d, 2, &isnull));
		if (isnull)
			spec->owner = InvalidOid;
		spec->source = SPI_getvalue(t, d, 3);
		spec->target = DatumGetObjectId(SPI_getbinval(t, d, 4, &isnull));
		spec->format = SPI_getvalue(t, d, 5);
		spec->options = DatumGetJsonbPCopy(SPI_getbinval(t, d, 6, &isnull));
		spec->counts.rows_in = DatumGetInt64(SPI_getbinval(t, d, 7, &isnull));
		spec->counts.loaded = DatumGetInt64(SPI_getbinval(t, d, 8, &isnull));
		spec->counts.rejected = DatumGetInt64(SPI_getbinval(t, d, 9, &isnull));
		spec->counts.duplicates = DatumGetInt64(SPI_getbinval(t, d, 10, &isnull));
		spec->counts.skipped_empty = DatumGetInt64(SPI_getbinval(t, d, 11, &isnull));
		spec->counts.lines_done = DatumGetInt64(SPI_getbinval(t, d, 12, &isnull));
		spec->run_as = DatumGetObjectId(SPI_getbinval(t, d, 13, &isnull));
		if (isnull)
			spec->run_as = InvalidOid;
		MemoryContextSwitchTo(old);
		found = true;
	}
	ledger_leave(&lu);

	if (found)
		edp_job_update(spec->id, "started", NULL, NULL, NULL);
	return found;
}

/* how many ingest jobs of this database are queued (the launcher's queue) */
int64
edp_job_count_queued(void)
{
	static const char *sql =
	"SELECT pg_catalog.count(*) FROM edp.jobs WHERE status OPERATOR(pg_catalog.=) 'queued' "
	"  AND kind OPERATOR(pg_catalog.=) 'ingest'";
	EdpIdentity lu;
	bool		isnull;
	int64		n;

	ledger_enter(&lu);
	execute(sql, 0, NULL, NULL, NULL, SPI_OK_SELECT);
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ledger_leave(&lu);
	return n;
}

/* the path a job reads (an inbox file claimed into processing/<job id>/) */
void
edp_job_set_source(int64 job_id, const char *source)
{
	set_job_text(job_id, "UPDATE edp.jobs SET source = $2 WHERE id OPERATOR(pg_catalog.=) $1", source);
}

/*
 * A failed job back to queued, whoever owns it: the launcher retries an
 * inbox job whose worker died (the file is still in processing/).  It
 * continues after lines_done, as edp.resume_job() does.
 */
bool
edp_job_requeue_crashed(int64 job_id)
{
	static const char *sql =
	"UPDATE edp.jobs SET status = 'queued', cancel_requested = false, error = NULL, worker_pid = NULL, "
	"  finished_at = NULL "
	"WHERE id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'failed'";
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	EdpIdentity lu;
	bool		found;

	values[0] = Int64GetDatum(job_id);
	ledger_enter(&lu);
	execute(sql, 1, types, values, NULL, SPI_OK_UPDATE);
	found = SPI_processed == 1;
	ledger_leave(&lu);
	if (found)
		edp_job_update(job_id, "queued", NULL, NULL, NULL);
	return found;
}

/*
 * Jobs marked running whose worker is gone (crash, restart, kill) become
 * failed; their counts are those of the batches they committed.
 */
int
edp_job_fail_stale(void)
{
	static const char *sql =
	"UPDATE edp.jobs SET status = 'failed', worker_pid = NULL, finished_at = pg_catalog.clock_timestamp(), "
	/* begins with EDP_JOB_WORKER_DIED (ledger.h) */
	"  error = 'the job''s background worker ended without finishing it (server restart or crash); "
	"the counts are those of its committed batches, edp.resume_job() continues after them' "
	"WHERE status OPERATOR(pg_catalog.=) 'running' AND (worker_pid IS NULL OR NOT worker_pid OPERATOR(pg_catalog.=) ANY "
	"  (ARRAY(SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type OPERATOR(pg_catalog.=) 'edp ingest'))) "
	"RETURNING id";
	EdpIdentity lu;
	int64	   *ids;
	int			n;
	int			i;

	/* read the workers now, after the statement's snapshot (not a cached list) */
	pgstat_clear_snapshot();
	ledger_enter(&lu);
	execute(sql, 0, NULL, NULL, NULL, SPI_OK_UPDATE_RETURNING);
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	ledger_leave(&lu);

	for (i = 0; i < n; i++)
		edp_job_update(ids[i], "failed", NULL, NULL, NULL);
	return n;
}

/* failed or cancelled server-file job of the caller's back to queued */
bool
edp_job_requeue(int64 job_id)
{
	static const char *sql =
	"UPDATE edp.jobs SET status = 'queued', cancel_requested = false, error = NULL, worker_pid = NULL, "
	"  finished_at = NULL "
	"WHERE id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) ANY ('{failed,cancelled}'::pg_catalog.text[]) "
	"  AND source OPERATOR(pg_catalog.<>) 'client' AND kind OPERATOR(pg_catalog.=) 'ingest' AND (owner OPERATOR(pg_catalog.=) $2::pg_catalog.regrole OR $3) "
	/* a synchronous load kept after its rollback committed nothing to continue after */
	"  AND NOT options OPERATOR(pg_catalog.?) 'rolled_back'";
	Oid			types[3] = {INT8OID, OIDOID, BOOLOID};
	Datum		values[3];
	EdpIdentity lu;
	bool		found;

	values[0] = Int64GetDatum(job_id);
	values[1] = ObjectIdGetDatum(GetUserId());
	values[2] = BoolGetDatum(superuser());
	ledger_enter(&lu);
	execute(sql, 3, types, values, NULL, SPI_OK_UPDATE);
	found = SPI_processed == 1;
	/* rejects recorded with its failure beyond its committed lines: found again on resume */
	if (found)
		execute("DELETE FROM edp.rejects r USING edp.jobs j "
				"WHERE j.id OPERATOR(pg_catalog.=) $1 AND r.job_id OPERATOR(pg_catalog.=) j.id "
				"AND r.line OPERATOR(pg_catalog.>) j.lines_done", 1, types, values, NULL, SPI_OK_DELETE);
	ledger_leave(&lu);
	if (found)
		edp_job_update(job_id, "queued", NULL, NULL, NULL);
	return found;
}

/*
 * Cancel a job of the caller's: a queued job is cancelled at once, a
 * running one when its worker sees the request after its current batch.
 */
bool
edp_job_request_cancel(int64 job_id)
{
	static const char *sql =
	"UPDATE edp.jobs SET cancel_requested = true, "
	"  status = CASE WHEN status OPERATOR(pg_catalog.=) 'queued' THEN 'cancelled' ELSE status END "
	"WHERE id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) ANY ('{queued,running}'::pg_catalog.text[]) "
	"  AND (owner OPERATOR(pg_catalog.=) $2::pg_catalog.regrole OR $3) RETURNING status";
	Oid			types[3] = {INT8OID, OIDOID, BOOLOID};
	Datum		values[3];
	EdpIdentity lu;
	bool		found;
	bool		cancelled = false;

	values[0] = Int64GetDatum(job_id);
	values[1] = ObjectIdGetDatum(GetUserId());
	values[2] = BoolGetDatum(superuser());
	ledger_enter(&lu);
	execute(sql, 3, types, values, NULL, SPI_OK_UPDATE_RETURNING);
	found = SPI_processed == 1;
	if (found)
		cancelled = strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "cancelled") == 0;
	ledger_leave(&lu);
	if (cancelled)
		edp_job_update(job_id, "cancelled", "cancelled", NULL, NULL);
	return found;
}

/* ------------------------------------------- synchronous loads kept after abort */

/*
 * A new job id, drawn outside any row: the sequence is not transactional,
 * so the id is this caller's whether or not its transaction commits.
 */
int64
edp_job_next_id(void)
{
	EdpIdentity lu;
	bool		isnull;
	int64		id;

	ledger_enter(&lu);
	execute("SELECT pg_catalog.nextval('edp.jobs_id_seq')", 0, NULL, NULL, NULL, SPI_OK_SELECT);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ledger_leave(&lu);
	return id;
}

/* what a running job is: owner, run_as, source, target, format, options, size */
void
edp_job_describe(int64 job_id, EdpJobSpec *spec, int64 *size)
{
	static const char *sql =
	"SELECT owner::pg_catalog.oid, run_as::pg_catalog.oid, source, target::pg_catalog.oid, format, "
	"       options, COALESCE(size, 0) FROM edp.jobs WHERE id OPERATOR(pg_catalog.=) $1";
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	EdpIdentity lu;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext old;
	HeapTuple	t;
	TupleDesc	d;
	bool		isnull;

	memset(spec, 0, sizeof(*spec));
	values[0] = Int64GetDatum(job_id);
	ledger_enter(&lu);
	execute(sql, 1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "edp job " INT64_FORMAT " not found", job_id);	/* internal error */
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	old = MemoryContextSwitchTo(caller);
	spec->id = job_id;
	spec->owner = DatumGetObjectId(SPI_getbinval(t, d, 1, &isnull));
	spec->run_as = DatumGetObjectId(SPI_getbinval(t, d, 2, &isnull));
	spec->source = SPI_getvalue(t, d, 3);
	spec->target = DatumGetObjectId(SPI_getbinval(t, d, 4, &isnull));
	spec->format = SPI_getvalue(t, d, 5);
	spec->options = DatumGetJsonbPCopy(SPI_getbinval(t, d, 6, &isnull));
	*size = DatumGetInt64(SPI_getbinval(t, d, 7, &isnull));
	MemoryContextSwitchTo(old);
	ledger_leave(&lu);
}

/*
 * Insert the running job spec describes under the id the caller drew
 * (edp_job_next_id), its options marked "rolled_back" (edp.resume_job()
 * refuses it: nothing of it was committed), and send its "started" event.
 */
void
edp_job_create_kept(int64 job_id, const EdpJobSpec *spec, int64 size)
{
	static const char *sql =
	"INSERT INTO edp.jobs (id, owner, run_as, source, target, format, options, status, size, started_at) "
	"OVERRIDING SYSTEM VALUE "
	"VALUES ($1, $2::pg_catalog.regrole, $3::pg_catalog.regrole, $4, $5::pg_catalog.regclass, $6, "
	"        $7 OPERATOR(pg_catalog.||) '{\"rolled_back\": true}'::pg_catalog.jsonb, 'running', $8, "
	"        pg_catalog.clock_timestamp())";
	Oid			types[8] = {INT8OID, OIDOID, OIDOID, TEXTOID, OIDOID, TEXTOID, JSONBOID, INT8OID};
	Datum		values[8];
	char		nulls[8] = "        ";
	EdpIdentity lu;

	edp_require_current_extension();
	values[0] = Int64GetDatum(job_id);
	values[1] = ObjectIdGetDatum(spec->owner);
	values[2] = ObjectIdGetDatum(spec->run_as);
	values[3] = CStringGetTextDatum(spec->source);
	values[4] = ObjectIdGetDatum(spec->target);
	values[5] = text_or_null(spec->format, nulls, 5);
	values[6] = JsonbPGetDatum(spec->options);
	values[7] = Int64GetDatum(size);
	ledger_enter(&lu);
	execute(sql, 8, types, values, nulls, SPI_OK_INSERT);
	ledger_leave(&lu);
	edp_job_update(job_id, "started", NULL, NULL, NULL);
}

/*
 * Call fn for each reject of job_id, in line order, until it returns
 * false.  Rows come a few at a time through a cursor, and each row's
 * strings live only while fn runs: memory does not grow with the rejects.
 */
void
edp_job_foreach_reject(int64 job_id, EdpRejectFn fn, void *arg)
{
	static const char *sql =
	"SELECT line, raw_line, column_name, sqlstate, message FROM edp.rejects "
	"WHERE job_id OPERATOR(pg_catalog.=) $1 ORDER BY line";
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	EdpIdentity lu;
	MemoryContext row_cxt;
	Portal		portal;
	bool		more = true;

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "edp reject row", ALLOCSET_DEFAULT_SIZES);
	values[0] = Int64GetDatum(job_id);
	ledger_enter(&lu);
	/* not read-only: the rows this very statement inserted must be seen */
	portal = SPI_cursor_open_with_args(NULL, sql, 1, types, values, NULL, false, 0);
	while (more)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, 64);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed && more; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	d = SPI_tuptable->tupdesc;
			MemoryContext old = MemoryContextSwitchTo(row_cxt);
			bool		isnull;
			int64		line = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));

			more = fn(arg, line, SPI_getvalue(t, d, 2), SPI_getvalue(t, d, 3),
					  SPI_getvalue(t, d, 4), SPI_getvalue(t, d, 5));
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_cxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	ledger_leave(&lu);
	MemoryContextDelete(row_cxt);
}
