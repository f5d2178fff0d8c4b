/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pull mode: a job's point-in-time view served read-only over NBD by
 * qemu-nbd, for a backup server to read with stock tools (qemu-img
 * convert nbd://HOST/NAME ...). One server per job, started by `start
 * --snapshot --export URI` and stopped by `finish` (or by `recover` once
 * its job is gone). qemu-nbd's pid and the URI are kept in
 * /run/cowbackup/export/<job>.pid and <job>.uri: a process is not in the
 * dm tables.
 */
#ifndef COWBACKUP_NBD_EXPORT_H
#define COWBACKUP_NBD_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "nbd_uri.h"

#define EXPORT_DIR	"/run/cowbackup/export"

/*
 * Serve @view (a block device) read-only at @u for job @job; @tls_dir, if
 * not NULL, holds x509 server credentials (ca-cert.pem, server-cert.pem,
 * server-key.pem) and makes TLS mandatory. Returns when the server
 * listens; 0, or -1 with one error line.
 */
int nbd_export_start(const char *job, const char *view,
		     const struct nbd_uri *u, const char *tls_dir);
/* Stop job @job's server, if any: 0, or -1 with one error line. */
int nbd_export_stop(const char *job);
/* The URI job @job is served at; false when it is not. */
bool nbd_export_get(const char *job, char *uri, size_t len);
/*
 * Stop the servers of jobs that no longer have a view (a killed finish);
 * print what is (or, with @dry_run, would be) done. Number of servers, or
 * -1.
 */
int nbd_export_cleanup_orphans(bool dry_run);

#endif
