// SPDX-License-Identifier: GPL-2.0
#include "nbd_uri.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { snprintf(why, wlen, __VA_ARGS__); return -1; } while (0)

static int parse_export(const char *s, size_t n, struct nbd_uri *u,
			char *why, size_t wlen)
{
	size_t i;

	if (n == 0)
		FAIL("no export name (nbd://HOST/EXPORT)");
	if (n > NBD_EXPORT_MAX)
		FAIL("export name longer than %d characters", NBD_EXPORT_MAX);
	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '/' ||
		    s[i] == '?' || s[i] == '#' || s[i] == '%')
			FAIL("export name has a character not allowed here ('%c')",
			     isgraph((unsigned char)s[i]) ? s[i] : ' ');
	memcpy(u->export, s, n);
	u->export[n] = '\0';
	return 0;
}

static int parse_port(const char *s, size_t n, unsigned int *port,
		      char *why, size_t wlen)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		FAIL("port must be 1..65535");
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			FAIL("port must be 1..65535");
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		FAIL("port must be 1..65535");
	*port = (unsigned int)v;
	return 0;
}

static int parse_tcp(const char *p, struct nbd_uri *u, char *why,
		     size_t wlen)
{
	const char *slash = strchr(p, '/'), *hend, *colon;
	size_t i, hl;

	if (!slash)
		FAIL("no export name (nbd://HOST/EXPORT)");
	if (strpbrk(slash, "?#"))
		FAIL("nbd:// takes no query or fragment");
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(slash - p));
		if (!hend)
			FAIL("unterminated [IPv6 address]");
		hl = (size_t)(hend - p - 1);
		if (hl >= sizeof(u->host))
			FAIL("host name too long");
		memcpy(u->host, p + 1, hl);
		colon = hend + 1;
		if (colon != slash && *colon != ':')
			FAIL("junk after ]");
		for (i = 0; i < hl; i++)
			if (!isxdigit((unsigned char)p[1 + i]) && p[1 + i] != ':' &&
			    p[1 + i] != '.')
				FAIL("bad IPv6 address");
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		hend = colon ? colon : slash;
		hl = (size_t)(hend - p);
		for (i = 0; i < hl; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '.' &&
			    p[i] != '-' && p[i] != '_')
				FAIL("bad host name");
		if (hl >= sizeof(u->host))
			FAIL("host name too long");
		memcpy(u->host, p, hl);
	}
	if (hl == 0)
		FAIL("no host (nbd://HOST/EXPORT)");
	u->host[hl] = '\0';
	u->port = NBD_DEFAULT_PORT;
	if (colon && colon != slash &&
	    parse_port(colon + 1, (size_t)(slash - colon - 1), &u->port, why,
		       wlen))
		return -1;
	return parse_export(slash + 1, strlen(slash + 1), u, why, wlen);
}

static int parse_unix(const char *p, struct nbd_uri *u, char *why,
		      size_t wlen)
{
	const char *q = strchr(p, '?'), *sock;

	/* nbd+unix:///EXPORT: no authority, so the path starts at once. */
	if (*p != '/')
		FAIL("nbd+unix:// takes no host (nbd+unix:///EXPORT?socket=PATH)");
	if (!q || strncmp(q, "?socket=", 8))
		FAIL("no socket (nbd+unix:///EXPORT?socket=PATH)");
	sock = q + 8;
	if (sock[0] != '/')
		FAIL("the socket must be an absolute path");
	if (strpbrk(sock, "&#"))
		FAIL("nbd+unix:// takes only socket=");
	if (strlen(sock) >= 108)	/* sun_path */
		FAIL("socket path longer than 107 characters");
	snprintf(u->socket, sizeof(u->socket), "%s", sock);
	u->is_unix = true;
	return parse_export(p + 1, (size_t)(q - p - 1), u, why, wlen);
}

int nbd_uri_parse(const char *text, struct nbd_uri *u, char *why,
		  size_t wlen)
{
	memset(u, 0, sizeof(*u));
	if (!strncmp(text, "nbd://", 6))
		return parse_tcp(text + 6, u, why, wlen);
	if (!strncmp(text, "nbd+unix://", 11))
		return parse_unix(text + 11, u, why, wlen);
	FAIL("not an NBD URI (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)");
}

void nbd_uri_format(const struct nbd_uri *u, char *buf, size_t len)
{
	if (u->is_unix)
		snprintf(buf, len, "nbd+unix:///%s?socket=%s", u->export,
			 u->socket);
	else if (strchr(u->host, ':'))
		snprintf(buf, len, "nbd://[%s]:%u/%s", u->host, u->port,
			 u->export);
	else
		snprintf(buf, len, "nbd://%s:%u/%s", u->host, u->port,
			 u->export);
}
