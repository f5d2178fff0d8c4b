/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm UUIDs of the devices cowbackup-ctl makes. The UUID says what a device
 * is (its role) and which job it belongs to, so that `list`, `recover` and
 * the safety checks find them from the kernel's tables alone.
 *
 * The devices that show the source's bytes under another name (the
 * original-table device, the job device, the point-in-time view, the
 * target's staging device) must stay invisible to LVM: a VM disk LV
 * holding a guest PV would otherwise show the guest's VG on the host, and
 * twice. lvm2's device filter never scans a dm device whose UUID starts
 * with "LVM-" and is longer than an LV's own ("LVM-" + VG ID + LV ID,
 * 68 characters): that is how it skips its own internal layers (-real,
 * -cow, ...), whatever devices/scan_lvs says. So these UUIDs are
 *
 *   LVM-COWBACKUP[_...]-<ROLE>-<job>     ROLE: ORIG, COW, SNAP, TGT,
 *                                        TRACK, TORIG
 *
 * padded with '_' (never in an LVM ID, so never a real VG's) to at least
 * DEVUUID_HIDDEN_MIN characters. The job's visible device in stacked mode
 * is the source for its users and keeps COWBACKUP-TOP-<name>.
 * Devices made by cowbackup-ctl before this scheme (COWBACKUP-<ROLE>-<job>)
 * are still recognised, so that `recover` cleans them up.
 */
#ifndef COWBACKUP_DEVUUID_H
#define COWBACKUP_DEVUUID_H

#include <stdbool.h>
#include <stddef.h>

#define DEVUUID_HIDDEN_HEAD	"LVM-COWBACKUP"
#define DEVUUID_HIDDEN_MIN	72

enum dev_role {
	ROLE_NONE,		/* not a cowbackup-ctl device */
	ROLE_ORIG,		/* in place: the source's original table */
	ROLE_COW,		/* in place: the job device */
	ROLE_VIEW,		/* the point-in-time view */
	ROLE_STAGING,		/* the target with its ends kept apart */
	ROLE_TOP,		/* stacked: the job device users open */
	ROLE_TRACK,		/* the change tracker under a volume (tracker.h) */
	ROLE_TRACK_ORIG,	/* the tracked volume's original table */
};

/* The UUID of the @role device of @base (a job name); -1 if too long. */
int devuuid_format(enum dev_role role, const char *base, char *uuid,
		   size_t ulen);
/* The role @uuid names, with its job name in *base (may be NULL). */
enum dev_role devuuid_parse(const char *uuid, const char **base);
/* True if @uuid (either form) is that of the @role device of job @base. */
bool devuuid_is(const char *uuid, enum dev_role role, const char *base);

#endif
