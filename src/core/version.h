/*-------------------------------------------------------------------------
 *
 * core/version.h
 *		The library and the installed extension must be the same version.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_VERSION_H
#define EDP_VERSION_H

extern void edp_require_current_extension(void);
extern void edp_refuse_older_extension(void) pg_attribute_noreturn();

/*
 * A C function that only an older version's install script names (its SQL
 * function is replaced by the update): the symbol must exist for CREATE
 * EXTENSION edp VERSION '<old>', and refuses to run.
 */
#define EDP_RETIRED_FUNCTION(name) \
	PG_FUNCTION_INFO_V1(name); \
	Datum \
	name(PG_FUNCTION_ARGS) \
	{ \
		edp_refuse_older_extension(); \
	}

#endif							/* EDP_VERSION_H */
