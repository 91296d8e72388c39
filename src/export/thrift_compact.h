/*-------------------------------------------------------------------------
 *
 * export/thrift_compact.h
 *		A write-only encoder of the Thrift compact protocol, the encoding of
 *		Parquet's file footer and page headers (export/thrift_compact.c).
 *
 * Only what Parquet's metadata needs: structs (nested), i8/i16/i32/i64,
 * booleans, binary/string and lists of structs, i32 or strings.  Field ids
 * are given by the caller, who follows parquet.thrift.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_THRIFT_COMPACT_H
#define EDP_THRIFT_COMPACT_H

#include "lib/stringinfo.h"

/* compact protocol element types */
#define EDP_THRIFT_TRUE		1
#define EDP_THRIFT_FALSE	2
#define EDP_THRIFT_I8		3
#define EDP_THRIFT_I16		4
#define EDP_THRIFT_I32		5
#define EDP_THRIFT_I64		6
#define EDP_THRIFT_DOUBLE	7
#define EDP_THRIFT_BINARY	8
#define EDP_THRIFT_LIST		9
#define EDP_THRIFT_STRUCT	12

/* structs nest at most this deep in Parquet's metadata (5 in practice) */
#define EDP_THRIFT_MAX_DEPTH 16

typedef struct EdpThrift
{
	StringInfo	buf;
	int			depth;
	int16		last_id[EDP_THRIFT_MAX_DEPTH];	/* last field id per level */
} EdpThrift;

extern void edp_thrift_init(EdpThrift *t, StringInfo buf);
extern void edp_thrift_struct_begin(EdpThrift *t);
extern void edp_thrift_struct_end(EdpThrift *t);
extern void edp_thrift_field_struct(EdpThrift *t, int16 id);
extern void edp_thrift_field_i8(EdpThrift *t, int16 id, int8 v);
extern void edp_thrift_field_i16(EdpThrift *t, int16 id, int16 v);
extern void edp_thrift_field_i32(EdpThrift *t, int16 id, int32 v);
extern void edp_thrift_field_i64(EdpThrift *t, int16 id, int64 v);
extern void edp_thrift_field_bool(EdpThrift *t, int16 id, bool v);
extern void edp_thrift_field_binary(EdpThrift *t, int16 id, const void *data, int len);
extern void edp_thrift_field_string(EdpThrift *t, int16 id, const char *s);
extern void edp_thrift_field_list(EdpThrift *t, int16 id, int elemtype, int n);
extern void edp_thrift_i32(EdpThrift *t, int32 v);
extern void edp_thrift_string(EdpThrift *t, const char *s);

#endif							/* EDP_THRIFT_COMPACT_H */
