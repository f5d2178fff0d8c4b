/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `recover`: find interrupted start/finish operations from the dm tables
 * alone and complete or roll them back. The state table is in recover.c
 * and in Documentation/cowbackup-ctl.rst ("Recovery").
 */
#ifndef COWBACKUP_RECOVER_H
#define COWBACKUP_RECOVER_H

#include <stdbool.h>

/*
 * Complete or roll back interrupted operations; with @only, just the ones
 * of job @only. Returns the number of actions taken (or, with @dry_run,
 * needed), or -1 when something could not be resolved.
 */
int job_recover(bool dry_run, bool quiet, const char *only);

/*
 * After job_recover(): is every open of @info by a device that run
 * removed (or, in a dry run, would have removed)? Lets a dry run predict
 * which leftovers the real run finds unused.
 */
struct dm_dev_info;
bool recover_held_only_by_removed(const struct dm_dev_info *info);

/* Print a hint when interrupted operations are pending; for read commands. */
void recover_hint(void);

#endif /* COWBACKUP_RECOVER_H */
