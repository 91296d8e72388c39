/*-------------------------------------------------------------------------
 *
 * buckets/fingerprints.h
 *		The 64-bit key fingerprints of a statement's rows, and those that
 *		occur more than once, in bounded memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_FINGERPRINTS_H
#define EDP_FINGERPRINTS_H

#include "utils/tuplesort.h"

typedef struct EdpFingerprints
{
	uint64	   *fps;			/* in memory while they fit, else NULL */
	int64		n;
	int64		cap;
	size_t		limit;			/* bytes the array and its sort may take */
	Tuplesortstate *spill;		/* past the limit: all of them, sorted on disk */
} EdpFingerprints;

extern void edp_fingerprints_init(EdpFingerprints *f, size_t limit);
extern void edp_fingerprints_add(EdpFingerprints *f, uint64 fp);

/*
 * the fingerprints seen more than once, sorted (NULL when none); ends f.
 * sorted, when not NULL, is set to all of them sorted (unsigned, repeats
 * kept, *nsorted of them) while they fit in memory, else to NULL.
 */
extern uint64 *edp_fingerprints_repeats(EdpFingerprints *f, int64 *nrepeats,
										uint64 **sorted, int64 *nsorted);

extern bool edp_fingerprint_is_repeat(const uint64 *repeats, int64 nrepeats, uint64 fp);

#endif							/* EDP_FINGERPRINTS_H */
