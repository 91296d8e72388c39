/*-------------------------------------------------------------------------
 *
 * flatten.c
 *		Split a JSON metrics document into integer columns and an overflow.
 *
 * The document is scanned once with PostgreSQL's JSON lexer and semantic
 * callbacks; no jsonb value is built for it.  Members of the metrics object
 * (found at the table's path, e.g. {"metrics": {...}}) whose key names an
 * integer column and whose value is an integer literal that fits that
 * column move into the column.  Everything else stays, byte for byte, in
 * the overflow text, which becomes a jsonb value only when something is
 * left.  The rules, which make the split lossless:
 *
 *	- keys are matched by name, never by position;
 *	- a value moves only if it is a JSON integer literal (no fraction, no
 *	  exponent) within the column type's range; anything else (1.5, "5",
 *	  an object, null, an integer too large) stays in the overflow;
 *	- the last occurrence of a duplicated key wins and earlier ones are
 *	  dropped, as jsonb does;
 *	- numbers are judged as jsonb stores them: 1e3 is the integer 1000;
 *	- the overflow is NULL when the columns carry the whole document, i.e.
 *	  something moved and what is left is just the path skeleton
 *	  {"metrics": {}}; an empty metrics object with nothing moved stays as
 *	  {"metrics": {}} so that it remains distinguishable from no document;
 *	- a document without a metrics object at the path (another shape, a
 *	  scalar, an array, or the path key twice) stays whole in the overflow.
 *
 * edp.original_metrics() inverts the split: it sets the columns' values
 * into the overflow (or into the skeleton when the overflow is NULL).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/jsonfuncs.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "edp.h"
#include "flatten.h"

/* distinct unknown keys reported by name per statement; the rest summed */
#define MAX_REPORTED_UNKNOWN_KEYS	20

struct EdpMember
{
	char	   *key;			/* de-escaped */
	char	   *value_start;	/* the value's text in the document */
	char	   *value_end;
	int			metric;			/* index into metrics, or -1 */
	bool		moved;
	bool		superseded;		/* a later member has the same key */
};

/* state of one scan */
typedef struct FlattenScan
{
	EdpFlattener *f;
	JsonLexContext *lex;
	bool		keep_filled;	/* keys of already filled columns stay */
	Datum	   *values;
	bool	   *isnull;

	int			pending_level;	/* next object at this level is on the path */
	bool	   *on_path;		/* per object level 0..npath */
	int		   *level_members;	/* members of the path objects */
	int			ntargets;		/* metrics objects found */
	bool		in_target;
	char	   *target_start;
	char	   *target_end;
	int			nmembers;
	int			nmoved;
	int			nsuperseded;
} FlattenScan;

static int	metric_cmp(const void *a, const void *b);
static int	find_metric(EdpFlattener *f, const char *key);
static bool parse_integer(const char *s, const char *end, Oid typid, Datum *result);
static bool metric_value(const char *s, const char *end, Oid typid, Datum *result);
static void count_unknown(EdpFlattener *f, const char *key);
static void scan_object_start(void *state);
static void scan_object_end(void *state);
static void scan_array_start(void *state);
static void scan_field_start(void *state, char *fname, bool isnull);
static void scan_field_end(void *state, char *fname, bool isnull);
static void unmove(FlattenScan *scan, EdpMember *member);

static int
metric_cmp(const void *a, const void *b)
{
	return strcmp(((const EdpMetricColumn *) a)->name,
				  ((const EdpMetricColumn *) b)->name);
}

/*
 * Read the table's flattening settings from edp.event_tables (for a
 * partition, from its top-most partitioned ancestor) and resolve them
 * against the table's own row type.  Returns NULL when the table has no
 * flattening.
 */
EdpFlattener *
edp_flattener_create(Relation rel, MemoryContext mcxt)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			config_relid = relid;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	EdpFlattener *f;
	MemoryContext old;
	Datum		arg;
	Oid			argtype = OIDOID;
	char	   *source;
	Datum	   *path_elems;
	Datum	   *exclude_elems;
	bool	   *nulls;
	int			nexclude;
	int			i,
				j;
	bool		isnull;

	if (rel->rd_rel->relispartition)
	{
		List	   *ancestors = get_partition_ancestors(relid);

		config_relid = llast_oid(ancestors);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	arg = ObjectIdGetDatum(config_relid);
	if (SPI_execute_with_args("SELECT source_column::pg_catalog.text, metrics_path, exclude_columns::pg_catalog.text[]"
							  " FROM edp.event_tables"
							  " WHERE relid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
							  "   AND source_column IS NOT NULL",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read edp.event_tables");
	if (SPI_processed == 0)
	{
		SPI_finish();
		return NULL;
	}

	old = MemoryContextSwitchTo(mcxt);
	f = palloc0(sizeof(EdpFlattener));
	f->mcxt = mcxt;
	f->relid = relid;
	f->relname = pstrdup(RelationGetRelationName(rel));

	source = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	f->source_name = source;
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 2, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT,
					  &path_elems, &nulls, &f->npath);
	f->path = palloc(sizeof(char *) * (f->npath + 1));
	for (i = 0; i < f->npath; i++)
		f->path[i] = TextDatumGetCString(path_elems[i]);
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoChar(&buf, '{');
		for (i = 0; i < f->npath; i++)
			appendStringInfo(&buf, "%s%s", i > 0 ? "," : "", f->path[i]);
		appendStringInfoChar(&buf, '}');
		f->path_text = buf.data;
	}
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 3, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT,
					  &exclude_elems, &nulls, &nexclude);

	/* the metric columns: integer columns other than excluded ones */
	f->metrics = palloc0(sizeof(EdpMetricColumn) * tupdesc->natts);
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		bool		excluded = false;

		if (att->attisdropped || att->attgenerated)
			continue;
		if (strcmp(NameStr(att->attname), source) == 0)
		{
			f->source_attnum = att->attnum;
			continue;
		}
		if (att->atttypid != INT2OID && att->atttypid != INT4OID &&
			att->atttypid != INT8OID)
			continue;
		for (j = 0; j < nexclude; j++)
			if (strcmp(NameStr(att->attname), TextDatumGetCString(exclude_elems[j])) == 0)
				excluded = true;
		if (excluded)
			continue;
		f->metrics[f->nmetrics].name = pstrdup(NameStr(att->attname));
		f->metrics[f->nmetrics].attnum = att->attnum;
		f->metrics[f->nmetrics].typid = att->atttypid;
		f->nmetrics++;
	}
	qsort(f->metrics, f->nmetrics, sizeof(EdpMetricColumn), metric_cmp);

	if (f->source_attnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("metrics column \"%s\" of event table \"%s\" does not exist",
						source, f->relname),
				 errhint("Run edp.enable_flattening again, or edp.disable_flattening.")));

	f->members_cap = 16;
	f->members = palloc(sizeof(EdpMember) * f->members_cap);
	f->saved_values = palloc(sizeof(Datum) * tupdesc->natts);
	f->saved_isnull = palloc(sizeof(bool) * tupdesc->natts);
	MemoryContextSwitchTo(old);

	SPI_finish();
	return f;
}

static int
find_metric(EdpFlattener *f, const char *key)
{
	int			lo = 0,
				hi = f->nmetrics - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(key, f->metrics[mid].name);

		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/*
 * Is [s, end) a JSON integer literal within the range of typid?  JSON
 * numbers are already syntax-checked by the lexer: an optional minus sign,
 * digits, then maybe a fraction or exponent, which we refuse.
 */
static bool
parse_integer(const char *s, const char *end, Oid typid, Datum *result)
{
	bool		negative = false;
	uint64		magnitude = 0;
	int64		value;

	if (s < end && *s == '-')
	{
		negative = true;
		s++;
	}
	if (s == end)
		return false;
	for (; s < end; s++)
	{
		if (*s < '0' || *s > '9')
			return false;		/* fraction or exponent */
		if (magnitude > (PG_UINT64_MAX - 9) / 10)
			return false;
		magnitude = magnitude * 10 + (*s - '0');
	}
	if (negative)
	{
		if (magnitude > (uint64) PG_INT64_MAX + 1)
			return false;
		value = (int64) (0 - magnitude);
	}
	else
	{
		if (magnitude > (uint64) PG_INT64_MAX)
			return false;
		value = (int64) magnitude;
	}

	switch (typid)
	{
		case INT2OID:
			if (value < PG_INT16_MIN || value > PG_INT16_MAX)
				return false;
			*result = Int16GetDatum((int16) value);
			return true;
		case INT4OID:
			if (value < PG_INT32_MIN || value > PG_INT32_MAX)
				return false;
			*result = Int32GetDatum((int32) value);
			return true;
		default:
			*result = Int64GetDatum(value);
			return true;
	}
}

/*
 * The value of a JSON number token for an integer column, judged as jsonb
 * judges it: 1e3 is stored and printed by jsonb as 1000, so it moves, while
 * 1.0 keeps its fraction digit and stays.  Plain integer literals, the
 * common case, never reach numeric_in.
 */
static bool
metric_value(const char *s, const char *end, Oid typid, Datum *result)
{
	Datum		number;
	char	   *canonical;

	if (parse_integer(s, end, typid, result))
		return true;
	if (memchr(s, '.', end - s) == NULL && memchr(s, 'e', end - s) == NULL &&
		memchr(s, 'E', end - s) == NULL)
		return false;			/* an integer out of range */
	number = DirectFunctionCall3(numeric_in, CStringGetDatum(pnstrdup(s, end - s)),
								 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	canonical = DatumGetCString(DirectFunctionCall1(numeric_out, number));
	return parse_integer(canonical, canonical + strlen(canonical), typid, result);
}

static void
count_unknown(EdpFlattener *f, const char *key)
{
	ListCell   *lc;
	EdpUnknownKey *entry;
	MemoryContext old;

	foreach(lc, f->unknown_keys)
	{
		entry = (EdpUnknownKey *) lfirst(lc);
		if (strcmp(entry->key, key) == 0)
		{
			entry->rows++;
			return;
		}
	}
	if (list_length(f->unknown_keys) >= MAX_REPORTED_UNKNOWN_KEYS)
	{
		f->unknown_other_rows++;
		return;
	}
	old = MemoryContextSwitchTo(f->mcxt);
	entry = palloc(sizeof(EdpUnknownKey));
	entry->key = pstrdup(key);
	entry->rows = 1;
	f->unknown_keys = lappend(f->unknown_keys, entry);
	MemoryContextSwitchTo(old);
}

static void
scan_object_start(void *state)
{
	FlattenScan *scan = (FlattenScan *) state;
	int			level = scan->lex->lex_level;
	bool		on;

	on = (level == 0) || (scan->pending_level == level);
	scan->pending_level = -1;
	if (level > scan->f->npath)
		return;
	scan->on_path[level] = on;
	if (!on)
		return;
	if (level < scan->f->npath)
		scan->level_members[level] = 0;
	else
	{
		scan->ntargets++;
		scan->in_target = true;
		scan->target_start = scan->lex->token_start;
	}
}

static void
scan_object_end(void *state)
{
	FlattenScan *scan = (FlattenScan *) state;

	if (scan->in_target && scan->lex->lex_level == scan->f->npath)
	{
		scan->in_target = false;
		scan->target_end = scan->lex->prev_token_terminator;
	}
}

static void
scan_array_start(void *state)
{
	((FlattenScan *) state)->pending_level = -1;
}

/* Put back a moved member: its column gets the value it had before. */
static void
unmove(FlattenScan *scan, EdpMember *member)
{
	AttrNumber	attnum = scan->f->metrics[member->metric].attnum;

	member->moved = false;
	scan->nmoved--;
	scan->values[attnum - 1] = scan->f->saved_values[attnum - 1];
	scan->isnull[attnum - 1] = scan->f->saved_isnull[attnum - 1];
}

static void
scan_field_start(void *state, char *fname, bool isnull)
{
	FlattenScan *scan = (FlattenScan *) state;
	EdpFlattener *f = scan->f;
	int			level = scan->lex->lex_level - 1;	/* the containing object */
	EdpMember  *member;
	int			i;

	if (level < f->npath)
	{
		if (scan->on_path[level])
		{
			scan->level_members[level]++;
			if (strcmp(fname, f->path[level]) == 0)
				scan->pending_level = level + 1;
		}
		return;
	}
	if (level != f->npath || !scan->in_target)
		return;

	/* a member of the metrics object */
	if (scan->nmembers == f->members_cap)
	{
		f->members_cap *= 2;
		f->members = repalloc(f->members, sizeof(EdpMember) * f->members_cap);
	}
	member = &f->members[scan->nmembers++];
	member->key = fname;
	member->value_start = scan->lex->token_start;
	member->value_end = NULL;
	member->moved = false;
	member->superseded = false;
	member->metric = find_metric(f, fname);

	/* the last occurrence of a key wins, as in jsonb: earlier ones go */
	for (i = 0; i < scan->nmembers - 1; i++)
	{
		EdpMember  *earlier = &f->members[i];

		if (earlier->superseded || earlier->metric != member->metric ||
			(member->metric < 0 && strcmp(earlier->key, fname) != 0))
			continue;
		if (earlier->moved)
			unmove(scan, earlier);
		earlier->superseded = true;
		scan->nsuperseded++;
	}

	if (member->metric < 0)
	{
		count_unknown(f, fname);
		return;
	}

	{
		EdpMetricColumn *metric = &f->metrics[member->metric];
		AttrNumber	attnum = metric->attnum;
		Datum		value;

		if (scan->keep_filled && !f->saved_isnull[attnum - 1])
			return;				/* the column already holds this metric */
		if (scan->lex->token_type == JSON_TOKEN_NUMBER &&
			metric_value(scan->lex->token_start, scan->lex->token_terminator,
						 metric->typid, &value))
		{
			scan->values[attnum - 1] = value;
			scan->isnull[attnum - 1] = false;
			member->moved = true;
			scan->nmoved++;
		}
		else
			metric->unfit_rows++;
	}
}

static void
scan_field_end(void *state, char *fname, bool isnull)
{
	FlattenScan *scan = (FlattenScan *) state;

	scan->pending_level = -1;
	if (scan->in_target && scan->lex->lex_level - 1 == scan->f->npath)
		scan->f->members[scan->nmembers - 1].value_end =
			scan->lex->prev_token_terminator;
}

/*
 * Split the document json[0..len) into the metric columns and the source
 * (overflow) column of values/isnull, which hold the row being built in
 * the table's row type.  With keep_filled, metric columns that are already
 * non-NULL keep their value and the key stays in the overflow (used when
 * re-flattening an overflow into columns).  Invalid JSON raises the
 * standard json error; callers' error context names the row.
 */
void
edp_flatten_text(EdpFlattener *f, char *json, int len, bool keep_filled,
				 Datum *values, bool *isnull)
{
	AttrNumber	src = f->source_attnum;
	FlattenScan scan;
	JsonSemAction sem;
	JsonParseErrorType rc;
	int			i;
	bool		blank = true;
	bool		skeleton;
	char	   *overflow;

	for (i = 0; i < len && blank; i++)
		blank = (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' ||
				 json[i] == '\r');
	if (blank)
	{
		/* an empty field is no document, not a broken one */
		values[src - 1] = (Datum) 0;
		isnull[src - 1] = true;
		return;
	}

	for (i = 0; i < f->nmetrics; i++)
	{
		AttrNumber	attnum = f->metrics[i].attnum;

		f->saved_values[attnum - 1] = values[attnum - 1];
		f->saved_isnull[attnum - 1] = isnull[attnum - 1];
	}

	memset(&scan, 0, sizeof(scan));
	scan.f = f;
	scan.keep_filled = keep_filled;
	scan.values = values;
	scan.isnull = isnull;
	scan.pending_level = -1;
	scan.on_path = palloc0(sizeof(bool) * (f->npath + 1));
	scan.level_members = palloc0(sizeof(int) * (f->npath + 1));
	scan.lex = makeJsonLexContextCstringLen(json, len, GetDatabaseEncoding(), true);

	memset(&sem, 0, sizeof(sem));
	sem.semstate = &scan;
	sem.object_start = scan_object_start;
	sem.object_end = scan_object_end;
	sem.array_start = scan_array_start;
	sem.object_field_start = scan_field_start;
	sem.object_field_end = scan_field_end;

	rc = pg_parse_json(scan.lex, &sem);
	if (rc != JSON_SUCCESS)
		json_ereport_error(rc, scan.lex);

	if (scan.ntargets != 1)
	{
		/* no metrics object, or the path key twice: keep it all */
		for (i = 0; i < scan.nmembers; i++)
			if (f->members[i].moved)
				unmove(&scan, &f->members[i]);
		f->no_object_rows++;
	}

	if (scan.nmoved == 0)
	{
		values[src - 1] = DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(pnstrdup(json, len)));
		isnull[src - 1] = false;
		return;
	}

	/* Something moved: is anything left besides the path skeleton? */
	skeleton = (scan.nmoved == scan.nmembers - scan.nsuperseded);
	for (i = 0; i < f->npath && skeleton; i++)
		skeleton = (scan.level_members[i] == 1);
	if (skeleton)
	{
		values[src - 1] = (Datum) 0;
		isnull[src - 1] = true;
		return;
	}

	/* Rebuild the document with the kept members only. */
	{
		StringInfoData buf;
		bool		first = true;

		initStringInfo(&buf);
		appendBinaryStringInfo(&buf, json, scan.target_start - json);
		appendStringInfoChar(&buf, '{');
		for (i = 0; i < scan.nmembers; i++)
		{
			EdpMember  *member = &f->members[i];

			if (member->moved || member->superseded)
				continue;
			if (!first)
				appendStringInfoString(&buf, ", ");
			first = false;
			escape_json(&buf, member->key);
			appendStringInfoString(&buf, ": ");
			appendBinaryStringInfo(&buf, member->value_start,
								   member->value_end - member->value_start);
		}
		appendStringInfoChar(&buf, '}');
		appendBinaryStringInfo(&buf, scan.target_end,
							   (json + len) - scan.target_end);
		overflow = buf.data;
	}
	values[src - 1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(overflow));
	isnull[src - 1] = false;
}

/*
 * One WARNING per unknown key and per metric with unfitting values, each
 * with its row count, then reset the statistics.
 */
void
edp_flattener_report(EdpFlattener *f)
{
	ListCell   *lc;
	int			i;

	foreach(lc, f->unknown_keys)
	{
		EdpUnknownKey *entry = (EdpUnknownKey *) lfirst(lc);

		ereport(WARNING,
				(errmsg("unknown metric \"%s\" in " INT64_FORMAT " rows of \"%s\"",
						entry->key, entry->rows, f->relname),
				 errdetail("The values are kept in column \"%s\".", f->source_name),
				 errhint("To store this metric in a column of its own, add an integer column named \"%s\" and run edp.reflatten('%s').",
						 entry->key, f->relname)));
	}
	if (f->unknown_other_rows > 0)
		ereport(WARNING,
				(errmsg("further unknown metrics in " INT64_FORMAT " places of \"%s\"",
						f->unknown_other_rows, f->relname),
				 errdetail("The values are kept in column \"%s\"; only the first %d unknown metric names are reported.",
						   f->source_name, MAX_REPORTED_UNKNOWN_KEYS)));
	for (i = 0; i < f->nmetrics; i++)
	{
		EdpMetricColumn *metric = &f->metrics[i];

		if (metric->unfit_rows == 0)
			continue;
		ereport(WARNING,
				(errmsg("metric \"%s\" does not fit column type %s in " INT64_FORMAT " rows of \"%s\"",
						metric->name, format_type_be(metric->typid),
						metric->unfit_rows, f->relname),
				 errdetail("Values that are not integer literals within the column's range are kept in column \"%s\".",
						   f->source_name)));
		metric->unfit_rows = 0;
	}
	if (f->no_object_rows > 0)
		ereport(WARNING,
				(errmsg("no metrics object at path %s in " INT64_FORMAT " rows of \"%s\"",
						f->path_text, f->no_object_rows, f->relname),
				 errdetail("These documents are kept whole in column \"%s\".",
						   f->source_name)));

	list_free_deep(f->unknown_keys);
	f->unknown_keys = NIL;
	f->unknown_other_rows = 0;
	f->no_object_rows = 0;
}

/*
 * Row triggers collect statistics; the statement trigger that follows
 * reports them.  Flatteners with something to say wait on this list,
 * which an aborted (sub)transaction simply forgets.
 */
static List *pending_reports = NIL;

void
edp_flatten_defer_report(EdpFlattener *f)
{
	MemoryContext old;

	if (f->registered)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	pending_reports = lappend(pending_reports, f);
	MemoryContextSwitchTo(old);
	f->registered = true;
}

void
edp_flatten_report_pending(void)
{
	List	   *pending = pending_reports;
	ListCell   *lc;

	pending_reports = NIL;
	foreach(lc, pending)
	{
		EdpFlattener *f = (EdpFlattener *) lfirst(lc);

		f->registered = false;
		edp_flattener_report(f);
	}
	list_free(pending);
}

static void
forget_pending_reports(void)
{
	list_free(pending_reports);
	pending_reports = NIL;
}

static void
flatten_xact_callback(XactEvent event, void *arg)
{
	forget_pending_reports();
}

static void
flatten_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		forget_pending_reports();
}

void
edp_flatten_init(void)
{
	RegisterXactCallback(flatten_xact_callback, NULL);
	RegisterSubXactCallback(flatten_subxact_callback, NULL);
}
