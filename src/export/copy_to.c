/*-------------------------------------------------------------------------
 *
 * export/copy_to.c
 *		COPY table | (query) TO 'file' | STDOUT WITH (FORMAT parquet, ...).
 *
 * edp's ProcessUtility hook offers every COPY TO here; we take only those
 * with FORMAT parquet and leave the rest to PostgreSQL untouched.  The
 * rows come from the executor as COPY's own do: the table becomes
 * SELECT * FROM it (as COPY does for a table with row-level security), so
 * the executor checks SELECT privileges and applies policies.  A
 * partitioned table is exported with its partitions, an inheritance
 * parent without its children, as COPY would.
 *
 * The rules for the destination are COPY TO's: a server file needs
 * superuser or pg_write_server_files and an absolute path, PROGRAM is not
 * offered, and STDOUT is open to anyone.  To the client the file goes as
 * COPY data in a binary-format copy-out (psql's \copy writes the bytes to
 * its file as they come).  A file whose export fails is removed, so no
 * truncated Parquet file is left under the name.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/relation.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/fd.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "core/copy_hook.h"
#include "export/export.h"

/* COPY data messages to the client carry at most this much */
#define COPY_OUT_CHUNK (64 * 1024)

typedef struct ParquetDest
{
	DestReceiver pub;
	EdpParquetWriter *w;
} ParquetDest;

static bool
dest_receive(TupleTableSlot *slot, DestReceiver *self)
{
	ParquetDest *d = (ParquetDest *) self;

	slot_getallattrs(slot);
	edp_parquet_add_row(d->w, slot->tts_values, slot->tts_isnull);
	return true;
}

static void
dest_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
dest_shutdown(DestReceiver *self)
{
}

static void
dest_destroy(DestReceiver *self)
{
	pfree(self);
}

DestReceiver *
edp_parquet_dest_create(EdpParquetWriter *w)
{
	ParquetDest *d = palloc0(sizeof(ParquetDest));

	d->pub.receiveSlot = dest_receive;
	d->pub.rStartup = dest_startup;
	d->pub.rShutdown = dest_shutdown;
	d->pub.rDestroy = dest_destroy;
	d->pub.mydest = DestNone;
	d->w = w;
	return &d->pub;
}

typedef struct FileSink
{
	FILE	   *fp;
	const char *path;
} FileSink;

static void
file_sink(void *arg, const char *data, size_t len)
{
	FileSink   *s = (FileSink *) arg;

	if (fwrite(data, 1, len, s->fp) != len)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write to file \"%s\": %m", s->path)));
}

static void
client_sink(void *arg, const char *data, size_t len)
{
	while (len > 0)
	{
		size_t		n = Min(len, COPY_OUT_CHUNK);
		StringInfoData buf;

		/* (libpq/libpq.h's pq_putmessage needs GSSAPI headers to build) */
		pq_beginmessage(&buf, 'd');
		pq_sendbytes(&buf, data, (int) n);
		pq_endmessage(&buf);
		data += n;
		len -= n;
	}
}

/* CopyOutResponse: binary overall format, so clients pass bytes through */
static void
send_copy_out_begin(int natts)
{
	StringInfoData buf;
	int			i;

	pq_beginmessage(&buf, 'H');
	pq_sendbyte(&buf, 1);
	pq_sendint16(&buf, natts);
	for (i = 0; i < natts; i++)
		pq_sendint16(&buf, 1);
	pq_endmessage(&buf);
}

/* the statement's options; false when it is not FORMAT parquet */
static bool
parquet_options(CopyStmt *stmt, EdpParquetOptions *opts)
{
	ListCell   *lc;
	bool		parquet = false;

	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "format") == 0 &&
			pg_strcasecmp(defGetString(opt), "parquet") == 0)
			parquet = true;
	}
	if (!parquet)
		return false;

	edp_parquet_default_options(opts);
	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "format") == 0)
			continue;
		edp_parquet_parse_option(opts, opt->defname, defGetString(opt));
	}
	return true;
}

/* COPY TO's checks of a server file destination, before anything runs */
static void
check_destination(CopyStmt *stmt)
{
	if (stmt->is_program)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY TO PROGRAM is not supported with format parquet"),
				 errhint("COPY to a file or to STDOUT.")));
	if (stmt->filename == NULL)
		return;
	if (!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser or have privileges of the pg_write_server_files role to COPY to a file"),
				 errhint("Anyone can COPY to stdout or from stdin. "
						 "psql's \\copy command also works for anyone.")));
	if (!is_absolute_path(stmt->filename))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("relative path not allowed for COPY to file")));
}

/*
 * COPY table TO as the query SELECT * (or the listed columns) FROM table;
 * the name is resolved once here, so the query reads this very table.
 */
static RawStmt *
table_query(CopyStmt *stmt, int location, int len)
{
	Relation	rel = relation_openrv(stmt->relation, AccessShareLock);
	SelectStmt *select = makeNode(SelectStmt);
	RangeVar   *from;
	RawStmt    *raw = makeNode(RawStmt);
	ListCell   *lc;

	from = makeRangeVar(get_namespace_name(RelationGetNamespace(rel)),
						pstrdup(RelationGetRelationName(rel)), -1);
	/* like COPY: a partitioned table with its partitions, a parent alone */
	from->inh = (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE);
	relation_close(rel, NoLock);

	if (stmt->attlist == NIL)
	{
		ColumnRef  *cr = makeNode(ColumnRef);
		ResTarget  *rt = makeNode(ResTarget);

		cr->fields = list_make1(makeNode(A_Star));
		cr->location = -1;
		rt->val = (Node *) cr;
		rt->location = -1;
		select->targetList = list_make1(rt);
	}
	else
		foreach(lc, stmt->attlist)
		{
			ColumnRef  *cr = makeNode(ColumnRef);
			ResTarget  *rt = makeNode(ResTarget);

			cr->fields = list_make1(makeString(strVal(lfirst(lc))));
			cr->location = -1;
			rt->name = pstrdup(strVal(lfirst(lc)));
			rt->val = (Node *) cr;
			rt->location = -1;
			select->targetList = lappend(select->targetList, rt);
		}
	select->fromClause = list_make1(from);

	raw->stmt = (Node *) select;
	raw->stmt_location = location;
	raw->stmt_len = len;
	return raw;
}

/* the planned query of the COPY, checked as COPY (query) TO checks it */
static PlannedStmt *
plan_copy_query(EdpCopyToTarget *target)
{
	CopyStmt   *stmt = target->stmt;
	RawStmt    *raw;
	List	   *rewritten;
	Query	   *query;

	if (stmt->relation)
		raw = table_query(stmt, target->stmt_location, target->stmt_len);
	else
	{
		raw = makeNode(RawStmt);
		raw->stmt = stmt->query;
		raw->stmt_location = target->stmt_location;
		raw->stmt_len = target->stmt_len;
	}
	rewritten = pg_analyze_and_rewrite_fixedparams(raw, target->pstate->p_sourcetext,
												   NULL, 0, target->pstate->p_queryEnv);
	if (list_length(rewritten) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("multi-statement DO INSTEAD rules are not supported for COPY")));
	query = linitial_node(Query, rewritten);
	if (query->utilityStmt != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY (SELECT INTO) is not supported")));
	if (query->commandType != CMD_SELECT && query->returningList == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY query must have a RETURNING clause")));
	return pg_plan_query(query, target->pstate->p_sourcetext,
						 CURSOR_OPT_PARALLEL_OK, NULL);
}

static FILE *
open_file(const char *path)
{
	mode_t		oumask;
	FILE	   *fp = NULL;
	struct stat st;

	/* as COPY TO: the file is not writable by group or others */
	oumask = umask(S_IWGRP | S_IWOTH);
	PG_TRY();
	{
		fp = AllocateFile(path, PG_BINARY_W);
	}
	PG_FINALLY();
	{
		umask(oumask);
	}
	PG_END_TRY();
	if (fp == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for writing: %m", path)));
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a directory", path)));
	return fp;
}

/* the COPY TO taker: FORMAT parquet is ours, everything else PostgreSQL's */
static bool
parquet_copy_to(EdpCopyToTarget *target, uint64 *processed)
{
	CopyStmt   *stmt = target->stmt;
	EdpParquetOptions opts;
	PlannedStmt *plan;
	QueryDesc  *qd;
	DestReceiver *dest;
	EdpParquetWriter *w;
	FileSink	fs = {0};
	bool		to_client = (stmt->filename == NULL);

	if (!parquet_options(stmt, &opts))
		return false;
	check_destination(stmt);
	if (to_client && whereToSendOutput != DestRemote)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY TO STDOUT with format parquet needs a client connection")));

	plan = plan_copy_query(target);

	/* as copyto.c: a snapshot of our own, seeing the command's effects so far */
	PushCopiedSnapshot(GetActiveSnapshot());
	UpdateActiveSnapshotCommandId();

	qd = CreateQueryDesc(plan, target->pstate->p_sourcetext, GetActiveSnapshot(),
						 InvalidSnapshot, None_Receiver, NULL,
						 target->pstate->p_queryEnv, 0);
	ExecutorStart(qd, 0);

	if (!to_client)
	{
		fs.path = stmt->filename;
		fs.fp = open_file(fs.path);
	}
	PG_TRY();
	{
		if (to_client)
			send_copy_out_begin(qd->tupDesc->natts);
		w = edp_parquet_begin(qd->tupDesc, &opts,
							  to_client ? client_sink : file_sink,
							  to_client ? NULL : &fs);
		dest = edp_parquet_dest_create(w);
		qd->dest = dest;
		ExecutorRun(qd, ForwardScanDirection, 0L, true);
		edp_parquet_end(w);
		*processed = (uint64) edp_parquet_rows(w);
		if (to_client)
			pq_putemptymessage('c');
		else
		{
			if (FreeFile(fs.fp) != 0)
			{
				fs.fp = NULL;
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not close file \"%s\": %m", fs.path)));
			}
			fs.fp = NULL;
		}
	}
	PG_CATCH();
	{
		/* no half-written Parquet file under the name: it has no footer */
		if (fs.path != NULL)
		{
			if (fs.fp != NULL)
				FreeFile(fs.fp);
			(void) unlink(fs.path);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();

	ExecutorFinish(qd);
	ExecutorEnd(qd);
	FreeQueryDesc(qd);
	PopActiveSnapshot();
	edp_parquet_free(w);
	return true;
}

void
edp_export_init(void)
{
	edp_copy_register_to_taker(parquet_copy_to);
}
