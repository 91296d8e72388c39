/*-------------------------------------------------------------------------
 *
 * export/parquet_types.c
 *		PostgreSQL types as Parquet types: each column's schema element,
 *		the PLAIN encoding of its values and its chunk statistics.
 *
 *	 smallint/integer/bigint	INT32/INT32/INT64, INTEGER(16/32/64, signed)
 *	 real/double precision		FLOAT/DOUBLE (NaN and infinities as they are)
 *	 numeric(p,s), 0<=s<=p<=38	DECIMAL(p,s) in INT32 (p<=9), INT64 (p<=18)
 *								or FIXED_LEN_BYTE_ARRAY(16); other numerics
 *								(no typmod, p>38, negative scale) as STRING
 *	 text/varchar/char(n)/json	BYTE_ARRAY STRING (json: JSON), as stored:
 *								char(n) keeps its padding
 *	 jsonb						BYTE_ARRAY JSON, its text output
 *	 boolean					BOOLEAN
 *	 date						INT32 DATE; -infinity/infinity as -(2^31-1)/2^31-1
 *	 timestamp/timestamptz		INT64 TIMESTAMP(MICROS), isAdjustedToUTC
 *								false/true; -infinity and infinity as
 *								-(2^63-1) and 2^63-1 (DuckDB's own infinities);
 *								after 294247-01-10 (PostgreSQL goes on to
 *								294276) an error
 *	 uuid						FIXED_LEN_BYTE_ARRAY(16) UUID
 *	 bytea						BYTE_ARRAY, no annotation
 *	 PostGIS geometry			BYTE_ARRAY ISO WKB (st_asbinary), GeoParquet
 *	 anything else				BYTE_ARRAY STRING, the type's text output
 *
 * Domains are written as their base type.  Text is converted to UTF-8
 * when the database encoding is another one (Parquet strings are UTF-8).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "commands/extension.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "export/parquet.h"

/* floats are copied as they are in memory: PLAIN is little-endian */
#ifdef WORDS_BIGENDIAN
#error "edp's Parquet writer assumes a little-endian machine"
#endif

/* ConvertedType (the annotation older readers know) */
#define PQ_CONV_UTF8			0
#define PQ_CONV_DECIMAL			5
#define PQ_CONV_DATE			6
#define PQ_CONV_TIMESTAMP_MICROS 10
#define PQ_CONV_INT_16			16
#define PQ_CONV_INT_32			17
#define PQ_CONV_INT_64			18
#define PQ_CONV_JSON			19

/* PostgreSQL's epoch (2000-01-01) in Unix time: days and microseconds */
#define PG_EPOCH_DAYS	10957
#define PG_EPOCH_USECS	INT64CONST(946684800000000)

/*
 * The schema PostGIS lives in (any: it is relocatable), or InvalidOid when
 * it is not installed; get_extension_schema() is static before 16.
 */
static Oid
postgis_schema(void)
{
	Oid			extoid = get_extension_oid("postgis", true);
	Oid			nsp = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (!OidIsValid(extoid))
		return InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

/* a PostGIS function of one geometry argument, by name in PostGIS's schema */
static void
postgis_function(Oid nsp, Oid geomtype, const char *name, FmgrInfo *finfo)
{
	List	   *fname = list_make2(makeString(get_namespace_name(nsp)),
								   makeString(pstrdup(name)));
	Oid			fn = LookupFuncName(fname, 1, &geomtype, true);

	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("PostGIS function %s(geometry) not found", name)));
	fmgr_info(fn, finfo);
}

static void
set_string(EdpParquetColumn *col, int logical, int converted)
{
	col->physical = PQ_BYTE_ARRAY;
	col->logical = logical;
	col->converted = converted;
}

/*
 * What the column of attribute att becomes in Parquet; the type's name
 * decides only for PostGIS geometry, found by OID in PostGIS's schema.
 */
void
edp_parquet_column_init(EdpParquetColumn *col, Form_pg_attribute att, int attnum)
{
	int32		typmod = att->atttypmod;
	Oid			typid = getBaseTypeAndTypmod(att->atttypid, &typmod);
	int			enc = GetDatabaseEncoding();

	memset(col, 0, sizeof(*col));
	col->name = NameStr(att->attname);
	if (enc != PG_UTF8 && enc != PG_SQL_ASCII)
		col->name = pg_server_to_any(col->name, strlen(col->name), PG_UTF8);
	col->attnum = attnum;
	col->converted = -1;
	col->to_utf8 = (enc != PG_UTF8 && enc != PG_SQL_ASCII);
	col->stat_signed = true;
	col->stats = true;

	switch (typid)
	{
		case BOOLOID:
			col->kind = EDP_PQ_BOOL;
			col->physical = PQ_BOOLEAN;
			col->stats = false;
			break;
		case INT2OID:
		case INT4OID:
			col->kind = typid == INT2OID ? EDP_PQ_INT2 : EDP_PQ_INT4;
			col->physical = PQ_INT32;
			col->logical = PQ_LOGICAL_INTEGER;
			col->int_bits = typid == INT2OID ? 16 : 32;
			col->converted = typid == INT2OID ? PQ_CONV_INT_16 : PQ_CONV_INT_32;
			break;
		case INT8OID:
			col->kind = EDP_PQ_INT8;
			col->physical = PQ_INT64;
			col->logical = PQ_LOGICAL_INTEGER;
			col->int_bits = 64;
			col->converted = PQ_CONV_INT_64;
			break;
		case FLOAT4OID:
			col->kind = EDP_PQ_FLOAT4;
			col->physical = PQ_FLOAT;
			break;
		case FLOAT8OID:
			col->kind = EDP_PQ_FLOAT8;
			col->physical = PQ_DOUBLE;
			break;
		case NUMERICOID:
			{
				int			precision = -1;
				int			scale = -1;

				/* PostgreSQL 15 allows a negative scale and one above p */
				if (typmod >= (int32) VARHDRSZ)
				{
					precision = ((typmod - VARHDRSZ) >> 16) & 0xffff;
					scale = (((typmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024;
				}
#ifndef HAVE_INT128
				if (precision > 18)
					precision = -1;
#endif
				if (precision < 1 || precision > 38 || scale < 0 || scale > precision)
				{
					col->kind = EDP_PQ_OUTPUT;
					set_string(col, PQ_LOGICAL_STRING, PQ_CONV_UTF8);
					col->stats = false;
					fmgr_info(F_NUMERIC_OUT, &col->out);
					break;
				}
				col->kind = EDP_PQ_DECIMAL;
				col->logical = PQ_LOGICAL_DECIMAL;
				col->converted = PQ_CONV_DECIMAL;
				col->precision = precision;
				col->scale = scale;
				if (precision <= 9)
					col->physical = PQ_INT32;
				else if (precision <= 18)
					col->physical = PQ_INT64;
				else
				{
					col->physical = PQ_FIXED_LEN_BYTE_ARRAY;
					col->type_length = 16;
					col->stats = false;
				}
				break;
			}
		case DATEOID:
			col->kind = EDP_PQ_DATE;
			col->physical = PQ_INT32;
			col->logical = PQ_LOGICAL_DATE;
			col->converted = PQ_CONV_DATE;
			break;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			col->kind = typid == TIMESTAMPOID ? EDP_PQ_TIMESTAMP : EDP_PQ_TIMESTAMPTZ;
			col->physical = PQ_INT64;
			col->logical = PQ_LOGICAL_TIMESTAMP;
			col->utc = (typid == TIMESTAMPTZOID);
			/* TIMESTAMP_MICROS means UTC-adjusted to older readers */
			if (col->utc)
				col->converted = PQ_CONV_TIMESTAMP_MICROS;
			break;
		case UUIDOID:
			col->kind = EDP_PQ_UUID;
			col->physical = PQ_FIXED_LEN_BYTE_ARRAY;
			col->type_length = UUID_LEN;
			col->logical = PQ_LOGICAL_UUID;
			col->stats = false;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			col->kind = EDP_PQ_VARLENA_TEXT;
			set_string(col, PQ_LOGICAL_STRING, PQ_CONV_UTF8);
			col->stat_signed = false;
			break;
		case JSONOID:
			col->kind = EDP_PQ_VARLENA_TEXT;
			set_string(col, PQ_LOGICAL_JSON, PQ_CONV_JSON);
			col->stats = false;
			break;
		case JSONBOID:
			col->kind = EDP_PQ_OUTPUT;
			set_string(col, PQ_LOGICAL_JSON, PQ_CONV_JSON);
			col->stats = false;
			fmgr_info(F_JSONB_OUT, &col->out);
			break;
		case BYTEAOID:
			col->kind = EDP_PQ_BYTEA;
			set_string(col, PQ_LOGICAL_NONE, -1);
			col->stat_signed = false;
			col->to_utf8 = false;
			break;
		default:
			{
				Oid			nsp = postgis_schema();
				Oid			outfn;
				bool		isvarlena;

				if (OidIsValid(nsp) &&
					typid == GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
											 CStringGetDatum("geometry"),
											 ObjectIdGetDatum(nsp)))
				{
					col->kind = EDP_PQ_GEOMETRY;
					set_string(col, PQ_LOGICAL_NONE, -1);
					col->stats = false;
					col->to_utf8 = false;
					postgis_function(nsp, typid, "st_asbinary", &col->wkb);
					postgis_function(nsp, typid, "st_srid", &col->srid);
					break;
				}
				col->kind = EDP_PQ_OUTPUT;
				set_string(col, PQ_LOGICAL_STRING, PQ_CONV_UTF8);
				col->stat_signed = false;
				getTypeOutputInfo(typid, &outfn, &isvarlena);
				fmgr_info(outfn, &col->out);
				break;
			}
	}
	col->stat_valid = col->stats;
}

/* schema element of the column (parquet.thrift SchemaElement) */
void
edp_parquet_schema_element(EdpThrift *t, EdpParquetColumn *col)
{
	edp_thrift_struct_begin(t);
	edp_thrift_field_i32(t, 1, col->physical);
	if (col->physical == PQ_FIXED_LEN_BYTE_ARRAY)
		edp_thrift_field_i32(t, 2, col->type_length);
	edp_thrift_field_i32(t, 3, 1);	/* OPTIONAL: NULLs as definition levels */
	edp_thrift_field_string(t, 4, col->name);
	if (col->converted >= 0)
		edp_thrift_field_i32(t, 6, col->converted);
	if (col->logical == PQ_LOGICAL_DECIMAL)
	{
		edp_thrift_field_i32(t, 7, col->scale);
		edp_thrift_field_i32(t, 8, col->precision);
	}
	if (col->logical != PQ_LOGICAL_NONE)
	{
		edp_thrift_field_struct(t, 10);
		edp_thrift_field_struct(t, col->logical);
		switch (col->logical)
		{
			case PQ_LOGICAL_DECIMAL:
				edp_thrift_field_i32(t, 1, col->scale);
				edp_thrift_field_i32(t, 2, col->precision);
				break;
			case PQ_LOGICAL_TIMESTAMP:
				edp_thrift_field_bool(t, 1, col->utc);
				edp_thrift_field_struct(t, 2);	/* TimeUnit */
				edp_thrift_field_struct(t, 2);	/* MICROS */
				edp_thrift_struct_end(t);
				edp_thrift_struct_end(t);
				break;
			case PQ_LOGICAL_INTEGER:
				edp_thrift_field_i8(t, 1, (int8) col->int_bits);
				edp_thrift_field_bool(t, 2, true);
				break;
			default:
				break;			/* STRING, DATE, JSON, UUID: empty structs */
		}
		edp_thrift_struct_end(t);
		edp_thrift_struct_end(t);
	}
	edp_thrift_struct_end(t);
}

static inline void
put_bytes(StringInfo buf, const void *data, int len)
{
	enlargeStringInfo(buf, len);
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
}

static inline void
put_le32(StringInfo buf, uint32 v)
{
	char		b[4];

	b[0] = (char) v;
	b[1] = (char) (v >> 8);
	b[2] = (char) (v >> 16);
	b[3] = (char) (v >> 24);
	put_bytes(buf, b, 4);
}

static inline void
put_le64(StringInfo buf, uint64 v)
{
	put_le32(buf, (uint32) v);
	put_le32(buf, (uint32) (v >> 32));
}

static inline void
stat_int(EdpParquetColumn *col, int64 v)
{
	if (!col->stat_any)
	{
		col->imin = col->imax = v;
		col->stat_any = true;
	}
	else if (v < col->imin)
		col->imin = v;
	else if (v > col->imax)
		col->imax = v;
}

static inline void
stat_double(EdpParquetColumn *col, double v)
{
	if (isnan(v))
		return;					/* NaN has no place in min/max */
	if (!col->stat_any)
	{
		col->dmin = col->dmax = v;
		col->stat_any = true;
	}
	else if (v < col->dmin)
		col->dmin = v;
	else if (v > col->dmax)
		col->dmax = v;
}

/* byte-wise (unsigned) order, the one of Parquet's BYTE_ARRAY */
static inline void
stat_bytes(EdpParquetColumn *col, const char *data, int len)
{
	EdpParquetChunkMeta *m = &col->meta;

	if (!col->stat_valid)
		return;
	if (len > EDP_PARQUET_STAT_BYTES)
	{
		col->stat_valid = false;	/* no exact bound without truncation rules */
		return;
	}
	if (!col->stat_any)
	{
		memcpy(m->min, data, len);
		memcpy(m->max, data, len);
		col->bmin_len = col->bmax_len = len;
		col->stat_any = true;
		return;
	}
	{
		int			c = memcmp(data, m->min, Min(len, col->bmin_len));

		if (c < 0 || (c == 0 && len < col->bmin_len))
		{
			memcpy(m->min, data, len);
			col->bmin_len = len;
		}
		c = memcmp(data, m->max, Min(len, col->bmax_len));
		if (c > 0 || (c == 0 && len > col->bmax_len))
		{
			memcpy(m->max, data, len);
			col->bmax_len = len;
		}
	}
}

/* a BYTE_ARRAY value: 4-byte length, then the bytes */
static void
add_byte_array(EdpParquetColumn *col, const char *data, int len)
{
	if (col->to_utf8)
	{
		char	   *conv = pg_server_to_any(data, len, PG_UTF8);

		if (conv != data)
		{
			data = conv;
			len = strlen(conv);
		}
	}
	put_le32(&col->values, (uint32) len);
	put_bytes(&col->values, data, len);
	if (col->stats)
		stat_bytes(col, data, len);
}

#ifdef HAVE_INT128
typedef int128 decimal_int;
#else
typedef int64 decimal_int;
#endif

/*
 * numeric(p,s) as its unscaled integer.  The column's typmod already gave
 * every value exactly s decimals; NaN has no DECIMAL form.
 */
static decimal_int
numeric_unscaled(EdpParquetColumn *col, Datum value)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, value));
	char	   *p = s;
	bool		neg = false;
	decimal_int v = 0;
	int			frac = -1;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	if (!isdigit((unsigned char) *p))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot write numeric value \"%s\" of column \"%s\" as a Parquet DECIMAL", s, col->name),
				 errhint("Convert the column, e.g. COPY (SELECT NULLIF(%s, 'NaN') ...) TO ...", col->name)));
	for (; *p; p++)
	{
		if (*p == '.')
		{
			frac = 0;
			continue;
		}
		v = v * 10 + (*p - '0');
		if (frac >= 0)
			frac++;
	}
	for (frac = Max(frac, 0); frac < col->scale; frac++)
		v *= 10;
	pfree(s);
	return neg ? -v : v;
}

/* append one non-NULL value to the column's current page */
void
edp_parquet_column_add(EdpParquetColumn *col, Datum value)
{
	switch (col->kind)
	{
		case EDP_PQ_BOOL:
			if (DatumGetBool(value))
				col->bitbuf |= (uint8) (1 << col->nbits);
			if (++col->nbits == 8)
			{
				appendStringInfoCharMacro(&col->values, (char) col->bitbuf);
				col->bitbuf = 0;
				col->nbits = 0;
			}
			break;
		case EDP_PQ_INT2:
			put_le32(&col->values, (uint32) (int32) DatumGetInt16(value));
			stat_int(col, DatumGetInt16(value));
			break;
		case EDP_PQ_INT4:
			put_le32(&col->values, (uint32) DatumGetInt32(value));
			stat_int(col, DatumGetInt32(value));
			break;
		case EDP_PQ_INT8:
			put_le64(&col->values, (uint64) DatumGetInt64(value));
			stat_int(col, DatumGetInt64(value));
			break;
		case EDP_PQ_FLOAT4:
			{
				float4		f = DatumGetFloat4(value);
				uint32		bits;

				memcpy(&bits, &f, 4);
				put_le32(&col->values, bits);
				stat_double(col, f);
				break;
			}
		case EDP_PQ_FLOAT8:
			{
				float8		f = DatumGetFloat8(value);
				uint64		bits;

				memcpy(&bits, &f, 8);
				put_le64(&col->values, bits);
				stat_double(col, f);
				break;
			}
		case EDP_PQ_DECIMAL:
			{
				decimal_int v = numeric_unscaled(col, value);

				if (col->physical == PQ_INT32)
				{
					put_le32(&col->values, (uint32) (int32) v);
					stat_int(col, (int64) v);
				}
				else if (col->physical == PQ_INT64)
				{
					put_le64(&col->values, (uint64) (int64) v);
					stat_int(col, (int64) v);
				}
				else
				{
					/* 16 bytes, two's complement, big-endian */
					char		b[16];
					int			i;

					for (i = 15; i >= 0; i--)
					{
						b[i] = (char) (v & 0xFF);
						v >>= 8;	/* arithmetic: keeps the sign */
					}
					put_bytes(&col->values, b, 16);
				}
				break;
			}
		case EDP_PQ_DATE:
			{
				DateADT		d = DatumGetDateADT(value);
				int32		v;

				if (DATE_IS_NOBEGIN(d))
					v = -PG_INT32_MAX;
				else if (DATE_IS_NOEND(d))
					v = PG_INT32_MAX;
				else
					v = d + PG_EPOCH_DAYS;
				put_le32(&col->values, (uint32) v);
				stat_int(col, v);
				break;
			}
		case EDP_PQ_TIMESTAMP:
		case EDP_PQ_TIMESTAMPTZ:
			{
				Timestamp	ts = DatumGetTimestamp(value);
				int64		v;

				if (TIMESTAMP_IS_NOBEGIN(ts))
					v = -PG_INT64_MAX;
				else if (TIMESTAMP_IS_NOEND(ts))
					v = PG_INT64_MAX;
				else if (pg_add_s64_overflow(ts, PG_EPOCH_USECS, &v))
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("timestamp of column \"%s\" is out of the range of Parquet timestamps", col->name),
							 errdetail("Parquet counts microseconds since 1970 in 64 bits, up to 294247-01-10 04:00:54.775807 UTC.")));
				put_le64(&col->values, (uint64) v);
				stat_int(col, v);
				break;
			}
		case EDP_PQ_UUID:
			put_bytes(&col->values, DatumGetUUIDP(value)->data, UUID_LEN);
			break;
		case EDP_PQ_VARLENA_TEXT:
		case EDP_PQ_BYTEA:
			{
				struct varlena *v = PG_DETOAST_DATUM_PACKED(value);

				add_byte_array(col, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
				break;
			}
		case EDP_PQ_GEOMETRY:
			{
				bytea	   *wkb = DatumGetByteaPP(FunctionCall1(&col->wkb, value));
				int32		srid = DatumGetInt32(FunctionCall1(&col->srid, value));

				edp_geo_add_wkb(&col->geo, col->name,
								(const unsigned char *) VARDATA_ANY(wkb),
								VARSIZE_ANY_EXHDR(wkb), srid);
				add_byte_array(col, VARDATA_ANY(wkb), VARSIZE_ANY_EXHDR(wkb));
				break;
			}
		case EDP_PQ_OUTPUT:
			{
				char	   *s = OutputFunctionCall(&col->out, value);

				add_byte_array(col, s, strlen(s));
				break;
			}
	}
}

static void
le_bytes(char *out, uint64 v, int len)
{
	int			i;

	for (i = 0; i < len; i++)
		out[i] = (char) (v >> (8 * i));
}

/*
 * The column chunk is complete: its min/max in the chunk's footer entry,
 * encoded as PLAIN values are; then start over for the next chunk.
 */
void
edp_parquet_chunk_stats_done(EdpParquetColumn *col)
{
	EdpParquetChunkMeta *m = &col->meta;

	m->has_minmax = col->stats && col->stat_valid && col->stat_any;
	if (m->has_minmax)
	{
		switch (col->physical)
		{
			case PQ_INT32:
				m->min_len = m->max_len = 4;
				le_bytes(m->min, (uint64) col->imin, 4);
				le_bytes(m->max, (uint64) col->imax, 4);
				break;
			case PQ_INT64:
				m->min_len = m->max_len = 8;
				le_bytes(m->min, (uint64) col->imin, 8);
				le_bytes(m->max, (uint64) col->imax, 8);
				break;
			case PQ_FLOAT:
			case PQ_DOUBLE:
				{
					/* the spec's rule for signed zeros: -0.0 as min, +0.0 as max */
					double		lo = col->dmin == 0.0 ? -0.0 : col->dmin;
					double		hi = col->dmax == 0.0 ? 0.0 : col->dmax;

					if (col->physical == PQ_FLOAT)
					{
						float4		flo = (float4) lo;
						float4		fhi = (float4) hi;

						m->min_len = m->max_len = 4;
						memcpy(m->min, &flo, 4);
						memcpy(m->max, &fhi, 4);
					}
					else
					{
						m->min_len = m->max_len = 8;
						memcpy(m->min, &lo, 8);
						memcpy(m->max, &hi, 8);
					}
					break;
				}
			default:
				/* byte arrays: the bytes are already in m */
				m->min_len = col->bmin_len;
				m->max_len = col->bmax_len;
				break;
		}
	}
	col->stat_valid = col->stats;
	col->stat_any = false;
}
