/*-------------------------------------------------------------------------
 *
 * events/flatten.h
 *		Lossless flattening of a JSON metrics field into integer columns.
 *
 * An event table with flattening enabled has a jsonb "source" column that
 * receives the metrics document and keeps whatever is not moved out of it
 * (the overflow), and integer columns (int2/int4/int8) whose names are the
 * known metric keys.  One splitting routine serves every path: the COPY
 * path hands it the raw field text, the row trigger the jsonb value's text,
 * so both paths produce identical rows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_FLATTEN_H
#define EDP_FLATTEN_H

#include "utils/rel.h"

/* distinct unknown keys reported by name per statement; the rest summed */
#define MAX_REPORTED_UNKNOWN_KEYS	20

extern bool edp_json_fast_path;

typedef struct EdpMetricColumn
{
	char	   *name;			/* column name = JSON key */
	int			namelen;
	AttrNumber	attnum;
	Oid			typid;			/* INT2OID, INT4OID or INT8OID */
	int64		unfit_rows;		/* statement statistics */
} EdpMetricColumn;

typedef struct EdpUnknownKey
{
	char	   *key;
	int64		rows;
	int64		last_row;		/* rows_split when last counted */
} EdpUnknownKey;

/* one split member of the metrics object, kept or moved */
typedef struct EdpMember EdpMember;

typedef struct EdpFlattener
{
	MemoryContext mcxt;			/* everything below lives here */
	Oid			relid;			/* the table whose row type we fill */
	char	   *relname;
	AttrNumber	source_attnum;	/* jsonb column: input and overflow */
	char	   *source_name;
	int			npath;			/* path to the metrics object */
	char	  **path;
	char	   *path_text;		/* path as '{a,b}', for messages */
	int			nmetrics;
	EdpMetricColumn *metrics;	/* sorted by name */

	/* per-row scratch space, reused */
	EdpMember  *members;
	int			members_cap;
	Datum	   *saved_values;
	bool	   *saved_isnull;
	bool	   *on_path;
	int		   *level_members;
	bool	   *path_key_seen;
	int		   *metric_member;
	int64		rows_split;		/* documents split so far */
	struct JsonLexContext *lex;
	int			encoding;

	/* statement statistics, reported by edp_flattener_report */
	List	   *unknown_keys;	/* EdpUnknownKey *, at most a few dozen */
	int64		unknown_other_rows;
	int64		no_object_rows;
	bool		registered;		/* on the pending-report list */
	bool		forget_on_reset;	/* mcxt's reset takes it off the list */
} EdpFlattener;

extern EdpFlattener *edp_flattener_create(Relation rel, MemoryContext mcxt);
extern bool edp_is_event_table(Relation rel);
extern bool edp_is_event_relid(Oid relid);
extern void edp_flatten_text(EdpFlattener *f, char *json, int len,
							 Datum *values, bool *isnull);
extern void edp_flattener_report(EdpFlattener *f);
extern void edp_flatten_defer_report(EdpFlattener *f);
extern void edp_flatten_report_pending(void);
extern void edp_flatten_init(void);
extern void edp_flatten_copy_init(void);	/* events/flatten_copy.c, for
											 * edp_flatten_init */

#endif							/* EDP_FLATTEN_H */
