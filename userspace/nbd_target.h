/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Push mode: a backup TARGET given as an NBD URI (nbd_uri.h) is connected
 * to a kernel NBD device with nbd-client for the job, and disconnected
 * when the job is finished (or by `recover` once its job is gone). Which
 * /dev/nbdN belongs to which job is kept in /run/cowbackup/nbd/<job>
 * ("<device> <URI>"): an NBD connection is not in the dm tables.
 */
#ifndef COWBACKUP_NBD_TARGET_H
#define COWBACKUP_NBD_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "nbd_uri.h"

#define NBD_TARGET_DIR	"/run/cowbackup/nbd"

/* True if @arg is meant as an NBD URI ("nbd://", "nbd+unix://"). */
bool nbd_target_is_uri(const char *arg);
/*
 * Connect @u to a free /dev/nbdN (loading the nbd module), its path in
 * @dev. 0, or -1 with one error line naming the URI.
 */
int nbd_target_connect(const struct nbd_uri *u, char *dev, size_t len);
/* Disconnect @dev; 0, or -1 with one error line. */
int nbd_target_disconnect(const char *dev);
/* Remember that job @job writes to @dev, connected to @uri. */
int nbd_target_record(const char *job, const char *dev, const char *uri);
/* Disconnect job @job's NBD target, if it has one; 0 or -1. */
int nbd_target_release(const char *job);
/*
 * Disconnect the NBD targets of jobs that are gone; print what is (or,
 * with @dry_run, would be) done. Number of connections, or -1.
 */
int nbd_target_cleanup_orphans(bool dry_run);

#endif
