/*-------------------------------------------------------------------------
 *
 * events/flatten.c
 *		What edp knows about a flattening event table, and the warnings.
 *
 * edp_flattener_create() reads a table's settings from edp.event_tables
 * and resolves its metric columns; events/flatten_json.c splits documents with
 * it; edp_flattener_report() turns the counts collected over a statement
 * into one WARNING per unknown key and per unfitting metric.
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
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "core/edp.h"
#include "events/flatten.h"
#include "core/security.h"

static int	metric_cmp(const void *a, const void *b);

/*
 * Is relid (or, for a partition, its top-most ancestor) in
 * edp.event_tables?  Reads the syscache, pg_inherits and edp's catalog
 * only: the relation itself is neither opened nor locked.
 */
bool
edp_is_event_relid(Oid relid)
{
	EdpIdentity spi;
	Oid			argtype = OIDOID;
	Datum		arg;
	bool		found;

	if (get_rel_relispartition(relid))
		relid = llast_oid(get_partition_ancestors(relid));
	arg = ObjectIdGetDatum(relid);
	edp_spi_begin(&spi, InvalidOid, EDP_AS_CALLER);
	if (SPI_execute_with_args("SELECT FROM edp.event_tables"
							  " WHERE relid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read edp.event_tables");
	found = SPI_processed > 0;
	edp_spi_end(&spi);
	return found;
}

/* Is rel (or, for a partition, its top-most ancestor) in edp.event_tables? */
bool
edp_is_event_table(Relation rel)
{
	return edp_is_event_relid(RelationGetRelid(rel));
}

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
	EdpIdentity spi;
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

	edp_spi_begin(&spi, InvalidOid, EDP_AS_CALLER);
	arg = ObjectIdGetDatum(config_relid);
	if (SPI_execute_with_args("SELECT source_column::pg_catalog.text, metrics_path, exclude_columns::pg_catalog.text[]"
							  " FROM edp.event_tables"
							  " WHERE relid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
							  "   AND source_column IS NOT NULL",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read edp.event_tables");
	if (SPI_processed == 0)
	{
		edp_spi_end(&spi);
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
		f->metrics[f->nmetrics].namelen = strlen(NameStr(att->attname));
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

	f->members = NULL;			/* events/flatten_json.c grows it */
	f->members_cap = 0;
	f->saved_values = palloc(sizeof(Datum) * tupdesc->natts);
	f->saved_isnull = palloc(sizeof(bool) * tupdesc->natts);
	f->on_path = palloc0(sizeof(bool) * (f->npath + 1));
	f->level_members = palloc0(sizeof(int) * (f->npath + 1));
	f->path_key_seen = palloc0(sizeof(bool) * (f->npath + 1));
	f->metric_member = palloc(sizeof(int) * Max(f->nmetrics, 1));
	f->lex = palloc0(sizeof(JsonLexContext));
	f->encoding = GetDatabaseEncoding();
	MemoryContextSwitchTo(old);

	edp_spi_end(&spi);
	return f;
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
				 errdetail("The values are kept in column \"%s\"; the first %d unknown metric names are reported by name, names longer than a column name never.",
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

/*
 * A flattener lives in its trigger's per-query memory.  When no statement
 * trigger of ours follows its row trigger within the transaction (rows
 * inserted straight into a partition, whose statement triggers are not
 * cloned from the parent; edp_flatten_report disabled), that memory is gone
 * before anyone reports: take the flattener off the list then.  Its
 * warnings are lost, its rows are not.
 */
static void
forget_pending_report(void *arg)
{
	pending_reports = list_delete_ptr(pending_reports, arg);
}

void
edp_flatten_defer_report(EdpFlattener *f)
{
	MemoryContext old;

	if (f->registered)
		return;
	if (!f->forget_on_reset)
	{
		MemoryContextCallback *callback = MemoryContextAlloc(f->mcxt,
															 sizeof(MemoryContextCallback));

		callback->func = forget_pending_report;
		callback->arg = f;
		MemoryContextRegisterResetCallback(f->mcxt, callback);
		f->forget_on_reset = true;
	}
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
	DefineCustomBoolVariable("edp.json_fast_path",
							 "Scans metrics documents of the common shape with edp's tight loop.",
							 "When off, every document goes through PostgreSQL's JSON parser; "
							 "results are the same, loading is slower. For testing.",
							 &edp_json_fast_path,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	RegisterXactCallback(flatten_xact_callback, NULL);
	RegisterSubXactCallback(flatten_subxact_callback, NULL);
	edp_flatten_copy_init();
}
