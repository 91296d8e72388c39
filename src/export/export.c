/*-------------------------------------------------------------------------
 *
 * export/export.c
 *		edp.export(): a table as Parquet files in Hive-style directories,
 *		e.g. event_date=2024-10-10/event_type=account-open/part-00000.parquet.
 *
 * One query reads the table (as the caller, so the caller's SELECT
 * privileges and row-level security apply) sorted by the partition keys'
 * text, which is exactly what their directory names are made of; its rows
 * stream through a receiver that starts a new file whenever the keys
 * change.  Memory is one row group of one file at a time, whatever the
 * number of partitions; the sort may spill to disk (work_mem).
 *
 * A key is a column of the table (the Hive convention: its values are in
 * the path, not in the files) or one of event_date, year, month, day,
 * computed from the time column on edp's UTC grid (the table's edp
 * ts_column unless time_column names another).
 *
 * A run is atomic as far as files go: every file is written under a hidden
 * temporary name (.part-00000.parquet.<job>.tmp) and all are renamed to
 * their final names only once the last one is complete; on any error the
 * temporary files, any file already renamed and the directories this run
 * created are removed.  So that a run never mixes with an earlier one, the
 * directory must be empty or not exist yet.  The run is a job in the
 * ledger (edp.jobs, kind 'export', in the caller's transaction like a
 * synchronous ingest): started, a progress event per file written, then
 * succeeded with rows and bytes, on channel edp_ingest like ingest's.
 * Files are not transactional: a rollback of the caller's transaction
 * after edp.export() returned removes the job row but not the files.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "core/security.h"
#include "export/export.h"
#include "ingest/ledger.h"

/* Hive's name of the partition of NULL (and of the empty string) */
#define HIVE_DEFAULT_PARTITION "__HIVE_DEFAULT_PARTITION__"

typedef struct ExportFile
{
	char	   *tmp;
	char	   *final;
} ExportFile;

typedef struct ExportRun
{
	DestReceiver pub;
	MemoryContext cxt;			/* lives for the run */
	int64		job_id;
	const char *directory;
	EdpParquetOptions opts;
	int			nkeys;
	char	  **key_names;
	int			ndata;			/* data columns come first in the query */
	TupleDesc	file_desc;		/* the query's, keys marked dropped */

	/* the file being written */
	EdpParquetWriter *w;
	FILE	   *fp;
	char	   *fp_path;
	char	  **cur_keys;		/* NULL before the first row */

	List	   *files;			/* ExportFile, in order written */
	List	   *files_rows;		/* rows written when each file was done */
	List	   *created_dirs;	/* made by this run, parents first */
	int			renamed;		/* files already under their final name */
	int64		rows;
	int64		bytes;
} ExportRun;

static int64 *
palloc_int64(MemoryContext cxt, int64 v)
{
	int64	   *p = MemoryContextAlloc(cxt, sizeof(int64));

	*p = v;
	return p;
}

static void
file_sink(void *arg, const char *data, size_t len)
{
	ExportRun  *run = (ExportRun *) arg;

	if (fwrite(data, 1, len, run->fp) != len)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write to file \"%s\": %m", run->fp_path)));
}

/* a directory and its missing parents, remembering those we made */
static void
make_dirs(ExportRun *run, const char *path)
{
	struct stat st;
	char	   *parent;
	char	   *slash;
	MemoryContext old;

	if (stat(path, &st) == 0)
	{
		if (!S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a directory", path)));
		return;
	}
	parent = pstrdup(path);
	slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent)
	{
		*slash = '\0';
		make_dirs(run, parent);
	}
	if (mkdir(path, S_IRWXU | S_IRGRP | S_IXGRP | S_IROTH | S_IXOTH) != 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", path)));
	old = MemoryContextSwitchTo(run->cxt);
	run->created_dirs = lappend(run->created_dirs, pstrdup(path));
	MemoryContextSwitchTo(old);
}

/*
 * A key's value as a path component, escaped as Hive does: bytes other
 * than letters, digits and "-_." (and UTF-8 beyond ASCII) as %XX, and a
 * leading "." too, so that no value makes "..", a hidden name or a "/".
 */
static void
append_hive_value(StringInfo path, const char *v)
{
	const unsigned char *p;

	if (v == NULL || *v == '\0')
	{
		appendStringInfoString(path, HIVE_DEFAULT_PARTITION);
		return;
	}
	for (p = (const unsigned char *) v; *p; p++)
	{
		if (isalnum(*p) || *p >= 0x80 || *p == '-' || *p == '_' ||
			(*p == '.' && p != (const unsigned char *) v))
			appendStringInfoChar(path, (char) *p);
		else
			appendStringInfo(path, "%%%02X", *p);
	}
}

static void
finish_file(ExportRun *run)
{
	MemoryContext old;

	if (run->w == NULL)
		return;
	edp_parquet_end(run->w);
	run->rows += edp_parquet_rows(run->w);
	run->bytes += edp_parquet_bytes(run->w);
	edp_parquet_free(run->w);
	run->w = NULL;
	if (FreeFile(run->fp) != 0)
	{
		run->fp = NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", run->fp_path)));
	}
	run->fp = NULL;

	/* (called inside SPI: the list must live in the run's context) */
	old = MemoryContextSwitchTo(run->cxt);
	run->files_rows = lappend(run->files_rows, palloc_int64(run->cxt, run->rows));
	MemoryContextSwitchTo(old);
}

static void
start_file(ExportRun *run)
{
	StringInfoData dir;
	ExportFile *f;
	MemoryContext old = MemoryContextSwitchTo(run->cxt);
	mode_t		oumask;
	int			i;

	initStringInfo(&dir);
	appendStringInfoString(&dir, run->directory);
	for (i = 0; i < run->nkeys; i++)
	{
		appendStringInfoChar(&dir, '/');
		append_hive_value(&dir, run->key_names[i]);
		appendStringInfoChar(&dir, '=');
		append_hive_value(&dir, run->cur_keys[i]);
	}
	make_dirs(run, dir.data);

	f = palloc(sizeof(ExportFile));
	f->final = psprintf("%s/part-00000.parquet", dir.data);
	f->tmp = psprintf("%s/.part-00000.parquet." INT64_FORMAT ".tmp", dir.data, run->job_id);
	run->files = lappend(run->files, f);

	oumask = umask(S_IWGRP | S_IWOTH);
	run->fp = AllocateFile(f->tmp, PG_BINARY_W);
	umask(oumask);
	if (run->fp == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for writing: %m", f->tmp)));
	run->fp_path = f->tmp;
	run->w = edp_parquet_begin(run->file_desc, &run->opts, file_sink, run);
	MemoryContextSwitchTo(old);
}

static bool
keys_equal(char **a, char **b, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		if ((a[i] == NULL) != (b[i] == NULL))
			return false;
		if (a[i] != NULL && strcmp(a[i], b[i]) != 0)
			return false;
	}
	return true;
}

static bool
run_receive(TupleTableSlot *slot, DestReceiver *self)
{
	ExportRun  *run = (ExportRun *) self;
	char	   *keys[INDEX_MAX_KEYS];
	int			i;

	slot_getallattrs(slot);
	for (i = 0; i < run->nkeys; i++)
	{
		int			a = run->ndata + i;

		keys[i] = slot->tts_isnull[a] ? NULL : TextDatumGetCString(slot->tts_values[a]);
	}
	if (run->cur_keys == NULL || !keys_equal(keys, run->cur_keys, run->nkeys))
	{
		MemoryContext old;

		finish_file(run);
		old = MemoryContextSwitchTo(run->cxt);
		if (run->cur_keys == NULL)
			run->cur_keys = palloc0(sizeof(char *) * Max(run->nkeys, 1));
		for (i = 0; i < run->nkeys; i++)
			run->cur_keys[i] = keys[i] ? pstrdup(keys[i]) : NULL;
		MemoryContextSwitchTo(old);
		start_file(run);
	}
	edp_parquet_add_row(run->w, slot->tts_values, slot->tts_isnull);
	return true;
}

static void
run_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	ExportRun  *run = (ExportRun *) self;
	MemoryContext old = MemoryContextSwitchTo(run->cxt);
	int			i;

	run->file_desc = CreateTupleDescCopy(typeinfo);
	for (i = run->ndata; i < run->file_desc->natts; i++)
		TupleDescAttr(run->file_desc, i)->attisdropped = true;
	MemoryContextSwitchTo(old);
}

static void
run_shutdown(DestReceiver *self)
{
}

static void
run_destroy(DestReceiver *self)
{
}

/* on failure: no file of this run under any name, no directory it made */
static void
run_cleanup(ExportRun *run)
{
	ListCell   *lc;
	int			i = 0;

	if (run->fp != NULL)
		FreeFile(run->fp);
	run->fp = NULL;
	foreach(lc, run->files)
	{
		ExportFile *f = (ExportFile *) lfirst(lc);

		(void) unlink(i < run->renamed ? f->final : f->tmp);
		i++;
	}
	for (i = list_length(run->created_dirs) - 1; i >= 0; i--)
		(void) rmdir((char *) list_nth(run->created_dirs, i));
}

/* the directory must be empty, or not exist (then we create it) */
static void
check_directory(ExportRun *run, const char *path)
{
	DIR		   *dir;
	struct dirent *de;

	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("export directory must be an absolute path")));
	dir = AllocateDir(path);
	if (dir == NULL)
	{
		if (errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open directory \"%s\": %m", path)));
		return;
	}
	while ((de = ReadDir(dir, path)) != NULL)
	{
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		FreeDir(dir);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("export directory \"%s\" is not empty", path),
				 errhint("Export into a new or empty directory; a run never mixes its files with others.")));
	}
	FreeDir(dir);
}

/* the time column of a derived key: argument, else the event table's ts_column */
static char *
time_column(Oid relid, const char *given)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	EdpIdentity id;
	char	   *col = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (given != NULL)
		return pstrdup(given);
	values[0] = ObjectIdGetDatum(relid);
	edp_spi_begin(&id, InvalidOid, EDP_PIN_PATH);
	if (SPI_execute_with_args("SELECT ts_column::pg_catalog.text FROM edp.event_tables "
							  "WHERE relid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read edp.event_tables");	/* internal error */
	if (SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v != NULL)
			col = MemoryContextStrdup(caller, v);
	}
	edp_spi_end(&id);
	return col;
}

/* the SQL text of a derived key (event_date, year, month, day) */
static char *
derived_key_sql(Relation rel, const char *key, const char *tcol)
{
	int			attnum;
	Oid			typid;
	const char *fmt;
	char	   *ts;

	if (tcol == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition key \"%s\" needs a time column", key),
				 errhint("\"%s\" is not an edp event table with a ts_column; pass time_column => 'column'.",
						 RelationGetRelationName(rel))));
	attnum = attnameAttNum(rel, tcol, false);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						tcol, RelationGetRelationName(rel))));
	typid = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;
	if (typid == TIMESTAMPTZOID)
		ts = psprintf("pg_catalog.timezone('UTC'::pg_catalog.text, %s)", quote_identifier(tcol));
	else if (typid == TIMESTAMPOID)
		ts = pstrdup(quote_identifier(tcol));
	else if (typid == DATEOID)
		ts = psprintf("%s::pg_catalog.timestamp", quote_identifier(tcol));
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("time column \"%s\" must be of type timestamptz, timestamp or date", tcol)));

	if (strcmp(key, "event_date") == 0)
		fmt = "YYYY-MM-DD";
	else if (strcmp(key, "year") == 0)
		fmt = "YYYY";
	else if (strcmp(key, "month") == 0)
		fmt = "MM";
	else
		fmt = "DD";
	/* to_char, not ::text: the names must not follow DateStyle */
	return psprintf("pg_catalog.to_char(%s, '%s'::pg_catalog.text)", ts, fmt);
}

static bool
is_derived_key(const char *key)
{
	return strcmp(key, "event_date") == 0 || strcmp(key, "year") == 0 ||
		strcmp(key, "month") == 0 || strcmp(key, "day") == 0;
}

/*
 * The query: data columns (all but column keys), then each key's text;
 * sorted by the keys' text in byte order, so each directory's rows come
 * together.  Returns the key names through *keys.
 */
static char *
export_query(Relation rel, ArrayType *partition_by, const char *tcol_arg,
			 char ***key_names, int *nkeys, int *ndata)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;
	int			j;
	char	  **keys;
	char	  **key_sql;
	bool	   *is_key_col;
	char	   *tcol = NULL;
	bool		tcol_done = false;
	StringInfoData sql;
	bool		first = true;

	deconstruct_array(partition_by, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	if (nelems > INDEX_MAX_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("at most %d partition keys", INDEX_MAX_KEYS)));
	keys = palloc0(sizeof(char *) * Max(nelems, 1));
	key_sql = palloc0(sizeof(char *) * Max(nelems, 1));
	is_key_col = palloc0(sizeof(bool) * (desc->natts + 1));
	for (i = 0; i < nelems; i++)
	{
		int			attnum;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("partition keys must not be null")));
		keys[i] = TextDatumGetCString(elems[i]);
		for (j = 0; j < i; j++)
			if (strcmp(keys[i], keys[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("partition key \"%s\" given twice", keys[i])));
		attnum = attnameAttNum(rel, keys[i], false);
		if (attnum > 0)
		{
			is_key_col[attnum] = true;
			key_sql[i] = psprintf("%s::pg_catalog.text", quote_identifier(keys[i]));
		}
		else if (is_derived_key(keys[i]))
		{
			if (!tcol_done)
			{
				tcol = time_column(RelationGetRelid(rel), tcol_arg);
				tcol_done = true;
			}
			key_sql[i] = derived_key_sql(rel, keys[i], tcol);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("partition key \"%s\" is neither a column of \"%s\" nor one of event_date, year, month, day",
							keys[i], RelationGetRelationName(rel))));
	}

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	*ndata = 0;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || is_key_col[i + 1])
			continue;
		appendStringInfo(&sql, "%s%s", first ? "" : ", ", quote_identifier(NameStr(att->attname)));
		first = false;
		(*ndata)++;
	}
	if (*ndata == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no column of \"%s\" is left for the files", RelationGetRelationName(rel)),
				 errdetail("Partition key columns are written in the directory names only.")));
	/*
	 * Hive names NULL and '' alike (the default partition): '' becomes NULL
	 * here, so that both land in one directory, read back as NULL.
	 */
	for (i = 0; i < nelems; i++)
		key_sql[i] = psprintf("CASE WHEN (%s) OPERATOR(pg_catalog.=) ''::pg_catalog.text THEN NULL ELSE (%s) END",
							  key_sql[i], key_sql[i]);
	for (i = 0; i < nelems; i++)
		appendStringInfo(&sql, ", %s", key_sql[i]);
	/* like COPY: a partitioned table with its partitions, a parent alone */
	appendStringInfo(&sql, " FROM %s%s",
					 rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	for (i = 0; i < nelems; i++)
		appendStringInfo(&sql, "%s(%s) COLLATE pg_catalog.\"C\"", i == 0 ? " ORDER BY " : ", ", key_sql[i]);

	*key_names = keys;
	*nkeys = nelems;
	return sql.data;
}

/* the request as the job's options (jsonb) */
static Jsonb *
options_jsonb(ArrayType *partition_by, const EdpParquetOptions *opts, const char *tcol)
{
	StringInfoData s;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(partition_by, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	initStringInfo(&s);
	appendStringInfoString(&s, "{\"partition_by\": [");
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&s, ", ");
		escape_json(&s, nulls[i] ? "" : TextDatumGetCString(elems[i]));
	}
	appendStringInfo(&s, "], \"compression\": \"%s\", \"row_group_size\": " INT64_FORMAT,
					 opts->codec == PQ_CODEC_ZSTD ? "zstd" : "none", opts->row_group_size);
	if (tcol != NULL)
	{
		appendStringInfoString(&s, ", \"time_column\": ");
		escape_json(&s, tcol);
	}
	appendStringInfoChar(&s, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/*
 * edp.export(tbl, directory, partition_by, format, compression,
 * row_group_size, time_column): write the table as Parquet files under a
 * server directory; returns the job.
 */
PG_FUNCTION_INFO_V1(edp_export);
Datum
edp_export(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *directory;
	ArrayType  *partition_by;
	char	   *tcol_arg;
	TupleDesc	resultdesc;
	TupleDesc	jobdesc;
	HeapTuple	job;
	Relation	rel;
	ExportRun  *run;
	char	   *sql;
	EdpIdentity id;
	SPIExecuteOptions xopts;
	EdpJobCounts counts = {0};
	ListCell   *lc;
	size_t		dlen;
	int			rc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tbl, directory, partition_by and format must not be null")));
	if (get_call_result_type(fcinfo, NULL, &resultdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");	/* internal error */
	if (!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser or have privileges of the pg_write_server_files role to export to a server directory"),
				 errhint("Anyone can COPY ... TO STDOUT WITH (FORMAT parquet), e.g. with psql's \\copy.")));
	if (pg_strcasecmp(text_to_cstring(PG_GETARG_TEXT_PP(3)), "parquet") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown export format \"%s\"", text_to_cstring(PG_GETARG_TEXT_PP(3))),
				 errhint("The export format is \"parquet\".")));

	relid = PG_GETARG_OID(0);
	directory = text_to_cstring(PG_GETARG_TEXT_PP(1));
	dlen = strlen(directory);
	while (dlen > 1 && directory[dlen - 1] == '/')
		directory[--dlen] = '\0';
	partition_by = PG_GETARG_ARRAYTYPE_P(2);
	tcol_arg = PG_ARGISNULL(6) ? NULL : NameStr(*PG_GETARG_NAME(6));

	run = palloc0(sizeof(ExportRun));
	run->cxt = CurrentMemoryContext;
	run->pub.receiveSlot = run_receive;
	run->pub.rStartup = run_startup;
	run->pub.rShutdown = run_shutdown;
	run->pub.rDestroy = run_destroy;
	run->pub.mydest = DestNone;
	run->directory = directory;
	edp_parquet_default_options(&run->opts);
	if (!PG_ARGISNULL(4))
		edp_parquet_parse_option(&run->opts, "compression", text_to_cstring(PG_GETARG_TEXT_PP(4)));
	if (!PG_ARGISNULL(5))
		edp_parquet_parse_option(&run->opts, "row_group_size", psprintf("%d", PG_GETARG_INT32(5)));

	check_directory(run, directory);

	rel = relation_open(relid, AccessShareLock);
	sql = export_query(rel, partition_by, tcol_arg, &run->key_names, &run->nkeys, &run->ndata);
	relation_close(rel, NoLock);

	run->job_id = edp_job_create(GetUserId(), GetUserId(), directory, relid, "parquet",
								 options_jsonb(partition_by, &run->opts, tcol_arg), "running");
	edp_job_set_kind(run->job_id, "export");

	PG_TRY();
	{
		make_dirs(run, directory);

		/* the rows as the caller reads them: privileges, policies */
		memset(&xopts, 0, sizeof(xopts));
		xopts.read_only = true;
		xopts.dest = &run->pub;
		edp_spi_begin(&id, InvalidOid, EDP_PIN_PATH);
		rc = SPI_execute_extended(sql, &xopts);
		/* (SPI says "utility" when the rows went to a receiver of ours) */
		if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
			elog(ERROR, "SPI_execute_extended failed (%d): %s", rc, sql);	/* internal error */
		edp_spi_end(&id);

		/* no row and no partition key: still one file, with the schema */
		if (run->cur_keys == NULL && run->nkeys == 0)
		{
			run->cur_keys = palloc0(sizeof(char *));
			start_file(run);
		}
		finish_file(run);

		/*
		 * A progress event per file.  They are sent now, not as each file is
		 * done: the query may be parallel, and the ledger cannot be written
		 * during a parallel operation.  Listeners see no difference: the
		 * events of a job in the caller's transaction arrive at commit.
		 */
		foreach(lc, run->files_rows)
		{
			EdpJobCounts progress = {0};

			progress.rows_in = progress.loaded = progress.lines_done = *(int64 *) lfirst(lc);
			(void) edp_job_update(run->job_id, "progress", NULL, &progress, NULL);
		}

		foreach(lc, run->files)
		{
			ExportFile *f = (ExportFile *) lfirst(lc);
			struct stat st;

			/* rename() would replace it: a concurrent run wrote there */
			if (lstat(f->final, &st) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_FILE),
						 errmsg("file \"%s\" appeared in the export directory during the export", f->final)));
			durable_rename(f->tmp, f->final, ERROR);
			run->renamed++;
		}
	}
	PG_CATCH();
	{
		run_cleanup(run);
		PG_RE_THROW();
	}
	PG_END_TRY();

	edp_job_set_input(run->job_id, "parquet", NULL, run->bytes);
	counts.rows_in = counts.loaded = counts.lines_done = run->rows;
	edp_job_update(run->job_id, "succeeded", "succeeded", &counts, NULL);

	job = edp_job_fetch(run->job_id, &jobdesc);
	PG_RETURN_DATUM(heap_copy_tuple_as_datum(job, BlessTupleDesc(resultdesc)));
}
