/*-------------------------------------------------------------------------
 *
 * edp.c
 *		Module entry point: PG_MODULE_MAGIC and _PG_init.
 *
 * _PG_init only delegates to the capabilities' own init functions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "bgw.h"
#include "buckets.h"
#include "compat.h"
#include "edp.h"
#include "flatten.h"
#include "guc.h"
#include "trips.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	if (IsBinaryUpgrade)
		return;

	edp_flatten_init();
	edp_flatten_copy_init();
	edp_trips_copy_init();
	edp_buckets_guc_init();
	edp_guc_init();

	if (!process_shared_preload_libraries_in_progress)
		return;
	edp_guc_init_postmaster();
	edp_bgw_register();
}
