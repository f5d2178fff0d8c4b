/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "incomplete backup" marker: a 512-byte header that cowbackup-ctl
 * writes at byte 0 of a backup target (with the rest of the first MiB and
 * the last MiB of the job's length zeroed) before a job goes live, and
 * that is replaced by the point-in-time data only when `finish` ends a
 * completed job. While it is there, blkid and mount do not recognise the
 * target, and info/export refuse it without --force. See "Incomplete
 * backups" in Documentation/cowbackup-ctl.rst.
 *
 * Layout (little endian):
 *   0   magic, 32 bytes: "COWBACKUP INCOMPLETE BACKUP\n" + NULs
 *   32  u32 version (1)
 *   36  u32 header size (512)
 *   40  u64 job length in bytes (the source's size)
 *   48  u64 start time, seconds since the epoch
 *   56  u64 bytes of the head region (at offset 0)
 *   64  u64 offset of the tail region (it runs to the job length)
 *   72  job name, 128 bytes, NUL-padded
 *   200 reserved, zero
 *   508 u32 CRC-32 (IEEE) of bytes 0..507
 */
#ifndef COWBACKUP_IMAGE_INCOMPLETE_H
#define COWBACKUP_IMAGE_INCOMPLETE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INCOMPLETE_MAGIC	"COWBACKUP INCOMPLETE BACKUP\n"
#define INCOMPLETE_HDR_SIZE	512
#define INCOMPLETE_VERSION	1

struct incomplete_hdr {
	uint32_t version;
	uint64_t job_bytes;
	uint64_t start_time;
	uint64_t head_bytes;
	uint64_t tail_offset;
	char job[128];
	bool crc_ok;		/* decode: false if the header is damaged */
};

void incomplete_encode(const struct incomplete_hdr *h,
		       uint8_t out[INCOMPLETE_HDR_SIZE]);
/* 1 if @buf (at least 512 bytes) starts with the marker, else 0. */
int incomplete_decode(const uint8_t *buf, struct incomplete_hdr *h);
/* Read byte 0 of @fd: 1 marker, 0 none, -1 read error (errno set). */
int incomplete_probe_fd(int fd, struct incomplete_hdr *h);

/*
 * For commands that read a backup: if @fd (named @path) carries the
 * marker, print one line saying it is incomplete and return -1, or, with
 * @force, a warning line and 0. 0 when there is no marker.
 */
int incomplete_refuse(const char *path, int fd, bool force, const char *what);

#endif /* COWBACKUP_IMAGE_INCOMPLETE_H */
