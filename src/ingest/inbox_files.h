/*-------------------------------------------------------------------------
 *
 * ingest/inbox_files.h
 *		Moving a watched inbox's files (ingest/inbox_files.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_INBOX_FILES_H
#define EDP_INBOX_FILES_H

extern void edp_inbox_ensure_dir(const char *dir);
extern void edp_inbox_file_done(const char *inbox, const char *path, const char *error);

#endif							/* EDP_INBOX_FILES_H */
