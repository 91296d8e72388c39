/*-------------------------------------------------------------------------
 *
 * buckets/buckets.h
 *		Fixed time buckets: width, time zone of the boundaries, and the
 *		arithmetic that maps an instant to the start of its bucket.
 *
 * Shared by the bucket SRFs, the bucket aggregate and edp.bucket_start().
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_BUCKETS_H
#define EDP_BUCKETS_H

#include "datatype/timestamp.h"
#include "pgtime.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"
#include "utils/timestamp.h"

/* how bucket boundaries are placed */
typedef struct EdpBucketSpec
{
	int64		width_us;		/* bucket width; USECS_PER_DAY for daily */
	bool		daily;			/* boundaries at local midnight */
	bool		fixed;			/* fixed UTC offset (no DST) */
	int64		offset_us;		/* fixed: offset east of UTC */
	pg_tz	   *tz;				/* named zone when !fixed */
	char		tzname[64];		/* as given, for messages and serialization */
} EdpBucketSpec;

/*
 * floor(a / b) for b > 0, also for negative a (instants before 2000):
 * the bucket, chunk and day of an instant, whichever side of the epoch
 */
static inline int64
edp_floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b) != 0 && a < 0)
		q--;
	return q;
}

/* GUCs (buckets/settings.c) */
extern int	edp_max_buckets;
extern uint64 edp_dedupe_removed;
extern CommandId edp_dedupe_load_first_cid;
extern const char *edp_dedupe_load_xids;
extern char *edp_naive_timezone;

extern void edp_buckets_guc_init(void);
extern bool edp_dedupe_hashable(Relation rel, Datum columns);
extern void edp_buckets_init(void);

/* partitions.c */
typedef struct EdpPartitionPlan EdpPartitionPlan;
extern EdpPartitionPlan *edp_partitions_plan_begin(Relation rel);
extern void edp_partitions_plan_row(EdpPartitionPlan *plan, Relation rel, Datum *values, bool *isnull);
extern bool edp_partitions_plan_pending(EdpPartitionPlan *plan);
typedef void (*EdpPartitionRows) (EdpPartitionPlan *plan, Relation rel, void *arg);
extern void edp_partitions_prepare(EdpPartitionPlan *plan, Relation *rel,
								   EdpPartitionRows note_rows, void *arg);
extern void edp_buckets_insert_upkeep(Relation rel, Tuplestorestate *rows,
									  const int64 *arrival, CommandId first_cid);
extern struct pg_tz *edp_naive_zone(void);
extern Datum edp_timestamptz_in_naive(PG_FUNCTION_ARGS);

extern void edp_bucket_spec_init(EdpBucketSpec *spec, const Interval *width,
								 const char *tzname);
extern TimestampTz edp_bucket_start(const EdpBucketSpec *spec, TimestampTz t);
extern TimestampTz edp_bucket_next(const EdpBucketSpec *spec, TimestampTz b);
extern int64 edp_bucket_estimate(const EdpBucketSpec *spec,
								 TimestampTz from, TimestampTz to);
extern void edp_bucket_check_range(const EdpBucketSpec *spec,
								   TimestampTz from, TimestampTz to);

#endif							/* EDP_BUCKETS_H */
