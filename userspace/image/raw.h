/* SPDX-License-Identifier: GPL-2.0 */
/* State of a raw image: what libblkid found and where allocation comes from. */
#ifndef COWBACKUP_RAW_H
#define COWBACKUP_RAW_H

#include <stdint.h>

struct raw {
	char content[64];	/* libblkid TYPE or PTTYPE, "" if none */
	int data_fd;		/* file for SEEK_DATA, -1 for a plain device */
	uint64_t data_offset;	/* loop device offset into that file */
	char *loop_backing;	/* path of a loop device's file, or NULL */
};

#endif /* COWBACKUP_RAW_H */
