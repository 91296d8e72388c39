/*-------------------------------------------------------------------------
 *
 * buckets/counts.c
 *		edp.bucket_counts(): events of one key per fixed bucket in
 *		[from, to), zero-filled, served from the rollup table where it can.
 *		edp.bucket_counts_by(): the same per value of any column.
 *
 * The answer is assembled from sorted (bucket, events) pieces:
 *
 *   raw [from, from')   rollup [from', to')   raw [to', to)
 *
 * where from' and to' are from and to rounded inward to the rollup grid.
 * Raw pieces are read through the (key, ts) index and bucketed in SQL by
 * edp.bucket_start(); the rollup is used only when it is not stale and
 * each of its buckets lies inside one output bucket (its width divides the
 * requested one and the zone's offset keeps the grids aligned); otherwise
 * the whole range is read raw.  A query therefore never answers from a
 * rollup that cannot represent it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "buckets/buckets.h"
#include "core/citus.h"
#include "core/compat.h"
#include "buckets/rollup_packed.h"
#include "core/security.h"

/* what edp.event_tables says about the table */
typedef struct BucketSettings
{
	char		keycol[NAMEDATALEN];
	char		tscol[NAMEDATALEN];
	Oid			rollup;			/* InvalidOid: none */
	int64		rollup_width_us;
	bool		stale;
} BucketSettings;

/* saved plans for one (table, key argument type) */
typedef struct BucketPlans
{
	Oid			relid;
	Oid			keytype;
	Oid			rollup;
	char		keycol[NAMEDATALEN];
	char		tscol[NAMEDATALEN];
	SPIPlanPtr	rollup_plan;
	SPIPlanPtr	raw_plan;
} BucketPlans;

#define PLAN_CACHE_SIZE 8
static BucketPlans plan_cache[PLAN_CACHE_SIZE];

/*
 * Settings cached per table, dropped by a relcache invalidation of the
 * table: every edp function that changes a table's row of edp.event_tables
 * sends one (edp_internal.invalidate_settings), so bucket queries skip the catalog
 * lookup.
 */
typedef struct CachedSettings
{
	Oid			relid;
	BucketSettings s;
} CachedSettings;

#define SETTINGS_CACHE_SIZE 16
static CachedSettings settings_cache[SETTINGS_CACHE_SIZE];
static int	settings_cache_next = 0;
static bool settings_callback_registered = false;

static void
settings_invalidate(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < SETTINGS_CACHE_SIZE; i++)
		if (!OidIsValid(relid) || settings_cache[i].relid == relid)
			settings_cache[i].relid = InvalidOid;
}
static int	plan_cache_next = 0;
static SPIPlanPtr settings_plan = NULL;

/* accumulates sorted (bucket, events) pieces into output rows */
typedef struct BucketEmitter
{
	const EdpBucketSpec *spec;
	bool		fill;
	TimestampTz to;
	TimestampTz fill_next;
	bool		have;
	TimestampTz cur;
	int64		events;
	int			ncols;			/* 2, or 3 with a leading group value */
	Datum		group;
	bool		group_null;
	Tuplestorestate *store;
	TupleDesc	desc;
} BucketEmitter;

/* An emitter writing ncols-column rows into the SRF's tuplestore. */
static void
emitter_init(BucketEmitter *e, const EdpBucketSpec *spec, bool fill,
			 TimestampTz to, int ncols, ReturnSetInfo *rsinfo)
{
	memset(e, 0, sizeof(*e));
	e->spec = spec;
	e->fill = fill;
	e->to = to;
	e->ncols = ncols;
	e->store = rsinfo->setResult;
	e->desc = rsinfo->setDesc;
}

static void
emitter_put(BucketEmitter *e, TimestampTz b, int64 n)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int			i = 0;

	if (e->ncols == 3)
	{
		values[0] = e->group;
		nulls[0] = e->group_null;
		i = 1;
	}
	values[i] = TimestampTzGetDatum(b);
	values[i + 1] = Int64GetDatum(n);
	tuplestore_putvalues(e->store, e->desc, values, nulls);
}

static void
emitter_flush(BucketEmitter *e)
{
	if (!e->have)
		return;
	if (e->fill)
	{
		while (e->fill_next < e->cur)
		{
			emitter_put(e, e->fill_next, 0);
			e->fill_next = edp_bucket_next(e->spec, e->fill_next);
		}
		emitter_put(e, e->cur, e->events);
		e->fill_next = edp_bucket_next(e->spec, e->cur);
	}
	else if (e->events != 0)
		emitter_put(e, e->cur, e->events);
	e->have = false;
}

/* pieces arrive in non-decreasing bucket order */
static void
emitter_add(BucketEmitter *e, TimestampTz b, int64 n)
{
	if (e->have && b == e->cur)
	{
		e->events += n;
		return;
	}
	emitter_flush(e);
	e->have = true;
	e->cur = b;
	e->events = n;
}

static void
emitter_begin(BucketEmitter *e, TimestampTz from)
{
	e->have = false;
	e->fill_next = edp_bucket_start(e->spec, from);
}

static void
emitter_finish(BucketEmitter *e)
{
	emitter_flush(e);
	if (e->fill)
	{
		while (e->fill_next < e->to)
		{
			emitter_put(e, e->fill_next, 0);
			e->fill_next = edp_bucket_next(e->spec, e->fill_next);
		}
	}
}

/* read the bucket settings of relid from edp.event_tables (inside SPI) */
static bool
load_settings(Oid relid, BucketSettings *s)
{
	Datum		arg = ObjectIdGetDatum(relid);
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		d;

	if (settings_plan == NULL)
	{
		Oid			argtype = REGCLASSOID;
		SPIPlanPtr	plan;

		plan = SPI_prepare("SELECT key_column::pg_catalog.text, ts_column::pg_catalog.text, rollup_relid::pg_catalog.oid, "
						   "rollup_width, rollup_stale FROM edp.event_tables "
						   "WHERE relid OPERATOR(pg_catalog.=) $1", 1, &argtype);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for edp.event_tables lookup");	/* internal error */
		SPI_keepplan(plan);
		settings_plan = plan;
	}
	if (SPI_execute_plan(settings_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "edp.event_tables lookup failed");	/* internal error */
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(s, 0, sizeof(*s));
	d = SPI_getbinval(tup, desc, 1, &isnull);
	if (isnull)
		return false;
	strlcpy(s->keycol, TextDatumGetCString(d), NAMEDATALEN);
	d = SPI_getbinval(tup, desc, 2, &isnull);
	if (isnull)
		return false;
	strlcpy(s->tscol, TextDatumGetCString(d), NAMEDATALEN);
	d = SPI_getbinval(tup, desc, 3, &isnull);
	s->rollup = isnull ? InvalidOid : DatumGetObjectId(d);
	d = SPI_getbinval(tup, desc, 4, &isnull);
	if (!isnull)
	{
		Interval   *iv = DatumGetIntervalP(d);

		s->rollup_width_us = iv->time + (int64) iv->day * USECS_PER_DAY;
	}
	else
		s->rollup = InvalidOid;
	d = SPI_getbinval(tup, desc, 5, &isnull);
	s->stale = !isnull && DatumGetBool(d);
	return true;
}

static void
require_settings(Oid relid, BucketSettings *s)
{
	int			i;

	if (!settings_callback_registered)
	{
		CacheRegisterRelcacheCallback(settings_invalidate, (Datum) 0);
		settings_callback_registered = true;
	}
	for (i = 0; i < SETTINGS_CACHE_SIZE; i++)
	{
		if (settings_cache[i].relid == relid && OidIsValid(relid))
		{
			*s = settings_cache[i].s;
			return;
		}
	}
	if (!load_settings(relid, s))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no bucket settings", get_rel_name(relid)),
				 errhint("Call edp.enable_rollup() on the table first.")));
	settings_cache[settings_cache_next].relid = relid;
	settings_cache[settings_cache_next].s = *s;
	settings_cache_next = (settings_cache_next + 1) % SETTINGS_CACHE_SIZE;
}

/*
 * edp_internal.invalidate_settings(tbl): tells every backend that the bucket
 * settings of tbl changed (a relcache invalidation of tbl).
 */
PG_FUNCTION_INFO_V1(edp_invalidate_settings);
Datum
edp_invalidate_settings(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	/* a dropped table has had its invalidation already */
	if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}

/* "$1::keytype" unless the argument already has the column's type */
static char *
key_cast(Oid relid, const char *keycol, Oid argtype)
{
	AttrNumber	att = get_attnum(relid, keycol);
	Oid			coltype;

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"%s\" does not exist",
						keycol, get_rel_name(relid))));
	coltype = get_atttype(relid, att);
	if (coltype == argtype)
		return pstrdup("$1");

	/*
	 * text (edp.bucket_counts(regclass, text, ...), which an untyped literal
	 * resolves to) is read as the column's type; any other type must
	 * convert implicitly: an integer key is no text key, and casting it
	 * would only find nothing.
	 */
	if (argtype != TEXTOID && !can_coerce_type(1, &argtype, &coltype, COERCION_IMPLICIT))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("key of type %s does not match key column \"%s\" of table \"%s\", of type %s",
						format_type_be(argtype), keycol, get_rel_name(relid), format_type_be(coltype)),
				 errhint("Pass the key as %s (for example '...'::%s), or as an untyped literal.",
						 format_type_be(coltype), format_type_be(coltype))));
	return psprintf("$1::%s", format_type_be_qualified(coltype));
}

/*
 * A key given as text (an untyped literal) is read with the key column's
 * own input function here, so that a value the type refuses is its plain
 * error, not one of an internal query.
 */
static Datum
key_from_text(Oid relid, const char *keycol, Datum key, Oid *keytype)
{
	AttrNumber	att;
	Oid			coltype;
	int32		coltypmod;
	Oid			infunc;
	Oid			ioparam;
	Oid			collation;

	if (*keytype != TEXTOID)
		return key;
	att = get_attnum(relid, keycol);
	if (att == InvalidAttrNumber)
		return key;				/* key_cast reports it */
	get_atttypetypmodcoll(relid, att, &coltype, &coltypmod, &collation);
	if (coltype == TEXTOID)
		return key;
	getTypeInputInfo(coltype, &infunc, &ioparam);
	*keytype = coltype;
	return OidInputFunctionCall(infunc, TextDatumGetCString(key), ioparam, coltypmod);
}

static BucketPlans *
get_plans(Oid relid, Oid keytype, const BucketSettings *s)
{
	int			i;
	BucketPlans *p;
	char	   *qualified;
	char	   *cast;
	char	   *sql;
	Oid			argtypes[5] = {keytype, TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID, TEXTOID};

	for (i = 0; i < PLAN_CACHE_SIZE; i++)
	{
		p = &plan_cache[i];
		if (p->relid == relid && p->keytype == keytype && p->rollup == s->rollup &&
			strcmp(p->keycol, s->keycol) == 0 && strcmp(p->tscol, s->tscol) == 0)
			return p;
	}
	p = &plan_cache[plan_cache_next];
	plan_cache_next = (plan_cache_next + 1) % PLAN_CACHE_SIZE;
	if (p->rollup_plan)
		SPI_freeplan(p->rollup_plan);
	if (p->raw_plan)
		SPI_freeplan(p->raw_plan);
	memset(p, 0, sizeof(*p));

	qualified = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										   get_rel_name(relid));
	cast = key_cast(relid, s->keycol, keytype);
	sql = psprintf("SELECT edp.bucket_start(%s, $4, $5), pg_catalog.count(*) FROM %s "
				   "WHERE %s OPERATOR(pg_catalog.=) %s AND %s OPERATOR(pg_catalog.>=) $2 "
				   "AND %s OPERATOR(pg_catalog.<) $3 GROUP BY 1 ORDER BY 1",
				   quote_identifier(s->tscol), qualified,
				   quote_identifier(s->keycol), cast,
				   quote_identifier(s->tscol), quote_identifier(s->tscol));
	p->raw_plan = SPI_prepare(sql, 5, argtypes);
	if (p->raw_plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", sql);
	SPI_keepplan(p->raw_plan);

	if (OidIsValid(s->rollup))
	{
		char	   *rq = quote_qualified_identifier(get_namespace_name(get_rel_namespace(s->rollup)),
													get_rel_name(s->rollup));

		sql = psprintf("SELECT chunk_start, packed FROM %s WHERE key OPERATOR(pg_catalog.=) %s "
					   "AND chunk_start OPERATOR(pg_catalog.>=) $2 AND chunk_start OPERATOR(pg_catalog.<) $3 "
					   "ORDER BY chunk_start",
					   rq, cast);
		p->rollup_plan = SPI_prepare(sql, 3, argtypes);
		if (p->rollup_plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", sql);
		SPI_keepplan(p->rollup_plan);
	}
	p->relid = relid;
	p->keytype = keytype;
	p->rollup = s->rollup;
	strlcpy(p->keycol, s->keycol, NAMEDATALEN);
	strlcpy(p->tscol, s->tscol, NAMEDATALEN);
	return p;
}

/* raw rows of the key in [a, b), bucketed, into the emitter */
static void
add_raw(BucketEmitter *e, BucketPlans *p, Datum key, TimestampTz a, TimestampTz b,
		Datum width, Datum tz)
{
	Datum		args[5] = {key, TimestampTzGetDatum(a), TimestampTzGetDatum(b), width, tz};
	uint64		i;

	if (a >= b)
		return;
	if (SPI_execute_plan(p->raw_plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "raw bucket query failed");	/* internal error */
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[i];
		TimestampTz bs = DatumGetTimestampTz(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		int64		n = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));

		emitter_add(e, bs, n);
	}
	SPI_freetuptable(SPI_tuptable);
}

static TimestampTz
grid_floor(TimestampTz t, int64 w)
{
	return edp_floor_div(t, w) * w;
}

static void
check_bounds_not_null(FunctionCallInfo fcinfo, int from_arg)
{
	if (PG_ARGISNULL(from_arg) || PG_ARGISNULL(from_arg + 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bucket range bounds must not be NULL"),
				 errhint("Give both from and to; the range is [from, to).")));
}

static void
check_fill_size(const EdpBucketSpec *spec, TimestampTz from, TimestampTz to, bool fill)
{
	int64		n;

	if (!fill)
		return;
	n = edp_bucket_estimate(spec, from, to);
	if (n > edp_max_buckets)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("zero-filled range would hold about " INT64_FORMAT " buckets", n),
				 errdetail("edp.max_buckets is %d.", edp_max_buckets),
				 errhint("Use a wider bucket, a shorter range, fill => false, or raise edp.max_buckets.")));
}

/* what one query needs to turn rollup rows into buckets */
typedef struct RollupPiece
{
	BucketEmitter *e;
	BucketPlans *p;
	const EdpBucketSpec *spec;
	Datum		key;
	TimestampTz from_al;		/* the rollup part [from_al, to_al) */
	TimestampTz to_al;
	int64		rw;				/* rollup width */
	Datum		width;
	Datum		tz;
} RollupPiece;

/* the buckets of one rollup row (chunk, packed) inside the rollup part */
static void
add_rollup_row(RollupPiece *rp, TimestampTz chunk, Datum packed_datum)
{
	ArrayType  *packed = DatumGetArrayTypeP(packed_datum);
	int			npairs;
	int64	   *pairs = edp_rollup_pairs(packed, &npairs);
	int			j;

	for (j = 0; j < npairs; j++)
	{
		TimestampTz r = chunk + pairs[2 * j] * rp->rw;
		int64		n = pairs[2 * j + 1];
		TimestampTz bs;

		if (r < rp->from_al || r >= rp->to_al)
			continue;
		bs = edp_bucket_start(rp->spec, r);
		/* named zones: a rollup bucket cut by an output boundary reads raw */
		if (!rp->spec->fixed && edp_bucket_start(rp->spec, r + rp->rw - 1) != bs)
			add_raw(rp->e, rp->p, rp->key, r, r + rp->rw, rp->width, rp->tz);
		else
			emitter_add(rp->e, bs, n);
	}
	if ((Pointer) packed != DatumGetPointer(packed_datum))
		pfree(packed);
}

/*
 * The rollup rows of key with chunk_start in [lo, hi), read straight
 * through the rollup's primary key (key, chunk_start).  A short query is
 * mostly fixed cost, and starting an executor for the SPI plan was most of
 * it (a typical key's day is one rollup row).  False when the SPI plan must
 * do it: the argument's type differs from the key column's (the plan casts
 * it), or row-level security applies to the rollup.
 */
static bool
scan_rollup_direct(Oid rollup, Datum key, Oid keytype, TimestampTz lo, TimestampTz hi,
				   RollupPiece *rp)
{
	Relation	rel;
	Relation	idx;
	Oid			pk;
	Oid			eqop;
	ScanKeyData keys[3];
	IndexScanDesc scan;
	TupleTableSlot *slot;

	if (check_enable_rls(rollup, InvalidOid, true) == RLS_ENABLED)
		return false;
	rel = table_open(rollup, AccessShareLock);
	pk = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(pk) || TupleDescAttr(RelationGetDescr(rel), 0)->atttypid != keytype)
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	idx = index_open(pk, AccessShareLock);
	eqop = get_opfamily_member(idx->rd_opfamily[0], idx->rd_opcintype[0], keytype,
							   BTEqualStrategyNumber);
	if (idx->rd_index->indnatts != 2 || idx->rd_index->indkey.values[0] != 1 ||
		idx->rd_index->indkey.values[1] != 2 || !OidIsValid(eqop) ||
		TupleDescAttr(RelationGetDescr(rel), 1)->atttypid != TIMESTAMPTZOID)
	{
		index_close(idx, AccessShareLock);
		table_close(rel, AccessShareLock);
		return false;
	}
	ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], get_opcode(eqop), key);
	ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE,
				TimestampTzGetDatum(lo));
	ScanKeyInit(&keys[2], 2, BTLessStrategyNumber, F_TIMESTAMPTZ_LT,
				TimestampTzGetDatum(hi));
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, idx, GetActiveSnapshot(), 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		TimestampTz chunk = DatumGetTimestampTz(slot_getattr(slot, 2, &isnull));
		Datum		packed = slot_getattr(slot, 3, &isnull);

		if (!isnull)
			add_rollup_row(rp, chunk, packed);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	/* locks are held to the end of the transaction, as a query's are */
	index_close(idx, NoLock);
	table_close(rel, NoLock);
	return true;
}

/*
 * edp.bucket_counts(tbl, key, from, to, width, tz, fill)
 *		RETURNS TABLE (bucket_start timestamptz, events bigint)
 */
PG_FUNCTION_INFO_V1(edp_bucket_counts);
Datum
edp_bucket_counts(PG_FUNCTION_ARGS)
{
	EdpIdentity spi;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	Oid			keytype;
	Datum		key;
	TimestampTz from;
	TimestampTz to;
	Interval   *width;
	text	   *tz;
	bool		fill;
	EdpBucketSpec spec;
	BucketSettings s;
	BucketPlans *p;
	BucketEmitter e;
	bool		use_rollup;
	char	   *tzname;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be NULL")));
	check_bounds_not_null(fcinfo, 2);
	if (PG_ARGISNULL(4) || PG_ARGISNULL(5) || PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("width, tz and fill must not be NULL")));
	relid = PG_GETARG_OID(0);
	keytype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	from = PG_GETARG_TIMESTAMPTZ(2);
	to = PG_GETARG_TIMESTAMPTZ(3);
	width = PG_GETARG_INTERVAL_P(4);
	tz = PG_GETARG_TEXT_PP(5);
	fill = PG_GETARG_BOOL(6);
	tzname = text_to_cstring(tz);

	edp_bucket_spec_init(&spec, width, tzname);
	edp_bucket_check_range(&spec, from, to);
	check_fill_size(&spec, from, to, fill);

	edp_init_materialized_srf_expected(fcinfo);
	emitter_init(&e, &spec, fill, to, 2, rsinfo);
	emitter_begin(&e, from);

	/* a NULL key matches no event: all buckets are empty */
	if (PG_ARGISNULL(1))
	{
		emitter_finish(&e);
		return (Datum) 0;
	}
	key = PG_GETARG_DATUM(1);

	edp_spi_begin(&spi, InvalidOid, EDP_AS_CALLER);
	require_settings(relid, &s);
	key = key_from_text(relid, s.keycol, key, &keytype);
	p = get_plans(relid, keytype, &s);

	/*
	 * A Citus table's rows are in its shards, which edp's rollup does not
	 * follow: count them through Citus (the raw query runs on the shards).
	 */
	use_rollup = OidIsValid(s.rollup) && !s.stale && s.rollup_width_us > 0 &&
		!edp_is_citus_table(relid) &&
		spec.width_us % s.rollup_width_us == 0 &&
		(!spec.fixed || spec.offset_us % s.rollup_width_us == 0) &&
		pg_class_aclcheck(s.rollup, GetUserId(), ACL_SELECT) == ACLCHECK_OK;

	if (!use_rollup)
		add_raw(&e, p, key, from, to, PointerGetDatum(width), PointerGetDatum(tz));
	else
	{
		int64		rw = s.rollup_width_us;
		TimestampTz from_al = grid_floor(from, rw);
		TimestampTz to_al = grid_floor(to, rw);

		if (from_al < from)
			from_al += rw;
		if (from_al >= to_al)
			add_raw(&e, p, key, from, to, PointerGetDatum(width), PointerGetDatum(tz));
		else
		{
			int64		chunk_len = rw * EDP_ROLLUP_SLOTS;
			Datum		args[3] = {key, TimestampTzGetDatum(grid_floor(from_al, chunk_len)),
			TimestampTzGetDatum(to_al)};
			SPITupleTable *tt;
			uint64		i,
						nrows;

			RollupPiece rp = {&e, p, &spec, key, from_al, to_al, rw, PointerGetDatum(width), PointerGetDatum(tz)};

			add_raw(&e, p, key, from, from_al, PointerGetDatum(width), PointerGetDatum(tz));
			if (!scan_rollup_direct(s.rollup, key, keytype, grid_floor(from_al, chunk_len), to_al, &rp))
			{
				if (SPI_execute_plan(p->rollup_plan, args, NULL, true, 0) != SPI_OK_SELECT)
					elog(ERROR, "rollup bucket query failed");	/* internal error */
				tt = SPI_tuptable;
				nrows = SPI_processed;
				for (i = 0; i < nrows; i++)
				{
					bool		isnull;
					TimestampTz chunk = DatumGetTimestampTz(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));

					add_rollup_row(&rp, chunk, SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
				}
			}
			add_raw(&e, p, key, to_al, to, PointerGetDatum(width), PointerGetDatum(tz));
		}
	}
	emitter_finish(&e);
	edp_spi_end(&spi);
	return (Datum) 0;
}

/*
 * edp.bucket_counts_by(tbl, group_by, from, to, width, tz, fill, key)
 *		RETURNS TABLE (group_value text, bucket_start timestamptz, events bigint)
 *
 * Events per value of any column per bucket, optionally for one key; read
 * from the raw rows (hash aggregate over edp.bucket_start()).
 */
PG_FUNCTION_INFO_V1(edp_bucket_counts_by);
Datum
edp_bucket_counts_by(PG_FUNCTION_ARGS)
{
	EdpIdentity spi;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	char	   *group_col;
	TimestampTz from;
	TimestampTz to;
	Interval   *width;
	text	   *tz;
	bool		fill;
	EdpBucketSpec spec;
	BucketSettings s;
	BucketEmitter e;
	StringInfoData sql;
	Datum		args[5];
	Oid			argtypes[5] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID, TEXTOID, TEXTOID};
	int			nargs = 4;
	uint64		i;
	char	   *prev = NULL;
	bool		prev_null = false;
	bool		first = true;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table and group_by must not be NULL")));
	check_bounds_not_null(fcinfo, 2);
	if (PG_ARGISNULL(4) || PG_ARGISNULL(5) || PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("width, tz and fill must not be NULL")));
	relid = PG_GETARG_OID(0);
	group_col = text_to_cstring(PG_GETARG_TEXT_PP(1));
	from = PG_GETARG_TIMESTAMPTZ(2);
	to = PG_GETARG_TIMESTAMPTZ(3);
	width = PG_GETARG_INTERVAL_P(4);
	tz = PG_GETARG_TEXT_PP(5);
	fill = PG_GETARG_BOOL(6);

	edp_bucket_spec_init(&spec, width, text_to_cstring(tz));
	edp_bucket_check_range(&spec, from, to);
	check_fill_size(&spec, from, to, fill);
	if (get_attnum(relid, group_col) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"%s\" does not exist",
						group_col, get_rel_name(relid))));

	edp_init_materialized_srf(fcinfo);
	emitter_init(&e, &spec, fill, to, 3, rsinfo);

	edp_spi_begin(&spi, InvalidOid, EDP_AS_CALLER);
	require_settings(relid, &s);

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT %s::pg_catalog.text, edp.bucket_start(%s, $3, $4), pg_catalog.count(*) FROM %s "
					 "WHERE %s OPERATOR(pg_catalog.>=) $1 AND %s OPERATOR(pg_catalog.<) $2",
					 quote_identifier(group_col), quote_identifier(s.tscol),
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)),
					 quote_identifier(s.tscol), quote_identifier(s.tscol));
	args[0] = TimestampTzGetDatum(from);
	args[1] = TimestampTzGetDatum(to);
	args[2] = PointerGetDatum(width);
	args[3] = PointerGetDatum(tz);
	if (!PG_ARGISNULL(7))
	{
		AttrNumber	att = get_attnum(relid, s.keycol);

		appendStringInfo(&sql, " AND %s OPERATOR(pg_catalog.=) $5::%s",
						 quote_identifier(s.keycol),
						 format_type_be_qualified(get_atttype(relid, att)));
		args[4] = PG_GETARG_DATUM(7);
		nargs = 5;
	}
	appendStringInfoString(&sql, " GROUP BY 1, 2 ORDER BY 1, 2");
	if (SPI_execute_with_args(sql.data, nargs, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", sql.data);

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		gnull;
		bool		isnull;
		Datum		g = SPI_getbinval(tup, desc, 1, &gnull);
		char	   *gs = gnull ? NULL : TextDatumGetCString(g);
		TimestampTz bs = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
		int64		n = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));

		if (first || gnull != prev_null || (!gnull && strcmp(gs, prev) != 0))
		{
			if (!first)
				emitter_finish(&e);
			first = false;
			prev = gs;
			prev_null = gnull;
			e.group = gnull ? (Datum) 0 : PointerGetDatum(cstring_to_text(gs));
			e.group_null = gnull;
			emitter_begin(&e, from);
		}
		emitter_add(&e, bs, n);
	}
	if (!first)
		emitter_finish(&e);
	edp_spi_end(&spi);
	return (Datum) 0;
}
