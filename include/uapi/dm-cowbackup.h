/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dm-cowbackup: constants shared by the kernel target and cowbackup-ctl.
 *
 * The table line, status layout and message words are a fixed contract
 * (Documentation/admin-guide/device-mapper/cowbackup.rst); userspace
 * builds tables and parses status with these names so both sides agree.
 */
#ifndef _UAPI_DM_COWBACKUP_H
#define _UAPI_DM_COWBACKUP_H

#define COWBACKUP_TARGET_NAME		"cowbackup"
#define COWBACKUP_VIEW_TARGET_NAME	"cowbackup-snap"
#define COWBACKUP_TRACK_TARGET_NAME	"cowbackup-track"

#define COWBACKUP_VERSION_MAJOR	1
#define COWBACKUP_VERSION_MINOR	0
#define COWBACKUP_VERSION_PATCH	0

/* Cluster size in 512-byte sectors: a power of two in [MIN, MAX]. */
#define COWBACKUP_CLUSTER_MIN_SECTORS		8	/* 4 KiB */
#define COWBACKUP_CLUSTER_MAX_SECTORS		16384	/* 8 MiB */
#define COWBACKUP_CLUSTER_DEFAULT_SECTORS	128	/* 64 KiB */

#define COWBACKUP_MAX_WORKERS_MIN	1
#define COWBACKUP_MAX_WORKERS_MAX	1024
#define COWBACKUP_MAX_WORKERS_DEFAULT	16

/* Optional table arguments (keywords). */
#define COWBACKUP_ARG_CLUSTER_SIZE	"cluster_size"
#define COWBACKUP_ARG_SPEED		"speed"
#define COWBACKUP_ARG_MAX_WORKERS	"max_workers"
#define COWBACKUP_ARG_ON_SOURCE_ERROR	"on_source_error"
#define COWBACKUP_ARG_ON_TARGET_ERROR	"on_target_error"
#define COWBACKUP_ARG_COW_ERROR		"cow_error"
#define COWBACKUP_ARG_PAUSED		"paused"

/* Sync modes, in table order. */
#define COWBACKUP_SYNC_FULL	"full"
#define COWBACKUP_SYNC_TOP	"top"
#define COWBACKUP_SYNC_NONE	"none"

/* Background error policies. */
#define COWBACKUP_POLICY_REPORT	"report"
#define COWBACKUP_POLICY_IGNORE	"ignore"
#define COWBACKUP_POLICY_STOP	"stop"

/* Copy-out error modes. */
#define COWBACKUP_COW_BREAK_SNAPSHOT	"break_snapshot"
#define COWBACKUP_COW_BREAK_WRITE	"break_write"

/* Job states, the first INFO status field. */
#define COWBACKUP_STATE_RUNNING		"running"
#define COWBACKUP_STATE_PAUSED		"paused"
#define COWBACKUP_STATE_COMPLETED	"completed"
#define COWBACKUP_STATE_CANCELLED	"cancelled"
#define COWBACKUP_STATE_FAILED		"failed"

/*
 * INFO status, positional; fields are only ever appended:
 * <state> <sync> <cluster sectors> <settled>/<total> <cow copies>
 * <background copies> <zero clusters> <errors> <speed>
 */
#define COWBACKUP_STATUS_FIELDS	9

/* Messages. */
#define COWBACKUP_MSG_PAUSE	"pause"
#define COWBACKUP_MSG_RESUME	"resume"
#define COWBACKUP_MSG_CANCEL	"cancel"
#define COWBACKUP_MSG_SPEED	"speed"
#define COWBACKUP_MSG_SKIP	"skip"
#define COWBACKUP_MSG_BITMAP	"bitmap"

/*
 * cowbackup-track. INFO status, positional; fields are only ever appended:
 * <valid|invalid> <epoch> <dirty clusters current> <dirty clusters frozen>
 * <cluster sectors> <frozen reason> <current reason> <uuid>
 * The first field is the frozen map's; a reason is "-" for a valid map.
 */
#define COWBACKUP_TRACK_STATUS_FIELDS	8
#define COWBACKUP_TRACK_VALID		"valid"
#define COWBACKUP_TRACK_INVALID		"invalid"
#define COWBACKUP_TRACK_MSG_CHECKPOINT	"checkpoint"
#define COWBACKUP_TRACK_MAP_FROZEN	"frozen"
#define COWBACKUP_TRACK_MAP_CURRENT	"current"

#endif /* _UAPI_DM_COWBACKUP_H */
