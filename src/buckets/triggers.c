/*-------------------------------------------------------------------------
 *
 * buckets/triggers.c
 *		The statement-level AFTER trigger that keeps an event table's rollup
 *		exact and removes duplicate events, in the same transaction as the
 *		rows, for COPY, INSERT, INSERT ... SELECT, UPDATE, DELETE, TRUNCATE.
 *
 * Statement-level triggers with transition tables (REFERENCING NEW TABLE
 * AS edp_new / OLD TABLE AS edp_old) see every row of the statement at
 * once, so COPY keeps its multi-insert path (a BEFORE ROW trigger would
 * force row-at-a-time inserts) and the rollup is updated with one
 * aggregate + upsert per statement instead of one per row.
 *
 *   INSERT    dedupe candidates (before counting), rollup += counts of
 *             edp_new per (key, bucket), then delete the extra copies
 *   DELETE    rollup -= counts of edp_old
 *   UPDATE    rollup -= edp_old, += edp_new
 *   TRUNCATE  rollup emptied (plain table) / -= the partition's rows
 *             (BEFORE TRUNCATE on a partition)
 *
 * Dedupe deletes the extra copies with an ordinary DELETE, whose own
 * DELETE trigger then takes them out of the rollup again.  Work runs as
 * the table's owner (like PostgreSQL's RI triggers), so a user allowed
 * to INSERT into the event table needs no rights on the rollup table;
 * it runs as a security-restricted operation with search_path pinned
 * (core/security.c), so nothing the inserting user defined is looked up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "buckets/buckets.h"
#include "buckets/dedupe_order.h"
#include "buckets/load_history.h"
#include "buckets/rollup_batch.h"
#include "buckets/rollup_packed.h"
#include "core/citus.h"
#include "core/loader.h"
#include "core/security.h"
#include "core/version.h"

/*
 * True while edp moves rows out of a DEFAULT partition: the moved rows are
 * already counted and deduplicated, so the triggers of the partitions
 * involved must not count them again.
 */
static bool routing_in_progress = false;

/*
 * Rows of the current transaction's own writes that dedupe has deleted in
 * this backend, ever: callers that load rows
 * (edp.ingest) read it before and after a batch to count the duplicates
 * among rows they wrote.
 */
uint64		edp_dedupe_removed = 0;

/*
 * Set by a load of several statements (validated ingest: one per batch) to
 * the command id of its first one: the rows it wrote since count as its
 * own.  InvalidCommandId: the statement's own rows.
 */
CommandId	edp_dedupe_load_first_cid = InvalidCommandId;

/*
 * Set by a load that commits several transactions (a background job) to
 * the "{xid,...}" of its committed ones, or NULL: their rows are its own
 * too, for the ledger (a newer version replacing one of them makes that
 * one a duplicate of the job, not a loaded row).
 */
const char *edp_dedupe_load_xids = NULL;

/* above this many candidate keys dedupe joins the batch instead of probing */
#define EDP_DEDUPE_MANY_CANDIDATES 10000

/*
 * Candidates are probed one by one through the index when the table holds
 * this many times more rows than there are candidates (a hash join would
 * read the whole table for them), and their keys fit in arrays of at most
 * EDP_DEDUPE_ARRAY_LIMIT rows.  The planner's own choice for the
 * semi-join is not good enough there: it prices the probes as random
 * reads from disk, and at ten thousand candidates in a 10M-row table it
 * reads the whole table (15 s) instead of probing (a fraction of a second
 * in shared buffers).
 */
#define EDP_DEDUPE_PROBE_RATIO 20.0
#define EDP_DEDUPE_ARRAY_LIMIT 500000

/* advisory lock class serializing dedupe per event table */
#define EDP_DEDUPE_LOCK_CLASS 0x45445031	/* 'EDP1' */

/* what the trigger needs from edp.event_tables */
typedef struct TriggerSettings
{
	char	   *table;			/* quoted qualified name of the event table */
	char	   *keycol;			/* quoted, or NULL */
	char	   *tscol;			/* quoted, or NULL */
	char	   *rollup;			/* quoted qualified rollup table, or NULL */
	char	   *width;			/* rollup width literal */
	bool		stale;
	char	   *mode;			/* none | first | latest */
	char	   *cols;			/* "a, b" */
	char	   *t2cols;			/* "t2.a, t2.b" */
	char	   *notnull;		/* "a IS NOT NULL AND ..." */
	char	   *t3join;			/* "t3.a OPERATOR(pg_catalog.=) g.a AND ..." */
	char	   *t2join;			/* "t2.a OPERATOR(pg_catalog.=) k.a AND ..." */
	char	   *aggs;			/* "pg_catalog.array_agg(c.a), ..." */
	int			ncols;
	bool		covers_bucket;	/* dedupe key holds key and ts columns */
	char	   *ordercol;		/* keep-latest: quoted ordering column */
	char	   *rawkey;			/* unquoted names, for the C pass */
	char	   *rawts;
	Datum		rawcols;		/* name[] of the dedupe columns, or 0 */
	int64		width_us;		/* rollup width in microseconds, or 0 */
	char	   *t2hash;			/* " AND dedupe_hash(t2.a, ..) = dedupe_hash(k.a, ..)", or "" */
	char	   *t3hash;			/* the same for t3 and g */
} TriggerSettings;

static char *
get_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static bool
load_trigger_settings(Oid root, TriggerSettings *s)
{
	Datum		arg = ObjectIdGetDatum(root);
	Oid			argtype = REGCLASSOID;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	const char *sql =
		"SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname),"
		" pg_catalog.quote_ident(e.key_column), pg_catalog.quote_ident(e.ts_column),"
		" (SELECT pg_catalog.quote_ident(rn.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(rc.relname)"
		"    FROM pg_catalog.pg_class rc JOIN pg_catalog.pg_namespace rn ON rn.oid OPERATOR(pg_catalog.=) rc.relnamespace"
		"   WHERE rc.oid OPERATOR(pg_catalog.=) e.rollup_relid),"
		" pg_catalog.quote_literal(e.rollup_width::pg_catalog.text), e.rollup_stale, e.dedupe_mode,"
		" pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(x) FROM pg_catalog.unnest(e.dedupe_columns) x), ', '),"
		" pg_catalog.array_to_string(ARRAY(SELECT 't2.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(x) FROM pg_catalog.unnest(e.dedupe_columns) x), ', '),"
		" pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(x) OPERATOR(pg_catalog.||) ' IS NOT NULL' FROM pg_catalog.unnest(e.dedupe_columns) x), ' AND '),"
		" pg_catalog.array_to_string(ARRAY(SELECT 't3.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(x) OPERATOR(pg_catalog.||) ' OPERATOR(pg_catalog.=) g.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(x) FROM pg_catalog.unnest(e.dedupe_columns) x), ' AND '),"
		" pg_catalog.array_to_string(ARRAY(SELECT 'pg_catalog.array_agg(c.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(x) OPERATOR(pg_catalog.||) ')' FROM pg_catalog.unnest(e.dedupe_columns) x), ', '),"
		" coalesce(pg_catalog.cardinality(e.dedupe_columns), 0),"
		" coalesce(e.key_column OPERATOR(pg_catalog.=) ANY (e.dedupe_columns) AND e.ts_column OPERATOR(pg_catalog.=) ANY (e.dedupe_columns), false),"
		" pg_catalog.quote_ident(coalesce(e.dedupe_order_column, e.ts_column)),"
		" e.key_column::pg_catalog.text, e.ts_column::pg_catalog.text, e.dedupe_columns,"
		" pg_catalog.round(pg_catalog.date_part('epoch', e.rollup_width) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8,"
		" pg_catalog.array_to_string(ARRAY(SELECT 't2.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(x) OPERATOR(pg_catalog.||) ' OPERATOR(pg_catalog.=) k.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(x) FROM pg_catalog.unnest(e.dedupe_columns) x), ' AND ')"
		" FROM edp.event_tables e JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) e.relid"
		" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
		" WHERE e.relid OPERATOR(pg_catalog.=) $1";

	if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "edp.event_tables lookup failed");	/* internal error */
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	s->table = get_text(tup, desc, 1);
	s->keycol = get_text(tup, desc, 2);
	s->tscol = get_text(tup, desc, 3);
	s->rollup = get_text(tup, desc, 4);
	s->width = get_text(tup, desc, 5);
	d = SPI_getbinval(tup, desc, 6, &isnull);
	s->stale = !isnull && DatumGetBool(d);
	s->mode = get_text(tup, desc, 7);
	s->cols = get_text(tup, desc, 8);
	s->t2cols = get_text(tup, desc, 9);
	s->notnull = get_text(tup, desc, 10);
	s->t3join = get_text(tup, desc, 11);
	s->t2join = get_text(tup, desc, 20);
	s->aggs = get_text(tup, desc, 12);
	d = SPI_getbinval(tup, desc, 13, &isnull);
	s->ncols = isnull ? 0 : DatumGetInt32(d);
	d = SPI_getbinval(tup, desc, 14, &isnull);
	s->covers_bucket = !isnull && DatumGetBool(d);
	s->ordercol = get_text(tup, desc, 15);
	s->rawkey = get_text(tup, desc, 16);
	s->rawts = get_text(tup, desc, 17);
	d = SPI_getbinval(tup, desc, 18, &isnull);
	s->rawcols = isnull ? (Datum) 0 : d;
	d = SPI_getbinval(tup, desc, 19, &isnull);
	s->width_us = isnull ? 0 : DatumGetInt64(d);
	if (s->keycol == NULL || s->tscol == NULL || s->width == NULL)
		s->rollup = NULL;
	return true;
}

/* "fn(p.a, p.b)" for the dedupe columns a, b */
static char *
dedupe_hash_call(Datum columns, const char *prefix)
{
	StringInfoData buf;
	Datum	   *names;
	int			n;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(columns), NAMEOID, NAMEDATALEN, false,
					  TYPALIGN_CHAR, &names, NULL, &n);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "edp_internal.dedupe_hash(");
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s.%s", i > 0 ? ", " : "", prefix,
						 quote_identifier(NameStr(*DatumGetName(names[i]))));
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * The condition that lets the dedupe probe use the hash index of a key of
 * several columns (buckets/dedupe_hash.c); on a table indexed by the
 * columns themselves (a 1.0 table) it is only a cheap extra filter.
 */
static void
set_dedupe_hash_conditions(TriggerSettings *s, Relation rel)
{
	s->t2hash = "";
	s->t3hash = "";
	if (s->rawcols == (Datum) 0 || !edp_dedupe_hashable(rel, s->rawcols))
		return;
	s->t2hash = psprintf(" AND %s OPERATOR(pg_catalog.=) %s",
						 dedupe_hash_call(s->rawcols, "t2"), dedupe_hash_call(s->rawcols, "k"));
	s->t3hash = psprintf(" AND %s OPERATOR(pg_catalog.=) %s",
						 dedupe_hash_call(s->rawcols, "t3"), dedupe_hash_call(s->rawcols, "g"));
}

static void
run(const char *sql, int expected)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc != expected)
		elog(ERROR, "edp bucket trigger statement failed (%d): %s", rc, sql);	/* internal error */
}

/*
 * rollup += sign * counts of the rows of source per (key, bucket), packed
 * per (key, chunk) (buckets/rollup_packed.c)
 */
static void
rollup_add(const TriggerSettings *s, const char *source, int sign)
{
	char	   *sql;

	sql = psprintf("INSERT INTO %s AS r (key, chunk_start, packed) "
				   "SELECT %s, edp_internal.rollup_chunk_start(%s, %s::pg_catalog.interval), "
				   "       edp_internal.rollup_agg(%s, %s::pg_catalog.interval, %d) "
				   "  FROM %s WHERE %s IS NOT NULL AND %s IS NOT NULL AND pg_catalog.isfinite(%s) "
				   " GROUP BY 1, 2 ORDER BY 1, 2 "
				   "ON CONFLICT (key, chunk_start) DO UPDATE SET packed = edp_internal.rollup_merge(r.packed, excluded.packed)",
				   s->rollup, s->keycol, s->tscol, s->width,
				   s->tscol, s->width, sign < 0 ? -1 : 1,
				   source, s->keycol, s->tscol, s->tscol);
	run(sql, SPI_OK_INSERT);
}

static RollupBatch *scan_batch(const TriggerSettings *s, Relation rel, Tuplestorestate *rows,
							   int sign, bool with_dedupe, const int64 *arrival);

/* rollup += sign * the rows of a transition table, in C when it can */
static void
rollup_delta(const TriggerSettings *s, Relation rel, Tuplestorestate *rows,
			 const char *name, int sign)
{
	RollupBatch *batch = scan_batch(s, rel, rows, sign, false, NULL);

	if (batch != NULL)
		edp_rollup_batch_write(batch, s->rollup);
	else
		rollup_add(s, name, sign);
}

/*
 * Delete the extra copies among rows sharing a dedupe key with a row of
 * edp_new.  Mode "first": the copy that was there first survives (rows of
 * earlier transactions before ours, then the statement's own copies in
 * arrival order).  Mode "latest": the copy with the latest ordering column
 * survives, ties as in "first".
 *
 * Two steps: a query over the batch finds the candidate keys (usually
 * none on a fresh load), then only those keys are read back from the
 * table, through its index, by a DELETE that gets them as arrays.
 */

/* concurrent loads of one table dedupe one after the other */
static void
dedupe_lock(Oid root)
{
	run(psprintf("SELECT pg_catalog.pg_advisory_xact_lock(%d, %d)",
				 EDP_DEDUPE_LOCK_CLASS, (int32) root), SPI_OK_SELECT);
}

/*
 * The statement's rows read once in C (buckets/rollup_batch.c), or NULL when the
 * SQL forms must do the work: no transition table, a column edp cannot
 * find by name, or a type without hash support.
 */
static RollupBatch *
scan_batch(const TriggerSettings *s, Relation rel, Tuplestorestate *rows, int sign,
		   bool with_dedupe, const int64 *arrival)
{
	RollupBatchSpec spec;
	TupleDesc	desc = RelationGetDescr(rel);

	if (rows == NULL || s->rawkey == NULL || s->rawts == NULL)
		return NULL;
	spec.desc = desc;
	spec.key_att = SPI_fnumber(desc, s->rawkey);
	spec.ts_att = SPI_fnumber(desc, s->rawts);
	if (spec.key_att <= 0 || spec.ts_att <= 0 ||
		TupleDescAttr(desc, spec.ts_att - 1)->atttypid != TIMESTAMPTZOID)
		return NULL;
	spec.width_us = s->width_us;
	if (spec.width_us <= 0)
		return NULL;
	spec.sign = sign;
	spec.ndedupe = 0;
	spec.dedupe_atts = NULL;
	spec.arrival = arrival;
	spec.keep_fingerprints = with_dedupe && edp_dedupe_load_history != NULL;
	if (with_dedupe)
	{
		Datum	   *names;
		int			n;
		int			i;

		if (s->rawcols == (Datum) 0)
			return NULL;
		deconstruct_array(DatumGetArrayTypeP(s->rawcols), NAMEOID, NAMEDATALEN, false,
						  TYPALIGN_CHAR, &names, NULL, &n);
		spec.ndedupe = n;
		spec.dedupe_atts = palloc(sizeof(AttrNumber) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			spec.dedupe_atts[i] = SPI_fnumber(desc, NameStr(*DatumGetName(names[i])));
			if (spec.dedupe_atts[i] <= 0)
				return NULL;
		}
	}
	return edp_rollup_batch_scan(rows, &spec);
}

/*
 * Step 1, before the rollup counts the batch: the candidate keys.  Keys
 * repeated inside the batch, and keys that may already exist: with a live
 * rollup and a key holding the bucket columns, only keys in buckets that
 * already hold events; otherwise keys whose count in the table exceeds
 * the batch's (index probes).  Usually none on a fresh load.
 */
static void
dedupe_candidates(const TriggerSettings *s, DedupeCandidates *dc)
{
	bool		latest = strcmp(s->mode, "latest") == 0;
	char	   *cand;
	char	   *sql;
	int			i;
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	if (latest)
		cand = psprintf("SELECT DISTINCT %s FROM edp_new WHERE %s", s->cols, s->notnull);
	else if (s->rollup != NULL && !s->stale && s->covers_bucket)
		cand = psprintf("SELECT %s FROM (SELECT %s, pg_catalog.count(*) AS edp_n_ FROM edp_new WHERE %s GROUP BY %s) g"
						" LEFT JOIN %s r ON r.key OPERATOR(pg_catalog.=) g.%s"
						"  AND r.chunk_start OPERATOR(pg_catalog.=) edp_internal.rollup_chunk_start(g.%s, %s::pg_catalog.interval)"
						" WHERE g.edp_n_ OPERATOR(pg_catalog.>) 1 OR NOT pg_catalog.isfinite(g.%s) OR edp_internal.rollup_count(r.packed,"
						"   (pg_catalog.date_part('epoch', pg_catalog.date_bin(%s::pg_catalog.interval, g.%s, '2000-01-01 00:00:00+00'::pg_catalog.timestamptz)"
						"     OPERATOR(pg_catalog.-) r.chunk_start) OPERATOR(pg_catalog./) pg_catalog.date_part('epoch', %s::pg_catalog.interval))::pg_catalog.int4) OPERATOR(pg_catalog.>) 0",
						s->cols, s->cols, s->notnull, s->cols,
						s->rollup, s->keycol, s->tscol, s->width, s->tscol,
						s->width, s->tscol, s->width);
	else
		cand = psprintf("SELECT %s FROM (SELECT %s, pg_catalog.count(*) AS edp_n_ FROM edp_new WHERE %s GROUP BY %s) g"
						" WHERE g.edp_n_ OPERATOR(pg_catalog.>) 1 OR (SELECT pg_catalog.count(*) FROM %s t3 WHERE %s%s) OPERATOR(pg_catalog.>) g.edp_n_",
						s->cols, s->cols, s->notnull, s->cols, s->table, s->t3join, s->t3hash);

	sql = psprintf("SELECT pg_catalog.count(*), %s FROM (%s) c", s->aggs, cand);
	run(sql, SPI_OK_SELECT);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	dc->n = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	dc->order = NULL;
	dc->ordered = false;
	dc->arrays = palloc(sizeof(Datum) * s->ncols);
	dc->types = palloc(sizeof(Oid) * s->ncols);
	for (i = 0; i < s->ncols; i++)
	{
		/* stays valid: SPI keeps result tables until SPI_finish */
		dc->arrays[i] = SPI_getbinval(tup, desc, i + 2, &isnull);
		dc->types[i] = SPI_gettypeid(desc, i + 2);
	}
}

/*
 * Step 2: delete the extra copies among the rows with a candidate key.
 * Mode "first": the copy that was there first survives (rows of earlier
 * transactions before ours, then the load's own copies in arrival order,
 * buckets/dedupe_order.c).  Mode "latest": the copy with the latest
 * ordering column survives, ties as in "first".  The DELETE fires the
 * DELETE trigger, which takes the rows out of the rollup again.
 */
/* rows the table (all its partitions) holds, as the planner estimates them */
static double
estimated_rows(Oid root)
{
	List	   *rels = find_all_inheritors(root, NoLock, NULL);
	double		total = 0;
	ListCell   *lc;

	foreach(lc, rels)
	{
		Oid			relid = lfirst_oid(lc);
		HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		Form_pg_class c;

		if (!HeapTupleIsValid(tp))
			continue;
		c = (Form_pg_class) GETSTRUCT(tp);
		if (RELKIND_HAS_STORAGE(c->relkind))
		{
			/*
			 * As the planner does: the density the last ANALYZE saw (a
			 * typical one when never analyzed) times the pages the table
			 * has now; a load grows the table after its statistics.
			 */
			Relation	r = relation_open(relid, AccessShareLock);
			double		density = c->reltuples >= 0 && c->relpages > 0
				? c->reltuples / c->relpages : 50.0;

			total += (double) RelationGetNumberOfBlocks(r) * density;
			relation_close(r, AccessShareLock);
		}
		ReleaseSysCache(tp);
	}
	return total;
}

/* are the candidate arrays complete (not cut at the C path's limit)? */
static bool
candidate_arrays_complete(const TriggerSettings *s, const DedupeCandidates *dc)
{
	ArrayType  *a;

	if (s->ncols == 0 || dc->arrays == NULL || dc->arrays[0] == (Datum) 0)
		return false;
	a = DatumGetArrayTypeP(dc->arrays[0]);
	return ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)) == dc->n;
}

/* run sql with order as the one edp_internal.dedupe_arrival() answers from */
static int
execute_with_order(const char *sql, int nargs, Oid *types, Datum *values,
				   DedupeArrival *order)
{
	DedupeArrival *previous = edp_dedupe_arrival_activate(order);
	volatile int rc = 0;

	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		edp_dedupe_arrival_activate(previous);
	}
	PG_END_TRY();
	return rc;
}

/* edp_internal.buckets_trigger() */
static Oid
get_buckets_trigger_oid(void)
{
	return LookupFuncName(list_make2(makeString("edp_internal"), makeString("buckets_trigger")),
						  0, NULL, false);
}

/*
 * May dedupe delete from this partition directly?  Only from one that
 * carries edp's own DELETE trigger (edp_internal.add_leaf_triggers: a
 * partition edp made), which keeps the rollup for a DELETE addressed to
 * it, that the table's owner may delete from, and without policies of its
 * own.
 */
static bool
leaf_deletable(Oid relid)
{
	Relation	rel;
	bool		ok = false;

	if (pg_class_aclcheck(relid, GetUserId(), ACL_DELETE) != ACLCHECK_OK)
		return false;
	rel = relation_open(relid, RowExclusiveLock);
	if (!rel->rd_rel->relrowsecurity && rel->trigdesc != NULL)
	{
		for (int i = 0; i < rel->trigdesc->numtriggers; i++)
		{
			Trigger    *t = &rel->trigdesc->triggers[i];

			if (strcmp(t->tgname, "edp_buckets_delete") == 0 && t->tgenabled != TRIGGER_DISABLED &&
				TRIGGER_FOR_DELETE(t->tgtype) && !TRIGGER_FOR_ROW(t->tgtype) &&
				t->tgfoid == get_buckets_trigger_oid())
				ok = true;
		}
	}
	relation_close(rel, NoLock);
	return ok;
}

/*
 * The extra copies of a partitioned table, deleted partition by partition.
 * ranking: the query that names them (edp_toid, edp_tid, edp_counted).
 *
 * One DELETE on the partitioned table joins those (tableoid, ctid) pairs
 * with every partition: the planner cannot prune on tableoid, and it hashed
 * the whole table for a few hundred copies (a load of 1M rows into 366 day
 * partitions spent 12% of its time there, more as the table grows).  So
 * the copies are read first, then each partition's go with one TID scan,
 * and the same statement takes them out of the rollup (what the table's
 * DELETE trigger does for a DELETE on the table, which this is not: the
 * table's own statement-level DELETE triggers do not fire for them, its
 * row-level ones do).
 */
static void
delete_from_partitions(const TriggerSettings *s, const char *ranking, int nargs,
					   const DedupeCandidates *dc)
{
	SPITupleTable *copies;
	uint64		ncopies;
	uint64		i = 0;

	if (execute_with_order(psprintf("%s ORDER BY 1, 2", ranking), nargs, dc->types, dc->arrays,
						   dc->order) != SPI_OK_SELECT)
		elog(ERROR, "edp dedupe failed: %s", ranking);	/* internal error */
	copies = SPI_tuptable;		/* kept until SPI_finish */
	ncopies = SPI_processed;
	if (ncopies == 0)
		return;
	while (i < ncopies)
	{
		bool		isnull;
		Oid			toid = DatumGetObjectId(SPI_getbinval(copies->vals[i], copies->tupdesc, 1, &isnull));
		uint64		first = i;
		int			n;
		Datum	   *tids;
		Datum	   *counted;
		Oid			types[2] = {TIDARRAYOID, BOOLARRAYOID};
		Datum		values[2];
		char	   *target;
		char	   *sql;

		while (i < ncopies &&
			   DatumGetObjectId(SPI_getbinval(copies->vals[i], copies->tupdesc, 1, &isnull)) == toid)
			i++;
		n = (int) (i - first);
		tids = palloc(sizeof(Datum) * n);
		counted = palloc(sizeof(Datum) * n);
		for (int k = 0; k < n; k++)
		{
			tids[k] = SPI_getbinval(copies->vals[first + k], copies->tupdesc, 2, &isnull);
			counted[k] = SPI_getbinval(copies->vals[first + k], copies->tupdesc, 3, &isnull);
		}
		values[0] = PointerGetDatum(construct_array(tids, n, TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT));
		values[1] = PointerGetDatum(construct_array(counted, n, BOOLOID, 1, true, TYPALIGN_CHAR));
		/* from the partition itself, or through the table as before */
		if (leaf_deletable(toid))
			target = psprintf("ONLY %s t WHERE",
							  quote_qualified_identifier(get_namespace_name(get_rel_namespace(toid)),
														 get_rel_name(toid)));
		else
			target = psprintf("%s t WHERE t.tableoid OPERATOR(pg_catalog.=) %u::pg_catalog.oid AND",
							  s->table, toid);
		sql = psprintf("WITH d AS (DELETE FROM %s t.ctid OPERATOR(pg_catalog.=) ANY ($1)"
					   " RETURNING t.ctid AS edp_tid)"
					   " SELECT pg_catalog.count(*) FILTER (WHERE u.c) FROM d"
					   " JOIN ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS u(t, c)"
					   " ON u.t OPERATOR(pg_catalog.=) d.edp_tid",
					   target);
		if (SPI_execute_with_args(sql, 2, types, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "edp dedupe failed: %s", sql);	/* internal error */
		edp_dedupe_removed += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
}

static void
dedupe_delete(const TriggerSettings *s, Oid root, const DedupeCandidates *dc)
{
	bool		latest = strcmp(s->mode, "latest") == 0;
	StringInfoData unnest;
	char	   *span = "";
	char	   *rows;
	char	   *ranking;
	char	   *sql;
	bool		probe = false;
	bool		with_arrays = true;
	bool		ordered = edp_dedupe_arrival_count(dc->order) > 0;
	int			i;
	const char *columns = "t2.tableoid AS edp_toid, t2.ctid AS edp_tid,"
		" edp_internal.xact_is_current(t2.xmin) AS edp_cur,"
		" t2.cmin::pg_catalog.text::pg_catalog.int8 AS edp_cmin,"
		" pg_catalog.age(t2.xmin) AS edp_age, t2.xmin AS edp_xmin, t2.*";

	if (dc->n == 0)
		return;
	/*
	 * The arrival of this transaction's rows among those whose key repeats
	 * in the load (the whole row is formed only for them)
	 */
	columns = psprintf("%s, %s AS edp_arrival", columns,
					   ordered ? "CASE WHEN edp_internal.xact_is_current(t2.xmin)"
					   " THEN edp_internal.dedupe_arrival(t2) END"
					   : "NULL::pg_catalog.int8");
	initStringInfo(&unnest);
	probe = candidate_arrays_complete(s, dc) &&
		estimated_rows(root) > EDP_DEDUPE_PROBE_RATIO * dc->n;
	if (dc->n > EDP_DEDUPE_MANY_CANDIDATES && !probe)
	{
		with_arrays = false;
		/*
		 * Many candidates (a file loaded again): one hash join of the table
		 * with the batch beats one index probe per candidate.  The batch's
		 * keys are a superset of the candidates; the window below still
		 * deletes only real extra copies.
		 */
		appendStringInfo(&unnest, "SELECT %s FROM edp_new", s->cols);
	}
	else
	{
		appendStringInfoString(&unnest, "SELECT * FROM ROWS FROM (");
		for (i = 0; i < s->ncols; i++)
			appendStringInfo(&unnest, "%spg_catalog.unnest($%d)", i > 0 ? ", " : "", i + 1);
		appendStringInfo(&unnest, ") AS c(%s)", s->cols);
	}

	/*
	 * When the key holds the ts column, the candidates' time span bounds
	 * the rows to read: a BRIN index on ts (raw_index => 'brin') serves it.
	 */
	if (s->covers_bucket && !probe)
		span = psprintf(" AND t2.%s OPERATOR(pg_catalog.>=) (SELECT pg_catalog.min(r.%s) FROM (%s) r)"
						" AND t2.%s OPERATOR(pg_catalog.<=) (SELECT pg_catalog.max(r.%s) FROM (%s) r)",
						s->tscol, s->tscol, unnest.data, s->tscol, s->tscol, unnest.data);
	/*
	 * The stored rows that share a key with a candidate: a semi-join the
	 * planner chooses a way for, or (probe) one index probe per distinct
	 * candidate key, forced by a lateral subquery it cannot flatten.
	 */
	if (probe)
		rows = psprintf("SELECT p.* FROM (SELECT DISTINCT * FROM (%s) u) k"
						" CROSS JOIN LATERAL (SELECT %s FROM %s t2 WHERE %s%s OFFSET 0) p",
						unnest.data, columns, s->table, s->t2join, s->t2hash);
	else
		rows = psprintf("SELECT %s FROM %s t2 WHERE EXISTS (SELECT FROM (%s) k WHERE %s%s)%s",
						columns, s->table, unnest.data, s->t2join, s->t2hash, span);

	/*
	 * Which copy came first: rows of other transactions (the older
	 * transaction first), then this transaction's earlier statements (by
	 * command id), then this statement's own rows ("mine": the highest
	 * command id among this transaction's rows, or those since the load's
	 * first command; an UPDATE earlier in the transaction does not make a
	 * stored row new).  The load's own rows in the order they arrived
	 * (before their subtransactions and command ids: a COPY writes the rows
	 * it spooled for new partitions after the others), then physical order
	 * (copies of one image).
	 */
	ranking = psprintf(" SELECT s.edp_toid, s.edp_tid, s.edp_counted FROM ("
				   "  SELECT c.edp_toid, c.edp_tid, c.edp_mine, (%s) AS edp_counted,"
				   "   pg_catalog.row_number() OVER (PARTITION BY %s ORDER BY %sc.edp_mine, c.edp_cur,"
				   "     CASE WHEN c.edp_mine THEN c.edp_arrival END, c.edp_age DESC,"
				   "     c.edp_cmin, c.edp_toid, c.edp_tid) AS edp_rn"
				   "  FROM (SELECT b.*, %s AS edp_mine FROM (%s) b) c"
				   " ) s WHERE s.edp_rn OPERATOR(pg_catalog.>) 1%s",
				   edp_dedupe_load_xids != NULL
				   ? psprintf("c.edp_mine OR c.edp_xmin OPERATOR(pg_catalog.=) ANY (%s::pg_catalog.xid[])",
							  quote_literal_cstr(edp_dedupe_load_xids))
				   : "c.edp_mine",
				   s->cols,
				   latest ? psprintf("c.%s DESC NULLS LAST, ", s->ordercol) : "",
				   edp_dedupe_load_first_cid != InvalidCommandId
				   ? psprintf("(b.edp_cur AND b.edp_cmin OPERATOR(pg_catalog.>=) %u)", edp_dedupe_load_first_cid)
				   : "(b.edp_cur AND b.edp_cmin OPERATOR(pg_catalog.=) pg_catalog.max(b.edp_cmin) FILTER (WHERE b.edp_cur) OVER ())",
				   rows,
				   latest ? "" : " AND s.edp_mine");

	if (get_rel_relkind(root) == RELKIND_PARTITIONED_TABLE)
	{
		delete_from_partitions(s, ranking, with_arrays ? s->ncols : 0, dc);
		return;
	}
	sql = psprintf("DELETE FROM %s t USING (SELECT r.* FROM (%s) r) d"
				   " WHERE t.tableoid OPERATOR(pg_catalog.=) d.edp_toid AND t.ctid OPERATOR(pg_catalog.=) d.edp_tid"
				   " RETURNING d.edp_counted",
				   s->table, ranking);
	if (execute_with_order(sql, with_arrays ? s->ncols : 0, dc->types, dc->arrays,
						   dc->order) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "edp dedupe failed: %s", sql);	/* internal error */

	/*
	 * Only copies the load wrote are its duplicates (edp_counted): an older
	 * stored version that keep-latest replaces belongs to an earlier load
	 * or statement, which counted it as loaded then.
	 */
	for (i = 0; i < (int) SPI_processed; i++)
	{
		bool		isnull;

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)))
			edp_dedupe_removed++;
	}
}

/* root of a partition tree (the table itself when it is not a partition) */
static Oid
root_of(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	if (rel->rd_rel->relispartition)
	{
		List	   *ancestors = get_partition_ancestors(relid);

		if (ancestors != NIL)
			return llast_oid(ancestors);
	}
	return relid;
}

/*
 * The arrival of the rows of newtable whose dedupe key repeats in it
 * (buckets/dedupe_order.c), for the SQL form of the candidates
 */
static DedupeArrival *
arrival_order(const TriggerSettings *s, Relation rel, Tuplestorestate *newtable,
			  const int64 *arrival)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *names;
	AttrNumber *atts;
	int			n;
	int			i;

	if (newtable == NULL || s->rawcols == (Datum) 0)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(s->rawcols), NAMEOID, NAMEDATALEN, false,
					  TYPALIGN_CHAR, &names, NULL, &n);
	atts = palloc(sizeof(AttrNumber) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		atts[i] = SPI_fnumber(desc, NameStr(*DatumGetName(names[i])));
		if (atts[i] <= 0)
			return NULL;
	}
	return edp_dedupe_arrival_scan(newtable, desc, n, atts, arrival);
}

/*
 * The upkeep of inserted rows (edp_new): dedupe candidates before the
 * rollup counts the rows, rollup += their counts, then the extra copies
 * are deleted (their DELETE trigger takes them out of the rollup again).
 * Runs inside edp_spi_begin as the table's owner, edp_new registered.
 */
static void
insert_upkeep(TriggerSettings *s, Relation rel, Oid root, Tuplestorestate *newtable,
			  const int64 *arrival)
{
	bool		live = s->rollup != NULL && !s->stale;
	bool		dedupe = s->mode != NULL && strcmp(s->mode, "none") != 0 &&
		s->cols != NULL && s->cols[0] != '\0';
	/* candidates from fingerprints + the rollup, or in SQL */
	bool		c_dedupe = dedupe && live && s->covers_bucket && strcmp(s->mode, "first") == 0;
	RollupBatch *batch = NULL;
	DedupeCandidates dc = {0};
	/* a background job's knowledge of its own earlier transactions */
	EdpLoadHistory *history = edp_dedupe_load_history;

	if (live && (!dedupe || c_dedupe))
		batch = scan_batch(s, rel, newtable, 1, c_dedupe, arrival);
	if (dedupe)
	{
		dedupe_lock(root);
		if (batch == NULL ||
			!edp_rollup_batch_candidates(batch, s->rollup, EDP_DEDUPE_ARRAY_LIMIT, &dc,
										 history, root))
		{
			/* rows the history would not know: it stops serving */
			edp_load_history_invalidate(history);
			dedupe_candidates(s, &dc);
		}
		if (dc.n > 0 && !dc.ordered)
			dc.order = arrival_order(s, rel, newtable, arrival);
	}
	else
		edp_load_history_invalidate(history);
	if (batch != NULL)
		edp_rollup_batch_write(batch, s->rollup);
	else if (live)
		rollup_add(s, "edp_new", 1);
	if (dedupe)
		dedupe_delete(s, root, &dc);
	/* the history holds from here on, until another upkeep of inserted rows */
	edp_insert_upkeeps++;
	edp_load_history_seal(history);
}

/*
 * The same for rows the loader wrote with edp's INSERT trigger left out
 * (core/loader.h): rows are the rows as stored, in rel's row type.
 */
void
edp_buckets_insert_upkeep(Relation rel, Tuplestorestate *rows, const int64 *arrival,
						  CommandId first_cid)
{
	EdpIdentity owner;
	TriggerSettings s;
	EphemeralNamedRelation enr;
	Oid			root;

	if (routing_in_progress)
		return;
	edp_require_current_extension();
	root = root_of(rel);
	edp_spi_begin(&owner, rel->rd_rel->relowner, EDP_RESTRICTED);
	enr = palloc0(sizeof(EphemeralNamedRelationData));
	enr->md.name = "edp_new";
	enr->md.reliddesc = RelationGetRelid(rel);
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = tuplestore_tuple_count(rows);
	enr->reldata = rows;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "SPI_register_relation failed");	/* internal error */
	if (load_trigger_settings(root, &s))
	{
		CommandId	save_cid = edp_dedupe_load_first_cid;

		set_dedupe_hash_conditions(&s, rel);
		edp_dedupe_load_first_cid = first_cid;
		PG_TRY();
		{
			insert_upkeep(&s, rel, root, rows, arrival);
		}
		PG_FINALLY();
		{
			edp_dedupe_load_first_cid = save_cid;
		}
		PG_END_TRY();
	}
	edp_spi_end(&owner);
}

/* the loader keeps the upkeep of edp_internal.buckets_trigger()'s INSERTs */
void
edp_buckets_init(void)
{
	edp_loader_register_upkeep("buckets_trigger", edp_buckets_insert_upkeep);
}

/*
 * edp_internal.buckets_trigger(): AFTER ... FOR EACH STATEMENT on an event table
 * (and BEFORE TRUNCATE on its partitions).
 */
PG_FUNCTION_INFO_V1(edp_buckets_trigger);
Datum
edp_buckets_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent ev;
	Relation	rel;
	Oid			root;
	EdpIdentity owner;
	TriggerSettings s;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edp_internal.buckets_trigger() must be called as a trigger")));
	ev = trigdata->tg_event;
	if (!TRIGGER_FIRED_FOR_STATEMENT(ev))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edp_internal.buckets_trigger() must be fired FOR EACH STATEMENT")));
	if (routing_in_progress)
		return PointerGetDatum(NULL);
	edp_require_current_extension();
	rel = trigdata->tg_relation;

	/*
	 * A Citus table's shell holds no rows that Citus reads: its shards do.
	 * What happens to the shell alone (Citus's
	 * truncate_local_data_after_distributing_table) changes no count, and
	 * must not empty the rollup (bucket_counts counts a Citus table's rows
	 * through Citus, not from the rollup).
	 */
	if (edp_is_citus_table(RelationGetRelid(rel)))
		return PointerGetDatum(NULL);
	root = root_of(rel);

	/* act as the table's owner: the rollup belongs to it */
	edp_spi_begin(&owner, rel->rd_rel->relowner, EDP_RESTRICTED);
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");	/* internal error */

	if (load_trigger_settings(root, &s))
	{
		bool		live = s.rollup != NULL && !s.stale;

		set_dedupe_hash_conditions(&s, rel);

		if (TRIGGER_FIRED_BY_INSERT(ev) && TRIGGER_FIRED_AFTER(ev))
			insert_upkeep(&s, rel, root, trigdata->tg_newtable, NULL);
		else if (TRIGGER_FIRED_BY_DELETE(ev) && TRIGGER_FIRED_AFTER(ev))
		{
			if (live)
				rollup_delta(&s, rel, trigdata->tg_oldtable, "edp_old", -1);
		}
		else if (TRIGGER_FIRED_BY_UPDATE(ev) && TRIGGER_FIRED_AFTER(ev))
		{
			if (live)
			{
				rollup_delta(&s, rel, trigdata->tg_oldtable, "edp_old", -1);
				rollup_delta(&s, rel, trigdata->tg_newtable, "edp_new", 1);
			}
		}
		else if (TRIGGER_FIRED_BY_TRUNCATE(ev) && s.rollup != NULL)
		{
			if (TRIGGER_FIRED_AFTER(ev) && root == RelationGetRelid(rel))
				run(psprintf("TRUNCATE %s", s.rollup), SPI_OK_UTILITY);
			else if (TRIGGER_FIRED_BEFORE(ev) && live)
			{
				/* a partition about to be emptied: take its rows out */
				char	   *part = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
															  RelationGetRelationName(rel));

				rollup_add(&s, part, -1);
			}
		}
	}
	edp_spi_end(&owner);
	return PointerGetDatum(NULL);
}

/*
 * edp_internal.xact_is_current(xid): true when the row version with this xmin was
 * written by the current transaction (or one of its subtransactions).
 */
PG_FUNCTION_INFO_V1(edp_xact_is_current);
Datum
edp_xact_is_current(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(TransactionIdIsCurrentTransactionId(DatumGetTransactionId(PG_GETARG_DATUM(0))));
}

/*
 * edp_internal.route_default_trigger(): deferred AFTER INSERT ROW constraint trigger
 * on the DEFAULT partition of an edp-partitioned table.  At commit, once
 * per transaction and partition, it calls edp.route_default(), which
 * creates the missing partitions and moves the rows there.  An AFTER ROW
 * trigger leaves COPY's multi-insert path intact; deferral lets the DDL
 * run after the loading statement has closed the table.
 */
static TransactionId routed_xid = InvalidTransactionId;

/*
 * Move the rows of DEFAULT partition dflt, with the bucket triggers quiet,
 * as as_user (InvalidOid: the caller) under a restricted security context.
 */
static int64
route_default(Oid dflt, Oid as_user)
{
	Datum		arg = ObjectIdGetDatum(dflt);
	Oid			argtype = REGCLASSOID;
	int64		moved = 0;
	EdpIdentity id;

	edp_require_current_extension();
	edp_spi_begin(&id, as_user, EDP_RESTRICTED | EDP_PIN_PATH);
	routing_in_progress = true;
	PG_TRY();
	{
		bool		isnull;

		if (SPI_execute_with_args("SELECT edp_internal.route_default_rows($1)", 1, &argtype, &arg,
								  NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "edp_internal.route_default_rows failed");	/* internal error */
		moved = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	PG_FINALLY();
	{
		routing_in_progress = false;
	}
	PG_END_TRY();
	edp_spi_end(&id);
	return moved;
}

/*
 * edp.route_default(dflt): the same on demand (edp.enable_partitioning
 * routes rows that were there before); returns the number of rows moved.
 */
PG_FUNCTION_INFO_V1(edp_route_default);
Datum
edp_route_default(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(route_default(PG_GETARG_OID(0), InvalidOid));
}

static Oid	routed_rels[16];
static int	routed_count = 0;

PG_FUNCTION_INFO_V1(edp_route_default_trigger);
Datum
edp_route_default_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	Oid			relid;
	TransactionId xid = GetTopTransactionIdIfAny();
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edp_internal.route_default_trigger() must be called as a trigger")));
	edp_require_current_extension();
	rel = trigdata->tg_relation;
	relid = RelationGetRelid(rel);

	/* one routing per transaction and default partition is enough */
	if (xid != routed_xid)
	{
		routed_xid = xid;
		routed_count = 0;
	}
	for (i = 0; i < routed_count; i++)
		if (routed_rels[i] == relid)
			return PointerGetDatum(NULL);
	if (routed_count < (int) lengthof(routed_rels))
		routed_rels[routed_count++] = relid;

	(void) route_default(relid, rel->rd_rel->relowner);
	return PointerGetDatum(NULL);
}
