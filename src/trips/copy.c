/*-------------------------------------------------------------------------
 *
 * trips/copy.c
 *		COPY FROM into a trips table with a fast path for WKT points.
 *
 * The trips file format carries its points as WKT (`POINT (14.49 50.00)`),
 * and PostGIS's WKT parser (a flex lexer and a bison grammar per value) is
 * the slowest part of loading it: the same rows with EWKB hex points load
 * about twice as fast.  So for tables registered in edp.trip_tables edp
 * takes over `COPY t [(cols)] FROM STDIN | 'file'` (text and csv formats)
 * through the ProcessUtility hook and runs PostgreSQL's own COPY --
 * BeginCopyFrom, CopyFrom, EndCopyFrom: batched inserts, defaults,
 * constraints, indexes and the rollup statement triggers all unchanged --
 * with one difference: the input function of the geometry columns.
 *
 * That input function recognises the one shape the trips format uses,
 * `[SRID=n;]POINT(x y)` (any case, any spacing), checks the two numbers
 * against the number syntax of PostGIS's WKT lexer and converts them to
 * the doubles the lexer's atof() (i.e. strtod()) gives, bit for bit
 * (exact_decimal_to_double, else strtod()), writes them as EWKB and hands that to
 * PostGIS's binary receive function for geometry with the column's typmod,
 * so PostGIS still builds the value and applies its SRID and type checks
 * (SRID 0 becomes the column's 4326, as for WKT).  Any other text -- EMPTY,
 * Z/M coordinates, other geometry types, malformed input -- goes to
 * PostGIS's own geometry_in unchanged, so it gives exactly the result or
 * the error (with COPY's line and column context) it gave before.
 *
 * Anything unusual falls back to PostgreSQL's own COPY: binary format,
 * COPY ... WHERE, FROM PROGRAM, FREEZE, tables with row-level security,
 * a column list without geometry columns.
 *
 * No PostGIS header or library is used (STYLE §13): the geometry type and
 * its input and receive functions are found by OID in PostGIS's schema.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "access/genam.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "core/copy_hook.h"
#include "core/edp.h"
#include "trips/trips.h"
#include "core/security.h"

/* largest SRID that PostGIS keeps as given in both WKT and EWKB */
#define WKT_POINT_MAX_SRID	998999

/* EWKB type word: 2D point, and the flag saying an SRID follows */
#define EWKB_POINT			1
#define EWKB_SRID_FLAG		0x20000000

/* What the fast input function of one geometry column needs. */
typedef struct WktPointInput
{
	FmgrInfo	geometry_in;	/* PostGIS's text input, for the rest */
	FmgrInfo	geometry_recv;	/* PostGIS's binary input */
} WktPointInput;

/* Is c whitespace to PostGIS's WKT lexer? */
static inline bool
wkt_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline const char *
skip_wkt_space(const char *p)
{
	while (wkt_space(*p))
		p++;
	return p;
}

/*
 * w * 10^e10 as a double, when that is cheap to get exactly right; false
 * leaves the conversion to strtod().
 *
 * strtod() is correctly rounded, but for the 15 to 17 digits of typical
 * coordinates glibc takes its multi-precision path, which costs more than
 * all the rest of a point's input.  With the x87 extended type (64-bit
 * significand) w < 2^64 and 10^|e10| <= 10^27 are exact, so one
 * multiplication or division gives the quotient correctly rounded to 64
 * bits.  Rounding that to double's 53 bits gives the correctly rounded
 * double unless the 11 dropped bits are within one unit of the halfway
 * point, where the 64-bit rounding could have crossed it: those rare
 * values go to strtod(), so every result is strtod()'s, bit for bit.
 */
static bool
exact_decimal_to_double(uint64 w, int e10, bool negative, double *result)
{
#if defined(__x86_64__) && LDBL_MANT_DIG == 64
	static const long double powers[28] = {
		1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L,
		1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
		1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L
	};
	long double r;
	uint64		significand;
	uint64		dropped;

	if (w == 0)
	{
		*result = negative ? -0.0 : 0.0;
		return true;
	}
	if (e10 < -27 || e10 > 27)
		return false;
	r = e10 < 0 ? (long double) w / powers[-e10] : (long double) w * powers[e10];
	/* the x87 format stores the explicit 64-bit significand first */
	memcpy(&significand, &r, sizeof(significand));
	dropped = significand & 0x7FF;
	if (dropped >= 0x3FF && dropped <= 0x401)
		return false;
	*result = (double) (negative ? -r : r);
	return true;
#else
	return false;
#endif
}

/*
 * Read one number at p if it has the syntax of PostGIS's WKT lexer,
 * -?(([0-9]+\.?)|([0-9]*\.?[0-9]+)([eE][-+]?[0-9]+)?), and is followed by
 * whitespace or ')'.  The value is strtod()'s, as the lexer's atof() gives.
 * Returns the position after the number, or NULL.
 */
static const char *
read_wkt_number(const char *p, double *value)
{
	const char *s = p;
	const char *end;
	bool		negative = false;
	int			int_digits = 0;
	int			frac_digits = 0;
	bool		point = false;
	uint64		w = 0;			/* the significant digits, if they fit */
	int			significant = 0;
	int			e10 = 0;		/* value = w * 10^e10 */
	int			exponent = 0;

	if (*s == '-')
		negative = true, s++;
	for (; *s >= '0' && *s <= '9'; s++, int_digits++)
	{
		if (significant > 0 || *s != '0')
		{
			if (significant++ < 19)
				w = w * 10 + (*s - '0');
			else
				e10++;			/* too many digits: strtod() decides below */
		}
	}
	if (*s == '.')
	{
		point = true;
		for (s++; *s >= '0' && *s <= '9'; s++, frac_digits++)
		{
			if (significant > 0 || *s != '0')
			{
				if (significant++ < 19)
					w = w * 10 + (*s - '0');
				else
					continue;
			}
			e10--;
		}
	}
	if (int_digits == 0 && frac_digits == 0)
		return NULL;
	if (*s == 'e' || *s == 'E')
	{
		const char *e = s + 1;
		bool		exponent_negative = false;

		/* the lexer takes an exponent only after a digit ("1.e5" is not a number) */
		if (point && frac_digits == 0)
			return NULL;
		if (*e == '+' || *e == '-')
			exponent_negative = (*e++ == '-');
		if (!(*e >= '0' && *e <= '9'))
			return NULL;
		for (; *e >= '0' && *e <= '9'; e++)
			if (exponent < 100000)
				exponent = exponent * 10 + (*e - '0');
		e10 += exponent_negative ? -exponent : exponent;
		s = e;
	}
	if (!(wkt_space(*s) || *s == ')'))
		return NULL;

	if (significant <= 19 && exact_decimal_to_double(w, e10, negative, value))
		return s;

	errno = 0;
	*value = strtod(p, (char **) &end);
	/* the syntax above is strtod's too; anything else is left to PostGIS */
	if (end != s || errno != 0)
		return NULL;
	return s;
}

/*
 * Parse `[SRID=n;]POINT(x y)` with PostGIS's spacing and case rules.
 * False for anything else (then PostGIS's own parser decides).
 */
static bool
parse_wkt_point(const char *text, int32 *srid, double *x, double *y)
{
	const char *p = skip_wkt_space(text);

	*srid = 0;
	if (pg_strncasecmp(p, "SRID=", 5) == 0)
	{
		long		n = 0;
		int			digits = 0;

		p += 5;
		while (*p >= '0' && *p <= '9' && digits < 7)
			n = n * 10 + (*p++ - '0'), digits++;
		if (digits == 0 || (*p >= '0' && *p <= '9') || n > WKT_POINT_MAX_SRID)
			return false;
		p = skip_wkt_space(p);
		if (*p++ != ';')
			return false;
		*srid = (int32) n;
		p = skip_wkt_space(p);
	}
	if (pg_strncasecmp(p, "POINT", 5) != 0)
		return false;
	p = skip_wkt_space(p + 5);
	if (*p++ != '(')
		return false;
	p = skip_wkt_space(p);
	if ((p = read_wkt_number(p, x)) == NULL || !wkt_space(*p))
		return false;
	p = skip_wkt_space(p);
	if ((p = read_wkt_number(p, y)) == NULL)
		return false;
	p = skip_wkt_space(p);
	if (*p++ != ')')
		return false;
	p = skip_wkt_space(p);
	/* NaN coordinates mean an empty point in WKB: leave them to PostGIS */
	return *p == '\0' && !isnan(*x) && !isnan(*y);
}

/*
 * The input function COPY calls for a geometry column: (cstring, typioparam,
 * typmod) like geometry_in, whose result it gives for every text.
 */
static Datum
wkt_point_input(PG_FUNCTION_ARGS)
{
	WktPointInput *in = (WktPointInput *) fcinfo->flinfo->fn_extra;
	char	   *text = PG_GETARG_CSTRING(0);
	Oid			typioparam = PG_GETARG_OID(1);
	int32		typmod = PG_GETARG_INT32(2);
	int32		srid;
	double		x,
				y;
	char		ewkb[1 + 4 + 4 + 2 * sizeof(double) + 1];
	uint32		type = EWKB_POINT;
	StringInfoData buf;
	int			len = 0;

	if (!parse_wkt_point(text, &srid, &x, &y))
		return InputFunctionCall(&in->geometry_in, text, typioparam, typmod);

	/* EWKB in this machine's byte order, which the first byte states */
#ifdef WORDS_BIGENDIAN
	ewkb[len++] = 0;
#else
	ewkb[len++] = 1;
#endif
	if (srid != 0)
		type |= EWKB_SRID_FLAG;
	memcpy(ewkb + len, &type, 4), len += 4;
	if (srid != 0)
		memcpy(ewkb + len, &srid, 4), len += 4;
	memcpy(ewkb + len, &x, sizeof(double)), len += sizeof(double);
	memcpy(ewkb + len, &y, sizeof(double)), len += sizeof(double);
	ewkb[len] = '\0';

	buf.data = ewkb;
	buf.len = len;
	buf.maxlen = len + 1;
	buf.cursor = 0;
	return ReceiveFunctionCall(&in->geometry_recv, &buf, typioparam, typmod);
}

/* PostGIS's schema, or InvalidOid when PostGIS is not installed */
static Oid
postgis_schema(void)
{
	Oid			ext = get_extension_oid("postgis", true);
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	ScanKeyData key;
	Oid			schema = InvalidOid;

	if (!OidIsValid(ext))
		return InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		schema = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return schema;
}

/*
 * Is relid registered in edp.trip_tables?  The relation is neither opened
 * nor locked (the COPY hook asks this of any COPY's table).
 */
static bool
is_trips_relid(Oid relid)
{
	EdpIdentity spi;
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		args[1];
	bool		found;

	args[0] = ObjectIdGetDatum(relid);
	edp_spi_begin(&spi, InvalidOid, EDP_AS_CALLER);
	if (SPI_execute_with_args("SELECT 1 FROM edp.trip_tables WHERE relid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read edp.trip_tables");
	found = SPI_processed > 0;
	edp_spi_end(&spi);
	return found;
}

/* The COPY columns of type geometry, as a list of attnums. */
static List *
geometry_columns(Relation rel, List *attnums, Oid geometry)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, attnums)
	{
		int			attnum = lfirst_int(lc);

		if (TupleDescAttr(tupdesc, attnum - 1)->atttypid == geometry)
			result = lappend_int(result, attnum);
	}
	return result;
}

/*
 * PostgreSQL's COPY FROM with the fast input function on the geometry
 * columns; returns the number of rows loaded.
 */
static uint64
wkt_point_copy(ParseState *pstate, CopyStmt *stmt, Relation rel,
			   List *geometry_attnums, Oid geometry)
{
	CopyFromState cstate;
	Oid			recv_oid;
	Oid			recv_ioparam;
	ListCell   *lc;
	uint64		processed;

	getTypeBinaryInputInfo(geometry, &recv_oid, &recv_ioparam);

	cstate = BeginCopyFrom(pstate, rel, NULL, stmt->filename, false, NULL,
						   stmt->attlist, stmt->options);

	foreach(lc, geometry_attnums)
	{
		FmgrInfo   *finfo = &cstate->in_functions[lfirst_int(lc) - 1];
		WktPointInput *in = palloc(sizeof(WktPointInput));

		/* keep COPY's own geometry_in for the texts we leave to PostGIS */
		in->geometry_in = *finfo;
		fmgr_info(recv_oid, &in->geometry_recv);
		finfo->fn_addr = wkt_point_input;
		finfo->fn_extra = in;
	}

	processed = CopyFrom(cstate);
	EndCopyFrom(cstate);
	return processed;
}

/*
 * The taker for trips tables: a COPY that fills geometry columns of a
 * table of edp.trip_tables runs PostgreSQL's COPY with the fast input.
 */
static bool
trips_take_copy(EdpCopyTarget *target, uint64 *processed)
{
	Relation	rel = target->rel;
	Oid			schema;
	Oid			geometry;
	List	   *geometry_attnums;

	if (rel->rd_rel->relkind != RELKIND_RELATION)
		return false;
	schema = postgis_schema();
	if (!OidIsValid(schema))
		return false;
	geometry = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
							   CStringGetDatum("geometry"),
							   ObjectIdGetDatum(schema));
	if (!OidIsValid(geometry))
		return false;
	geometry_attnums = geometry_columns(rel, target->attnums, geometry);
	if (geometry_attnums == NIL || !is_trips_relid(RelationGetRelid(rel)))
		return false;

	edp_copy_check_privileges(target->pstate, rel, target->attnums, NIL);
	*processed = wkt_point_copy(target->pstate, target->stmt, rel,
								geometry_attnums, geometry);
	return true;
}

/* offer trips tables' COPY to the hook */
void
edp_trips_init(void)
{
	edp_copy_register_taker(is_trips_relid, trips_take_copy);
}
