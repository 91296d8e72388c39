/*-------------------------------------------------------------------------
 *
 * ingest/copy_quarantine.c
 *		COPY ... FROM ... WITH (ON_ERROR 'quarantine' | 'ignore',
 *		REJECT_LIMIT n, LOG_VERBOSITY ...), and FORMAT jsonl: plain COPY
 *		(and psql's \copy) through the engine of validated ingest.
 *
 * PostgreSQL 15 refuses options it does not know, so the COPY hook offers
 * every COPY FROM here before PostgreSQL's COPY parses its options
 * (core/copy_hook.h).  A COPY with none of edp's options is left as it
 * is; ON_ERROR 'stop', PostgreSQL's own behaviour, is stripped and the
 * statement goes on to PostgreSQL.  Otherwise the statement becomes a
 * synchronous ingest job in the caller's transaction, exactly what
 * edp.ingest_data() runs: a job in edp.jobs, bad rows in edp.rejects
 * (ON_ERROR 'ignore' only counts them), dedupe counted as duplicates.  The
 * input streams from the client through the COPY protocol (or from a
 * server file, under COPY's own rule), a buffer at a time: memory does not
 * grow with the input.  A NOTICE at the end gives the counts and the job;
 * the command tag counts the rows loaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/copy.h"
#include "commands/defrem.h"
#include "libpq/libpq.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "core/copy_hook.h"
#include "core/guc.h"
#include "ingest/ingest.h"
#include "ingest/ledger.h"

/*
 * Rows per batch: a COPY keeps at most this many converted rows in memory
 * (edp.ingest_batch_size when smaller).  Its upkeep (rollup, dedupe) runs
 * once per statement whatever the batch, and smaller batches stay in the
 * CPU's caches: 10,000 rows loaded a 200,000-row file about 1.3 times as
 * fast as 100,000 (test/bench/quarantine_copy.sh).
 */
#define EDP_COPY_BATCH_ROWS 10000

/* what ON_ERROR asked for */
typedef enum CopyOnError
{
	COPY_ON_ERROR_NONE,			/* not given */
	COPY_ON_ERROR_STOP,
	COPY_ON_ERROR_IGNORE,
	COPY_ON_ERROR_QUARANTINE
} CopyOnError;

/* the options of a COPY this file takes */
typedef struct CopyRequest
{
	CopyOnError on_error;
	bool		jsonl;
	bool		silent;			/* LOG_VERBOSITY silent: no final NOTICE */
	EdpIngestOptions opts;
	List	   *passed;			/* the options left for PostgreSQL's COPY */
} CopyRequest;

/* ---------------------------------------------------------- the client */

/* the COPY protocol's CopyData stream from the client */
typedef struct FrontendStream
{
	int			natts;
	bool		started;		/* CopyInResponse sent */
	bool		done;			/* CopyDone received */
	StringInfoData msg;
	int			pos;
} FrontendStream;

/*
 * Read the next CopyData message (PostgreSQL's copyfromparse.c does the
 * same for COPY FROM STDIN, with the same messages and limits).
 */
static bool
frontend_next_message(FrontendStream *fs)
{
	for (;;)
	{
		int			mtype;
		int			maxmsglen;

		HOLD_CANCEL_INTERRUPTS();
		pq_startmsgread();
		mtype = pq_getbyte();
		if (mtype == EOF)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("unexpected EOF on client connection with an open transaction")));
		switch (mtype)
		{
			case 'd':
				maxmsglen = PQ_LARGE_MESSAGE_LIMIT;
				break;
			case 'c':
			case 'f':
			case 'H':
			case 'S':
				maxmsglen = PQ_SMALL_MESSAGE_LIMIT;
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg("unexpected message type 0x%02X during COPY from stdin", mtype)));
				maxmsglen = 0;	/* keep compiler quiet */
				break;
		}
		resetStringInfo(&fs->msg);
		fs->pos = 0;
		if (pq_getmessage(&fs->msg, maxmsglen))
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("unexpected EOF on client connection with an open transaction")));
		RESUME_CANCEL_INTERRUPTS();
		switch (mtype)
		{
			case 'd':
				return true;
			case 'c':
				fs->done = true;
				return false;
			case 'f':
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("COPY from stdin failed: %s", pq_getmsgstring(&fs->msg))));
				break;
			default:
				break;			/* Flush and Sync: ignored during COPY, as by PostgreSQL */
		}
	}
}

/* the engine's input callback: the client's bytes, a message at a time */
static int
frontend_read(void *arg, char *buf, int len)
{
	FrontendStream *fs = (FrontendStream *) arg;
	int			n;

	if (!fs->started)
	{
		StringInfoData resp;
		int			i;

		/* CopyInResponse: text format, every column text */
		pq_beginmessage(&resp, 'G');
		pq_sendbyte(&resp, 0);
		pq_sendint16(&resp, fs->natts);
		for (i = 0; i < fs->natts; i++)
			pq_sendint16(&resp, 0);
		pq_endmessage(&resp);
		pq_flush();
		fs->started = true;
	}
	while (fs->pos >= fs->msg.len)
	{
		if (fs->done || !frontend_next_message(fs))
			return 0;
	}
	n = Min(len, fs->msg.len - fs->pos);
	memcpy(buf, fs->msg.data + fs->pos, n);
	fs->pos += n;
	return n;
}

/* --------------------------------------------------------- the options */

static char *
option_string(DefElem *opt)
{
	return opt->arg == NULL ? NULL : defGetString(opt);
}

static void
duplicate_option(ParseState *pstate, DefElem *opt, bool seen)
{
	if (seen)
		errorConflictingDefElem(opt, pstate);
}

/*
 * Sort the statement's options into edp's (ON_ERROR, REJECT_LIMIT,
 * LOG_VERBOSITY, FORMAT jsonl, and FORMAT, HEADER, DELIMITER and ENCODING,
 * which the engine handles itself) and those left for COPY's parser (NULL,
 * QUOTE, ESCAPE, FORCE_NOT_NULL, FORCE_NULL and anything it refuses).
 * Returns false when the statement has none of edp's own.
 */
/* has the statement one of edp's options?  (nothing else is looked at before) */
static bool
has_edp_option(CopyStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "on_error") == 0 ||
			strcmp(opt->defname, "reject_limit") == 0 ||
			strcmp(opt->defname, "log_verbosity") == 0)
			return true;
		if (strcmp(opt->defname, "format") == 0 && opt->arg != NULL &&
			(IsA(opt->arg, String) || IsA(opt->arg, TypeName)))
		{
			char	   *v = defGetString(opt);

			if (pg_strcasecmp(v, "jsonl") == 0 || pg_strcasecmp(v, "ndjson") == 0)
				return true;
		}
	}
	return false;
}

static bool
sort_options(ParseState *pstate, CopyStmt *stmt, CopyRequest *req)
{
	ListCell   *lc;
	bool		edp_option = false;
	bool		seen_format = false,
				seen_header = false,
				seen_delimiter = false,
				seen_encoding = false,
				seen_on_error = false,
				seen_limit = false,
				seen_verbosity = false;
	char	   *format = NULL;
	DefElem    *freeze = NULL;

	memset(req, 0, sizeof(*req));
	req->opts.reject_limit = -1;
	req->opts.reject_percent = -1;
	req->opts.force = true;		/* COPY loads what it is given */

	foreach(lc, stmt->options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "on_error") == 0)
		{
			char	   *v = option_string(opt);

			duplicate_option(pstate, opt, seen_on_error);
			seen_on_error = edp_option = true;
			if (v && pg_strcasecmp(v, "stop") == 0)
				req->on_error = COPY_ON_ERROR_STOP;
			else if (v && pg_strcasecmp(v, "ignore") == 0)
				req->on_error = COPY_ON_ERROR_IGNORE;
			else if (v && pg_strcasecmp(v, "quarantine") == 0)
				req->on_error = COPY_ON_ERROR_QUARANTINE;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("COPY ON_ERROR \"%s\" not recognized", v ? v : ""),
						 errhint("Use 'stop' (the default), 'ignore' or 'quarantine'."),
						 parser_errposition(pstate, opt->location)));
		}
		else if (strcmp(opt->defname, "reject_limit") == 0)
		{
			duplicate_option(pstate, opt, seen_limit);
			seen_limit = edp_option = true;
			req->opts.reject_limit = defGetInt64(opt);
			if (req->opts.reject_limit <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("REJECT_LIMIT (" INT64_FORMAT ") must be greater than zero",
								req->opts.reject_limit),
						 parser_errposition(pstate, opt->location)));
		}
		else if (strcmp(opt->defname, "log_verbosity") == 0)
		{
			char	   *v = option_string(opt);

			duplicate_option(pstate, opt, seen_verbosity);
			seen_verbosity = edp_option = true;
			if (v && pg_strcasecmp(v, "verbose") == 0)
				req->opts.log_rejects = true;
			else if (v && pg_strcasecmp(v, "silent") == 0)
				req->silent = true;
			else if (v == NULL || pg_strcasecmp(v, "default") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("COPY LOG_VERBOSITY \"%s\" not recognized", v ? v : ""),
						 errhint("Use 'default', 'verbose' or 'silent'."),
						 parser_errposition(pstate, opt->location)));
		}
		else if (strcmp(opt->defname, "format") == 0)
		{
			duplicate_option(pstate, opt, seen_format);
			seen_format = true;
			format = option_string(opt);
			if (format && (pg_strcasecmp(format, "jsonl") == 0 ||
						   pg_strcasecmp(format, "ndjson") == 0))
				req->jsonl = edp_option = true;
			req->passed = lappend(req->passed, opt);
		}
		else if (strcmp(opt->defname, "header") == 0)
		{
			char	   *v = option_string(opt);

			duplicate_option(pstate, opt, seen_header);
			seen_header = true;
			if (v && pg_strcasecmp(v, "match") == 0)
				req->opts.header = true;	/* matched by normalised name */
			else
			{
				req->opts.header = defGetBoolean(opt);
				req->opts.skip_header = true;
			}
			req->passed = lappend(req->passed, opt);
		}
		else if (strcmp(opt->defname, "delimiter") == 0)
		{
			duplicate_option(pstate, opt, seen_delimiter);
			seen_delimiter = true;
			req->opts.delimiter = defGetString(opt);
			req->passed = lappend(req->passed, opt);
		}
		else if (strcmp(opt->defname, "encoding") == 0)
		{
			duplicate_option(pstate, opt, seen_encoding);
			seen_encoding = true;
			req->opts.encoding = defGetString(opt);
			if (pg_char_to_encoding(req->opts.encoding) < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("argument to option \"%s\" must be a valid encoding name",
								opt->defname),
						 parser_errposition(pstate, opt->location)));
			req->passed = lappend(req->passed, opt);
		}
		else
		{
			req->passed = lappend(req->passed, opt);
			if (strcmp(opt->defname, "freeze") == 0)
				freeze = opt;
			else
				req->opts.copy_options = lappend(req->opts.copy_options, opt);
		}
	}
	if (!edp_option)
		return false;
	if (freeze != NULL && defGetBoolean(freeze))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY ON_ERROR and FORMAT jsonl do not support FREEZE"),
				 parser_errposition(pstate, freeze->location)));

	if (req->on_error == COPY_ON_ERROR_NONE)
		req->on_error = COPY_ON_ERROR_STOP;
	if (seen_limit && req->on_error == COPY_ON_ERROR_STOP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("COPY REJECT_LIMIT requires ON_ERROR to be 'ignore' or 'quarantine'")));

	/* the engine's format: csv or text (COPY's default), or JSON lines */
	if (req->jsonl)
		req->opts.format = "jsonl";
	else
	{
		req->opts.format = "csv";
		if (format == NULL || pg_strcasecmp(format, "text") == 0)
			req->opts.copy_format = "text";
		else if (pg_strcasecmp(format, "csv") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("COPY ON_ERROR '%s' supports the formats text, csv and jsonl, not \"%s\"",
							req->on_error == COPY_ON_ERROR_IGNORE ? "ignore" : "quarantine", format)));
		if (req->opts.delimiter == NULL)
			req->opts.delimiter = req->opts.copy_format ? "\t" : ",";
		if (strlen(req->opts.delimiter) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("COPY delimiter must be a single one-byte character")));
	}
	if (req->jsonl && (seen_header || seen_delimiter || req->opts.copy_options != NIL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("COPY FORMAT jsonl takes no HEADER, DELIMITER, NULL, QUOTE, ESCAPE or FORCE options"),
				 errdetail("Each line is one JSON object; its keys name the columns.")));

	/* the client's encoding, when it is not the database's: COPY's parser converts */
	if (req->opts.encoding == NULL && pg_get_client_encoding() != GetDatabaseEncoding() &&
		pg_get_client_encoding() != PG_SQL_ASCII && GetDatabaseEncoding() != PG_SQL_ASCII)
		req->opts.encoding = pg_get_client_encoding_name();

	/* ON_ERROR 'stop' means "fail at the first bad row" */
	if (req->on_error == COPY_ON_ERROR_STOP)
		req->opts.reject_limit = 0;
	req->opts.discard_rejects = req->on_error == COPY_ON_ERROR_IGNORE;
	return true;
}

/* --------------------------------------------------------------- taker */

/* COPY's checks (DoCopy, BeginCopyFrom) for what the engine is to load */
static Oid
check_copy_target(CopyStmt *stmt, List **columns, int *natts)
{
	Oid			relid;
	Relation	rel;
	List	   *attnums;
	ListCell   *lc;

	if (stmt->is_program)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY ON_ERROR and FORMAT jsonl do not support FROM PROGRAM"),
				 errhint("Pipe the program's output to psql's \\copy ... from stdin instead.")));
	if (stmt->whereClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY ON_ERROR and FORMAT jsonl do not support WHERE")));
	if (stmt->filename != NULL &&
		!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser or have privileges of the pg_read_server_files role to COPY from a file"),
				 errhint("Anyone can COPY to stdout or from stdin. "
						 "psql's \\copy command also works for anyone.")));
	if (stmt->filename == NULL && whereToSendOutput != DestRemote)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY FROM STDIN with ON_ERROR needs a client connection")));

	relid = RangeVarGetRelid(stmt->relation, RowExclusiveLock, false);
	edp_ingest_check_target(relid);
	rel = table_open(relid, NoLock);
	if (XactReadOnly && !rel->rd_islocaltemp)
		PreventCommandIfReadOnly("COPY FROM");
	attnums = CopyGetAttnums(RelationGetDescr(rel), rel, stmt->attlist);
	*natts = list_length(attnums);
	*columns = NIL;
	if (stmt->attlist != NIL)
		foreach(lc, attnums)
			*columns = lappend(*columns,
							   makeString(pstrdup(NameStr(TupleDescAttr(RelationGetDescr(rel),
																	 lfirst_int(lc) - 1)->attname))));
	table_close(rel, NoLock);
	return relid;
}

static bool
quarantine_take_copy(EdpCopyFromTarget *target, uint64 *processed)
{
	CopyStmt   *stmt = target->stmt;
	CopyRequest req;
	EdpIngestInput input = {0};
	FrontendStream fs = {0};
	EdpJobCounts counts;
	EdpIngest  *ing;
	Oid			relid;
	int64		job_id;

	/* a COPY without edp's options goes on exactly as it came */
	if (!has_edp_option(stmt) || !sort_options(target->pstate, stmt, &req))
		return false;
	if (req.on_error == COPY_ON_ERROR_STOP && !req.jsonl)
	{
		/* PostgreSQL's own behaviour: its COPY runs the statement without them */
		CopyStmt   *copy = copyObject(stmt);
		ListCell   *lc;

		copy->options = NIL;
		foreach(lc, req.passed)
			copy->options = lappend(copy->options, copyObject(lfirst(lc)));
		target->stmt = copy;
		return false;
	}

	relid = check_copy_target(stmt, &req.opts.columns, &fs.natts);
	req.opts.batch_size = Min(edp_ingest_batch_size, EDP_COPY_BATCH_ROWS);
	if (stmt->filename != NULL)
		input.path = stmt->filename;
	else
	{
		initStringInfo(&fs.msg);
		input.read = frontend_read;
		input.read_arg = &fs;
	}

	job_id = edp_job_create(GetUserId(), GetUserId(),
							stmt->filename ? stmt->filename : "client", relid, req.opts.format,
							edp_ingest_options_jsonb(&req.opts), "running");
	ing = edp_ingest_begin(job_id, relid, &input, &req.opts, EDP_INGEST_SYNC, 0, NULL);
	PG_TRY();
	{
		while (edp_ingest_next_batch(ing))
			;
		counts = *edp_ingest_counts(ing);
		edp_ingest_end(ing);
	}
	PG_CATCH();
	{
		edp_ingest_release(ing);
		PG_RE_THROW();
	}
	PG_END_TRY();
	edp_ingest_finish_sync(job_id, &counts);

	if (!req.silent)
		ereport(NOTICE,
				(errmsg("COPY into \"%s\": " INT64_FORMAT " rows loaded, " INT64_FORMAT " rejected, "
						INT64_FORMAT " duplicates",
						get_rel_name(relid), counts.loaded, counts.rejected, counts.duplicates),
				 counts.rejected > 0 && !req.opts.discard_rejects ?
				 errdetail("The load is edp job " INT64_FORMAT "; its rejected lines and their reasons are in edp.rejects (job_id = " INT64_FORMAT ").",
						   job_id, job_id) :
				 errdetail("The load is edp job " INT64_FORMAT ".", job_id)));
	*processed = (uint64) counts.loaded;
	return true;
}

void
edp_ingest_copy_init(void)
{
	edp_copy_register_option_taker(quarantine_take_copy);
}
