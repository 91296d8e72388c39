/*-------------------------------------------------------------------------
 *
 * core/copy_hook.h
 *		edp's one ProcessUtility hook, and what its COPY takers share.
 *
 * Two capabilities take over COPY FROM for their tables: event tables
 * (events/flatten_copy.c) and trips tables (trips/copy.c).  Each registers
 * a "taker" at load time that returns false to leave the statement to the
 * next taker, and in the end to PostgreSQL.  COPY TO has takers of its own
 * (export/copy_to.c: FORMAT parquet).  The hook knows no taker by name:
 * core does not call up into the capabilities.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_COPY_HOOK_H
#define EDP_COPY_HOOK_H

#include "nodes/parsenodes.h"
#include "parser/parse_node.h"
#include "tcop/cmdtag.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"

/*
 * A COPY FROM the hook offers to the takers: the statement, its table
 * (opened with RowExclusiveLock; file privilege and row-level security
 * already checked), the columns it fills and a parse state for the
 * remaining privilege checks.  Everything a taker allocates goes in a
 * memory context the hook deletes afterwards.  A taker may close rel and
 * open it again (its lock stays), to create partitions mid-statement:
 * CREATE TABLE ... PARTITION OF refuses a parent in use; the hook closes
 * whatever target->rel is when the taker returns.
 */
typedef struct EdpCopyTarget
{
	CopyStmt   *stmt;
	Relation	rel;
	List	   *attnums;
	ParseState *pstate;
} EdpCopyTarget;

extern void edp_copy_hook_init(void);
extern void edp_copy_check_privileges(ParseState *pstate, Relation rel,
									  List *attnums, List *more_attnums);

/*
 * The takers: each returns false, having loaded nothing, when the table
 * is not one of its own; otherwise it runs the COPY and sets *processed.
 */
/* take the COPY (true, with the rows processed) or leave it (false) */
typedef bool (*EdpCopyTaker) (EdpCopyTarget *target, uint64 *processed);

/*
 * Is the relation (by OID, neither opened nor locked: it may be any
 * relation of the database, or gone) in the taker's catalog?  The hook
 * opens a table only when some taker owns it.
 */
typedef bool (*EdpCopyOwns) (Oid relid);

extern void edp_copy_register_taker(EdpCopyOwns owns, EdpCopyTaker taker);

/*
 * A COPY TO the hook offers to the COPY TO takers, untouched: a taker
 * checks the options first and returns false, having done nothing, when
 * the statement is not one of its own (PostgreSQL's COPY runs it then).
 * The parse state carries the source text and query environment; the
 * statement's location in the text is for error positions.
 */
typedef struct EdpCopyToTarget
{
	CopyStmt   *stmt;
	ParseState *pstate;
	int			stmt_location;
	int			stmt_len;
} EdpCopyToTarget;

typedef bool (*EdpCopyToTaker) (EdpCopyToTarget *target, uint64 *processed);

extern void edp_copy_register_to_taker(EdpCopyToTaker taker);

/*
 * A COPY FROM offered, untouched and before PostgreSQL's COPY parses its
 * options, to the takers that own COPY options PostgreSQL 15 lacks
 * (ingest/copy_quarantine.c: ON_ERROR, REJECT_LIMIT, LOG_VERBOSITY).  A
 * taker that leaves the statement may still put a rewritten copy of it in
 * stmt (an option stripped that means PostgreSQL's default); the hook then
 * goes on with that one.
 */
typedef struct EdpCopyFromTarget
{
	CopyStmt   *stmt;
	ParseState *pstate;
} EdpCopyFromTarget;

typedef bool (*EdpCopyFromOptionTaker) (EdpCopyFromTarget *target, uint64 *processed);

extern void edp_copy_register_option_taker(EdpCopyFromOptionTaker taker);

#endif							/* EDP_COPY_HOOK_H */
