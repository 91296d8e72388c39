/*-------------------------------------------------------------------------
 *
 * export/parquet_writer.c
 *		A streaming Parquet file writer: data pages v1, PLAIN values,
 *		definition levels in the RLE/bit-packed hybrid, optional zstd.
 *
 * File layout (Parquet's): "PAR1", then per row group each column's chunk
 * of pages, then the Thrift-encoded FileMetaData, its length (4 bytes,
 * little-endian) and "PAR1".  Every column is OPTIONAL (definition level
 * 1 = value present, 0 = NULL), flat, so there are no repetition levels.
 *
 * Memory: one row group at a time.  Each column keeps its current page's
 * values (cut at EDP_PARQUET_PAGE_BYTES) and the finished, compressed
 * pages of the current row group; a full row group is written out and the
 * buffers are reused.  What stays for the file is the footer's entries,
 * a few hundred bytes per column chunk.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <zstd.h>

#include "utils/memutils.h"

#include "export/parquet.h"

/* a page is also cut after this many rows, to bound its level array */
#define PAGE_MAX_ROWS (1024 * 1024)

#define PQ_ENCODING_PLAIN	0
#define PQ_ENCODING_RLE		3

typedef struct RowGroupMeta
{
	int64		num_rows;
	int64		file_offset;
	int64		uncompressed;
	int64		compressed;
	EdpParquetChunkMeta *chunks;	/* one per column */
} RowGroupMeta;

struct EdpParquetWriter
{
	MemoryContext cxt;
	MemoryContext row_cxt;		/* detoasted and converted values of a row */
	EdpParquetOptions opts;
	EdpParquetSink sink;
	void	   *sink_arg;
	int			ncols;
	EdpParquetColumn *cols;
	int64		offset;			/* bytes sent to the sink so far */
	int64		rows;
	int64		rg_rows;		/* rows of the current row group */
	RowGroupMeta *rgs;
	int			nrgs;
	int			rgs_cap;
	ZSTD_CCtx  *zctx;
	StringInfoData page;		/* scratch: a page's body */
	StringInfoData zbuf;		/* scratch: the body compressed */
	StringInfoData header;		/* scratch: a page header */
};

void
edp_parquet_default_options(EdpParquetOptions *opts)
{
	opts->codec = PQ_CODEC_ZSTD;
	opts->zstd_level = EDP_PARQUET_DEFAULT_ZSTD_LEVEL;
	opts->row_group_size = EDP_PARQUET_DEFAULT_ROW_GROUP_SIZE;
}

static int64
parse_int(const char *name, const char *value, int64 min, int64 max)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be an integer from " INT64_FORMAT " to " INT64_FORMAT,
						name, min, max)));
	return (int64) v;
}

/* one option of COPY ... (FORMAT parquet, ...) or of edp.export() */
void
edp_parquet_parse_option(EdpParquetOptions *opts, const char *name, const char *value)
{
	if (strcmp(name, "compression") == 0)
	{
		if (pg_strcasecmp(value, "zstd") == 0)
			opts->codec = PQ_CODEC_ZSTD;
		else if (pg_strcasecmp(value, "none") == 0 ||
				 pg_strcasecmp(value, "uncompressed") == 0)
			opts->codec = PQ_CODEC_UNCOMPRESSED;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown Parquet compression \"%s\"", value),
					 errhint("Use \"zstd\" or \"none\".")));
	}
	else if (strcmp(name, "compression_level") == 0)
		opts->zstd_level = (int) parse_int("compression_level", value, 1, ZSTD_maxCLevel());
	else if (strcmp(name, "row_group_size") == 0)
		opts->row_group_size = parse_int("row_group_size", value, 1, PG_INT32_MAX);
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("option \"%s\" is not supported with format parquet", name),
				 errhint("Parquet takes the options compression, compression_level and row_group_size.")));
}

static void
free_zstd(void *arg)
{
	EdpParquetWriter *w = (EdpParquetWriter *) arg;

	if (w->zctx)
		ZSTD_freeCCtx(w->zctx);
	w->zctx = NULL;
}

static void
emit(EdpParquetWriter *w, const char *data, size_t len)
{
	w->sink(w->sink_arg, data, len);
	w->offset += len;
}

/*
 * Start a file for rows of tupdesc; its first bytes go to the sink now.
 * The writer lives in a child of the current memory context.
 */
EdpParquetWriter *
edp_parquet_begin(TupleDesc tupdesc, const EdpParquetOptions *opts,
				  EdpParquetSink sink, void *sink_arg)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "edp Parquet writer",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EdpParquetWriter *w = palloc0(sizeof(EdpParquetWriter));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));
	int			i;

	w->cxt = cxt;
	w->row_cxt = AllocSetContextCreate(cxt, "edp Parquet row", ALLOCSET_DEFAULT_SIZES);
	w->opts = *opts;
	w->sink = sink;
	w->sink_arg = sink_arg;

	w->cols = palloc0(sizeof(EdpParquetColumn) * Max(tupdesc->natts, 1));
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		EdpParquetColumn *col;

		if (att->attisdropped)
			continue;
		col = &w->cols[w->ncols++];
		edp_parquet_column_init(col, att, i);
		col->name = pstrdup(col->name);
		initStringInfo(&col->values);
		initStringInfo(&col->chunk);
		col->levels_cap = 1024;
		col->levels = palloc(col->levels_cap);
	}
	if (w->ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a Parquet file needs at least one column")));

	initStringInfo(&w->page);
	initStringInfo(&w->zbuf);
	initStringInfo(&w->header);
	if (w->opts.codec == PQ_CODEC_ZSTD)
	{
		cb->func = free_zstd;
		cb->arg = w;
		MemoryContextRegisterResetCallback(cxt, cb);
		w->zctx = ZSTD_createCCtx();
		if (w->zctx == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory creating a zstd compression context")));
	}
	w->rgs_cap = 16;
	w->rgs = palloc(sizeof(RowGroupMeta) * w->rgs_cap);
	MemoryContextSwitchTo(old);

	emit(w, "PAR1", 4);
	return w;
}

static void
put_varint(StringInfo buf, uint64 v)
{
	while (v >= 0x80)
	{
		appendStringInfoCharMacro(buf, (char) ((v & 0x7F) | 0x80));
		v >>= 7;
	}
	appendStringInfoCharMacro(buf, (char) v);
}

/*
 * Definition levels (bit width 1) in the RLE/bit-packed hybrid: runs of 8
 * or more equal levels as RLE runs, the rest as bit-packed groups of 8
 * (the last group padded; readers stop at the page's value count).
 */
static void
encode_levels(StringInfo buf, const uint8 *lv, int n)
{
	int			i = 0;

	while (i < n)
	{
		int			j = i;
		int			start;
		int			ngroups = 0;
		int			g;

		while (j < n && lv[j] == lv[i])
			j++;
		if (j - i >= 8)
		{
			put_varint(buf, (uint64) (j - i) << 1);
			appendStringInfoCharMacro(buf, (char) lv[i]);
			i = j;
			continue;
		}
		/* bit-packed groups until a run of 8 begins at a group boundary */
		start = i;
		for (;;)
		{
			i += 8;
			ngroups++;
			if (i >= n)
				break;
			for (j = i; j < n && j - i < 8 && lv[j] == lv[i]; j++)
				;
			if (j - i >= 8)
				break;
		}
		put_varint(buf, ((uint64) ngroups << 1) | 1);
		for (g = 0; g < ngroups; g++)
		{
			uint8		byte = 0;
			int			k;

			for (k = 0; k < 8 && start + g * 8 + k < n; k++)
				byte |= (uint8) (lv[start + g * 8 + k] << k);
			appendStringInfoCharMacro(buf, (char) byte);
		}
	}
}

/* the column's current page, finished: compressed, with its header, into the chunk */
static void
flush_page(EdpParquetWriter *w, EdpParquetColumn *col)
{
	StringInfo	body = &w->page;
	const char *data;
	int			clen;
	uint32		levels_len;
	EdpThrift	t;

	if (col->nlevels == 0)
		return;

	resetStringInfo(body);
	appendBinaryStringInfo(body, "\0\0\0\0", 4);
	encode_levels(body, col->levels, col->nlevels);
	levels_len = body->len - 4;
	body->data[0] = (char) levels_len;
	body->data[1] = (char) (levels_len >> 8);
	body->data[2] = (char) (levels_len >> 16);
	body->data[3] = (char) (levels_len >> 24);
	if (col->nbits > 0)
	{
		appendStringInfoCharMacro(&col->values, (char) col->bitbuf);
		col->bitbuf = 0;
		col->nbits = 0;
	}
	appendBinaryStringInfo(body, col->values.data, col->values.len);

	data = body->data;
	clen = body->len;
	if (w->opts.codec == PQ_CODEC_ZSTD)
	{
		size_t		bound = ZSTD_compressBound(body->len);
		size_t		r;

		resetStringInfo(&w->zbuf);
		enlargeStringInfo(&w->zbuf, (int) bound);
		r = ZSTD_compressCCtx(w->zctx, w->zbuf.data, bound, body->data, body->len,
							  w->opts.zstd_level);
		if (ZSTD_isError(r))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("zstd compression failed: %s", ZSTD_getErrorName(r))));
		data = w->zbuf.data;
		clen = (int) r;
	}

	/* PageHeader { type, sizes, DataPageHeader { count, encodings } } */
	resetStringInfo(&w->header);
	edp_thrift_init(&t, &w->header);
	edp_thrift_struct_begin(&t);
	edp_thrift_field_i32(&t, 1, 0); /* DATA_PAGE */
	edp_thrift_field_i32(&t, 2, body->len);
	edp_thrift_field_i32(&t, 3, clen);
	edp_thrift_field_struct(&t, 5);
	edp_thrift_field_i32(&t, 1, col->nlevels);
	edp_thrift_field_i32(&t, 2, PQ_ENCODING_PLAIN);
	edp_thrift_field_i32(&t, 3, PQ_ENCODING_RLE);
	edp_thrift_field_i32(&t, 4, PQ_ENCODING_RLE);
	edp_thrift_struct_end(&t);
	edp_thrift_struct_end(&t);

	appendBinaryStringInfo(&col->chunk, w->header.data, w->header.len);
	appendBinaryStringInfo(&col->chunk, data, clen);
	col->meta.num_values += col->nlevels;
	col->meta.uncompressed += w->header.len + body->len;
	col->meta.compressed += w->header.len + clen;

	resetStringInfo(&col->values);
	col->nlevels = 0;
}

/* the current row group, written out: each column's chunk in turn */
static void
flush_row_group(EdpParquetWriter *w)
{
	RowGroupMeta *rg;
	int			i;

	if (w->rg_rows == 0)
		return;
	if (w->nrgs == w->rgs_cap)
	{
		w->rgs_cap *= 2;
		w->rgs = repalloc(w->rgs, sizeof(RowGroupMeta) * w->rgs_cap);
	}
	rg = &w->rgs[w->nrgs++];
	rg->num_rows = w->rg_rows;
	rg->file_offset = w->offset;
	rg->uncompressed = 0;
	rg->compressed = 0;
	rg->chunks = MemoryContextAlloc(w->cxt, sizeof(EdpParquetChunkMeta) * w->ncols);

	for (i = 0; i < w->ncols; i++)
	{
		EdpParquetColumn *col = &w->cols[i];

		flush_page(w, col);
		edp_parquet_chunk_stats_done(col);
		col->meta.data_page_offset = w->offset;
		emit(w, col->chunk.data, col->chunk.len);
		rg->chunks[i] = col->meta;
		rg->uncompressed += col->meta.uncompressed;
		rg->compressed += col->meta.compressed;
		resetStringInfo(&col->chunk);
		memset(&col->meta, 0, sizeof(col->meta));
	}
	w->rg_rows = 0;
}

/* bytes the current row group holds in memory */
static int64
buffered_bytes(EdpParquetWriter *w)
{
	int64		n = 0;
	int			i;

	for (i = 0; i < w->ncols; i++)
		n += w->cols[i].values.len + w->cols[i].chunk.len;
	return n;
}

/* one row: values and nulls by attribute of the writer's tuple descriptor */
void
edp_parquet_add_row(EdpParquetWriter *w, Datum *values, bool *isnull)
{
	MemoryContext old = MemoryContextSwitchTo(w->row_cxt);
	int			i;

	for (i = 0; i < w->ncols; i++)
	{
		EdpParquetColumn *col = &w->cols[i];
		int			a = col->attnum;

		if (col->nlevels == col->levels_cap)
		{
			col->levels_cap *= 2;
			col->levels = repalloc(col->levels, col->levels_cap);
		}
		col->levels[col->nlevels++] = isnull[a] ? 0 : 1;
		if (isnull[a])
			col->meta.null_count++;
		else
			edp_parquet_column_add(col, values[a]);
		if (col->values.len >= EDP_PARQUET_PAGE_BYTES || col->nlevels >= PAGE_MAX_ROWS)
		{
			MemoryContextSwitchTo(w->cxt);
			flush_page(w, col);
			MemoryContextSwitchTo(w->row_cxt);
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(w->row_cxt);

	w->rows++;
	w->rg_rows++;
	if (w->rg_rows >= w->opts.row_group_size ||
		((w->rg_rows & 1023) == 0 && buffered_bytes(w) >= EDP_PARQUET_ROW_GROUP_BYTES))
		flush_row_group(w);
}

static void
write_statistics(EdpThrift *t, EdpParquetChunkMeta *m)
{
	edp_thrift_field_struct(t, 12);
	edp_thrift_field_i64(t, 3, m->null_count);
	if (m->has_minmax)
	{
		edp_thrift_field_binary(t, 5, m->max, m->max_len);
		edp_thrift_field_binary(t, 6, m->min, m->min_len);
	}
	edp_thrift_struct_end(t);
}

/* the last row group, the footer and the closing magic */
void
edp_parquet_end(EdpParquetWriter *w)
{
	MemoryContext old = MemoryContextSwitchTo(w->cxt);
	StringInfoData footer;
	EdpThrift	t;
	char	   *geo;
	char		len[4];
	int			i;
	int			r;

	flush_row_group(w);

	initStringInfo(&footer);
	edp_thrift_init(&t, &footer);
	edp_thrift_struct_begin(&t);	/* FileMetaData */
	edp_thrift_field_i32(&t, 1, 1);
	edp_thrift_field_list(&t, 2, EDP_THRIFT_STRUCT, w->ncols + 1);
	edp_thrift_struct_begin(&t);	/* the root of the schema */
	edp_thrift_field_string(&t, 4, "schema");
	edp_thrift_field_i32(&t, 5, w->ncols);
	edp_thrift_struct_end(&t);
	for (i = 0; i < w->ncols; i++)
		edp_parquet_schema_element(&t, &w->cols[i]);
	edp_thrift_field_i64(&t, 3, w->rows);

	edp_thrift_field_list(&t, 4, EDP_THRIFT_STRUCT, w->nrgs);
	for (r = 0; r < w->nrgs; r++)
	{
		RowGroupMeta *rg = &w->rgs[r];

		edp_thrift_struct_begin(&t);	/* RowGroup */
		edp_thrift_field_list(&t, 1, EDP_THRIFT_STRUCT, w->ncols);
		for (i = 0; i < w->ncols; i++)
		{
			EdpParquetColumn *col = &w->cols[i];
			EdpParquetChunkMeta *m = &rg->chunks[i];

			edp_thrift_struct_begin(&t);	/* ColumnChunk */
			edp_thrift_field_i64(&t, 2, m->data_page_offset);
			edp_thrift_field_struct(&t, 3); /* ColumnMetaData */
			edp_thrift_field_i32(&t, 1, col->physical);
			edp_thrift_field_list(&t, 2, EDP_THRIFT_I32, 2);
			edp_thrift_i32(&t, PQ_ENCODING_PLAIN);
			edp_thrift_i32(&t, PQ_ENCODING_RLE);
			edp_thrift_field_list(&t, 3, EDP_THRIFT_BINARY, 1);
			edp_thrift_string(&t, col->name);
			edp_thrift_field_i32(&t, 4, w->opts.codec);
			edp_thrift_field_i64(&t, 5, m->num_values);
			edp_thrift_field_i64(&t, 6, m->uncompressed);
			edp_thrift_field_i64(&t, 7, m->compressed);
			edp_thrift_field_i64(&t, 9, m->data_page_offset);
			write_statistics(&t, m);
			edp_thrift_struct_end(&t);
			edp_thrift_struct_end(&t);
		}
		edp_thrift_field_i64(&t, 2, rg->uncompressed);
		edp_thrift_field_i64(&t, 3, rg->num_rows);
		edp_thrift_field_i64(&t, 5, rg->file_offset);
		edp_thrift_field_i64(&t, 6, rg->compressed);
		edp_thrift_struct_end(&t);
	}

	geo = edp_geo_metadata_json(w->cols, w->ncols);
	if (geo)
	{
		edp_thrift_field_list(&t, 5, EDP_THRIFT_STRUCT, 1);
		edp_thrift_struct_begin(&t);	/* KeyValue */
		edp_thrift_field_string(&t, 1, "geo");
		edp_thrift_field_string(&t, 2, geo);
		edp_thrift_struct_end(&t);
	}
	edp_thrift_field_string(&t, 6, "edp version " EDP_VERSION);

	/* min/max above are in each type's defined order */
	edp_thrift_field_list(&t, 7, EDP_THRIFT_STRUCT, w->ncols);
	for (i = 0; i < w->ncols; i++)
	{
		edp_thrift_struct_begin(&t);	/* ColumnOrder */
		edp_thrift_field_struct(&t, 1); /* TYPE_ORDER */
		edp_thrift_struct_end(&t);
		edp_thrift_struct_end(&t);
	}
	edp_thrift_struct_end(&t);

	emit(w, footer.data, footer.len);
	len[0] = (char) footer.len;
	len[1] = (char) (footer.len >> 8);
	len[2] = (char) (footer.len >> 16);
	len[3] = (char) (footer.len >> 24);
	emit(w, len, 4);
	emit(w, "PAR1", 4);
	MemoryContextSwitchTo(old);
}

int64
edp_parquet_rows(EdpParquetWriter *w)
{
	return w->rows;
}

int64
edp_parquet_bytes(EdpParquetWriter *w)
{
	return w->offset;
}

/* the writer and all it holds (also freed with the caller's context) */
void
edp_parquet_free(EdpParquetWriter *w)
{
	MemoryContextDelete(w->cxt);
}
