/*-------------------------------------------------------------------------
 *
 * export/thrift_compact.c
 *		Thrift compact protocol, write side only.
 *
 * Parquet stores its footer (FileMetaData) and every page header as Thrift
 * structs in the compact protocol: integers are zigzag varints, a field
 * header packs the delta from the previous field id with the type in one
 * byte when the delta is 1..15, booleans live in the field header's type,
 * strings are a varint length and bytes, a list header packs a size below
 * 15 with the element type.  A struct ends with a stop byte (0), and field
 * ids restart from 0 inside each nested struct, hence the per-level
 * last_id stack.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "export/thrift_compact.h"

static void
put_varint(StringInfo buf, uint64 v)
{
	char		tmp[10];
	int			n = 0;

	while (v >= 0x80)
	{
		tmp[n++] = (char) ((v & 0x7F) | 0x80);
		v >>= 7;
	}
	tmp[n++] = (char) v;
	appendBinaryStringInfo(buf, tmp, n);
}

static inline uint64
zigzag(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

static void
field_header(EdpThrift *t, int16 id, int type)
{
	int16		delta = id - t->last_id[t->depth];

	if (delta > 0 && delta <= 15)
		appendStringInfoCharMacro(t->buf, (char) ((delta << 4) | type));
	else
	{
		appendStringInfoCharMacro(t->buf, (char) type);
		put_varint(t->buf, zigzag(id));
	}
	t->last_id[t->depth] = id;
}

void
edp_thrift_init(EdpThrift *t, StringInfo buf)
{
	t->buf = buf;
	t->depth = 0;
	t->last_id[0] = 0;
}

/* a struct at top level or as a list element (no field header) */
void
edp_thrift_struct_begin(EdpThrift *t)
{
	if (t->depth + 1 >= EDP_THRIFT_MAX_DEPTH)
		elog(ERROR, "Thrift structs nested too deep");	/* internal error */
	t->depth++;
	t->last_id[t->depth] = 0;
}

void
edp_thrift_struct_end(EdpThrift *t)
{
	Assert(t->depth > 0);
	appendStringInfoCharMacro(t->buf, 0);
	t->depth--;
}

/* a struct-valued field: its header, then the caller writes its fields */
void
edp_thrift_field_struct(EdpThrift *t, int16 id)
{
	field_header(t, id, EDP_THRIFT_STRUCT);
	edp_thrift_struct_begin(t);
}

void
edp_thrift_field_i8(EdpThrift *t, int16 id, int8 v)
{
	field_header(t, id, EDP_THRIFT_I8);
	appendStringInfoCharMacro(t->buf, (char) v);
}

void
edp_thrift_field_i16(EdpThrift *t, int16 id, int16 v)
{
	field_header(t, id, EDP_THRIFT_I16);
	put_varint(t->buf, zigzag(v));
}

void
edp_thrift_field_i32(EdpThrift *t, int16 id, int32 v)
{
	field_header(t, id, EDP_THRIFT_I32);
	put_varint(t->buf, zigzag(v));
}

void
edp_thrift_field_i64(EdpThrift *t, int16 id, int64 v)
{
	field_header(t, id, EDP_THRIFT_I64);
	put_varint(t->buf, zigzag(v));
}

void
edp_thrift_field_bool(EdpThrift *t, int16 id, bool v)
{
	field_header(t, id, v ? EDP_THRIFT_TRUE : EDP_THRIFT_FALSE);
}

void
edp_thrift_field_binary(EdpThrift *t, int16 id, const void *data, int len)
{
	field_header(t, id, EDP_THRIFT_BINARY);
	put_varint(t->buf, (uint64) len);
	appendBinaryStringInfo(t->buf, data, len);
}

void
edp_thrift_field_string(EdpThrift *t, int16 id, const char *s)
{
	edp_thrift_field_binary(t, id, s, strlen(s));
}

/* a list-valued field's header; n elements of elemtype follow */
void
edp_thrift_field_list(EdpThrift *t, int16 id, int elemtype, int n)
{
	field_header(t, id, EDP_THRIFT_LIST);
	if (n < 15)
		appendStringInfoCharMacro(t->buf, (char) ((n << 4) | elemtype));
	else
	{
		appendStringInfoCharMacro(t->buf, (char) (0xF0 | elemtype));
		put_varint(t->buf, (uint64) n);
	}
}

/* list elements */
void
edp_thrift_i32(EdpThrift *t, int32 v)
{
	put_varint(t->buf, zigzag(v));
}

void
edp_thrift_string(EdpThrift *t, const char *s)
{
	size_t		len = strlen(s);

	put_varint(t->buf, (uint64) len);
	appendBinaryStringInfo(t->buf, s, len);
}
