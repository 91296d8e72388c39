/*-------------------------------------------------------------------------
 *
 * buckets/partitions.c
 *		Partitions a batch of rows needs, created before the batch is
 *		written (validated ingest).
 *
 * edp creates the day (or month) and type partitions of a table on demand.
 * A row whose partition is missing lands in a DEFAULT partition and is
 * moved out at commit (edp_internal.route_default_rows), which writes it
 * twice more.  A load that holds its batch in memory can do better: it
 * asks here which rows have no partition yet, has them created, and then
 * writes the batch straight into its partitions.
 *
 * Which partition a row goes to is found as PostgreSQL's routing finds it
 * (execPartition.c): a binary search of the parent's bounds, by range for
 * the period level and by list for the type level.  The partitions are
 * created as the table's owner (DDL on a table is its owner's), by
 * edp_internal.add_partitions(), in a security-restricted operation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "buckets/buckets.h"
#include "core/security.h"

/* a day (or month) partition that is itself partitioned by type */
typedef struct TypeLevel
{
	Oid			relid;
	Relation	rel;
} TypeLevel;

struct EdpPartitionPlan
{
	Oid			root;
	AttrNumber	ts_att;			/* in the root's row type */
	AttrNumber	type_att;		/* 0: no type level */
	Oid			type_out;		/* output function of the type column */
	List	   *levels;			/* TypeLevel *, opened as met */

	/* rows without a period partition */
	List	   *ts;				/* Datum (timestamptz) */
	List	   *types;			/* text * or NULL */
	/* rows with a period partition that lacks their type */
	List	   *parents;		/* Oid */
	List	   *ptypes;			/* text * or NULL */
};

/* index of the partition of parent (rel) that holds value, or -1 */
static int
find_partition(Relation rel, Datum value, bool isnull)
{
	PartitionKey key = RelationGetPartitionKey(rel);
	PartitionDesc desc = RelationGetPartitionDesc(rel, true);
	PartitionBoundInfo bounds = desc->boundinfo;
	bool		equal = false;
	int			offset;

	if (desc->nparts == 0 || bounds == NULL)
		return -1;
	if (key->strategy == PARTITION_STRATEGY_LIST)
	{
		if (isnull)
			return partition_bound_accepts_nulls(bounds) ? bounds->null_index : -1;
		offset = partition_list_bsearch(key->partsupfunc, key->partcollation, bounds, value, &equal);
		return offset >= 0 && equal ? bounds->indexes[offset] : -1;
	}
	if (key->strategy == PARTITION_STRATEGY_RANGE)
	{
		if (isnull)
			return -1;
		offset = partition_range_datum_bsearch(key->partsupfunc, key->partcollation, bounds,
											   1, &value, &equal);
		return bounds->indexes[offset + 1];
	}
	return -1;
}

/*
 * A plan for rel, or NULL when rel is not partitioned by edp (then there
 * is nothing to create).  Reads edp.event_tables as the table's owner.
 */
EdpPartitionPlan *
edp_partitions_plan_begin(Relation rel)
{
	EdpPartitionPlan *plan;
	EdpIdentity owner;
	Datum		arg = ObjectIdGetDatum(RelationGetRelid(rel));
	Oid			argtype = REGCLASSOID;
	char	   *tscol = NULL;
	char	   *typecol = NULL;
	PartitionKey key;
	MemoryContext caller = CurrentMemoryContext;

	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE || rel->rd_rel->relispartition)
		return NULL;
	key = RelationGetPartitionKey(rel);
	if (key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		key->partattrs[0] == 0 || key->parttypid[0] != TIMESTAMPTZOID)
		return NULL;

	edp_spi_begin(&owner, rel->rd_rel->relowner, EDP_RESTRICTED);
	if (SPI_execute_with_args("SELECT e.ts_column::pg_catalog.text, e.partition_type_column::pg_catalog.text"
							  "  FROM edp.event_tables e"
							  " WHERE e.relid OPERATOR(pg_catalog.=) $1 AND e.partition_period IS NOT NULL",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "edp.event_tables lookup failed");	/* internal error */
	if (SPI_processed == 1)
	{
		MemoryContext cxt = MemoryContextSwitchTo(caller);

		tscol = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		typecol = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		MemoryContextSwitchTo(cxt);
	}
	edp_spi_end(&owner);
	if (tscol == NULL)
		return NULL;

	plan = palloc0(sizeof(EdpPartitionPlan));
	plan->root = RelationGetRelid(rel);
	plan->ts_att = key->partattrs[0];
	if (typecol != NULL)
	{
		bool		varlena;

		plan->type_att = get_attnum(plan->root, typecol);
		if (plan->type_att <= 0)
			return NULL;
		getTypeOutputInfo(TupleDescAttr(RelationGetDescr(rel), plan->type_att - 1)->atttypid,
						  &plan->type_out, &varlena);
	}
	return plan;
}

static text *
type_text(EdpPartitionPlan *plan, Datum value, bool isnull)
{
	return isnull ? NULL : cstring_to_text(OidOutputFunctionCall(plan->type_out, value));
}

static TypeLevel *
type_level(EdpPartitionPlan *plan, Oid relid)
{
	ListCell   *lc;
	TypeLevel  *level;

	foreach(lc, plan->levels)
	{
		level = (TypeLevel *) lfirst(lc);
		if (level->relid == relid)
			return level;
	}
	level = palloc(sizeof(TypeLevel));
	level->relid = relid;
	level->rel = table_open(relid, RowExclusiveLock);	/* the lock the write takes */
	plan->levels = lappend(plan->levels, level);
	return level;
}

/*
 * Note a row (values in the root's row type) that is about to be written:
 * if its partition is missing, it is remembered for
 * edp_partitions_plan_create().  rel is the root, open.
 */
void
edp_partitions_plan_row(EdpPartitionPlan *plan, Relation rel, Datum *values, bool *isnull)
{
	Datum		ts = values[plan->ts_att - 1];
	int			part;
	Oid			partoid;
	TypeLevel  *level;
	Datum		typeval = plan->type_att > 0 ? values[plan->type_att - 1] : (Datum) 0;
	bool		typenull = plan->type_att > 0 ? isnull[plan->type_att - 1] : true;

	/* no time, or no finite one: the DEFAULT partition keeps it, as before */
	if (isnull[plan->ts_att - 1] || TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(ts)))
		return;
	part = find_partition(rel, ts, false);
	/* (a DEFAULT partition has no bound: a row it would take finds none) */
	if (part < 0)
	{
		plan->ts = lappend(plan->ts, (void *) DatumGetPointer(ts));
		plan->types = lappend(plan->types, plan->type_att > 0 ? type_text(plan, typeval, typenull) : NULL);
		return;
	}
	if (plan->type_att == 0)
		return;
	partoid = RelationGetPartitionDesc(rel, true)->oids[part];
	if (get_rel_relkind(partoid) != RELKIND_PARTITIONED_TABLE)
		return;
	level = type_level(plan, partoid);
	part = find_partition(level->rel, typeval, typenull);
	if (part >= 0)
		return;
	plan->parents = lappend_oid(plan->parents, partoid);
	plan->ptypes = lappend(plan->ptypes, type_text(plan, typeval, typenull));
}

bool
edp_partitions_plan_pending(EdpPartitionPlan *plan)
{
	return plan != NULL && (plan->ts != NIL || plan->parents != NIL);
}

static Datum
text_array(List *texts, Datum *nulls_out)
{
	int			n = list_length(texts);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	Datum	   *isnull = palloc(sizeof(Datum) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i = 0;
	ListCell   *lc;

	foreach(lc, texts)
	{
		text	   *t = (text *) lfirst(lc);

		nulls[i] = t == NULL;
		elems[i] = t == NULL ? (Datum) 0 : PointerGetDatum(t);
		isnull[i] = BoolGetDatum(t == NULL);
		i++;
	}
	*nulls_out = PointerGetDatum(construct_array(isnull, n, BOOLOID, 1, true, TYPALIGN_CHAR));
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Route rows that earlier statements of this transaction left in the
 * DEFAULT partitions the noted rows would need (they are routed at commit
 * otherwise, and block a partition whose bound covers them).  True when
 * rows moved: partitions were created, and the plan must be made again
 * (it is empty afterwards).  As for create_partitions, the caller must
 * not hold the root open.
 */
static bool
route_defaults(EdpPartitionPlan *plan, Oid owner_id)
{
	EdpIdentity owner;
	Datum		args[2];
	Oid			argtypes[2] = {REGCLASSOID, OIDARRAYOID};
	Datum	   *parents;
	bool		moved;
	bool		isnull;
	int			i = 0;
	ListCell   *lc;

	parents = palloc(sizeof(Datum) * Max(list_length(plan->parents), 1));
	foreach(lc, plan->parents)
		parents[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	args[0] = ObjectIdGetDatum(plan->root);
	args[1] = PointerGetDatum(construct_array(parents, list_length(plan->parents), OIDOID,
											  sizeof(Oid), true, TYPALIGN_INT));
	foreach(lc, plan->levels)
		table_close(((TypeLevel *) lfirst(lc))->rel, NoLock);
	plan->levels = NIL;

	edp_spi_begin(&owner, owner_id, EDP_RESTRICTED | EDP_PIN_PATH);
	if (SPI_execute_with_args("SELECT edp_internal.route_defaults($1, $2)",
							  2, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "edp_internal.route_defaults failed");	/* internal error */
	moved = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	edp_spi_end(&owner);
	if (moved)
		plan->ts = plan->types = plan->parents = plan->ptypes = NIL;
	return moved;
}

/*
 * Create the partitions the noted rows need, as the table's owner.  The
 * caller must not hold the root open (CREATE TABLE ... PARTITION OF
 * refuses a parent in use); the type levels this plan opened are closed
 * here.  The plan is empty afterwards.
 */
static void
create_partitions(EdpPartitionPlan *plan, Oid owner_id)
{
	EdpIdentity owner;
	Datum		args[7];
	Oid			argtypes[7] = {REGCLASSOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, BOOLARRAYOID,
	OIDARRAYOID, TEXTARRAYOID, BOOLARRAYOID};
	Datum	   *ts;
	Datum	   *parents;
	int			i;
	ListCell   *lc;

	foreach(lc, plan->levels)
		table_close(((TypeLevel *) lfirst(lc))->rel, NoLock);
	plan->levels = NIL;
	if (!edp_partitions_plan_pending(plan))
		return;

	ts = palloc(sizeof(Datum) * Max(list_length(plan->ts), 1));
	i = 0;
	foreach(lc, plan->ts)
		ts[i++] = PointerGetDatum(lfirst(lc));
	parents = palloc(sizeof(Datum) * Max(list_length(plan->parents), 1));
	i = 0;
	foreach(lc, plan->parents)
		parents[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	args[0] = ObjectIdGetDatum(plan->root);
	args[1] = PointerGetDatum(construct_array(ts, list_length(plan->ts), TIMESTAMPTZOID,
											  sizeof(TimestampTz), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[2] = text_array(plan->types, &args[3]);
	args[4] = PointerGetDatum(construct_array(parents, list_length(plan->parents), OIDOID,
											  sizeof(Oid), true, TYPALIGN_INT));
	args[5] = text_array(plan->ptypes, &args[6]);

	edp_spi_begin(&owner, owner_id, EDP_RESTRICTED | EDP_PIN_PATH);
	if (SPI_execute_with_args("SELECT edp_internal.add_partitions($1, $2, $3, $4, $5, $6, $7)",
							  7, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "edp_internal.add_partitions failed");	/* internal error */
	edp_spi_end(&owner);

	plan->ts = plan->types = plan->parents = plan->ptypes = NIL;
}

/*
 * Create the partitions the rows of a load need before it writes them:
 * note_rows passes each row to edp_partitions_plan_row.  *rel, the
 * caller's reference to the root, is closed while partitions are created
 * (its lock stays) and opened again; rows that earlier statements of the
 * transaction left in a DEFAULT partition are routed first, and then the
 * rows are noted once more, as the partitions have changed.
 */
void
edp_partitions_prepare(EdpPartitionPlan *plan, Relation *rel,
					   EdpPartitionRows note_rows, void *arg)
{
	Oid			relid = RelationGetRelid(*rel);
	Oid			owner = (*rel)->rd_rel->relowner;
	int			pass;

	for (pass = 0; pass < 2; pass++)
	{
		note_rows(plan, *rel, arg);
		if (!edp_partitions_plan_pending(plan))
			break;
		table_close(*rel, NoLock);
		*rel = NULL;
		if (pass > 0 || !route_defaults(plan, owner))
		{
			create_partitions(plan, owner);
			pass = 2;
		}
		*rel = table_open(relid, RowExclusiveLock);
	}
	create_partitions(plan, owner);	/* nothing left: closes what it opened */
}
