/*-------------------------------------------------------------------------
 *
 * ingest/progress.c
 *		What a validated load shows while it runs: pg_stat_progress_copy
 *		(bytes total and processed, rows), and a NOTICE per rejected row
 *		when COPY asked for LOG_VERBOSITY verbose.
 *
 * COPY's parser, which the engine runs, starts the COPY progress report;
 * it knows neither the input's size (it reads through a callback) nor the
 * rows, which the engine writes itself.  type is FILE for a server file,
 * PIPE for COPY FROM STDIN, CALLBACK for edp.ingest_data's bytes.
 * tuples_processed counts the rows loaded, tuples_excluded the rows
 * rejected (PostgreSQL 17 calls them tuples_skipped).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/progress.h"
#include "utils/backend_progress.h"

#include "ingest/ingest.h"
#include "ingest/ingest_internal.h"

void
edp_ingest_progress_start(EdpIngest *ing)
{
	edp_ingest_progress_update(ing);
}

/*
 * After each batch: the whole report again.  A subtransaction abort (each
 * rejected row costs one) ends the backend's progress report, so it is
 * started anew rather than updated; the counts include a resumed job's
 * earlier runs.
 */
void
edp_ingest_progress_update(EdpIngest *ing)
{
	const int	index[6] = {PROGRESS_COPY_COMMAND, PROGRESS_COPY_TYPE,
		PROGRESS_COPY_BYTES_PROCESSED, PROGRESS_COPY_BYTES_TOTAL,
	PROGRESS_COPY_TUPLES_PROCESSED, PROGRESS_COPY_TUPLES_EXCLUDED};
	int64		val[6];

	val[0] = PROGRESS_COPY_COMMAND_FROM;
	val[1] = ing->file >= 0 ? PROGRESS_COPY_TYPE_FILE :
		ing->read_fn != NULL ? PROGRESS_COPY_TYPE_PIPE : PROGRESS_COPY_TYPE_CALLBACK;
	val[2] = ing->bytes_read;
	val[3] = Max(ing->size, 0);
	val[4] = ing->counts.loaded;
	val[5] = ing->counts.rejected;
	ing->counts.bytes_done = ing->bytes_read;	/* for progress events */
	pgstat_progress_start_command(PROGRESS_COMMAND_COPY, ing->relid);
	pgstat_progress_update_multi_param(6, index, val);
}

/* LOG_VERBOSITY verbose: each reject as a NOTICE, as PostgreSQL 17's ON_ERROR ignore does */
void
edp_ingest_log_reject(EdpIngest *ing, uint64 line, const char *column, const char *message)
{
	if (column)
		ereport(NOTICE,
				(errmsg("rejected line " UINT64_FORMAT " for column \"%s\": %s", line, column, message)));
	else
		ereport(NOTICE,
				(errmsg("rejected line " UINT64_FORMAT ": %s", line, message)));
}
