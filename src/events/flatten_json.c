/*-------------------------------------------------------------------------
 *
 * events/flatten_json.c
 *		Split a JSON metrics document into integer columns and an overflow.
 *
 * The document is scanned once; no jsonb value is built for it.  Members
 * of the metrics object (found at the table's path, e.g. {"metrics": {...}})
 * whose key names an integer column and whose value is an integer that
 * fits that column move into the column.  Everything else stays, byte for
 * byte, in the overflow text, which becomes a jsonb value only when
 * something is left.  The rules, which make the split lossless:
 *
 *	- keys are matched by name, never by position;
 *	- a key moves only into a column the row left NULL; a value the row
 *	  gives the column itself wins and the key stays in the overflow;
 *	- a value moves only if jsonb would hold it as an integer (512, -4, 1e3)
 *	  within the column type's range; anything else (1.5, 1.0, "5", an
 *	  object, null, an integer too large) stays in the overflow;
 *	- the last occurrence of a duplicated key wins and earlier ones are
 *	  dropped, as jsonb does; that holds for the keys of the path too, so
 *	  {"metrics": 5, "metrics": {...}} splits as the jsonb value the row
 *	  trigger sees, {"metrics": {...}};
 *	- the overflow is NULL when the columns carry the whole document, i.e.
 *	  something moved and what is left is just the path skeleton
 *	  {"metrics": {}}; an empty metrics object with nothing moved stays as
 *	  {"metrics": {}} so that it remains distinguishable from no document;
 *	- a document without a metrics object at the path (another shape, a
 *	  scalar, an array) stays whole in the overflow.
 *
 * edp.original_metrics() inverts the split: it sets the columns' values
 * into the overflow (or into the skeleton when the overflow is NULL).
 *
 * Two scanners feed the same handlers (on_object_start, on_member_start,
 * ...).  The reference is PostgreSQL's JSON parser, pg_parse_json() with
 * semantic callbacks, which takes any document.  In front of it, because
 * COPY's speed depends on it, a tight loop takes the common shape: objects
 * along the path only, keys and strings without escapes, numbers and the
 * literals true/false/null.  It checks the JSON grammar of what it
 * accepts exactly; whatever it does not take (arrays, escapes, other
 * objects, anything malformed) it hands, untouched, to pg_parse_json, which
 * also produces PostgreSQL's standard error for invalid JSON.  The setting
 * edp.json_fast_path = off sends every document to pg_parse_json; the
 * tests compare both.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/jsonfuncs.h"
#include "utils/memutils.h"

#include "core/edp.h"
#include "events/flatten.h"

/* edp.json_fast_path: take the common document shape with the tight loop */
bool		edp_json_fast_path = true;

struct EdpMember
{
	const char *key;			/* as written, between the quotes */
	int			keylen;
	const char *name;			/* de-escaped, the same unless escaped */
	int			namelen;
	const char *value_start;	/* the value's text in the document */
	const char *value_end;
	int			metric;			/* index into metrics, or -1 */
	bool		moved;
	bool		held;			/* the row gave the column a value: it stays */
	bool		superseded;		/* a later member has the same metric key */
};

/* state of one scan */
typedef struct FlattenScan
{
	EdpFlattener *f;
	Datum	   *values;
	bool	   *isnull;

	int			pending_level;	/* next object at this level is on the path */
	bool	   *on_path;		/* per object level 0..npath */
	int		   *level_members;	/* distinct members of the path objects */
	bool	   *path_key_seen;	/* per path object: its path key came */
	int			ntargets;		/* metrics objects found */
	bool		in_target;
	const char *target_start;
	const char *target_end;
	int			nmembers;
	int			nmoved;
	int			nsuperseded;
	int		   *metric_member;	/* per metric: its latest member, or -1 */
	bool		path_key_repeated;	/* an earlier metrics object was dropped */

	JsonLexContext *lex;		/* pg_parse_json only */
	char	   *json;			/* the document, for jsonb_in's errors */
	int			len;
} FlattenScan;

static int	find_metric(EdpFlattener *f, const char *key, int keylen);
static bool parse_integer(const char *s, const char *end, Oid typid, Datum *result);
static bool could_be_integer(const char *s, const char *end);
static bool metric_value(const char *s, const char *end, Oid typid, Datum *result);
static void count_unknown(EdpFlattener *f, const char *key, int keylen);
static void scan_reset(FlattenScan *scan);
static void unmove(FlattenScan *scan, EdpMember *member);
static void on_object_start(FlattenScan *scan, int level, const char *pos);
static void on_object_end(FlattenScan *scan, int level, const char *pos);
static void on_member_start(FlattenScan *scan, int level,
							const char *raw, int rawlen, const char *key, int keylen,
							const char *value, const char *value_token_end,
							bool is_number);
static void on_member_end(FlattenScan *scan, int level, const char *value_end);
static bool fast_scan(FlattenScan *scan, const char *json, int len);
static void parser_scan(FlattenScan *scan, char *json, int len);

static int
find_metric(EdpFlattener *f, const char *key, int keylen)
{
	int			lo = 0,
				hi = f->nmetrics - 1;

	/* a handful of metrics, the usual case: compare lengths first */
	if (f->nmetrics <= 8)
	{
		for (lo = 0; lo < f->nmetrics; lo++)
			if (f->metrics[lo].namelen == keylen &&
				memcmp(f->metrics[lo].name, key, keylen) == 0)
				return lo;
		return -1;
	}
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const char *name = f->metrics[mid].name;
		int			c = strncmp(key, name, keylen);

		if (c == 0 && name[keylen] != '\0')
			c = -1;				/* key is a proper prefix of name */
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/*
 * Is [s, end) a JSON integer literal within the range of typid?  JSON
 * numbers are already syntax-checked by the lexer: an optional minus sign,
 * digits, then maybe a fraction or exponent, which we refuse.
 */
static bool
parse_integer(const char *s, const char *end, Oid typid, Datum *result)
{
	bool		negative = false;
	uint64		magnitude = 0;
	int64		value;

	if (s < end && *s == '-')
	{
		negative = true;
		s++;
	}
	if (s == end)
		return false;
	for (; s < end; s++)
	{
		if (*s < '0' || *s > '9')
			return false;		/* fraction or exponent */
		if (magnitude > (PG_UINT64_MAX - 9) / 10)
			return false;
		magnitude = magnitude * 10 + (*s - '0');
	}
	if (negative)
	{
		if (magnitude > (uint64) PG_INT64_MAX + 1)
			return false;
		value = (int64) (0 - magnitude);
	}
	else
	{
		if (magnitude > (uint64) PG_INT64_MAX)
			return false;
		value = (int64) magnitude;
	}

	switch (typid)
	{
		case INT2OID:
			if (value < PG_INT16_MIN || value > PG_INT16_MAX)
				return false;
			*result = Int16GetDatum((int16) value);
			return true;
		case INT4OID:
			if (value < PG_INT32_MIN || value > PG_INT32_MAX)
				return false;
			*result = Int32GetDatum((int32) value);
			return true;
		default:
			*result = Int64GetDatum(value);
			return true;
	}
}

/*
 * Can jsonb hold the JSON number [s, end) as an integer with at most 19
 * digits?  Only then is it worth asking numeric_in.  jsonb prints a number
 * without fraction digits when its exponent is at least the number of
 * fraction digits written (1.5e1 is 15, 1.50e1 is 15.0, 1e-1 is 0.1).
 * This also keeps numeric_in's errors (an exponent or value beyond
 * numeric's range) from firing before the rest of the document is read:
 * such a number stays in the overflow, and jsonb_in judges the document.
 */
static bool
could_be_integer(const char *s, const char *end)
{
	const char *p = s;
	bool		in_fraction = false;
	int64		fraction_digits = 0;
	int64		significant_digits = 0;
	int64		exponent = 0;
	bool		exponent_negative = false;

	if (p < end && *p == '-')
		p++;
	for (; p < end && *p != 'e' && *p != 'E'; p++)
	{
		if (*p == '.')
		{
			in_fraction = true;
			continue;
		}
		if (in_fraction)
			fraction_digits++;
		if (significant_digits > 0 || *p != '0')
			significant_digits++;
	}
	if (p < end)
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			exponent_negative = (*p++ == '-');
		for (; p < end; p++)
			if (exponent < PG_INT32_MAX)
				exponent = exponent * 10 + (*p - '0');
		if (exponent_negative)
			exponent = -exponent;
	}
	if (exponent < fraction_digits || exponent >= PG_INT32_MAX / 2)
		return false;			/* fraction digits remain, or numeric_in fails */
	return significant_digits == 0 ||	/* zero: 0e5 is 0 */
		significant_digits - fraction_digits + exponent <= 19;
}

/*
 * The value of a JSON number token for an integer column, judged as jsonb
 * judges it: 1e3 is stored and printed by jsonb as 1000, so it moves, while
 * 1.0 keeps its fraction digit and stays.  Plain integer literals, the
 * common case, never reach numeric_in.
 */
static bool
metric_value(const char *s, const char *end, Oid typid, Datum *result)
{
	Datum		number;
	char	   *canonical;

	if (parse_integer(s, end, typid, result))
		return true;
	if (memchr(s, '.', end - s) == NULL && memchr(s, 'e', end - s) == NULL &&
		memchr(s, 'E', end - s) == NULL)
		return false;			/* an integer out of range */
	if (!could_be_integer(s, end))
		return false;
	number = DirectFunctionCall3(numeric_in, CStringGetDatum(pnstrdup(s, end - s)),
								 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	canonical = DatumGetCString(DirectFunctionCall1(numeric_out, number));
	return parse_integer(canonical, canonical + strlen(canonical), typid, result);
}

static void
count_unknown(EdpFlattener *f, const char *key, int keylen)
{
	ListCell   *lc;
	EdpUnknownKey *entry;
	MemoryContext old;

	/* a key too long to name a column is counted, not named */
	if (keylen >= NAMEDATALEN)
	{
		f->unknown_other_rows++;
		return;
	}
	foreach(lc, f->unknown_keys)
	{
		entry = (EdpUnknownKey *) lfirst(lc);
		if (strncmp(entry->key, key, keylen) == 0 && entry->key[keylen] == '\0')
		{
			/* a key twice in one document counts its row once */
			if (entry->last_row != f->rows_split)
				entry->rows++;
			entry->last_row = f->rows_split;
			return;
		}
	}
	if (list_length(f->unknown_keys) >= MAX_REPORTED_UNKNOWN_KEYS)
	{
		f->unknown_other_rows++;
		return;
	}
	old = MemoryContextSwitchTo(f->mcxt);
	entry = palloc(sizeof(EdpUnknownKey));
	entry->key = pnstrdup(key, keylen);
	entry->rows = 1;
	entry->last_row = f->rows_split;
	f->unknown_keys = lappend(f->unknown_keys, entry);
	MemoryContextSwitchTo(old);
}

/* Forget a scan's results, putting moved values back. */
static void
scan_reset(FlattenScan *scan)
{
	int			i;

	for (i = 0; i < scan->nmembers; i++)
		if (scan->f->members[i].moved)
			unmove(scan, &scan->f->members[i]);
	scan->pending_level = -1;
	scan->ntargets = 0;
	scan->in_target = false;
	scan->target_start = scan->target_end = NULL;
	scan->nmembers = 0;
	scan->nmoved = 0;
	scan->nsuperseded = 0;
	for (i = 0; i < scan->f->nmetrics; i++)
		scan->metric_member[i] = -1;
	scan->path_key_repeated = false;
}

/* Put back a moved member: its column gets the value it had before. */
static void
unmove(FlattenScan *scan, EdpMember *member)
{
	AttrNumber	attnum = scan->f->metrics[member->metric].attnum;

	member->moved = false;
	scan->nmoved--;
	scan->values[attnum - 1] = scan->f->saved_values[attnum - 1];
	scan->isnull[attnum - 1] = scan->f->saved_isnull[attnum - 1];
}

/* An object starts at pos, at nesting level (0 = the document itself). */
static void
on_object_start(FlattenScan *scan, int level, const char *pos)
{
	bool		on = (level == 0) || (scan->pending_level == level);

	scan->pending_level = -1;
	if (level > scan->f->npath)
		return;
	scan->on_path[level] = on;
	if (!on)
		return;
	if (level < scan->f->npath)
	{
		scan->level_members[level] = 0;
		scan->path_key_seen[level] = false;
	}
	else
	{
		scan->ntargets++;
		scan->in_target = true;
		scan->target_start = pos;
	}
}

/* An object of the given level ended just before pos. */
static void
on_object_end(FlattenScan *scan, int level, const char *pos)
{
	if (scan->in_target && level == scan->f->npath)
	{
		scan->in_target = false;
		scan->target_end = pos;
	}
}

/*
 * A member of an object of the given level: its key as written (raw) and
 * de-escaped (key), and its value's first token.  Members of path objects
 * lead to the next path level; members of the metrics object move their
 * value into a column when they can.
 */
static void
on_member_start(FlattenScan *scan, int level,
				const char *raw, int rawlen, const char *key, int keylen,
				const char *value, const char *value_token_end, bool is_number)
{
	EdpFlattener *f = scan->f;
	EdpMember  *member;

	if (level < f->npath)
	{
		if (!scan->on_path[level])
			return;
		if (strncmp(key, f->path[level], keylen) != 0 ||
			f->path[level][keylen] != '\0')
		{
			scan->level_members[level]++;
			return;
		}
		if (scan->path_key_seen[level])
		{
			/*
			 * The path key again: the last occurrence wins, as in jsonb
			 * (and so in the row trigger, which sees the jsonb value).
			 * What the earlier one held is forgotten; its text stays in
			 * the document, and jsonb_in drops it.
			 */
			scan_reset(scan);
			scan->path_key_repeated = true;
		}
		else
		{
			scan->path_key_seen[level] = true;
			scan->level_members[level]++;
		}
		scan->pending_level = level + 1;
		return;
	}
	if (level != f->npath || !scan->in_target)
		return;

	if (scan->nmembers == f->members_cap)
	{
		if (f->members == NULL)
		{
			f->members_cap = 16;
			f->members = MemoryContextAlloc(f->mcxt, sizeof(EdpMember) * f->members_cap);
		}
		else
		{
			f->members_cap *= 2;
			f->members = repalloc(f->members, sizeof(EdpMember) * f->members_cap);
		}
	}
	member = &f->members[scan->nmembers++];
	member->key = raw;
	member->keylen = rawlen;
	member->name = key;
	member->namelen = keylen;
	member->value_start = value;
	member->value_end = NULL;
	member->moved = false;
	member->held = false;
	member->superseded = false;
	member->metric = find_metric(f, key, keylen);

	if (member->metric >= 0)
	{
		EdpMetricColumn *metric = &f->metrics[member->metric];
		AttrNumber	attnum = metric->attnum;
		Datum		datum;
		int			earlier = scan->metric_member[member->metric];

		/*
		 * The last occurrence of a metric key wins, as in jsonb: an earlier
		 * one goes.  Unknown keys twice stay twice in the rebuilt document,
		 * and jsonb_in keeps the last (comparing every key with every
		 * earlier one would make a document of many members quadratic).
		 */
		if (earlier >= 0)
		{
			if (f->members[earlier].moved)
				unmove(scan, &f->members[earlier]);
			f->members[earlier].superseded = true;
			scan->nsuperseded++;
		}
		scan->metric_member[member->metric] = scan->nmembers - 1;

		if (!f->saved_isnull[attnum - 1])
			member->held = true;	/* the row gave the column a value */
		else if (is_number &&
				 metric_value(value, value_token_end, metric->typid, &datum))
		{
			scan->values[attnum - 1] = datum;
			scan->isnull[attnum - 1] = false;
			member->moved = true;
			scan->nmoved++;
		}
	}
}

static void
on_member_end(FlattenScan *scan, int level, const char *value_end)
{
	scan->pending_level = -1;
	if (scan->in_target && level == scan->f->npath)
		scan->f->members[scan->nmembers - 1].value_end = value_end;
}

/* -- the fast scanner ---------------------------------------------------- */

#define JSON_SPACE(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

static inline const char *
skip_space(const char *p, const char *end)
{
	while (p < end && JSON_SPACE(*p))
		p++;
	return p;
}

/* End of the JSON number at p (RFC 8259 grammar), or NULL if malformed. */
static const char *
fast_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return NULL;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (p < end && *p == '.')
	{
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

/*
 * End of the string whose opening quote is at p, if it has no escapes and
 * no control characters; NULL otherwise (the parser takes those).
 */
static inline const char *
fast_string(const char *p, const char *end)
{
	for (p++; p < end; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '"')
			return p + 1;
		if (c == '\\' || c < 0x20)
			return NULL;
	}
	return NULL;
}

/*
 * The object at p (an '{') of the given level; returns the position after
 * its '}', or NULL to hand the document to the parser.
 */
static const char *
fast_object(FlattenScan *scan, const char *p, const char *end, int level)
{
	on_object_start(scan, level, p);
	p = skip_space(p + 1, end);
	if (p < end && *p == '}')
	{
		on_object_end(scan, level, p + 1);
		return p + 1;
	}
	for (;;)
	{
		const char *key;
		const char *key_end;
		const char *value;
		const char *value_end;
		bool		is_number = false;

		if (p >= end || *p != '"' || (key_end = fast_string(p, end)) == NULL)
			return NULL;
		key = p + 1;
		p = skip_space(key_end, end);
		if (p >= end || *p != ':')
			return NULL;
		value = p = skip_space(p + 1, end);
		if (p >= end)
			return NULL;

		switch (*p)
		{
			case '"':
				value_end = fast_string(p, end);
				break;
			case 't':
				value_end = (end - p >= 4 && memcmp(p, "true", 4) == 0) ? p + 4 : NULL;
				break;
			case 'f':
				value_end = (end - p >= 5 && memcmp(p, "false", 5) == 0) ? p + 5 : NULL;
				break;
			case 'n':
				value_end = (end - p >= 4 && memcmp(p, "null", 4) == 0) ? p + 4 : NULL;
				break;
			case '{':
				value_end = NULL;	/* only objects on the path, below */
				break;
			default:
				value_end = fast_number(p, end);
				is_number = true;
				break;
		}

		if (*p == '{')
		{
			/* an object value: on the path we descend, elsewhere we give up */
			int			keylen = key_end - 1 - key;

			if (level >= scan->f->npath || !scan->on_path[level] ||
				strncmp(key, scan->f->path[level], keylen) != 0 ||
				scan->f->path[level][keylen] != '\0')
				return NULL;
			on_member_start(scan, level, key, keylen, key, keylen, p, p, false);
			value_end = fast_object(scan, p, end, level + 1);
			if (value_end == NULL)
				return NULL;
		}
		else
		{
			if (value_end == NULL)
				return NULL;
			on_member_start(scan, level, key, key_end - 1 - key,
							key, key_end - 1 - key, value, value_end, is_number);
		}
		on_member_end(scan, level, value_end);

		p = skip_space(value_end, end);
		if (p < end && *p == ',')
		{
			p = skip_space(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
		{
			on_object_end(scan, level, p + 1);
			return p + 1;
		}
		return NULL;
	}
}

/* Scan a document of the common shape; false hands it to the parser. */
static bool
fast_scan(FlattenScan *scan, const char *json, int len)
{
	const char *end = json + len;
	const char *p = skip_space(json, end);

	if (p >= end || *p != '{')
		return false;
	p = fast_object(scan, p, end, 0);
	return p != NULL && skip_space(p, end) == end;
}

/* -- the reference scanner: pg_parse_json with semantic callbacks --------- */

/*
 * Raise the error for an invalid document.  jsonb_in is the reference: a
 * document with several faults must fail as it fails, on the first fault
 * it meets (it de-escapes keys before it reads their values, which our
 * lexer does not), so it is asked first.
 */
static void
invalid_json(FlattenScan *scan, JsonParseErrorType rc, JsonLexContext *lex)
{
	(void) DirectFunctionCall1(jsonb_in, CStringGetDatum(pnstrdup(scan->json, scan->len)));
	json_ereport_error(rc, lex);
}

/*
 * The key of the member whose value the lexer stands on.  The lexer runs
 * without de-escaping strings (that costs a copy of every string), so the
 * key is read back from the text: before the value come ':' and the key's
 * closing quote; its opening quote is the first '"' before that which is
 * not escaped.  A key written with escapes is de-escaped here.
 */
static void
field_key(FlattenScan *scan, const char **raw, int *rawlen,
		  const char **key, int *keylen)
{
	const char *p = scan->lex->token_start - 1;
	const char *close;

	while (*p != ':')
		p--;
	p--;
	while (*p != '"')
		p--;
	close = p--;
	for (;;)
	{
		const char *q;

		while (*p != '"')
			p--;
		for (q = p - 1; *q == '\\'; q--)
			;
		if ((p - q) % 2 == 1)
			break;				/* an even number of backslashes before it */
		p--;
	}
	*raw = *key = p + 1;
	*rawlen = *keylen = close - (p + 1);

	if (memchr(*raw, '\\', *rawlen) != NULL)
	{
		JsonLexContext *lex = makeJsonLexContextCstringLen((char *) p, *rawlen + 2,
														   GetDatabaseEncoding(), true);
		JsonParseErrorType rc = json_lex(lex);

		/*
		 * The parser lexes without de-escaping, so a key's escapes are
		 * checked only here: \u0000, a lone surrogate or (outside UTF8) a
		 * non-ASCII escape fail as jsonb_in fails on them.
		 */
		if (rc != JSON_SUCCESS)
			invalid_json(scan, rc, lex);
		*key = lex->strval->data;
		*keylen = lex->strval->len;
	}
}

static void
cb_object_start(void *state)
{
	FlattenScan *scan = (FlattenScan *) state;

	/* called before the lexer enters the object */
	on_object_start(scan, scan->lex->lex_level, scan->lex->token_start);
}

static void
cb_object_end(void *state)
{
	FlattenScan *scan = (FlattenScan *) state;

	/* called after the lexer left the object and consumed its '}' */
	on_object_end(scan, scan->lex->lex_level, scan->lex->prev_token_terminator);
}

static void
cb_array_start(void *state)
{
	((FlattenScan *) state)->pending_level = -1;
}

static void
cb_field_start(void *state, char *fname, bool isnull)
{
	FlattenScan *scan = (FlattenScan *) state;
	int			level = scan->lex->lex_level - 1;	/* the containing object */
	const char *raw;
	const char *key;
	int			rawlen;
	int			keylen;

	if (level > scan->f->npath)
		return;
	/* the input ends after the ':' (no value): the parser fails next */
	if (scan->lex->token_type == JSON_TOKEN_END)
		return;
	field_key(scan, &raw, &rawlen, &key, &keylen);
	on_member_start(scan, level, raw, rawlen, key, keylen,
					scan->lex->token_start, scan->lex->token_terminator,
					scan->lex->token_type == JSON_TOKEN_NUMBER);
}

static void
cb_field_end(void *state, char *fname, bool isnull)
{
	FlattenScan *scan = (FlattenScan *) state;

	on_member_end(scan, scan->lex->lex_level - 1,
				  scan->lex->prev_token_terminator);
}

static void
parser_scan(FlattenScan *scan, char *json, int len)
{
	EdpFlattener *f = scan->f;
	JsonSemAction sem;
	JsonParseErrorType rc;

	/* what makeJsonLexContextCstringLen does, without a palloc per row */
	memset(f->lex, 0, sizeof(JsonLexContext));
	f->lex->input = f->lex->token_terminator = f->lex->line_start = json;
	f->lex->line_number = 1;
	f->lex->input_length = len;
	f->lex->input_encoding = f->encoding;
	scan->lex = f->lex;

	memset(&sem, 0, sizeof(sem));
	sem.semstate = scan;
	sem.object_start = cb_object_start;
	sem.object_end = cb_object_end;
	sem.array_start = cb_array_start;
	sem.object_field_start = cb_field_start;
	sem.object_field_end = cb_field_end;

	rc = pg_parse_json(scan->lex, &sem);
	if (rc != JSON_SUCCESS)
		invalid_json(scan, rc, scan->lex);
}

/* -- the split ------------------------------------------------------------ */

/*
 * Split the document json[0..len) into the metric columns and the source
 * (overflow) column of values/isnull, which hold the row being built in
 * the table's row type.  A key moves only into a column the row left NULL:
 * a value the row gives a column (an INSERT's, a COPY column's, a column
 * filled by an earlier split) wins, and the key stays in the overflow.
 * That one rule serves INSERT, COPY, UPDATE and edp.reflatten().  Invalid
 * JSON raises the
 * standard json error; callers' error context names the row.
 */
void
edp_flatten_text(EdpFlattener *f, char *json, int len,
				 Datum *values, bool *isnull)
{
	AttrNumber	src = f->source_attnum;
	FlattenScan scan;
	int			i;
	bool		blank = true;
	bool		skeleton;

	for (i = 0; i < len && blank; i++)
		blank = JSON_SPACE(json[i]);
	if (blank)
	{
		/* an empty field is no document, not a broken one */
		values[src - 1] = (Datum) 0;
		isnull[src - 1] = true;
		return;
	}

	for (i = 0; i < f->nmetrics; i++)
	{
		AttrNumber	attnum = f->metrics[i].attnum;

		f->saved_values[attnum - 1] = values[attnum - 1];
		f->saved_isnull[attnum - 1] = isnull[attnum - 1];
	}

	memset(&scan, 0, sizeof(scan));
	scan.f = f;
	scan.json = json;
	scan.len = len;
	scan.values = values;
	scan.isnull = isnull;
	scan.pending_level = -1;
	scan.on_path = f->on_path;
	scan.level_members = f->level_members;
	scan.path_key_seen = f->path_key_seen;
	scan.metric_member = f->metric_member;
	for (i = 0; i < f->nmetrics; i++)
		scan.metric_member[i] = -1;
	f->rows_split++;

	if (!edp_json_fast_path || !fast_scan(&scan, json, len))
	{
		scan_reset(&scan);
		parser_scan(&scan, json, len);
	}

	if (scan.ntargets != 1)
	{
		/* no metrics object at the path: keep it all */
		for (i = 0; i < scan.nmembers; i++)
			if (f->members[i].moved)
				unmove(&scan, &f->members[i]);
		f->no_object_rows++;
	}

	/* statistics for the statement's warnings */
	for (i = 0; i < scan.nmembers; i++)
	{
		EdpMember  *member = &f->members[i];

		if (member->superseded || member->moved || member->held)
			continue;
		if (member->metric < 0)
		{
			if (scan.ntargets == 1)
				count_unknown(f, member->name, member->namelen);
		}
		else if (scan.ntargets == 1)
			f->metrics[member->metric].unfit_rows++;
	}

	if (scan.nmoved == 0)
	{
		values[src - 1] = DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(pnstrdup(json, len)));
		isnull[src - 1] = false;
		return;
	}

	/*
	 * Superseded members and dropped metrics objects reach jsonb_in neither
	 * in the rebuilt document nor at all when the overflow is NULL, and the
	 * scanners check the grammar only, not what jsonb_in checks on top (a
	 * \u0000 or lone surrogate in a string, a number beyond numeric's
	 * range).  Such a document, rare, is checked whole, so that the split
	 * accepts exactly what jsonb_in accepts.
	 */
	if (scan.nsuperseded > 0 || scan.path_key_repeated)
		(void) DirectFunctionCall1(jsonb_in, CStringGetDatum(pnstrdup(json, len)));

	/* Something moved: is anything left besides the path skeleton? */
	skeleton = (scan.nmoved == scan.nmembers - scan.nsuperseded);
	for (i = 0; i < f->npath && skeleton; i++)
		skeleton = (scan.level_members[i] == 1);
	if (skeleton)
	{
		values[src - 1] = (Datum) 0;
		isnull[src - 1] = true;
		return;
	}

	/* Rebuild the document with the kept members only. */
	{
		StringInfoData buf;
		bool		first = true;

		initStringInfo(&buf);
		appendBinaryStringInfo(&buf, json, scan.target_start - json);
		appendStringInfoChar(&buf, '{');
		for (i = 0; i < scan.nmembers; i++)
		{
			EdpMember  *member = &f->members[i];

			if (member->moved || member->superseded)
				continue;
			if (!first)
				appendStringInfoString(&buf, ", ");
			first = false;
			appendStringInfoChar(&buf, '"');
			appendBinaryStringInfo(&buf, member->key, member->keylen);
			appendStringInfoString(&buf, "\": ");
			appendBinaryStringInfo(&buf, member->value_start,
								   member->value_end - member->value_start);
		}
		appendStringInfoChar(&buf, '}');
		appendBinaryStringInfo(&buf, scan.target_end,
							   (json + len) - scan.target_end);
		values[src - 1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
		isnull[src - 1] = false;
	}
}
