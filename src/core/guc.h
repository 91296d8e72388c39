/*-------------------------------------------------------------------------
 *
 * core/guc.h
 *		edp.* configuration parameters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_GUC_H
#define EDP_GUC_H

extern char *edp_database;
extern int	edp_naptime;
extern int	edp_ingest_batch_size;
extern int	edp_ingest_commit_rows;

/* true when edp was loaded through shared_preload_libraries */
extern bool edp_preloaded;

extern void edp_guc_init(void);
extern void edp_guc_init_postmaster(void);
extern void edp_require_preload(const char *what);

#endif							/* EDP_GUC_H */
