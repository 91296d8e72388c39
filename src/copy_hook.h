/*-------------------------------------------------------------------------
 *
 * copy_hook.h
 *		edp's one ProcessUtility hook, and what its COPY takers share.
 *
 * Two capabilities take over COPY FROM for their tables: event tables
 * (flatten_copy.c) and trips tables (trips_copy.c).  Each offers a
 * "taker" that returns false to leave the statement to PostgreSQL.
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

extern void edp_copy_hook_init(void);

extern bool edp_copy_stmt_supported(CopyStmt *stmt);
extern void edp_copy_check_file_privilege(CopyStmt *stmt);
extern void edp_copy_check_privileges(ParseState *pstate, Relation rel,
									  List *attnums, List *more_attnums);

/* the takers */
extern bool edp_flatten_try_copy(CopyStmt *stmt, const char *queryString,
								 QueryEnvironment *queryEnv, QueryCompletion *qc);
extern bool edp_trips_try_copy(CopyStmt *stmt, const char *queryString,
							   QueryEnvironment *queryEnv, QueryCompletion *qc);

#endif							/* EDP_COPY_HOOK_H */
