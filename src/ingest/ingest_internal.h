/*-------------------------------------------------------------------------
 *
 * ingest/ingest_internal.h
 *		The state of one ingest job, shared by ingest/ingest.c (conversion, batches,
 *		quarantine) and ingest/input.c (reading, checksum, detection).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_INGEST_INTERNAL_H
#define EDP_INGEST_INTERNAL_H

#include "commands/copy.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/execExpr.h"
#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "ingest/ingest.h"

/* bytes looked at to detect the format and the delimiter */
#define PEEK_BYTES 65536

/*
 * The stream COPY's parser reads is the input with a few bytes escaped
 * (ingest/input.c): EDP_ESC followed by one of the codes below.  None of
 * them is ASCII, so no escape meets a delimiter, quote or newline.
 */
#define EDP_ESC			0xFF
#define EDP_ESC_FF		0xFF	/* 0xFF itself */
#define EDP_ESC_NUL		0xFE	/* 0x00: COPY refuses it for the whole input */
#define EDP_ESC_BACKSLASH 0xFD	/* a backslash starting a line: \. ends COPY */
#define EDP_ESC_RS		0xFC	/* 0x1e, JSON lines' quote */
#define EDP_ESC_US		0xFB	/* 0x1f, JSON lines' delimiter */
#define EDP_ESC_CR		0xFA	/* a carriage return, unless lines end in CR */


/* one input row kept until its batch is written */
typedef struct EdpRow
{
	uint64		line;			/* line number in the input (1-based) */
	int			raw;			/* offset of the raw line in raw_lines */
	Datum	   *values;			/* converted, by attribute */
	bool	   *isnull;
	bool		bad;			/* rejected */
} EdpRow;

struct EdpIngest
{
	MemoryContext cxt;			/* lives as long as the job */
	MemoryContext batch_cxt;	/* raw rows of the current batch */
	MemoryContext values_cxt;	/* converted values of the current batch */
	MemoryContext reject_cxt;	/* one reject's copies, reset after it is recorded */
	MemoryContext catch_cxt;	/* a bad row's error and rollback, reset after it */
	int64		job_id;
	Oid			relid;
	char	   *relname;
	EdpIngestMode mode;
	EdpIngestOptions opts;
	bool		jsonl;
	char		delimiter;
	int			batch_size;

	/* input: a server file read through a virtual file descriptor, or memory */
	File		file;
	off_t		offset;
	const char *data;
	Size		datalen;
	Size		datapos;
	int64		size;
	int			(*read_fn) (void *arg, char *buf, int len);	/* a stream, or NULL */
	void	   *read_arg;
	int64		bytes_read;		/* of the input, so far */
	pg_cryptohash_ctx *sha;		/* NULL once the checksum is known */
	char	   *inbuf;			/* raw bytes not yet handed to COPY */
	int			in_pos;
	int			in_len;
	int			esc_pending;	/* the code of an escape cut short, or -1 */
	bool		at_line_start;	/* the last byte handed over ended a line */
	bool		after_cr;		/* and it was a CR */
	bool		bom_checked;	/* the first bytes were looked at */
	bool		in_eof;			/* the input's last byte is in inbuf */
	bool		escape_cr;		/* lines ending in LF or CRLF: CR is data */
	bool		raw_stream;		/* a client stream in COPY's text format or
								 * another encoding: read as COPY reads it,
								 * no escapes */
	bool		first_cid_set;	/* first_cid holds the load's first statement */
	CommandId	first_cid;		/* (a background job: this batch's) */
	Tuplestorestate *written;	/* rows of committed batches awaiting upkeep
								 * (core/loader.h), or NULL */
	Tuplestorestate *batch_written; /* the batch being written's rows */
	StringInfoData txn_xids;	/* background: this transaction's batches' */
	StringInfoData committed_xids;	/* background: "xid,xid" of the job's
									 * committed transactions (dedupe's ledger) */
	struct EdpLoadHistory *history;	/* background: what its committed
										 * transactions stored, for dedupe
										 * (buckets/load_history.h) */
	bool		partition_plan_checked;
	struct EdpPartitionPlan *partition_plan;	/* partitions to create before
												 * a batch, or NULL */
	ResourceOwner hash_owner;	/* background jobs: outlives transactions */
	char		checksum[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	CopyFromState cstate;
	bool		eof;
	int64		skip_lines;		/* resumed job: lines already committed */

	/* target columns, by attribute index */
	int			natts;
	char	  **colnames;		/* as in the table */
	char	  **normnames;		/* normalised, for matching */
	bool	   *usable;			/* not dropped, not generated */
	bool	   *notnull;
	FmgrInfo   *in_funcs;
	Oid		   *ioparams;
	int32	   *typmods;
	ExprState **defaults;		/* NULL: no default */
	ExprContext *econtext;		/* evaluates defaults */

	/* CSV: input field i goes to attribute field_att[i] */
	int			nfields;
	int		   *field_att;
	bool	   *provided;		/* attribute filled from the input */

	/* the current batch */
	EdpRow	   *rows;
	int			nrows;
	StringInfoData raw_lines;	/* the batch's raw lines, NUL-separated */
	char	  **fields;			/* fields of the row being converted */
	int			row_nfields;
	bool		in_read;		/* inside COPY's parser: errors end the job */
	bool		check_fields;	/* the line is not valid text: check each field */
	List	   *deferred;		/* rejects found while reading (DeferredReject) */

	/* the target, open while rows are written */
	Relation	rel;
	MemoryContext loader_cxt;	/* a loader per write attempt */
	uint64		write_line;		/* line of the row the loader is writing */

	EdpJobCounts counts;

	/* for the error context and for rejects */
	uint64		cur_line;
	const char *cur_column;
};

extern void edp_ingest_input_attach(EdpIngest *ing);
extern int	edp_ingest_read_cb(void *outbuf, int minread, int maxread);
extern int	edp_ingest_read_more(EdpIngest *ing, char *buf, int len);
extern void edp_ingest_hash_finish(EdpIngest *ing);
extern void edp_ingest_detect_format(EdpIngest *ing, const char *path);
extern List *edp_ingest_copy_options(EdpIngest *ing);
extern int	edp_ingest_unescape(char *s, int len, bool *had_nul);

/* ingest/progress.c */
extern void edp_ingest_progress_start(EdpIngest *ing);
extern void edp_ingest_progress_update(EdpIngest *ing);
extern void edp_ingest_log_reject(EdpIngest *ing, uint64 line, const char *column,
								  const char *message);

#endif							/* EDP_INGEST_INTERNAL_H */
