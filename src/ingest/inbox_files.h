/*-------------------------------------------------------------------------
 *
 * ingest/inbox_files.h
 *		Moving a watched inbox's files (ingest/inbox_files.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_INBOX_FILES_H
#define EDP_INBOX_FILES_H

extern void edp_inbox_ensure_dir(const char *inbox, const char *dir);
extern char *edp_inbox_claim(const char *inbox, const char *name, int64 job_id);
extern void edp_inbox_file_done(const char *inbox, const char *path, const char *error);
extern void edp_inbox_file_return(const char *inbox, const char *path);

#endif							/* EDP_INBOX_FILES_H */
