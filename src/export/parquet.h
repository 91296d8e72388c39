/*-------------------------------------------------------------------------
 *
 * export/parquet.h
 *		edp's Parquet writer: the interface its users see (COPY TO, the
 *		partitioned export) and the column state its files share.
 *
 * The writer streams: rows go into per-column buffers of the current row
 * group; when a row group is full (ROW_GROUP_SIZE rows, or sooner when its
 * buffers reach EDP_PARQUET_ROW_GROUP_BYTES) its column chunks are written
 * out through the sink one after the other and the buffers are reused.
 * Only the footer's small per-chunk metadata stays for the whole file.
 *
 *	 export/thrift_compact.c	Thrift compact protocol (footer, page headers)
 *	 export/parquet_types.c		PostgreSQL type -> Parquet type, value encoding
 *	 export/geoparquet.c		WKB walking and the GeoParquet "geo" metadata
 *	 export/parquet_writer.c	pages, row groups, footer
 *	 export/copy_to.c			COPY ... TO ... (FORMAT parquet)
 *	 export/export.c			edp.export(): Hive-style partitioned files
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_PARQUET_H
#define EDP_PARQUET_H

#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"

#include "export/thrift_compact.h"

/* defaults and limits of the options (doc/export.md) */
#define EDP_PARQUET_DEFAULT_ROW_GROUP_SIZE	122880	/* DuckDB's default too */
#define EDP_PARQUET_ROW_GROUP_BYTES		(128 * 1024 * 1024)
#define EDP_PARQUET_PAGE_BYTES			(1024 * 1024)
#define EDP_PARQUET_DEFAULT_ZSTD_LEVEL	3

/* Parquet enums (parquet.thrift) */
#define PQ_BOOLEAN		0
#define PQ_INT32		1
#define PQ_INT64		2
#define PQ_FLOAT		4
#define PQ_DOUBLE		5
#define PQ_BYTE_ARRAY	6
#define PQ_FIXED_LEN_BYTE_ARRAY 7

#define PQ_CODEC_UNCOMPRESSED	0
#define PQ_CODEC_ZSTD			6

typedef struct EdpParquetOptions
{
	int			codec;			/* PQ_CODEC_* */
	int			zstd_level;
	int64		row_group_size; /* rows */
} EdpParquetOptions;

/* how a column's values are taken from their Datums */
typedef enum EdpParquetKind
{
	EDP_PQ_BOOL,
	EDP_PQ_INT2,
	EDP_PQ_INT4,
	EDP_PQ_INT8,
	EDP_PQ_FLOAT4,
	EDP_PQ_FLOAT8,
	EDP_PQ_DECIMAL,				/* numeric(p,s), 0 <= s <= p <= 38 */
	EDP_PQ_DATE,
	EDP_PQ_TIMESTAMP,
	EDP_PQ_TIMESTAMPTZ,
	EDP_PQ_UUID,
	EDP_PQ_VARLENA_TEXT,		/* text, varchar, char(n), json: the bytes */
	EDP_PQ_BYTEA,
	EDP_PQ_GEOMETRY,			/* PostGIS geometry, as ISO WKB */
	EDP_PQ_OUTPUT				/* anything else: its text output */
} EdpParquetKind;

/* Parquet logical type annotations we write (LogicalType union field ids) */
#define PQ_LOGICAL_NONE		0
#define PQ_LOGICAL_STRING	1
#define PQ_LOGICAL_DECIMAL	5
#define PQ_LOGICAL_DATE		6
#define PQ_LOGICAL_TIMESTAMP 8
#define PQ_LOGICAL_INTEGER	10
#define PQ_LOGICAL_JSON		12
#define PQ_LOGICAL_UUID		14

/* the largest min/max value kept for a byte-array column's statistics */
#define EDP_PARQUET_STAT_BYTES 64

/* what a geometry column holds, for the GeoParquet metadata */
typedef struct EdpGeoSummary
{
	uint32		types;			/* bit (base type - 1) + 7 * has_z */
	int32		srid;			/* of the first geometry */
	bool		srid_set;
	bool		has_bbox;
	double		xmin,
				ymin,
				xmax,
				ymax;
} EdpGeoSummary;

/* one column chunk's footer entry */
typedef struct EdpParquetChunkMeta
{
	int64		data_page_offset;
	int64		num_values;
	int64		uncompressed;
	int64		compressed;
	int64		null_count;
	bool		has_minmax;
	int			min_len;
	int			max_len;
	char		min[EDP_PARQUET_STAT_BYTES];
	char		max[EDP_PARQUET_STAT_BYTES];
} EdpParquetChunkMeta;

typedef struct EdpParquetColumn
{
	/* schema */
	char	   *name;
	int			attnum;			/* position in the tuple descriptor (0-based) */
	EdpParquetKind kind;
	int			physical;		/* PQ_* type */
	int			type_length;	/* FIXED_LEN_BYTE_ARRAY only */
	int			converted;		/* ConvertedType, -1 for none */
	int			logical;		/* PQ_LOGICAL_* */
	int			precision;		/* DECIMAL */
	int			scale;
	int			int_bits;		/* INTEGER */
	bool		utc;			/* TIMESTAMP isAdjustedToUTC */
	bool		stats;			/* min/max kept for this column */
	bool		stat_signed;	/* numbers (compared as such) or bytes */
	FmgrInfo	out;			/* EDP_PQ_OUTPUT: the type's output function */
	FmgrInfo	wkb;			/* EDP_PQ_GEOMETRY: st_asbinary(geometry) */
	FmgrInfo	srid;			/* EDP_PQ_GEOMETRY: st_srid(geometry) */
	bool		to_utf8;		/* text from a database encoding other than UTF-8 */

	/* the current page */
	StringInfoData values;		/* PLAIN-encoded non-null values */
	uint8	   *levels;			/* definition level per row (1 = present) */
	int			nlevels;
	int			levels_cap;
	uint8		bitbuf;			/* booleans not yet in a whole byte */
	int			nbits;

	/* the current column chunk (row group) */
	StringInfoData chunk;		/* finished pages, headers included */
	EdpParquetChunkMeta meta;
	bool		stat_valid;		/* byte arrays: every value short enough */
	bool		stat_any;		/* a non-null value was seen */
	int64		imin,
				imax;
	double		dmin,
				dmax;
	int			bmin_len,
				bmax_len;

	/* the whole file */
	EdpGeoSummary geo;
} EdpParquetColumn;

/* where the file's bytes go */
typedef void (*EdpParquetSink) (void *arg, const char *data, size_t len);

typedef struct EdpParquetWriter EdpParquetWriter;

extern void edp_parquet_parse_option(EdpParquetOptions *opts, const char *name,
									 const char *value);
extern void edp_parquet_default_options(EdpParquetOptions *opts);
extern EdpParquetWriter *edp_parquet_begin(TupleDesc tupdesc,
										   const EdpParquetOptions *opts,
										   EdpParquetSink sink, void *sink_arg);
extern void edp_parquet_add_row(EdpParquetWriter *w, Datum *values, bool *isnull);
extern void edp_parquet_end(EdpParquetWriter *w);
extern void edp_parquet_free(EdpParquetWriter *w);
extern int64 edp_parquet_rows(EdpParquetWriter *w);
extern int64 edp_parquet_bytes(EdpParquetWriter *w);

/* export/parquet_types.c */
extern void edp_parquet_column_init(EdpParquetColumn *col, Form_pg_attribute att,
									int attnum);
extern void edp_parquet_column_add(EdpParquetColumn *col, Datum value);
extern void edp_parquet_schema_element(EdpThrift *t, EdpParquetColumn *col);
extern void edp_parquet_chunk_stats_done(EdpParquetColumn *col);

/* export/geoparquet.c */
extern void edp_geo_add_wkb(EdpGeoSummary *geo, const char *colname,
							const unsigned char *wkb, size_t len, int32 srid);
extern char *edp_geo_metadata_json(EdpParquetColumn *cols, int ncols);

#endif							/* EDP_PARQUET_H */
