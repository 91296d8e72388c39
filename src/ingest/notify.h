/*-------------------------------------------------------------------------
 *
 * ingest/notify.h
 *		NOTIFY of ingest job events.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_NOTIFY_H
#define EDP_NOTIFY_H

extern void edp_notify_ingest(const char *payload, Oid owner);

#endif							/* EDP_NOTIFY_H */
