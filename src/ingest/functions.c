/*-------------------------------------------------------------------------
 *
 * ingest/functions.c
 *		SQL functions of synchronous validated ingest: edp.ingest (server
 *		file) and edp.ingest_data (data sent by the client).
 *
 * A synchronous job runs in the caller's transaction: its batches are
 * subtransactions, its ledger row and notifications become visible when
 * the caller commits, and an error (bad header, reject limit) rolls the
 * whole load back.  Background jobs (ingest/worker.c) commit per batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "ingest/ingest.h"
#include "ingest/ledger.h"

/* arguments 2..8 of every ingest function: format, delimiter, header, limits, force, batch size */
void
edp_ingest_options_from_args(FunctionCallInfo fcinfo, EdpIngestOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->format = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	opts->delimiter = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	opts->header = PG_ARGISNULL(4) ? true : PG_GETARG_BOOL(4);
	opts->reject_limit = PG_ARGISNULL(5) ? -1 : PG_GETARG_INT64(5);
	opts->reject_percent = PG_ARGISNULL(6) ? -1 : PG_GETARG_FLOAT8(6);
	opts->force = PG_ARGISNULL(7) ? false : PG_GETARG_BOOL(7);
	opts->batch_size = PG_ARGISNULL(8) ? 0 : PG_GETARG_INT32(8);

	if (opts->format && strcmp(opts->format, "csv") != 0 && strcmp(opts->format, "jsonl") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown ingest format \"%s\"", opts->format),
				 errhint("Use \"csv\" or \"jsonl\", or leave the format out to detect it.")));
	if (opts->delimiter && strlen(opts->delimiter) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ingest delimiter must be a single one-byte character")));
	if (opts->reject_limit < -1 || (!PG_ARGISNULL(5) && opts->reject_limit < 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reject_limit must be zero or more")));
	if (!PG_ARGISNULL(6) && (opts->reject_percent < 0 || opts->reject_percent > 100))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reject_percent must be between 0 and 100")));
	if (!PG_ARGISNULL(8) && opts->batch_size < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be at least 1")));
}

/*
 * A synchronous load that ended: succeeded, with its counts.  One that
 * loaded nothing while it rejected rows says so: a WARNING, and the job's
 * error column tells it too (its status stays succeeded: the input was
 * read to its end, and the rejects are what it produced).
 */
void
edp_ingest_finish_sync(int64 job_id, const EdpJobCounts *counts)
{
	bool		nothing = counts->loaded == 0 && counts->rejected > 0;

	edp_job_update(job_id, "succeeded", "succeeded", counts,
				   nothing ? "loaded no rows: every row was rejected" : NULL);
	if (nothing)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("the load loaded no rows: all " INT64_FORMAT " rows were rejected",
						counts->rejected),
				 errdetail("The load is edp job " INT64_FORMAT "; it stays succeeded, with this message in its error column.",
						   job_id),
				 errhint("The rejected lines and their reasons are in edp.rejects (job_id = " INT64_FORMAT ").",
						 job_id)));
}

static Datum
run_sync(FunctionCallInfo fcinfo, const EdpIngestInput *input, const char *source)
{
	Oid			relid = PG_GETARG_OID(0);
	EdpIngestOptions opts;
	EdpIngest  *ing;
	int64		job_id;
	int64		earlier = 0;
	TupleDesc	resultdesc;
	TupleDesc	jobdesc;
	HeapTuple	job;

	if (get_call_result_type(fcinfo, NULL, &resultdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");	/* internal error */

	edp_ingest_options_from_args(fcinfo, &opts);
	edp_ingest_check_target(relid);

	job_id = edp_job_create(GetUserId(), GetUserId(), source, relid, opts.format,
							edp_ingest_options_jsonb(&opts), "running");
	ing = edp_ingest_begin(job_id, relid, input, &opts, EDP_INGEST_SYNC, 0, NULL);
	PG_TRY();
	{
		if (!opts.force && edp_ingest_is_duplicate_input(ing, GetUserId(), &earlier))
		{
			EdpJobCounts zero = {0};

			edp_ingest_end(ing);
			edp_job_update(job_id, "skipped", "skipped", &zero,
						   psprintf("same input (SHA-256 and size) as job " INT64_FORMAT
									", which loaded it into the same table; force => true loads it again",
									earlier));
		}
		else
		{
			EdpJobCounts counts;

			while (edp_ingest_next_batch(ing))
				;
			/* last rows written: loaded and duplicates final */
			counts = *edp_ingest_counts(ing);
			edp_ingest_end(ing);
			edp_ingest_finish_sync(job_id, &counts);
		}
	}
	PG_CATCH();
	{
		edp_ingest_release(ing);
		PG_RE_THROW();
	}
	PG_END_TRY();

	job = edp_job_fetch(job_id, &jobdesc);
	PG_RETURN_DATUM(heap_copy_tuple_as_datum(job, BlessTupleDesc(resultdesc)));
}

/*
 * edp.ingest(target, path, ...): load a server file.  Superusers and
 * members of pg_read_server_files only, the rule of COPY FROM 'file'.
 */
PG_FUNCTION_INFO_V1(edp_ingest_file);
Datum
edp_ingest_file(PG_FUNCTION_ARGS)
{
	EdpIngestInput input = {0};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target and path must not be null")));
	edp_ingest_check_file_privilege();
	input.path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	return run_sync(fcinfo, &input, input.path);
}

/*
 * edp.ingest_data(target, data, ...): load bytes sent by the client; any
 * role with INSERT on the target may.  The whole input is one value, so
 * at most 1 GB, held in memory while it loads.
 */
PG_FUNCTION_INFO_V1(edp_ingest_data);
Datum
edp_ingest_data(PG_FUNCTION_ARGS)
{
	EdpIngestInput input = {0};
	bytea	   *data;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target and data must not be null")));
	/* edp.ingest_data(regclass, text) lands here too: text is its bytes */
	data = PG_GETARG_BYTEA_PP(1);
	input.data = VARDATA_ANY(data);
	input.datalen = VARSIZE_ANY_EXHDR(data);
	return run_sync(fcinfo, &input, "client");
}
