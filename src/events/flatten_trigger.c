/*-------------------------------------------------------------------------
 *
 * events/flatten_trigger.c
 *		Flattening for INSERT, UPDATE and COPY paths edp does not take over,
 *		the statement-level warning report, edp.reflatten() and
 *		edp.original_metrics().
 *
 * edp.enable_flattening() puts two triggers on an event table:
 *	- edp_flatten, BEFORE INSERT OR UPDATE OF <source> FOR EACH ROW, which
 *	  splits the jsonb document of each row exactly as the COPY path does
 *	  (it hands the document's text to the same splitting routine);
 *	- edp_flatten_report, AFTER INSERT OR UPDATE FOR EACH STATEMENT, which
 *	  turns the counts the row trigger collected into one WARNING per
 *	  unknown key (or unfitting metric) per statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "core/edp.h"
#include "events/flatten.h"
#include "core/security.h"

/* per-trigger-call cache, in fn_extra */
typedef struct TriggerCache
{
	Oid			relid;
	EdpFlattener *flattener;	/* NULL: table has no flattening */
} TriggerCache;

static EdpFlattener *
cached_flattener(FmgrInfo *flinfo, Relation rel)
{
	TriggerCache *cache = (TriggerCache *) flinfo->fn_extra;

	if (cache == NULL || cache->relid != RelationGetRelid(rel))
	{
		cache = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(TriggerCache));
		cache->relid = RelationGetRelid(rel);
		cache->flattener = edp_flattener_create(rel, flinfo->fn_mcxt);
		flinfo->fn_extra = cache;
	}
	return cache->flattener;
}

/*
 * edp_internal.flatten_trigger(): BEFORE INSERT OR UPDATE row trigger that moves
 * known metrics from the source jsonb column into their integer columns.
 */
PG_FUNCTION_INFO_V1(edp_flatten_trigger);
Datum
edp_flatten_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	EdpFlattener *f;
	Datum	   *values;
	bool	   *isnull;
	Jsonb	   *doc;
	char	   *text;
	HeapTuple	result;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edp_internal.flatten_trigger() must be called as a trigger")));
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		  TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edp_internal.flatten_trigger() must be fired BEFORE INSERT OR UPDATE FOR EACH ROW")));

	rel = trigdata->tg_relation;
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;

	f = cached_flattener(fcinfo->flinfo, rel);
	if (f == NULL)
		return PointerGetDatum(tuple);	/* flattening was disabled */

	tupdesc = RelationGetDescr(rel);
	values = palloc(sizeof(Datum) * tupdesc->natts);
	isnull = palloc(sizeof(bool) * tupdesc->natts);
	heap_deform_tuple(tuple, tupdesc, values, isnull);
	if (isnull[f->source_attnum - 1])
		return PointerGetDatum(tuple);

	doc = DatumGetJsonbP(values[f->source_attnum - 1]);
	text = JsonbToCString(NULL, &doc->root, VARSIZE(doc));
	edp_flatten_text(f, text, strlen(text), values, isnull);
	edp_flatten_defer_report(f);

	result = heap_form_tuple(tupdesc, values, isnull);
	result->t_self = tuple->t_self;
	result->t_tableOid = tuple->t_tableOid;
	return PointerGetDatum(result);
}

/*
 * edp_internal.flatten_report_trigger(): AFTER INSERT OR UPDATE statement trigger
 * that reports what the row trigger counted, one WARNING per key.
 */
PG_FUNCTION_INFO_V1(edp_flatten_report_trigger);
Datum
edp_flatten_report_trigger(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edp_internal.flatten_report_trigger() must be called as a trigger")));
	edp_flatten_report_pending();
	return PointerGetDatum(NULL);
}

/*
 * edp.reflatten(tbl): re-split the overflow of every row that holds a key
 * of a metric column, so that metrics whose column was added after the
 * rows were loaded move into it.  Columns that already hold a value keep
 * it (the row trigger's rule: keys move only into NULL columns).  Returns
 * the number of rows updated.
 */
PG_FUNCTION_INFO_V1(edp_reflatten);
Datum
edp_reflatten(PG_FUNCTION_ARGS)
{
	EdpIdentity spi;
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	EdpFlattener *f;
	StringInfoData sql;
	Datum		args[2];
	Oid			argtypes[2] = {TEXTARRAYOID, TEXTARRAYOID};
	Datum	   *elems;
	int			i;
	uint64		updated;

	rel = table_open(relid, AccessShareLock);
	f = edp_flattener_create(rel, CurrentMemoryContext);
	if (f == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no metric flattening",
						RelationGetRelationName(rel)),
				 errhint("Enable it with edp.enable_flattening().")));

	elems = palloc(sizeof(Datum) * Max(f->npath, f->nmetrics));
	for (i = 0; i < f->npath; i++)
		elems[i] = CStringGetTextDatum(f->path[i]);
	args[0] = PointerGetDatum(construct_array(elems, f->npath, TEXTOID, -1, false, TYPALIGN_INT));
	for (i = 0; i < f->nmetrics; i++)
		elems[i] = CStringGetTextDatum(f->metrics[i].name);
	args[1] = PointerGetDatum(construct_array(elems, f->nmetrics, TEXTOID, -1, false, TYPALIGN_INT));

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "UPDATE %s SET %s = %s WHERE %s IS NOT NULL"
					 " AND (%s OPERATOR(pg_catalog.#>) $1) OPERATOR(pg_catalog.?|) $2",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)),
					 quote_identifier(f->source_name), quote_identifier(f->source_name),
					 quote_identifier(f->source_name), quote_identifier(f->source_name));
	table_close(rel, AccessShareLock);

	edp_spi_begin(&spi, InvalidOid, EDP_AS_CALLER);
	if (SPI_execute_with_args(sql.data, 2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "reflatten update failed: %s", sql.data);
	updated = SPI_processed;
	edp_spi_end(&spi);

	PG_RETURN_INT64((int64) updated);
}

/*
 * The object at the flattening path of the document, or NULL.  Only there
 * can metric columns be set back; elsewhere jsonb_set would fail (a scalar,
 * an array on the way) or do nothing (a key missing).
 */
static JsonbContainer *
object_at_path(Jsonb *doc, EdpFlattener *f)
{
	JsonbContainer *container = &doc->root;
	JsonbValue	value;
	int			i;

	for (i = 0; i < f->npath; i++)
	{
		if (!JsonContainerIsObject(container) ||
			getKeyJsonValueFromContainer(container, f->path[i],
										 strlen(f->path[i]), &value) == NULL ||
			value.type != jbvBinary)
			return NULL;
		container = value.val.binary.data;
	}
	return JsonContainerIsObject(container) ? container : NULL;
}

/* per-call cache of edp.original_metrics() */
typedef struct OriginalCache
{
	Oid			relid;
	EdpFlattener *flattener;
	Jsonb	   *skeleton;
} OriginalCache;

/*
 * edp.original_metrics(row): the metrics document as it was loaded,
 * rebuilt from the row's metric columns and its overflow.  This is the
 * inverse of the split, and what "nothing is lost" means in practice: a
 * column's value goes back under its key unless the overflow kept that key
 * (the row gave the column a value of its own, so the document's stayed).
 */
PG_FUNCTION_INFO_V1(edp_original_metrics);
Datum
edp_original_metrics(PG_FUNCTION_ARGS)
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(0);
	Oid			typid = HeapTupleHeaderGetTypeId(row);
	Oid			relid = get_typ_typrelid(typid);
	OriginalCache *cache = (OriginalCache *) fcinfo->flinfo->fn_extra;
	EdpFlattener *f;
	HeapTupleData tuple;
	TupleDesc	tupdesc;
	Datum		doc;
	bool		isnull;
	bool		any_metric = false;
	JsonbContainer *metrics_object;
	JsonbValue	kept;
	int			i;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("edp.original_metrics() needs a row of an event table")));

	if (cache == NULL || cache->relid != relid)
	{
		Relation	rel = table_open(relid, AccessShareLock);
		StringInfoData buf;

		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(OriginalCache));
		cache->relid = relid;
		cache->flattener = edp_flattener_create(rel, fcinfo->flinfo->fn_mcxt);
		table_close(rel, AccessShareLock);
		if (cache->flattener == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" has no metric flattening",
							get_rel_name(relid))));

		/* {"a": {"b": {}}} for path {a,b} */
		initStringInfo(&buf);
		for (i = 0; i < cache->flattener->npath; i++)
		{
			appendStringInfoChar(&buf, '{');
			escape_json(&buf, cache->flattener->path[i]);
			appendStringInfoChar(&buf, ':');
		}
		appendStringInfoString(&buf, "{}");
		for (i = 0; i < cache->flattener->npath; i++)
			appendStringInfoChar(&buf, '}');
		{
			Jsonb	   *skeleton = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																	  CStringGetDatum(buf.data)));

			cache->skeleton = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
												 VARSIZE(skeleton));
			memcpy(cache->skeleton, skeleton, VARSIZE(skeleton));
		}
		fcinfo->flinfo->fn_extra = cache;
	}
	f = cache->flattener;

	tupdesc = lookup_rowtype_tupdesc(typid, HeapTupleHeaderGetTypMod(row));
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;

	doc = heap_getattr(&tuple, f->source_attnum, tupdesc, &isnull);
	if (isnull)
		doc = PointerGetDatum(cache->skeleton);
	else
		doc = PointerGetDatum(DatumGetJsonbP(doc));	/* detoasted once */
	metrics_object = object_at_path(DatumGetJsonbP(doc), f);

	for (i = 0; i < f->nmetrics; i++)
	{
		EdpMetricColumn *metric = &f->metrics[i];
		Datum		value = heap_getattr(&tuple, metric->attnum, tupdesc, &isnull);
		Datum	   *elems;
		int			j;
		int64		v;

		if (isnull)
			continue;
		any_metric = true;
		if (metrics_object == NULL)
			continue;			/* a row that gave the column its value itself */
		if (getKeyJsonValueFromContainer(metrics_object, metric->name,
										 metric->namelen, &kept) != NULL)
			continue;			/* the document's own value stayed: the row gave
								 * the column its value itself */
		v = metric->typid == INT2OID ? DatumGetInt16(value) :
			metric->typid == INT4OID ? DatumGetInt32(value) : DatumGetInt64(value);

		elems = palloc(sizeof(Datum) * (f->npath + 1));
		for (j = 0; j < f->npath; j++)
			elems[j] = CStringGetTextDatum(f->path[j]);
		elems[f->npath] = CStringGetTextDatum(metric->name);
		doc = DirectFunctionCall4(jsonb_set, doc,
								  PointerGetDatum(construct_array(elems, f->npath + 1, TEXTOID, -1, false, TYPALIGN_INT)),
								  DirectFunctionCall1(jsonb_in, CStringGetDatum(psprintf(INT64_FORMAT, v))),
								  BoolGetDatum(true));
	}
	ReleaseTupleDesc(tupdesc);

	/* no document and no metric: the row was loaded without metrics */
	if (!any_metric && doc == PointerGetDatum(cache->skeleton))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(doc);
}
