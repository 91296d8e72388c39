/*-------------------------------------------------------------------------
 *
 * ingest/reject_keeper.h
 *		Keeping the job and the rejects of a synchronous load that passed
 *		its reject limit (ingest/reject_keeper.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_REJECT_KEEPER_H
#define EDP_REJECT_KEEPER_H

#include "ingest/ledger.h"

/* at most this many rejects, and this many bytes of them, are kept */
#define EDP_KEPT_REJECTS 10000
#define EDP_KEPT_BYTES ((Size) 64 * 1024 * 1024)

typedef struct EdpRejectKeeper EdpRejectKeeper;

extern EdpRejectKeeper *edp_keep_begin(int64 job_id, const EdpJobCounts *counts);
extern int64 edp_keep_job_id(EdpRejectKeeper *k);
extern int64 edp_keep_count(EdpRejectKeeper *k, bool *capped);
extern bool edp_keep_finish(EdpRejectKeeper *k, const char *error, int sqlerrcode);

#endif							/* EDP_REJECT_KEEPER_H */
