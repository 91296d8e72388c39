/*-------------------------------------------------------------------------
 *
 * core/edp.h
 *		Names shared by every part of edp.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_H
#define EDP_H

/* schema that CREATE EXTENSION edp installs into (edp.control) */
#define EDP_SCHEMA "edp"

/* schema of edp's internals: trigger, aggregate-support and helper functions */
#define EDP_INTERNAL_SCHEMA "edp_internal"

/* catalog of event tables: one row per table edp knows about */
#define EDP_EVENT_TABLES "event_tables"

/* NOTIFY channel of ingest jobs (payload: see ingest/notify.c) */
#define EDP_INGEST_CHANNEL "edp_ingest"

#endif							/* EDP_H */
