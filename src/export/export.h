/*-------------------------------------------------------------------------
 *
 * export/export.h
 *		Export to Parquet: COPY ... TO ... (FORMAT parquet) and edp.export().
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_EXPORT_H
#define EDP_EXPORT_H

#include "executor/tuptable.h"
#include "tcop/dest.h"

#include "export/parquet.h"

extern void edp_export_init(void);

/* export/copy_to.c: a receiver that writes the rows it gets into w */
extern DestReceiver *edp_parquet_dest_create(EdpParquetWriter *w);

#endif							/* EDP_EXPORT_H */
