/*-------------------------------------------------------------------------
 *
 * core/citus.h
 *		What edp must know about Citus: which tables Citus keeps.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_CITUS_H
#define EDP_CITUS_H

#include "utils/rel.h"

extern bool edp_is_citus_table(Oid relid);
extern void edp_refuse_citus_table(Relation rel);

#endif							/* EDP_CITUS_H */
