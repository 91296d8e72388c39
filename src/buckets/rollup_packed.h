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

#include "datatype/timestamp.h"
#include "utils/array.h"

/*
 * The chunk holding instant ts (finite): chunks are chunk_len long from
 * 2000-01-01 UTC, except that the first one starts at the earliest
 * timestamptz, 4714-11-24 00:00 BC UTC (a day boundary, so bucket-aligned),
 * rather than before it: a stored chunk start is always a valid
 * timestamptz.  Rows whose time is +-infinity are in no bucket and no chunk.
 */
static inline int64
edp_rollup_chunk_of(int64 ts, int64 chunk_len)
{
	int64		q = ts / chunk_len;
	int64		c;

	if (ts % chunk_len != 0 && ts < 0)
		q--;
	c = q * chunk_len;
	return c < MIN_TIMESTAMP ? MIN_TIMESTAMP : c;
}

extern int64 *edp_rollup_pairs(ArrayType *a, int *npairs);

#endif							/* EDP_ROLLUP_PACKED_H */
