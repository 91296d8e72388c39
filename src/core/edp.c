/*-------------------------------------------------------------------------
 *
 * core/edp.c
 *		Module entry point: PG_MODULE_MAGIC and _PG_init.
 *
 * _PG_init only delegates to the capabilities' own init functions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "ingest/ingest.h"
#include "ingest/workers.h"
#include "buckets/buckets.h"
#include "core/compat.h"
#include "core/copy_hook.h"
#include "core/edp.h"
#include "events/flatten.h"
#include "export/export.h"
#include "core/guc.h"
#include "trips/trips.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	if (IsBinaryUpgrade)
		return;

	edp_copy_hook_init();
	edp_flatten_init();			/* registers its COPY taker first */
	edp_trips_init();
	edp_export_init();			/* COPY TO ... (FORMAT parquet) */
	edp_ingest_copy_init();		/* COPY FROM ... WITH (ON_ERROR ...) */
	edp_buckets_guc_init();
	edp_trips_cluster_guc_init();
	edp_buckets_init();
	edp_guc_init();

	if (!process_shared_preload_libraries_in_progress)
		return;
	edp_guc_init_postmaster();
	edp_bgw_register();
}
