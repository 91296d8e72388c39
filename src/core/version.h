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

#endif							/* EDP_VERSION_H */
