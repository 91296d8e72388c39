/*-------------------------------------------------------------------------
 *
 * core/security.h
 *		The one place where edp changes identity or opens SPI.
 *
 * Every SPI statement of edp runs between edp_spi_begin() and
 * edp_spi_end(); every identity change between those or edp_become() and
 * edp_unbecome().  scripts/check_security.pl fails the build when any other
 * file calls SPI_connect() or SetUserIdAndSecContext().
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_SECURITY_H
#define EDP_SECURITY_H

/* the search_path every statement run under another identity sees */
#define EDP_PINNED_SEARCH_PATH "pg_catalog, pg_temp"

/* what edp_spi_begin / edp_become do besides switching the user */
#define EDP_AS_CALLER		0x00	/* stay the current user */
#define EDP_PIN_PATH		0x01	/* search_path = pg_catalog, pg_temp */
#define EDP_RESTRICTED		0x02	/* SECURITY_RESTRICTED_OPERATION */
#define EDP_SESSION_PATH	0x04	/* keep the session's search_path after a
									 * switch: only for a background load,
									 * whose session path no caller chose */

/* saved state, restored by the matching end call (or by (sub)xact abort) */
typedef struct EdpIdentity
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel; /* GUC nest level, or -1 when not pinned */
	bool		switched;
	bool		spi;
} EdpIdentity;

/*
 * Open SPI as userid (InvalidOid: the current user) with flags.  Switching
 * to another user always pins search_path: no code of edp runs as someone
 * else with the caller's path.
 */
extern void edp_spi_begin(EdpIdentity *id, Oid userid, int flags);
extern void edp_spi_end(EdpIdentity *id);

/* the same without SPI: run the caller's code path as userid */
extern void edp_become(EdpIdentity *id, Oid userid, int flags);
extern void edp_unbecome(EdpIdentity *id);

#endif							/* EDP_SECURITY_H */
