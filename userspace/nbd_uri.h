/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NBD URIs, in the syntax QEMU and libnbd use:
 *
 *   nbd://HOST[:PORT]/EXPORT          TCP; HOST a name, an IPv4 address or
 *                                     [IPv6]; PORT 1..65535, default 10809
 *   nbd+unix:///EXPORT?socket=PATH    a Unix socket (absolute path)
 *
 * EXPORT is the export name: 1..255 printable characters, no spaces.
 */
#ifndef COWBACKUP_NBD_URI_H
#define COWBACKUP_NBD_URI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define NBD_DEFAULT_PORT	10809
#define NBD_EXPORT_MAX		255

struct nbd_uri {
	bool is_unix;
	char host[256];		/* without the IPv6 brackets */
	unsigned int port;
	char socket[PATH_MAX];
	char export[NBD_EXPORT_MAX + 1];
};

/*
 * Parse @text into @u. On error returns -1 with a short reason (no
 * trailing period) in @why.
 */
int nbd_uri_parse(const char *text, struct nbd_uri *u, char *why,
		  size_t wlen);
/* @u back as a URI. */
void nbd_uri_format(const struct nbd_uri *u, char *buf, size_t len);

#endif
