/*-------------------------------------------------------------------------
 *
 * buckets/rollup_packed.h
 *		Row format of rollup tables (see buckets/rollup_packed.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_ROLLUP_PACKED_H
#define EDP_ROLLUP_PACKED_H

/* rollup buckets per rollup row: 768 hours = 32 days for an hourly rollup */
#define EDP_ROLLUP_SLOTS 768

#include "utils/array.h"

extern int64 *edp_rollup_pairs(ArrayType *a, int *npairs);

#endif							/* EDP_ROLLUP_PACKED_H */
