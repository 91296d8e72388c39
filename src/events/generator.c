/*-------------------------------------------------------------------------
 *
 * events/generator.c
 *		edp.generate_events(): a deterministic generator of realistic event
 *		rows, for the demo, the tests and the benchmarks.
 *
 * Every row is a pure function of (seed, settings, id): a row's random
 * numbers come from a splitmix64 stream keyed by the seed and the row id.
 * A second stream, keyed by the seed alone, decides which output rows are
 * duplicates and which earlier id each repeats; a duplicate is produced by
 * generating that id again, so it is an exact copy without keeping old rows
 * around.  Only integer and basic IEEE arithmetic is used (no libm), so
 * results do not depend on the platform's math library.  Consequences: the same arguments give the same rows on every
 * machine and every run, and generate_events(10) is a prefix of
 * generate_events(1000) with the same other arguments.
 *
 * Speed matters (the benchmarks generate tens of millions of rows), so the
 * text columns are written by our own formatters into buffers allocated
 * once per call, and each row goes straight into the result tuplestore
 * (materialize mode: no per-row function call, no intermediate tuple).
 * Nothing is allocated per row except the stored tuple itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#include "buckets/buckets.h"
#include "core/compat.h"

/* result columns, in the order of the SQL signature */
enum
{
	COL_ID,
	COL_CUSTOMER_ID,
	COL_EVENT_TYPE,
	COL_TRANSACTION_ID,
	COL_FIRST_DIMENSION_ID,
	COL_SECOND_DIMENSION_ID,
	COL_RECORDED_DATE,
	COL_CREATED_DATE,
	COL_EVENT_TS,
	COL_TS_TEXT,
	COL_EVENT_METRICS,
	GEN_NCOLUMNS
};

#define GEN_MAX_EVENT_TYPES		1000
#define GEN_FIRST_DIMENSIONS	100
#define GEN_SECOND_DIMENSIONS	20

/* a duplicate repeats one of this many most recent ids (a retried send) */
#define GEN_DUPLICATE_WINDOW	1000

/* an empty metrics object appears in this fraction of missing_key_share */
#define GEN_EMPTY_FRACTION		0.1

/*
 * Our formatters write 4-digit years; with offsets up to 15:59 either way
 * the local time of any instant in this range stays in years 1..9999.
 * Microseconds since 2000-01-01: 0001-01-02 00:00 and 9999-12-31 00:00 UTC.
 */
#define GEN_MIN_TIMESTAMP	INT64CONST(-63082195200000000)
#define GEN_MAX_TIMESTAMP	INT64CONST(252455529600000000)

/* one UTC offset of ts_offsets, kept as the user spelled it */
typedef struct EdpGenOffset
{
	int64		usecs;			/* offset east of UTC */
	int			len;
	char		text[8];		/* "Z", "+05", "+05:30" or "+0530" */
} EdpGenOffset;

/* everything a call needs, prepared once before the first row */
typedef struct EdpGenerator
{
	uint64		row_key;		/* keys the per-row random streams */
	TimestampTz start_at;
	uint64		span;			/* end_at - start_at, microseconds */
	int32		customers;
	double		hot_share;
	int			customer_bands; /* bands of ranks 1 .. customers - 1 */
	int			event_types;
	double		type_cdf[GEN_MAX_EVENT_TYPES];	/* weights 1/k, cumulative */
	Datum		type_names[GEN_MAX_EVENT_TYPES];
	double		unknown_share;
	double		empty_share;	/* of the rows without an unknown key */
	double		key_missing;	/* per key, in non-empty rows */
	int			noffsets;
	EdpGenOffset *offsets;
	/* output buffers reused by every row (the tuplestore copies them) */
	pg_uuid_t	uuid;
	text	   *ts_text;
	text	   *metrics;
} EdpGenerator;

/*
 * splitmix64: a tiny, fast, well-mixed generator; its finalizer also keys
 * the streams, so nearby seeds and ids give unrelated rows.
 */
static inline uint64
gen_mix(uint64 z)
{
	z = (z ^ (z >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64
gen_next(uint64 *state)
{
	*state += UINT64CONST(0x9e3779b97f4a7c15);
	return gen_mix(*state);
}

/* uniform in [0, 1), 53 bits */
static inline double
gen_unit(uint64 *state)
{
	return (double) (gen_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * uniform in [0, bound): the high half of r * bound (a multiplication is far
 * cheaper than a 64-bit division); the bias is below bound / 2^64
 */
static inline uint64
gen_below(uint64 *state, uint64 bound)
{
#ifdef HAVE_INT128
	return (uint64) (((uint128) gen_next(state) * bound) >> 64);
#else
	return gen_next(state) % bound;
#endif
}

/*
 * Relative event rate per UTC hour: quiet nights, busy afternoons.  Used
 * for rejection sampling, so 1.0 is the peak.
 */
static const double gen_hour_weight[24] = {
	0.35, 0.30, 0.25, 0.25, 0.25, 0.30, 0.40, 0.55,
	0.70, 0.80, 0.90, 0.95, 1.00, 1.00, 1.00, 1.00,
	0.95, 0.95, 0.90, 0.85, 0.75, 0.65, 0.55, 0.45
};

/* 2000-01-01 (PostgreSQL's epoch) was a Saturday */
#define GEN_EPOCH_WEEKDAY	6	/* 0 = Sunday */
#define GEN_WEEKEND_WEIGHT	0.7

/* "2023-05-10 17:51:50" into p (19 bytes) for microseconds since 2000 */
static char *
write_civil_time(char *p, int64 local, int64 *usec_of_second)
{
	int64		days = edp_floor_div(local, USECS_PER_DAY);
	int64		tod = local - days * USECS_PER_DAY;
	int64		z,
				era;
	unsigned	doe,
				yoe,
				doy,
				mp,
				day,
				month,
				secs;
	int			year;

	/*
	 * Day number to proleptic Gregorian date, after H. Hinnant's published
	 * days-from-civil inverse: count days from 0000-03-01 (730425 days
	 * before 2000-01-01) so leap days fall at the end of each year, split
	 * into 400-year eras, then year of era, day of year, month from March.
	 */
	z = days + 730425;
	era = edp_floor_div(z, 146097);
	doe = (unsigned) (z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	day = doy - (153 * mp + 2) / 5 + 1;
	month = mp < 10 ? mp + 3 : mp - 9;
	year = (int) (yoe + era * 400 + (month <= 2));

	secs = (unsigned) (tod / USECS_PER_SEC);
	*usec_of_second = tod % USECS_PER_SEC;

	p[0] = '0' + year / 1000;
	p[1] = '0' + (year / 100) % 10;
	p[2] = '0' + (year / 10) % 10;
	p[3] = '0' + year % 10;
	p[4] = '-';
	p[5] = '0' + month / 10;
	p[6] = '0' + month % 10;
	p[7] = '-';
	p[8] = '0' + day / 10;
	p[9] = '0' + day % 10;
	p[10] = ' ';
	p[11] = '0' + secs / 36000;
	p[12] = '0' + (secs / 3600) % 10;
	p[13] = ':';
	p[14] = '0' + (secs / 600) % 6;
	p[15] = '0' + (secs / 60) % 10;
	p[16] = ':';
	p[17] = '0' + (secs % 60) / 10;
	p[18] = '0' + secs % 10;
	return p + 19;
}

/* ts_text: ts written in offset off with digits fraction digits */
static void
format_ts_text(text *out, TimestampTz ts, int digits, const EdpGenOffset *off)
{
	char	   *start = VARDATA(out);
	char	   *p;
	int64		usec;

	p = write_civil_time(start, ts + off->usecs, &usec);
	if (digits > 0)
	{
		char		fraction[6];
		int			i;

		for (i = 5; i >= 0; i--)
		{
			fraction[i] = '0' + usec % 10;
			usec /= 10;
		}
		*p++ = '.';
		memcpy(p, fraction, digits);
		p += digits;
	}
	memcpy(p, off->text, off->len);
	p += off->len;
	SET_VARSIZE(out, VARHDRSZ + (p - start));
}

static inline char *
append_str(char *p, const char *s, int len)
{
	memcpy(p, s, len);
	return p + len;
}

#define APPEND_LITERAL(p, s) append_str((p), (s), sizeof(s) - 1)

/*
 * event_metrics: {"metrics": {...}} with the known keys each present or
 * not, maybe one unknown key, in a random order.
 */
static void
format_metrics(EdpGenerator *g, uint64 *rs, text *out)
{
	static const char *const known[] = {
		"\"metric_one\": ", "\"metric_two\": ", "\"metric_n\": "
	};
	static const int known_len[] = {14, 14, 12};
	static const uint32 known_bound[] = {1024, 100000, 1000};
	char	   *start = VARDATA(out);
	char	   *p = start;
	int			keys[4];
	int			nkeys = 0;
	bool		unknown;
	int			i;
	uint64		order;

	p = APPEND_LITERAL(p, "{\"metrics\": {");
	unknown = gen_unit(rs) < g->unknown_share;
	if (unknown || gen_unit(rs) >= g->empty_share)
	{
		for (i = 0; i < 3; i++)
			if (gen_unit(rs) >= g->key_missing)
				keys[nkeys++] = i;
		if (unknown)
			keys[nkeys++] = 3;

		/* Fisher-Yates: nobody may place values by position */
		order = gen_next(rs);
		for (i = nkeys - 1; i > 0; i--)
		{
			int			j = (int) (((order & 0xffff) * (uint64) (i + 1)) >> 16);
			int			tmp = keys[i];

			order >>= 16;
			keys[i] = keys[j];
			keys[j] = tmp;
		}

		for (i = 0; i < nkeys; i++)
		{
			uint64		r = gen_next(rs);

			if (i > 0)
				p = APPEND_LITERAL(p, ", ");
			if (keys[i] < 3)
			{
				p = append_str(p, known[keys[i]], known_len[keys[i]]);
				p += pg_ultoa_n((uint32) (r % known_bound[keys[i]]), p);
			}
			else
			{
				/* metric_x1 .. metric_x9, x1 the most common */
				double		u = (double) (r >> 11) * (1.0 / 9007199254740992.0);
				int			which = 1 + (int) (9.0 * u * u);

				p = APPEND_LITERAL(p, "\"metric_x");
				*p++ = '0' + which;
				p = APPEND_LITERAL(p, "\": ");
				p += pg_ultoa_n((uint32) (r % 100), p);
			}
		}
	}
	p = APPEND_LITERAL(p, "}}");
	SET_VARSIZE(out, VARHDRSZ + (p - start));
}

/* fill values[] with the row of this id; nulls stay all false */
static void
generate_row(EdpGenerator *g, int64 id, Datum *values)
{
	uint64		rs = gen_mix(g->row_key ^ gen_mix((uint64) id));
	uint64		r;
	int64		customer;
	int			type;
	int			lo,
				hi,
				attempt;
	TimestampTz ts;
	TimestampTz truncated;
	int			digits;
	int64		unit;
	int64		delay;
	double		u;

	/*
	 * Customer 1 is the hot one.  The others fall off like 1/rank: pick a
	 * power-of-two band of ranks [2^b, 2^(b+1)) with equal chances, then a
	 * rank in it (integer arithmetic only, so every platform agrees).
	 */
	if (g->customers == 1 || gen_unit(&rs) < g->hot_share)
		customer = 1;
	else
	{
		uint64		band = UINT64CONST(1) << gen_below(&rs, g->customer_bands);
		uint64		width = Min(band, (uint64) g->customers - band);

		customer = 1 + (int64) (band + gen_below(&rs, width));
	}

	/* event type: weights 1/k */
	u = gen_unit(&rs) * g->type_cdf[g->event_types - 1];
	lo = 0;
	hi = g->event_types - 1;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (g->type_cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	type = lo;

	/* transaction id: random bits shaped as a version 4 UUID */
	r = gen_next(&rs);
	memcpy(g->uuid.data, &r, 8);
	r = gen_next(&rs);
	memcpy(g->uuid.data + 8, &r, 8);
	g->uuid.data[6] = (g->uuid.data[6] & 0x0f) | 0x40;
	g->uuid.data[8] = (g->uuid.data[8] & 0x3f) | 0x80;

	r = gen_next(&rs);

	/* instant: uniform over the range, thinned by hour and weekday */
	for (attempt = 0;; attempt++)
	{
		int64		days;
		int			hour;
		int			weekday;
		double		weight;

		ts = g->start_at + (int64) gen_below(&rs, g->span);
		if (attempt == 7)
			break;
		days = edp_floor_div(ts, USECS_PER_DAY);
		hour = (int) ((ts - days * USECS_PER_DAY) / USECS_PER_HOUR);
		weekday = (int) ((days % 7 + 7 + GEN_EPOCH_WEEKDAY) % 7);
		weight = gen_hour_weight[hour];
		if (weekday == 0 || weekday == 6)
			weight *= GEN_WEEKEND_WEIGHT;
		if (gen_unit(&rs) < weight)
			break;
	}

	/* 0..6 fraction digits, mostly 6; the instant is cut to match */
	digits = (int) gen_below(&rs, 12);
	if (digits > 6)
		digits = 6;
	for (unit = 1, lo = digits; lo < 6; lo++)
		unit *= 10;
	truncated = ts - (ts - edp_floor_div(ts, unit) * unit);
	if (truncated >= g->start_at)
		ts = truncated;
	else
		digits = 6;

	/* created a little later: mostly within a second, up to a minute */
	u = gen_unit(&rs);
	delay = 1000 + (int64) (u * u * u * u * 60.0 * USECS_PER_SEC);

	values[COL_ID] = Int64GetDatum(id);
	values[COL_CUSTOMER_ID] = Int64GetDatum(customer);
	values[COL_EVENT_TYPE] = g->type_names[type];
	values[COL_TRANSACTION_ID] = UUIDPGetDatum(&g->uuid);
	values[COL_FIRST_DIMENSION_ID] = Int32GetDatum(1 + (int32) ((r >> 32) % GEN_FIRST_DIMENSIONS));
	values[COL_SECOND_DIMENSION_ID] = Int32GetDatum(1 + (int32) ((r & 0xffffffff) % GEN_SECOND_DIMENSIONS));
	values[COL_RECORDED_DATE] = TimestampGetDatum(ts);
	values[COL_CREATED_DATE] = TimestampGetDatum(ts + delay);
	values[COL_EVENT_TS] = TimestampTzGetDatum(ts);
	format_ts_text(g->ts_text, ts, digits,
				   &g->offsets[g->noffsets == 1 ? 0 : gen_below(&rs, g->noffsets)]);
	values[COL_TS_TEXT] = PointerGetDatum(g->ts_text);
	format_metrics(g, &rs, g->metrics);
	values[COL_EVENT_METRICS] = PointerGetDatum(g->metrics);
}

/*
 * Parse one ts_offsets entry: Z, +HH, +HH:MM or +HHMM (or with -), hours
 * up to 15 as PostgreSQL accepts them.
 */
static bool
parse_offset(const char *s, EdpGenOffset *off)
{
	size_t		len = strlen(s);
	int			hours,
				minutes = 0;

	if (len == 0 || len >= sizeof(off->text))
		return false;
	memcpy(off->text, s, len);
	off->len = (int) len;
	if (len == 1 && s[0] == 'Z')
	{
		off->usecs = 0;
		return true;
	}
	if ((s[0] != '+' && s[0] != '-') || len < 3 ||
		!isdigit((unsigned char) s[1]) || !isdigit((unsigned char) s[2]))
		return false;
	hours = (s[1] - '0') * 10 + (s[2] - '0');
	if (len == 6 && s[3] == ':' &&
		isdigit((unsigned char) s[4]) && isdigit((unsigned char) s[5]))
		minutes = (s[4] - '0') * 10 + (s[5] - '0');
	else if (len == 5 &&
			 isdigit((unsigned char) s[3]) && isdigit((unsigned char) s[4]))
		minutes = (s[3] - '0') * 10 + (s[4] - '0');
	else if (len != 3)
		return false;
	if (hours > 15 || minutes > 59)
		return false;
	off->usecs = (hours * SECS_PER_HOUR + minutes * SECS_PER_MINUTE) * USECS_PER_SEC;
	if (s[0] == '-')
		off->usecs = -off->usecs;
	return true;
}

static void
check_share(const char *name, double value)
{
	if (!(value >= 0.0 && value <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 0 and 1", name),
				 errdetail("The value given was %g.", value)));
}

/* read and check the arguments; allocates in the current context */
static EdpGenerator *
prepare_generator(FunctionCallInfo fcinfo, int64 *n, int64 *seed)
{
	static const char *const names[] = {
		"n", "seed", "start_at", "end_at", "customers", "event_types",
		"hot_share", "unknown_key_share", "missing_key_share",
		"duplicate_share"
	};
	EdpGenerator *g = palloc0(sizeof(EdpGenerator));
	TimestampTz end_at;
	double		missing,
				nonempty_missing;
	int			i;

	/* every argument but ts_offsets is required */
	for (i = 0; i < (int) lengthof(names); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", names[i])));

	*n = PG_GETARG_INT64(0);
	*seed = PG_GETARG_INT64(1);
	g->start_at = PG_GETARG_TIMESTAMPTZ(2);
	end_at = PG_GETARG_TIMESTAMPTZ(3);
	g->customers = PG_GETARG_INT32(4);
	g->event_types = PG_GETARG_INT32(5);
	g->hot_share = PG_GETARG_FLOAT8(6);
	g->unknown_share = PG_GETARG_FLOAT8(7);
	missing = PG_GETARG_FLOAT8(8);

	if (*n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must not be negative")));
	if (end_at <= g->start_at)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("end_at must be later than start_at")));
	if (g->start_at < GEN_MIN_TIMESTAMP || end_at > GEN_MAX_TIMESTAMP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("start_at and end_at must lie between 0001-01-02 and 9999-12-31"),
				 errdetail("Generated timestamps are written with four-digit years.")));
	if (g->customers < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("customers must be at least 1")));
	if (g->event_types < 1 || g->event_types > GEN_MAX_EVENT_TYPES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event_types must be between 1 and %d", GEN_MAX_EVENT_TYPES)));
	check_share("hot_share", g->hot_share);
	check_share("unknown_key_share", g->unknown_share);
	check_share("missing_key_share", missing);
	check_share("duplicate_share", PG_GETARG_FLOAT8(9));

	g->row_key = gen_mix((uint64) *seed ^ UINT64CONST(0x6564702d726f7773));
	g->span = (uint64) (end_at - g->start_at);
	while (g->customer_bands < 31 &&
		   (INT64CONST(1) << g->customer_bands) < g->customers)
		g->customer_bands++;

	/*
	 * Rows without an unknown key are empty with probability empty_share;
	 * each known key of the other rows is missing with key_missing, chosen
	 * so that a key is missing in missing_key_share of all rows.
	 */
	g->empty_share = missing * GEN_EMPTY_FRACTION;
	nonempty_missing = g->empty_share * (1.0 - g->unknown_share);
	g->key_missing = nonempty_missing >= 1.0 ? 1.0 :
		(missing - nonempty_missing) / (1.0 - nonempty_missing);

	for (i = 0; i < g->event_types; i++)
	{
		char		name[32];

		g->type_cdf[i] = (i > 0 ? g->type_cdf[i - 1] : 0.0) + 1.0 / (i + 1);
		snprintf(name, sizeof(name), "type_%d", i + 1);
		g->type_names[i] = PointerGetDatum(cstring_to_text(name));
	}

	if (PG_ARGISNULL(10))
	{
		g->noffsets = 1;
		g->offsets = palloc0(sizeof(EdpGenOffset));
		parse_offset("+00", g->offsets);
	}
	else
	{
		Datum	   *elems;
		bool	   *elem_nulls;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(10), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &elem_nulls, &g->noffsets);
		if (g->noffsets == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ts_offsets must not be empty"),
					 errhint("Pass NULL for the default offset +00.")));
		g->offsets = palloc0(sizeof(EdpGenOffset) * g->noffsets);
		for (i = 0; i < g->noffsets; i++)
		{
			char	   *s;

			if (elem_nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("ts_offsets must not contain nulls")));
			s = TextDatumGetCString(elems[i]);
			if (!parse_offset(s, &g->offsets[i]))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid UTC offset \"%s\" in ts_offsets", s),
						 errhint("Write offsets as Z, +HH, +HH:MM or +HHMM (or with -), hours up to 15.")));
		}
	}

	g->ts_text = palloc(VARHDRSZ + 64);
	g->metrics = palloc(VARHDRSZ + 256);
	return g;
}

/*
 * edp.generate_events(n, seed, ...) returns n event rows, see the file
 * header and doc/edp.md.
 */
PG_FUNCTION_INFO_V1(edp_generate_events);
Datum
edp_generate_events(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EdpGenerator *g;
	int64		n;
	int64		seed;
	int64		row;
	int64		last_id = 0;
	uint64		dup_stream;
	double		duplicate_share;
	Datum		values[GEN_NCOLUMNS];
	bool		nulls[GEN_NCOLUMNS];

	/* checks first, so a bad argument never builds a tuplestore */
	g = prepare_generator(fcinfo, &n, &seed);
	duplicate_share = PG_GETARG_FLOAT8(9);

	edp_init_materialized_srf(fcinfo);
	if (rsinfo->setDesc->natts != GEN_NCOLUMNS)
		elog(ERROR, "edp.generate_events must return %d columns", GEN_NCOLUMNS);	/* internal error */

	/* the stream deciding duplicates is independent of the row streams */
	dup_stream = gen_mix((uint64) seed ^ UINT64CONST(0x6564702d64757073));
	memset(nulls, 0, sizeof(nulls));

	for (row = 0; row < n; row++)
	{
		int64		id;

		CHECK_FOR_INTERRUPTS();
		if (last_id > 0 && duplicate_share > 0.0 &&
			gen_unit(&dup_stream) < duplicate_share)
		{
			int64		window = Min(last_id, GEN_DUPLICATE_WINDOW);

			id = last_id - (int64) gen_below(&dup_stream, (uint64) window);
		}
		else
			id = ++last_id;

		generate_row(g, id, values);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	return (Datum) 0;
}

/*
 * Planner support for edp.generate_events: the row estimate is n when n
 * is known at plan time (as generate_series does), instead of ROWS 1000.
 */
PG_FUNCTION_INFO_V1(edp_generate_events_support);
Datum
edp_generate_events_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestRows))
	{
		SupportRequestRows *req = (SupportRequestRows *) rawreq;

		if (is_funcclause(req->node))
		{
			List	   *args = ((FuncExpr *) req->node)->args;
			Node	   *arg;

			if (args == NIL)
				PG_RETURN_POINTER(NULL);
			arg = estimate_expression_value(req->root, linitial(args));
			if (IsA(arg, Const))
			{
				Const	   *c = (Const *) arg;

				req->rows = c->constisnull ? 0 :
					Max((double) DatumGetInt64(c->constvalue), 0.0);
				PG_RETURN_POINTER(req);
			}
		}
	}
	PG_RETURN_POINTER(NULL);
}
