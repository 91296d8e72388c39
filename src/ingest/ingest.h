/*-------------------------------------------------------------------------
 *
 * ingest/ingest.h
 *		Validated ingest: CSV or JSON lines into a table, bad rows quarantined.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_INGEST_H
#define EDP_INGEST_H

#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"

#include "ingest/ledger.h"

/* what the caller asked for; NULL / negative means "detect" or "no limit" */
typedef struct EdpIngestOptions
{
	char	   *format;			/* "csv", "jsonl" or NULL to detect */
	char	   *delimiter;		/* one character, or NULL to detect */
	bool		header;			/* CSV: first line names the columns */
	int64		reject_limit;	/* abort after more rejects than this; -1 none */
	double		reject_percent; /* abort when rejects exceed this % of rows; -1 none */
	bool		force;			/* load even if the same input was loaded */
	int			batch_size;		/* 0: edp.ingest_batch_size */

	/* set by COPY ... WITH (ON_ERROR ...) only (ingest/copy_quarantine.c) */
	bool		skip_header;	/* header: the first line is skipped, not matched */
	List	   *columns;		/* names the fields fill, in order; NIL: the table's */
	const char *copy_format;	/* "text", or NULL for csv */
	List	   *copy_options;	/* more options for COPY's parser (null, quote, ...) */
	const char *encoding;		/* the input's encoding; NULL: checked line by line */
	bool		discard_rejects;	/* ON_ERROR 'ignore': count rejects, keep none */
	bool		log_rejects;	/* LOG_VERBOSITY verbose: a NOTICE per reject */
} EdpIngestOptions;

/* where the input comes from: a server file or bytes sent by the client */
typedef struct EdpIngestInput
{
	const char *path;			/* server file, or NULL */
	const char *data;			/* client data when path and read are NULL */
	Size		datalen;
	/* a stream (COPY FROM STDIN): up to len bytes, 0 at its end */
	int			(*read) (void *arg, char *buf, int len);
	void	   *read_arg;
} EdpIngestInput;

typedef struct EdpIngest EdpIngest;

/* how a job's transactions are run */
typedef enum EdpIngestMode
{
	EDP_INGEST_SYNC,			/* inside the caller's transaction */
	EDP_INGEST_BACKGROUND		/* a worker: one transaction per batch */
} EdpIngestMode;

#include "fmgr.h"

extern void edp_ingest_check_file_privilege(void);
extern void edp_ingest_options_from_args(FunctionCallInfo fcinfo, EdpIngestOptions *opts);
extern void edp_ingest_check_target(Oid relid);
extern Oid	edp_ingest_resolve_run_as(Oid relid, Oid requested);
extern Jsonb *edp_ingest_options_jsonb(const EdpIngestOptions *opts);
extern void edp_ingest_options_from_jsonb(Jsonb *jb, EdpIngestOptions *opts);

extern EdpIngest *edp_ingest_begin(int64 job_id, Oid relid, const EdpIngestInput *input,
								   const EdpIngestOptions *opts, EdpIngestMode mode,
								   int64 skip_lines, const EdpJobCounts *counts);
extern bool edp_ingest_is_duplicate_input(EdpIngest *ing, Oid owner, int64 *earlier_job);
extern bool edp_ingest_next_batch(EdpIngest *ing);
extern void edp_ingest_end_transaction(EdpIngest *ing);
extern void edp_ingest_resume_xids(EdpIngest *ing, const char *xids);
extern void edp_ingest_end(EdpIngest *ing);
extern void edp_ingest_release(EdpIngest *ing);
extern void edp_ingest_abandon(EdpIngest *ing);
extern const EdpJobCounts *edp_ingest_counts(EdpIngest *ing);

/* ingest/functions.c */
extern void edp_ingest_finish_sync(int64 job_id, const EdpJobCounts *counts);

/* ingest/copy_quarantine.c */
extern void edp_ingest_copy_init(void);

/* ingest/json_lines.c */
extern void edp_json_flatten(Jsonb *jb, List **names, List **values);

#endif							/* EDP_INGEST_H */
