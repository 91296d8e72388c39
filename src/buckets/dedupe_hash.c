/*-------------------------------------------------------------------------
 *
 * buckets/dedupe_hash.c
 *		The 64-bit key of dedupe's index: edp_internal.dedupe_hash(VARIADIC
 *		"any") and the rule for when a dedupe key can use it.
 *
 * A dedupe key of several wide columns (an md5 text id, a type, a uuid, a
 * timestamp) as a btree of those columns costs as much at ingest as the
 * table itself: every row's insert compares text keys down a large index.
 * Dedupe only ever asks "which stored rows equal these keys?", so a btree
 * over one int8 hash of the key answers it just as well (the query then
 * compares the real columns, so a collision costs a read, never a wrong
 * answer), at a fraction of the size and of the insert cost.
 *
 * The hash of each column is its type's extended hash function (the one
 * hash partitioning and hash indexes use), which agrees with the type's
 * equality; a column of a type without one, or with a nondeterministic
 * collation (where equal strings need not have equal bytes), keeps the
 * plain btree of the columns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_collation.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "buckets/buckets.h"

/* what one call site needs per argument, cached in fn_extra */
typedef struct DedupeHashArgs
{
	int			nargs;
	FmgrInfo   *procs;
	Oid		   *collations;
} DedupeHashArgs;

/* NULL columns still count, as a fixed value */
#define DEDUPE_HASH_NULL	UINT64CONST(0x9e3779b97f4a7c15)

static DedupeHashArgs *
dedupe_hash_args(FunctionCallInfo fcinfo)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	DedupeHashArgs *a = (DedupeHashArgs *) flinfo->fn_extra;
	List	   *args = NIL;
	int			i;

	if (a != NULL)
		return a;
	if (get_fn_expr_variadic(flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("edp_internal.dedupe_hash() takes its columns as separate arguments, not a VARIADIC array")));
	if (flinfo->fn_expr != NULL && IsA(flinfo->fn_expr, FuncExpr))
		args = ((FuncExpr *) flinfo->fn_expr)->args;

	a = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(DedupeHashArgs));
	a->nargs = PG_NARGS();
	a->procs = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(FmgrInfo) * Max(a->nargs, 1));
	a->collations = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(Oid) * Max(a->nargs, 1));
	for (i = 0; i < a->nargs; i++)
	{
		Oid			type = get_fn_expr_argtype(flinfo, i);
		TypeCacheEntry *tc;

		if (!OidIsValid(type))
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine the type of argument %d of edp_internal.dedupe_hash()", i + 1)));
		tc = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
		if (!OidIsValid(tc->hash_extended_proc))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("type %s has no extended hash function", format_type_be(type)),
					 errhint("edp.enable_dedupe() indexes such keys by their columns instead.")));
		fmgr_info_cxt(tc->hash_extended_proc, &a->procs[i], flinfo->fn_mcxt);
		/* each column hashes under its own collation (a deterministic one: bytes) */
		a->collations[i] = args != NIL && i < list_length(args)
			? exprCollation((Node *) list_nth(args, i)) : InvalidOid;
		if (!OidIsValid(a->collations[i]) && type_is_collatable(type))
			a->collations[i] = DEFAULT_COLLATION_OID;
	}
	flinfo->fn_extra = a;
	return a;
}

/*
 * edp_internal.dedupe_hash(VARIADIC "any") RETURNS int8: one hash of all
 * its arguments, in order; equal keys (by each type's equality) hash
 * equal.  Immutable: built-in types' hash functions are.
 */
PG_FUNCTION_INFO_V1(edp_dedupe_hash);
Datum
edp_dedupe_hash(PG_FUNCTION_ARGS)
{
	DedupeHashArgs *a = dedupe_hash_args(fcinfo);
	uint64		h = 0;
	int			i;

	for (i = 0; i < a->nargs; i++)
	{
		uint64		v;

		if (PG_ARGISNULL(i))
			v = DEDUPE_HASH_NULL;
		else
			v = DatumGetUInt64(FunctionCall2Coll(&a->procs[i], a->collations[i],
												 PG_GETARG_DATUM(i), Int64GetDatum(0)));
		h = hash_combine64(h, v);
	}
	PG_RETURN_INT64((int64) h);
}

/*
 * Can the dedupe key of columns (name[]) of rel be indexed by its hash?
 * Two or more columns (one column is its own best key), each of a type with
 * an extended hash function and, if collatable, a deterministic collation.
 */
bool
edp_dedupe_hashable(Relation rel, Datum columns)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *names;
	int			n;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(columns), NAMEOID, NAMEDATALEN, false,
					  TYPALIGN_CHAR, &names, NULL, &n);
	if (n < 2)
		return false;
	for (i = 0; i < n; i++)
	{
		AttrNumber	att = InvalidAttrNumber;
		Form_pg_attribute attr;
		int			j;

		for (j = 0; j < desc->natts; j++)
			if (!TupleDescAttr(desc, j)->attisdropped &&
				namestrcmp(&TupleDescAttr(desc, j)->attname, NameStr(*DatumGetName(names[i]))) == 0)
				att = j + 1;
		if (att == InvalidAttrNumber)
			return false;
		attr = TupleDescAttr(desc, att - 1);
		if (!OidIsValid(lookup_type_cache(attr->atttypid, TYPECACHE_HASH_EXTENDED_PROC)->hash_extended_proc))
			return false;
		if (OidIsValid(attr->attcollation) && !get_collation_isdeterministic(attr->attcollation))
			return false;
	}
	return true;
}

/* edp_internal.dedupe_hashable(regclass, name[]): the same for SQL */
PG_FUNCTION_INFO_V1(edp_dedupe_hashable_sql);
Datum
edp_dedupe_hashable_sql(PG_FUNCTION_ARGS)
{
	Relation	rel;
	bool		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	rel = relation_open(PG_GETARG_OID(0), AccessShareLock);
	result = edp_dedupe_hashable(rel, PG_GETARG_DATUM(1));
	relation_close(rel, AccessShareLock);
	PG_RETURN_BOOL(result);
}
