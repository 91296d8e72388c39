/*-------------------------------------------------------------------------
 *
 * ingest/ingest.c
 *		Validated ingest: read CSV or JSON lines with PostgreSQL's COPY
 *		parser, convert every field with the target column type's own input
 *		function, insert through the loader (constraints, indexes, triggers,
 *		partitions in force), and set aside the rows that fail.
 *
 * PostgreSQL 15 has no soft errors, so failures are isolated with
 * subtransactions, in two phases per batch:
 *   1. reading and conversion run in a subtransaction; converted values are
 *      kept in a memory context of ours, which a rollback leaves alone, so a
 *      bad value costs one rollback: its row is rejected and the batch goes
 *      on with the next row in a new subtransaction;
 *   2. the converted rows are written through a loader (loader.h) in one
 *      subtransaction; when that fails (constraint, unique index, trigger),
 *      the rows are halved until the failing ones stand alone.
 * Clean input thus pays two subtransactions per batch.  A row that fails
 * goes to edp.rejects with its line number, raw line, column, SQLSTATE and
 * message.  Reading itself (COPY's parser, the checksum, format and
 * delimiter detection) is in ingest/input.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/wait_event.h"

#include "buckets/buckets.h"
#include "buckets/load_history.h"
#include "events/flatten.h"
#include "core/citus.h"
#include "core/guc.h"
#include "ingest/ingest.h"
#include "ingest/ingest_internal.h"
#include "ingest/ledger.h"
#include "ingest/reject_keeper.h"
#include "core/loader.h"

static char *edp_normalise_name(const char *name);

static void edp_ingest_check_reject_limit(EdpIngest *ing);

static bool edp_ingest_header_looks_like_data(EdpIngest *ing, char **names, int nnames);

static void edp_ingest_map_listed_columns(EdpIngest *ing);

static const char *edp_ingest_format(EdpIngest *ing);

static void ingest_error_callback(void *arg);

static bool unescape_record(EdpIngest *ing, char **fields, int nfields);

/*
 * Header names and JSON keys are matched to columns after normalisation:
 * trimmed, lower case, spaces, dashes and dots as underscores.
 */
static char *
edp_normalise_name(const char *name)
{
	const char *start = name;
	const char *end = name + strlen(name);
	char	   *out;
	char	   *p;

	while (start < end && isspace((unsigned char) *start))
		start++;
	while (end > start && isspace((unsigned char) end[-1]))
		end--;
	out = pnstrdup(start, end - start);
	for (p = out; *p; p++)
	{
		if (*p == ' ' || *p == '-' || *p == '.' || *p == '\t')
			*p = '_';
		else if (IS_HIGHBIT_SET(*p) == false)
			*p = pg_ascii_tolower((unsigned char) *p);
	}
	return out;
}

/* exactly PostgreSQL's rule for COPY FROM a file */
void
edp_ingest_check_file_privilege(void)
{
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser or have privileges of the pg_read_server_files role to ingest a server file"),
				 errhint("Anyone can send the data from the client with edp.ingest_data().")));
}

/* a table the current user may insert into, as COPY FROM requires */
void
edp_ingest_check_target(Oid relid)
{
	char		relkind = get_rel_relkind(relid);
	AclResult	aclresult;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot ingest into \"%s\"", get_rel_name(relid)),
				 errdetail("The target must be a table or a partitioned table.")));

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, get_relkind_objtype(relkind), get_rel_name(relid));

	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot ingest into \"%s\": it has row-level security enabled", get_rel_name(relid)),
				 errhint("Use INSERT statements instead, as for COPY FROM.")));
}

/*
 * The role a background load of relid runs as: the table's triggers,
 * defaults and constraints run as this role, never as the superuser who
 * submitted the job or mapped the inbox.  Named (requested): the caller
 * must have that role's privileges.  Unnamed: the table's owner when the
 * caller has the owner's privileges (a superuser, or the owner itself),
 * otherwise the caller.  Either way it needs INSERT on the table.
 */
Oid
edp_ingest_resolve_run_as(Oid relid, Oid requested)
{
	Oid			caller = GetUserId();
	Oid			owner;
	Oid			run_as;
	HeapTuple	tup;
	AclResult	aclresult;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	if (OidIsValid(requested))
	{
		if (!has_privs_of_role(caller, requested))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to run a load as role \"%s\"",
							GetUserNameFromId(requested, false)),
					 errdetail("Only roles that have the privileges of role \"%s\" may run loads as it.",
							   GetUserNameFromId(requested, false))));
		run_as = requested;
	}
	else
		run_as = has_privs_of_role(caller, owner) ? owner : caller;

	aclresult = pg_class_aclcheck(relid, run_as, ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not insert into \"%s\"",
						GetUserNameFromId(run_as, false), get_rel_name(relid)),
				 errdetail("A background load runs the table's triggers and defaults as its run_as role, which needs INSERT on the table."),
				 errhint("Name another role with run_as, or GRANT INSERT to this one.")));
	return run_as;
}

/* the options as stored in edp.jobs.options (and read back by workers) */
Jsonb *
edp_ingest_options_jsonb(const EdpIngestOptions *opts)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	appendStringInfo(&buf, "\"header\": %s", opts->header ? "true" : "false");
	if (opts->delimiter)
	{
		appendStringInfoString(&buf, ", \"delimiter\": ");
		escape_json(&buf, opts->delimiter);
	}
	if (opts->reject_limit >= 0)
		appendStringInfo(&buf, ", \"reject_limit\": " INT64_FORMAT, opts->reject_limit);
	if (opts->reject_percent >= 0)
		appendStringInfo(&buf, ", \"reject_percent\": %g", opts->reject_percent);
	if (opts->force)
		appendStringInfoString(&buf, ", \"force\": true");
	if (opts->batch_size > 0)
		appendStringInfo(&buf, ", \"batch_size\": %d", opts->batch_size);
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

static char *
jsonb_get_text(Jsonb *jb, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return NULL;
}

void
edp_ingest_options_from_jsonb(Jsonb *jb, EdpIngestOptions *opts)
{
	char	   *s;

	memset(opts, 0, sizeof(*opts));
	opts->header = true;
	opts->reject_limit = -1;
	opts->reject_percent = -1;
	if ((s = jsonb_get_text(jb, "header")) != NULL)
		opts->header = strcmp(s, "true") == 0;
	opts->delimiter = jsonb_get_text(jb, "delimiter");
	if ((s = jsonb_get_text(jb, "reject_limit")) != NULL)
		opts->reject_limit = strtoi64(s, NULL, 10);
	if ((s = jsonb_get_text(jb, "reject_percent")) != NULL)
		opts->reject_percent = strtod(s, NULL);
	if ((s = jsonb_get_text(jb, "force")) != NULL)
		opts->force = strcmp(s, "true") == 0;
	if ((s = jsonb_get_text(jb, "batch_size")) != NULL)
		opts->batch_size = atoi(s);
}

/* ------------------------------------------------------------- columns */

static int
find_column(EdpIngest *ing, const char *normname)
{
	int			i;

	for (i = 0; i < ing->natts; i++)
		if (ing->usable[i] && strcmp(ing->normnames[i], normname) == 0)
			return i;
	return -1;
}

static void
setup_columns(EdpIngest *ing, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;
	bool		event_table;

	ing->natts = desc->natts;
	ing->colnames = palloc0(sizeof(char *) * desc->natts);
	ing->normnames = palloc0(sizeof(char *) * desc->natts);
	ing->usable = palloc0(sizeof(bool) * desc->natts);
	ing->notnull = palloc0(sizeof(bool) * desc->natts);
	ing->in_funcs = palloc0(sizeof(FmgrInfo) * desc->natts);
	ing->ioparams = palloc0(sizeof(Oid) * desc->natts);
	ing->typmods = palloc0(sizeof(int32) * desc->natts);
	ing->defaults = palloc0(sizeof(ExprState *) * desc->natts);
	ing->provided = palloc0(sizeof(bool) * desc->natts);
	ing->econtext = CreateStandaloneExprContext();
	event_table = edp_is_event_table(rel);

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			infunc;
		Node	   *def;

		if (att->attisdropped || att->attgenerated)
			continue;
		ing->usable[i] = true;
		ing->notnull[i] = att->attnotnull;
		ing->colnames[i] = pstrdup(NameStr(att->attname));
		ing->normnames[i] = edp_normalise_name(NameStr(att->attname));
		getTypeInputInfo(att->atttypid, &infunc, &ing->ioparams[i]);
		fmgr_info_cxt(infunc, &ing->in_funcs[i], ing->cxt);
		if (event_table && att->atttypid == TIMESTAMPTZOID)
		{
			/* event tables read naive timestamps in edp.naive_timezone */
			ing->in_funcs[i].fn_addr = edp_timestamptz_in_naive;
			ing->in_funcs[i].fn_extra = edp_naive_zone();
		}
		ing->typmods[i] = att->atttypmod;
		def = build_column_default(rel, i + 1);
		if (def)
			ing->defaults[i] = ExecInitExpr(expression_planner((Expr *) def), NULL);
	}
}

/*
 * Map the CSV header (or, without one, the table's column order) to
 * columns, and refuse before any row loads what cannot load: unknown or
 * repeated names, generated columns, NOT NULL columns without a default
 * that the input does not provide.
 */
static void
map_csv_columns(EdpIngest *ing, char **names, int nnames)
{
	int			i;

	if (names == NULL)
	{
		nnames = 0;
		ing->field_att = palloc(sizeof(int) * ing->natts);
		for (i = 0; i < ing->natts; i++)
			if (ing->usable[i])
				ing->field_att[nnames++] = i;
	}
	else
	{
		ing->field_att = palloc(sizeof(int) * nnames);
		/* a UTF-8 byte order mark (spreadsheet exports) is not part of the name */
		if (nnames > 0 && names[0] && strncmp(names[0], "\xEF\xBB\xBF", 3) == 0)
			names[0] += 3;
		for (i = 0; i < nnames; i++)
		{
			char	   *norm = edp_normalise_name(names[i] ? names[i] : "");
			int			att = find_column(ing, norm);

			if (att < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of the input header does not exist in relation \"%s\"",
								names[i] ? names[i] : "", ing->relname),
						 errdetail("Header field %d is matched as \"%s\" (case-insensitive, trimmed, spaces and dashes as underscores).",
								   i + 1, norm),
						 edp_ingest_header_looks_like_data(ing, names, nnames) ?
						 errhint("The first line looks like data, not a header. If the input has no header line, load it with header => false (COPY: without HEADER).") : 0));
			if (ing->provided[att])
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" appears twice in the input header", ing->colnames[att])));
			ing->field_att[i] = att;
			ing->provided[att] = true;
		}
	}
	ing->nfields = nnames;
	for (i = 0; i < nnames; i++)
		ing->provided[ing->field_att[i]] = true;
}

/*
 * A first line none of whose fields names a column is data, not a header
 * (a headerless file loaded with header => true): the error says so.
 */
static bool
edp_ingest_header_looks_like_data(EdpIngest *ing, char **names, int nnames)
{
	int			i;

	for (i = 0; i < nnames; i++)
		if (find_column(ing, edp_normalise_name(names[i] ? names[i] : "")) >= 0)
			return false;
	return nnames > 0;
}

/* fields by COPY's column list (opts.columns), or by the table's order */
static void
edp_ingest_map_listed_columns(EdpIngest *ing)
{
	char	  **names;
	int			n = 0;
	ListCell   *lc;

	if (ing->opts.columns == NIL)
	{
		map_csv_columns(ing, NULL, 0);
		return;
	}
	names = palloc(sizeof(char *) * list_length(ing->opts.columns));
	foreach(lc, ing->opts.columns)
		names[n++] = pstrdup(strVal(lfirst(lc)));
	map_csv_columns(ing, names, n);
}

/* NOT NULL columns without a default must come from the input */
static void
check_required_columns(EdpIngest *ing, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < ing->natts; i++)
		if (ing->usable[i] && !ing->provided[i] && ing->defaults[i] == NULL &&
			TupleDescAttr(desc, i)->attnotnull)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("column \"%s\" of relation \"%s\" is NOT NULL without a default, and the input does not provide it",
							ing->colnames[i], ing->relname),
					 errhint("Add the column to the input, or give it a default.")));
}

/* --------------------------------------------------------------- begin */

/* a background load while its begin runs (edp_ingest_abandon after an error) */
static EdpIngest *beginning = NULL;

EdpIngest *
edp_ingest_begin(int64 job_id, Oid relid, const EdpIngestInput *input,
				 const EdpIngestOptions *opts, EdpIngestMode mode,
				 int64 skip_lines, const EdpJobCounts *counts)
{
	MemoryContext cxt;
	MemoryContext old;
	EdpIngest  *ing;
	Relation	rel;
	ResourceOwner save_owner = CurrentResourceOwner;
	int			i;

	cxt = AllocSetContextCreate(mode == EDP_INGEST_BACKGROUND ? TopMemoryContext : CurrentMemoryContext,
								"edp ingest", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	ing = palloc0(sizeof(EdpIngest));
	ing->cxt = cxt;
	if (mode == EDP_INGEST_BACKGROUND)
		beginning = ing;
	ing->batch_cxt = AllocSetContextCreate(cxt, "edp ingest batch", ALLOCSET_DEFAULT_SIZES);
	ing->values_cxt = AllocSetContextCreate(cxt, "edp ingest values", ALLOCSET_DEFAULT_SIZES);
	ing->reject_cxt = AllocSetContextCreate(cxt, "edp ingest reject", ALLOCSET_SMALL_SIZES);
	ing->catch_cxt = AllocSetContextCreate(cxt, "edp ingest bad row", ALLOCSET_SMALL_SIZES);
	ing->loader_cxt = AllocSetContextCreate(cxt, "edp ingest loader", ALLOCSET_DEFAULT_SIZES);
	ing->job_id = job_id;
	ing->relid = relid;
	ing->mode = mode;
	ing->opts = *opts;
	ing->batch_size = opts->batch_size > 0 ? opts->batch_size : edp_ingest_batch_size;
	ing->rows = palloc(sizeof(EdpRow) * ing->batch_size);
	initStringInfo(&ing->raw_lines);
	ing->skip_lines = skip_lines;
	if (counts)
		ing->counts = *counts;
	ing->file = -1;

	/* the input, and a checksum computed while it streams */
	if (input->path)
	{
		ing->file = PathNameOpenFile(input->path, O_RDONLY | PG_BINARY);
		if (ing->file < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open file \"%s\" for reading: %m", input->path)));
		ing->size = FileSize(ing->file);
	}
	else if (input->read != NULL)
	{
		ing->read_fn = input->read;
		ing->read_arg = input->read_arg;
		ing->size = -1;			/* known at the end */
	}
	else
	{
		ing->data = input->data;
		ing->datalen = input->datalen;
		ing->size = input->datalen;
	}
	if (mode == EDP_INGEST_BACKGROUND)
	{
		ing->hash_owner = ResourceOwnerCreate(NULL, "edp ingest checksum");
		CurrentResourceOwner = ing->hash_owner;
	}
	ing->sha = pg_cryptohash_create(PG_SHA256);
	CurrentResourceOwner = save_owner;
	if (ing->sha == NULL || pg_cryptohash_init(ing->sha) < 0)
		elog(ERROR, "could not start SHA-256");	/* internal error */

	edp_ingest_detect_format(ing, input->path);

	rel = table_open(relid, RowExclusiveLock);
	/* a Citus table's rows are in its shards: never load into its shell */
	edp_refuse_citus_table(rel);
	ing->relname = pstrdup(RelationGetRelationName(rel));
	setup_columns(ing, rel);
	for (i = 0; i < ing->batch_size; i++)
	{
		ing->rows[i].values = palloc(sizeof(Datum) * ing->natts);
		ing->rows[i].isnull = palloc(sizeof(bool) * ing->natts);
	}

	edp_ingest_input_attach(ing);
	ing->cstate = BeginCopyFrom(NULL, rel, NULL, NULL, false, edp_ingest_read_cb, NIL, edp_ingest_copy_options(ing));

	if (!ing->jsonl)
	{
		char	  **fields;
		int			nfields;

		if (ing->opts.header && !ing->opts.skip_header)
		{
			if (!NextCopyFromRawFields(ing->cstate, &fields, &nfields))
				ereport(ERROR,
						(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
						 errmsg("the input is empty: it has no header line")));
			(void) unescape_record(ing, fields, nfields);
			map_csv_columns(ing, fields, nfields);
		}
		else
		{
			/* COPY's HEADER: the first line is skipped (an empty input loads nothing) */
			if (ing->opts.header && !NextCopyFromRawFields(ing->cstate, &fields, &nfields))
				ing->eof = true;
			edp_ingest_map_listed_columns(ing);
		}
		check_required_columns(ing, rel);
	}

	if (mode == EDP_INGEST_SYNC)
		ing->rel = rel;			/* kept open (and locked) for the whole job */
	else
		table_close(rel, NoLock);	/* reopened by each batch's transaction */

	MemoryContextSwitchTo(old);
	edp_job_set_input(job_id, edp_ingest_format(ing), NULL, Max(ing->size, 0));
	edp_ingest_progress_start(ing);
	beginning = NULL;
	return ing;
}

/* after an error: release what a transaction abort does not */
void
edp_ingest_release(EdpIngest *ing)
{
	edp_ingest_input_attach(NULL);
	if (ing->file >= 0)
		FileClose(ing->file);
	ing->file = -1;
}

/*
 * A background job that failed: free what its begin left outside the
 * aborted transactions (input file, checksum, memory), so that the worker
 * can go on with the next queued job.  ing NULL: the load whose begin
 * failed, if any.
 */
void
edp_ingest_abandon(EdpIngest *ing)
{
	if (ing == NULL)
		ing = beginning;
	beginning = NULL;
	if (ing == NULL)
		return;
	edp_ingest_release(ing);
	if (ing->hash_owner)
	{
		ResourceOwnerRelease(ing->hash_owner, RESOURCE_RELEASE_BEFORE_LOCKS, false, true);
		ResourceOwnerRelease(ing->hash_owner, RESOURCE_RELEASE_LOCKS, false, true);
		ResourceOwnerRelease(ing->hash_owner, RESOURCE_RELEASE_AFTER_LOCKS, false, true);
		ResourceOwnerDelete(ing->hash_owner);
		ing->hash_owner = NULL;
	}
	MemoryContextDelete(ing->cxt);
}

/* -------------------------------------------------------------- errors */

static void
ingest_error_callback(void *arg)
{
	EdpIngest  *ing = (EdpIngest *) arg;

	if (ing->cur_line == 0)
		return;
	if (ing->cur_column)
		errcontext("edp ingest into %s, line " UINT64_FORMAT ", column %s",
				   ing->relname, ing->cur_line, ing->cur_column);
	else
		errcontext("edp ingest into %s, line " UINT64_FORMAT, ing->relname, ing->cur_line);
}

/*
 * Which errors end a job, and which are about one row (rejected).  The rule,
 * the same while a row is converted and while it is written:
 *
 * An error is about the row, whatever its class, unless it is about the
 * server, the session or the transaction.  PostGIS reports a malformed
 * geometry as XX000, a document nested too deep is 54001 (stack depth: safe
 * to catch once the stack has unwound, as PostgreSQL itself does at the top
 * level), a NUL byte 22021, a trigger raises what it likes: all of these
 * reject their row.  These end the job, because the next row would fail the
 * same way or because going on would hide a problem that is not the data's:
 *   53 insufficient resources (out of memory, disk full, too many ...),
 *   57 operator intervention (query cancel, admin or crash shutdown),
 *   58 system error (I/O), F0 configuration file error,
 *   40 transaction rollback (deadlock, serialization: the transaction must
 *      be retried as a whole),
 *   25 invalid transaction state (a read-only transaction, say),
 *   XX001 data corrupted and XX002 index corrupted.
 * FATAL and PANIC never reach a handler: they end the session or the server.
 */
static bool
edp_ingest_error_ends_job(ErrorData *edata)
{
	int			class = ERRCODE_TO_CATEGORY(edata->sqlerrcode);

	if (edata->elevel > ERROR)
		return true;
	return class == ERRCODE_INSUFFICIENT_RESOURCES ||
		class == ERRCODE_OPERATOR_INTERVENTION ||
		class == ERRCODE_SYSTEM_ERROR ||
		class == ERRCODE_CONFIG_FILE_ERROR ||
		class == ERRCODE_TRANSACTION_ROLLBACK ||
		class == ERRCODE_INVALID_TRANSACTION_STATE ||
		edata->sqlerrcode == ERRCODE_DATA_CORRUPTED ||
		edata->sqlerrcode == ERRCODE_INDEX_CORRUPTED;
}

/* raw bytes as valid text: NUL and bytes invalid in the database encoding as \xNN */
static char *
printable_bytes(const char *raw, int len)
{
	StringInfoData buf;
	int			i = 0;

	if (memchr(raw, '\0', len) == NULL && pg_verifymbstr(raw, len, true))
		return pnstrdup(raw, len);
	initStringInfo(&buf);
	while (i < len)
	{
		int			l = raw[i] == '\0' ? -1 :
			pg_encoding_verifymbchar(GetDatabaseEncoding(), raw + i, len - i);

		if (l > 0)
		{
			appendBinaryStringInfo(&buf, raw + i, l);
			i += l;
		}
		else
			appendStringInfo(&buf, "\\x%02x", (unsigned char) raw[i++]);
	}
	return buf.data;
}

static char *
printable_line(const char *raw)
{
	return printable_bytes(raw, strlen(raw));
}

/*
 * Record one reject.  Its copies (the printable line, the datums of the
 * ledger row) go into a context reset right after: the caller's context
 * lives as long as the load, and a load may reject millions of rows.
 */
static void
reject(EdpIngest *ing, EdpRow *row, const char *column, int sqlerrcode, const char *message)
{
	MemoryContext old;

	ing->counts.rejected++;
	old = MemoryContextSwitchTo(ing->reject_cxt);
	if (ing->opts.log_rejects)
		edp_ingest_log_reject(ing, row->line, column, message);
	if (!ing->opts.discard_rejects)
		edp_job_add_reject(ing->job_id, row->line, printable_line(ing->raw_lines.data + row->raw), column,
					   unpack_sql_state(sqlerrcode), message);
	MemoryContextSwitchTo(old);
	MemoryContextReset(ing->reject_cxt);
}

/* ---------------------------------------------------------- conversion */

static Datum
convert_field(EdpIngest *ing, int att, char *value, bool *isnull)
{
	ing->cur_column = ing->colnames[att];
	if (value && ing->check_fields && !pg_verifymbstr(value, strlen(value), true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("invalid byte sequence for encoding \"%s\"", GetDatabaseEncodingName())));
	*isnull = (value == NULL);
	return InputFunctionCall(&ing->in_funcs[att], value, ing->ioparams[att], ing->typmods[att]);
}

/*
 * Defaults for what the input did not provide, then NOT NULL checked here
 * already, so that the common bad row is caught while converting.
 */
static void
fill_defaults(EdpIngest *ing, EdpRow *row, bool *provided)
{
	int			i;

	for (i = 0; i < ing->natts; i++)
	{
		if (!ing->usable[i])
			continue;
		if (!provided[i])
		{
			if (ing->defaults[i])
			{
				ing->cur_column = ing->colnames[i];
				row->values[i] = ExecEvalExpr(ing->defaults[i], ing->econtext, &row->isnull[i]);
			}
			else
			{
				row->values[i] = (Datum) 0;
				row->isnull[i] = true;
			}
		}
		if (row->isnull[i] && ing->notnull[i])
		{
			ing->cur_column = ing->colnames[i];
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
							ing->colnames[i], ing->relname)));
		}
	}
}

/* one CSV row into row->values; ERRORs on any bad field */
static void
convert_csv_row(EdpIngest *ing, EdpRow *row)
{
	int			i;

	for (i = 0; i < ing->nfields; i++)
	{
		int			att = ing->field_att[i];

		row->values[att] = convert_field(ing, att, ing->fields[i], &row->isnull[att]);
	}
	fill_defaults(ing, row, ing->provided);
}

/* one JSON line into row->values: flattened keys name the columns */
static void
convert_json_row(EdpIngest *ing, EdpRow *row)
{
	bool	   *provided = palloc0(sizeof(bool) * ing->natts);
	List	   *names = NIL;
	List	   *values = NIL;
	ListCell   *n;
	ListCell   *v;
	Jsonb	   *jb;

	if (ing->check_fields)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("invalid byte sequence for encoding \"%s\"", GetDatabaseEncodingName())));
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(ing->fields[0])));
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("a JSON line must hold one object")));
	edp_json_flatten(jb, &names, &values);
	forboth(n, names, v, values)
	{
		char	   *norm = edp_normalise_name(lfirst(n));
		int			att = find_column(ing, norm);

		if (att < 0)
		{
			ing->cur_column = NULL;
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key \"%s\" has no column \"%s\" in relation \"%s\"",
							(char *) lfirst(n), norm, ing->relname)));
		}
		if (provided[att])
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("two keys of the object flatten to column \"%s\"", ing->colnames[att])));
		provided[att] = true;
		row->values[att] = convert_field(ing, att, lfirst(v), &row->isnull[att]);
	}
	fill_defaults(ing, row, provided);
}

/* ------------------------------------------------------------- batches */

/* a row refused while reading, to be recorded by record_deferred_rejects */
typedef struct DeferredReject
{
	uint64		line;
	int			raw;
	int			sqlerrcode;
	char	   *message;
} DeferredReject;

static void
reject_later(EdpIngest *ing, EdpRow *row, int sqlerrcode, const char *message)
{
	MemoryContext old = MemoryContextSwitchTo(ing->batch_cxt);
	DeferredReject *d = palloc(sizeof(DeferredReject));

	d->line = row->line;
	d->raw = row->raw;
	d->sqlerrcode = sqlerrcode;
	d->message = pstrdup(message);
	ing->deferred = lappend(ing->deferred, d);
	MemoryContextSwitchTo(old);
}

static void
record_deferred_rejects(EdpIngest *ing)
{
	ListCell   *lc;

	foreach(lc, ing->deferred)
	{
		DeferredReject *d = lfirst(lc);
		EdpRow		row = {0};

		row.line = d->line;
		row.raw = d->raw;
		reject(ing, &row, NULL, d->sqlerrcode, d->message);
	}
	ing->deferred = NIL;
}

/*
 * Undo the input stream's escapes (ingest/input.c) in the line just read
 * and in its fields; true when the line holds a NUL byte (its fields are
 * then cut short there: the row is rejected).
 */
static bool
unescape_record(EdpIngest *ing, char **fields, int nfields)
{
	StringInfo	line = &ing->cstate->line_buf;
	bool		had_nul = false;
	int			i;

	if (ing->raw_stream || memchr(line->data, EDP_ESC, line->len) == NULL)
		return false;			/* a raw client stream is not escaped */
	line->len = edp_ingest_unescape(line->data, line->len, &had_nul);
	for (i = 0; i < nfields; i++)
		if (fields[i] != NULL)
		{
			bool		nul = false;

			(void) edp_ingest_unescape(fields[i], strlen(fields[i]), &nul);
		}

	/*
	 * The CR of a CRLF line end is not part of the line: it ended the last
	 * field, outside any quotes.  An unquoted empty last field is NULL, as
	 * COPY reads it.
	 */
	if (line->len > 0 && line->data[line->len - 1] == '\r')
	{
		line->data[--line->len] = '\0';
		if (nfields > 0 && fields[nfields - 1] != NULL)
		{
			char	   *last = fields[nfields - 1];
			int			len = strlen(last);

			if (len > 0 && last[len - 1] == '\r')
				last[--len] = '\0';
			if (len == 0 && !ing->jsonl &&
				(line->len == 0 || line->data[line->len - 1] == ing->delimiter))
				fields[nfields - 1] = NULL;
		}
	}
	return had_nul;
}

/*
 * A record that COPY's parser read whole but could not split into fields
 * (an unterminated quoted field at the end of the input): a reject, with
 * the record as raw text.
 */
static void
reject_unsplit_record(EdpIngest *ing, ErrorData *edata)
{
	CopyFromState cstate = ing->cstate;
	EdpRow		row = {0};
	bool		had_nul = false;
	char	   *printable;

	ing->counts.rows_in++;
	ing->counts.lines_done = cstate->cur_lineno;
	row.line = cstate->cur_lineno;
	row.raw = ing->raw_lines.len;
	if (!ing->raw_stream)
		cstate->line_buf.len = edp_ingest_unescape(cstate->line_buf.data, cstate->line_buf.len, &had_nul);
	printable = printable_bytes(cstate->line_buf.data, cstate->line_buf.len);
	appendStringInfoString(&ing->raw_lines, printable);
	appendStringInfoChar(&ing->raw_lines, '\0');
	pfree(printable);
	reject(ing, &row, NULL, edata->sqlerrcode, edata->message);
}

/*
 * A client stream read as COPY reads it (COPY's text format, or another
 * encoding) ends at a lone \. line, and PostgreSQL's COPY drops what a
 * client sends after it.  Lines that nobody would count: the statement
 * fails instead.  (psql sends such a line last; CSV and JSON lines in the
 * database encoding are read as a file is, where it is a rejected row.)
 */
static void
check_end_marker_is_last(EdpIngest *ing)
{
	CopyFromState cstate = ing->cstate;
	char		probe[1];

	if (INPUT_BUF_BYTES(cstate) > 0 || (cstate->need_transcoding && RAW_BUF_BYTES(cstate) > 0) ||
		edp_ingest_read_more(ing, probe, sizeof(probe)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("the input goes on after its end-of-copy marker \\. (line " UINT64_FORMAT ")",
						cstate->cur_lineno),
				 errdetail("COPY's text format, and an input in another encoding, end the data at a line \\.; "
						   "the lines after it would be neither loaded nor rejected."),
				 errhint("Remove the \\. line, or load the data with FORMAT csv in the database encoding, "
						 "where such a line is a rejected row.")));
}

/*
 * Read the next input row into ing->fields.  Empty rows, rows of a resumed
 * job's committed lines and rows with a wrong number of fields are settled
 * here; returns false at the end of the input.  Its row, if any, is the
 * batch's next EdpRow (not yet counted in nrows).
 */
static bool
read_row(EdpIngest *ing)
{
	CopyFromState cstate = ing->cstate;
	int			nfields;

	for (;;)
	{
		EdpRow	   *row;
		bool		empty = true;
		bool		had_nul;
		int			i;

		ing->in_read = true;
		ing->cur_line = cstate->cur_lineno + 1;	/* for errors of the parser */
		ing->cur_column = NULL;
		if (!NextCopyFromRawFields(cstate, &ing->fields, &nfields))
		{
			ing->in_read = false;
			ing->eof = true;
			if (ing->raw_stream)
				check_end_marker_is_last(ing);
			return false;
		}
		ing->in_read = false;
		if ((int64) cstate->cur_lineno <= ing->skip_lines)
			continue;			/* committed by an earlier run of this job */

		ing->counts.rows_in++;
		ing->counts.lines_done = cstate->cur_lineno;
		had_nul = unescape_record(ing, ing->fields, nfields);
		for (i = 0; i < nfields && empty; i++)
		{
			const char *f = ing->fields[i];

			if (f != NULL)
				for (; *f && empty; f++)
					empty = ing->jsonl ? isspace((unsigned char) *f) : false;
		}
		if (empty)
		{
			ing->counts.skipped_empty++;
			continue;
		}

		row = &ing->rows[ing->nrows];
		row->line = cstate->cur_lineno;
		row->raw = ing->raw_lines.len;
		if (had_nul)
			appendStringInfoString(&ing->raw_lines, printable_bytes(cstate->line_buf.data, cstate->line_buf.len));
		else
			appendBinaryStringInfo(&ing->raw_lines, cstate->line_buf.data, cstate->line_buf.len);
		appendStringInfoChar(&ing->raw_lines, '\0');
		row->bad = false;
		ing->row_nfields = nfields;
		/* fields are substrings split at ASCII bytes: a valid line has valid fields */
		ing->check_fields = !had_nul && !pg_verifymbstr(cstate->line_buf.data, cstate->line_buf.len, true);

		/* recorded after the subtransaction, which may yet roll back */
		if (had_nul)
			reject_later(ing, row, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
						 psprintf("invalid byte sequence for encoding \"%s\": 0x00", GetDatabaseEncodingName()));
		else if (!ing->jsonl && nfields != ing->nfields)
			reject_later(ing, row, ERRCODE_BAD_COPY_FILE_FORMAT,
						 psprintf(nfields > ing->nfields ? "extra data after last expected column: %d fields, %d expected"
								  : "missing data for a column: %d fields, %d expected",
								  nfields, ing->nfields));
		else if (ing->jsonl && nfields != 1)
			reject_later(ing, row, ERRCODE_INVALID_TEXT_REPRESENTATION,
						 "invalid JSON line: it contains control characters 0x1e or 0x1f");
		else
			return true;
	}
}

/*
 * Phase 1: read a batch and convert every row with the column types'
 * input functions, straight from COPY's field buffers.  The converted
 * values live in a context of ours, which a subtransaction rollback leaves
 * alone, so a bad row costs one rollback: it is rejected and the batch
 * goes on after it in a new subtransaction.  An error inside COPY's parser
 * (unterminated quotes, NUL bytes) is not about one row: it ends the job.
 */
static void
read_batch(EdpIngest *ing)
{
	volatile bool pending = false;	/* a row read but not converted */

	MemoryContextReset(ing->batch_cxt);
	ing->deferred = NIL;
	resetStringInfo(&ing->raw_lines);
	ing->nrows = 0;
	edp_ingest_input_attach(ing);
	while (ing->nrows < ing->batch_size && !ing->eof)
	{
		MemoryContext oldcxt = CurrentMemoryContext;
		ResourceOwner oldowner = CurrentResourceOwner;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(ing->values_cxt);
		PG_TRY();
		{
			while (ing->nrows < ing->batch_size)
			{
				EdpRow	   *row;

				if (!pending && !read_row(ing))
					break;
				pending = true;
				row = &ing->rows[ing->nrows];
				ing->cur_line = row->line;
				memset(row->isnull, true, sizeof(bool) * ing->natts);
				if (ing->jsonl)
					convert_json_row(ing, row);
				else
					convert_csv_row(ing, row);
				ing->cur_column = NULL;
				pending = false;
				ing->nrows++;
			}
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			/*
			 * The error's copy and whatever the rollback and the reject
			 * allocate go into a context of their own, reset after each
			 * bad row: the caller's context lives as long as the load.
			 */
			MemoryContextSwitchTo(ing->catch_cxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(ing->catch_cxt);
			CurrentResourceOwner = oldowner;
			if (edp_ingest_error_ends_job(edata))
				ReThrowError(edata);
			if (ing->in_read)
			{
				/* COPY's parser: only a record it read whole can be rejected */
				if (!ing->cstate->line_buf_valid)
					ReThrowError(edata);
				ing->in_read = false;
				reject_unsplit_record(ing, edata);
			}
			else if (!pending)
				ReThrowError(edata);
			else
				reject(ing, &ing->rows[ing->nrows], edata->column_name ? edata->column_name : ing->cur_column,
					   edata->sqlerrcode, edata->message);
			ing->cur_column = NULL;
			pending = false;
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(ing->catch_cxt);
		}
		PG_END_TRY();
	}
	record_deferred_rejects(ing);
}

/*
 * The loader tells which buffered row it is writing (0 when done with
 * them): errors name that line, and a failed write knows its row.
 */
static void
loader_line(void *arg, uint64 lineno)
{
	EdpIngest  *ing = (EdpIngest *) arg;

	ing->write_line = lineno;
	if (lineno != 0)
		ing->cur_line = lineno;
}

/*
 * A background job remembers the (sub)transaction ids its batches wrote
 * rows with: after their commit, dedupe still knows those rows as the
 * job's (edp_dedupe_load_xids).
 */
static void
note_batch_xid(EdpIngest *ing)
{
	TransactionId xid = GetCurrentTransactionIdIfAny();
	MemoryContext old;

	if (!TransactionIdIsValid(xid))
		return;
	old = MemoryContextSwitchTo(ing->cxt);
	if (ing->txn_xids.data == NULL)
		initStringInfo(&ing->txn_xids);
	appendStringInfo(&ing->txn_xids, "%s%u", ing->txn_xids.len > 0 ? "," : "", xid);
	MemoryContextSwitchTo(old);
}

/*
 * Write rows [from, to) through a loader of their own, in one
 * subtransaction (the loader lives and dies inside it, as loader.h
 * requires).  Returns NULL, or the error after rolling back; then
 * ing->write_line is the line of the row being written when it happened
 * (0 if not known: a statement trigger, say).
 */
static ErrorData *
try_write(EdpIngest *ing, int from, int to)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;
	volatile bool batch_done = false;

	ing->write_line = 0;
	/* made here, not in the subtransaction: see edp_loader_set_written_store */
	if (ing->batch_written == NULL)
	{
		MemoryContextSwitchTo(ing->cxt);
		ing->batch_written = edp_loader_written_store();
		MemoryContextSwitchTo(oldcxt);
	}
	tuplestore_clear(ing->batch_written);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(ing->loader_cxt);
	PG_TRY();
	{
		EdpLoader  *loader;
		uint64		written;
		Tuplestorestate *batch_written;
		uint64		removed = edp_dedupe_removed;
		int			good = 0;
		int			r;

		/*
		 * Each batch is a statement of its own, as if it were one COPY of a
		 * file of batches: its triggers (dedupe, rollup) must see what the
		 * batches before it wrote, so the command counter advances and the
		 * batch runs under a snapshot that includes them.  (Subtransaction
		 * abort pops the snapshot on error.)
		 */
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		/* rows of this load's statements are its own for dedupe's counts */
		if (!ing->first_cid_set)
		{
			ing->first_cid = GetCurrentCommandId(false);
			ing->first_cid_set = true;
		}
		edp_dedupe_load_first_cid = ing->first_cid;
		loader = edp_loader_begin(ing->rel, 0);
		edp_loader_set_written_store(loader, ing->batch_written);
		edp_loader_set_line_callback(loader, loader_line, ing);
		for (r = from; r < to; r++)
		{
			EdpRow	   *row = &ing->rows[r];
			TupleTableSlot *slot;

			if (row->bad)
				continue;
			ing->cur_line = ing->write_line = row->line;
			slot = edp_loader_slot(loader);
			ExecClearTuple(slot);
			memcpy(slot->tts_values, row->values, sizeof(Datum) * ing->natts);
			memcpy(slot->tts_isnull, row->isnull, sizeof(bool) * ing->natts);
			ExecStoreVirtualTuple(slot);
			edp_loader_add(loader, slot, row->line);
			good++;
		}
		ing->write_line = 0;
		/* the upkeep of the rows (rollup, dedupe) waits for the load's end */
		written = edp_loader_end_keep_written(loader, &batch_written);
		edp_dedupe_load_first_cid = InvalidCommandId;
		PopActiveSnapshot();
		/* rows a trigger's dedupe deleted again at the end of the statement */
		removed = edp_dedupe_removed - removed;
		if (ing->mode == EDP_INGEST_BACKGROUND)
			note_batch_xid(ing);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (batch_written != NULL)
			batch_done = true;
		ing->counts.loaded += written - removed;
		ing->counts.duplicates += removed;
		if ((int64) written < good)
			ing->counts.duplicates += good - written;
	}
	PG_CATCH();
	{
		edp_dedupe_load_first_cid = InvalidCommandId;
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (edp_ingest_error_ends_job(edata))
			ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextReset(ing->loader_cxt);
	if (batch_done)
	{
		/* the batch committed: its rows join the load's, for one upkeep */
		MemoryContext cxt = MemoryContextSwitchTo(ing->cxt);

		if (ing->written == NULL)
			ing->written = edp_loader_written_store();
		edp_loader_append_written(ing->written, ing->batch_written);
		MemoryContextSwitchTo(cxt);
	}
	return edata;
}

/*
 * Phase 2: write the converted rows [from, to).  When a write fails
 * (constraint, unique index, trigger) and the loader named the row, that
 * row is rejected, the rows before it are written again, and the rest is
 * tried in chunks of about twice the distance between the last failures
 * (doubling after each success), so that a failure wastes little work where
 * bad rows are dense.  When the row is not known, the rows are halved until
 * the failing ones stand alone.  Rows that a BEFORE trigger dropped (edp's
 * dedupe) count as duplicates.
 */
static void
write_rows(EdpIngest *ing, int from, int to)
{
	int			chunk = to - from;

	while (from < to)
	{
		int			end = Min(to, from + chunk);
		ErrorData  *edata;
		int			failed = -1;
		int			good = 0;
		int			i;

		for (i = from; i < end; i++)
			if (!ing->rows[i].bad)
				good++;
		edata = good > 0 ? try_write(ing, from, end) : NULL;
		if (edata == NULL)
		{
			from = end;
			chunk = Max(chunk, 1) * 2;
			continue;
		}

		for (i = from; i < end && ing->write_line != 0; i++)
			if (!ing->rows[i].bad && ing->rows[i].line == ing->write_line)
				failed = i;
		if (good == 1)
			for (failed = from; ing->rows[failed].bad; failed++)
				;
		if (failed < 0)
		{
			int			mid = from + (end - from) / 2;

			FreeErrorData(edata);
			write_rows(ing, from, mid);
			write_rows(ing, mid, end);
			from = end;
			continue;
		}
		reject(ing, &ing->rows[failed], edata->column_name, edata->sqlerrcode, edata->message);
		ing->rows[failed].bad = true;
		FreeErrorData(edata);
		if (failed > from)
			write_rows(ing, from, failed);
		chunk = Max(2 * (failed - from + 1), 8);
		from = failed + 1;
	}
}

/*
 * The upkeep (rollup, dedupe: core/loader.h) of the rows the load's
 * committed batches wrote, as one statement would have it: duplicates
 * across batches are found as within one.  Rows it deletes as extra copies
 * move from loaded to duplicates.  A synchronous load runs it once at its
 * end, a background job before each commit.
 */
static void
ingest_upkeep(EdpIngest *ing)
{
	uint64		removed = edp_dedupe_removed;

	if (ing->written == NULL)
	{
		if (ing->batch_written != NULL)
			tuplestore_end(ing->batch_written);
		ing->batch_written = NULL;
		return;
	}
	ing->cur_line = 0;
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (ing->committed_xids.data != NULL && ing->committed_xids.len > 0)
		edp_dedupe_load_xids = psprintf("{%s}", ing->committed_xids.data);
	/* a job of several transactions tells its own earlier rows from others' */
	if (ing->mode == EDP_INGEST_BACKGROUND && ing->history == NULL)
		ing->history = edp_load_history_create(ing->cxt);
	edp_dedupe_load_history = ing->history;
	PG_TRY();
	{
		edp_loader_upkeep(ing->rel, ing->written,
						  ing->first_cid_set ? ing->first_cid : InvalidCommandId);
	}
	PG_FINALLY();
	{
		edp_dedupe_load_xids = NULL;
		edp_dedupe_load_history = NULL;
	}
	PG_END_TRY();
	PopActiveSnapshot();
	removed = edp_dedupe_removed - removed;
	ing->counts.loaded -= removed;
	ing->counts.duplicates += removed;
	/* their files (if they spilled) belong to this transaction */
	tuplestore_end(ing->written);
	ing->written = NULL;
	if (ing->batch_written != NULL)
		tuplestore_end(ing->batch_written);
	ing->batch_written = NULL;
}

/*
 * Create the partitions the batch's rows need before it is written, so
 * that no row of it takes the way through the DEFAULT partition (moved at
 * commit: written three times).  The table is closed meanwhile: CREATE
 * TABLE ... PARTITION OF refuses a parent in use (its lock stays).
 */
static void
note_batch_rows(EdpPartitionPlan *plan, Relation rel, void *arg)
{
	EdpIngest  *ing = (EdpIngest *) arg;
	int			r;

	for (r = 0; r < ing->nrows; r++)
		if (!ing->rows[r].bad)
			edp_partitions_plan_row(plan, rel, ing->rows[r].values, ing->rows[r].isnull);
}

static void
prepare_partitions(EdpIngest *ing)
{
	if (!ing->partition_plan_checked)
	{
		MemoryContext old = MemoryContextSwitchTo(ing->cxt);

		ing->partition_plan = edp_partitions_plan_begin(ing->rel);
		ing->partition_plan_checked = true;
		MemoryContextSwitchTo(old);
	}
	if (ing->partition_plan != NULL)
		edp_partitions_prepare(ing->partition_plan, &ing->rel, note_batch_rows, ing);
}

/*
 * Read and load one batch.  Background jobs call this once per
 * transaction (the loader lives within it); returns false at the end of
 * the input.
 */
bool
edp_ingest_next_batch(EdpIngest *ing)
{
	ErrorContextCallback errcallback;

	errcallback.callback = ingest_error_callback;
	errcallback.arg = ing;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (ing->rel == NULL)
		ing->rel = table_open(ing->relid, RowExclusiveLock);
	read_batch(ing);
	edp_ingest_progress_update(ing);	/* a reject's rollback ended the report */
	prepare_partitions(ing);
	write_rows(ing, 0, ing->nrows);
	if (ing->mode == EDP_INGEST_SYNC && ing->eof)
		ingest_upkeep(ing);
	MemoryContextReset(ing->values_cxt);
	ResetExprContext(ing->econtext);
	ing->cur_line = 0;

	error_context_stack = errcallback.previous;

	edp_ingest_progress_update(ing);
	edp_ingest_check_reject_limit(ing);
	return !ing->eof;
}

/*
 * A background job commits after one or more batches: before each commit,
 * the upkeep of the rows of the transaction's batches, and the table is
 * closed (each transaction opens it again).
 */
void
edp_ingest_end_transaction(EdpIngest *ing)
{
	ErrorContextCallback errcallback;

	errcallback.callback = ingest_error_callback;
	errcallback.arg = ing;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	if (ing->rel != NULL)
	{
		ingest_upkeep(ing);
		table_close(ing->rel, NoLock);
		ing->rel = NULL;
	}
	/*
	 * the rows of this transaction's batches stay the job's in the next
	 * ones, and in a resumed run (the ledger keeps their xids, committed
	 * with them)
	 */
	if (ing->txn_xids.data != NULL && ing->txn_xids.len > 0)
	{
		MemoryContext old;

		edp_job_add_committed_xids(ing->job_id, ing->txn_xids.data);
		old = MemoryContextSwitchTo(ing->cxt);

		if (ing->committed_xids.data == NULL)
			initStringInfo(&ing->committed_xids);
		appendStringInfo(&ing->committed_xids, "%s%s",
						 ing->committed_xids.len > 0 ? "," : "", ing->txn_xids.data);
		resetStringInfo(&ing->txn_xids);
		MemoryContextSwitchTo(old);
	}
	ing->first_cid_set = false; /* the next transaction's statements */
	error_context_stack = errcallback.previous;
}

/*
 * A resumed background job: the "xid,xid" of the batches its earlier runs
 * committed (the ledger's), whose rows are the job's own for dedupe.
 */
void
edp_ingest_resume_xids(EdpIngest *ing, const char *xids)
{
	MemoryContext old;

	if (xids == NULL || xids[0] == '\0')
		return;
	old = MemoryContextSwitchTo(ing->cxt);
	if (ing->committed_xids.data == NULL)
		initStringInfo(&ing->committed_xids);
	appendStringInfo(&ing->committed_xids, "%s%s", ing->committed_xids.len > 0 ? "," : "", xids);
	MemoryContextSwitchTo(old);
}

/* the error of a job that passed its reject limit (over_limit) or percentage */
static char *
reject_limit_message(EdpIngest *ing, int64 job_id, bool over_limit)
{
	EdpJobCounts *c = &ing->counts;

	if (over_limit)
		return psprintf("ingest job " INT64_FORMAT " rejected " INT64_FORMAT " rows, more than its reject limit of " INT64_FORMAT,
						job_id, c->rejected, ing->opts.reject_limit);
	return psprintf("ingest job " INT64_FORMAT " rejected %.1f%% of its rows, more than its reject limit of %g%%",
					job_id, 100.0 * c->rejected / c->rows_in, ing->opts.reject_percent);
}

/*
 * A job whose input is garbage stops.  A background job keeps its
 * committed batches; a synchronous one rolls back with its caller's
 * transaction, but first hands its job and rejects to a worker that
 * commits them as a new failed job (ingest/reject_keeper.c): the error
 * names that job, whose rejects say why the load failed.
 */
static void
edp_ingest_check_reject_limit(EdpIngest *ing)
{
	EdpJobCounts *c = &ing->counts;
	bool		over_limit = ing->opts.reject_limit >= 0 && c->rejected > ing->opts.reject_limit;
	bool		over_percent = ing->opts.reject_percent >= 0 && c->rows_in > 0 &&
		100.0 * c->rejected / c->rows_in > ing->opts.reject_percent;
	EdpRejectKeeper *keeper = NULL;
	int64		kept_id = 0;
	char	   *detail;

	if (!over_limit && !over_percent)
		return;
	if (over_limit)
		detail = psprintf("Stopped at line " INT64_FORMAT " of the input.", c->lines_done);
	else
		detail = psprintf("Stopped at line " INT64_FORMAT " of the input, after " INT64_FORMAT " rejects in " INT64_FORMAT " rows.",
						  c->lines_done, c->rejected, c->rows_in);

	if (ing->mode == EDP_INGEST_SYNC)
		keeper = edp_keep_begin(ing->job_id, c);
	if (keeper != NULL)
	{
		int64		id = edp_keep_job_id(keeper);
		bool		capped;
		int64		n = edp_keep_count(keeper, &capped);
		char	   *kept = capped ?
			psprintf("; edp.rejects keeps the first " INT64_FORMAT " of its " INT64_FORMAT
					 " rejects (at most %d rows and %d MB are kept)",
					 n, c->rejected, EDP_KEPT_REJECTS, (int) (EDP_KEPT_BYTES / (1024 * 1024))) : "";
		char	   *stored = psprintf("%s; the load was rolled back with its transaction, none of its rows stay in the table%s",
									  reject_limit_message(ing, id, over_limit), kept);

		if (edp_keep_finish(keeper, stored, ERRCODE_DATA_EXCEPTION))
		{
			kept_id = id;
			detail = capped ?
				psprintf("%s The load was rolled back; it is kept as failed job " INT64_FORMAT
						 ", with the first " INT64_FORMAT " of its " INT64_FORMAT " rejects.",
						 detail, id, n, c->rejected) :
				psprintf("%s The load was rolled back; it is kept as failed job " INT64_FORMAT
						 ", with its rejects.", detail, id);
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg_internal("%s", reject_limit_message(ing, kept_id != 0 ? kept_id : ing->job_id, over_limit)),
			 errdetail_internal("%s", detail),
			 kept_id != 0 ?
			 errhint("The rejected lines and their reasons are in edp.rejects (job_id = " INT64_FORMAT ").",
					 kept_id) : 0));
}

const EdpJobCounts *
edp_ingest_counts(EdpIngest *ing)
{
	return &ing->counts;
}

/* finish: write what is buffered, record checksum and size, free everything */
void
edp_ingest_end(EdpIngest *ing)
{
	if (ing->rel)
		table_close(ing->rel, NoLock);
	ing->rel = NULL;
	edp_ingest_input_attach(ing);
	EndCopyFrom(ing->cstate);
	edp_ingest_release(ing);
	edp_ingest_hash_finish(ing);
	if (ing->hash_owner)
		ResourceOwnerDelete(ing->hash_owner);
	if (ing->size < 0)
		ing->size = ing->bytes_read;	/* a stream: its length at the end */
	edp_job_set_input(ing->job_id, edp_ingest_format(ing), ing->checksum, ing->size);
	FreeExprContext(ing->econtext, true);
	MemoryContextDelete(ing->cxt);
}

static const char *
edp_ingest_format(EdpIngest *ing)
{
	return ing->jsonl ? "jsonl" : "csv";
}
