// SPDX-License-Identifier: GPL-2.0
#include "devuuid.h"

#include <stdio.h>
#include <string.h>

#include "dm.h"

static const struct {
	enum dev_role role;
	const char *tag;
} roles[] = {
	{ ROLE_ORIG, "ORIG" },
	{ ROLE_COW, "COW" },
	{ ROLE_VIEW, "SNAP" },
	{ ROLE_STAGING, "TGT" },
	{ ROLE_TOP, "TOP" },
	{ ROLE_TRACK, "TRACK" },
	{ ROLE_TRACK_ORIG, "TORIG" },
};

static const char *role_tag(enum dev_role role)
{
	size_t i;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].role == role)
			return roles[i].tag;
	return NULL;
}

int devuuid_format(enum dev_role role, const char *base, char *uuid,
		   size_t ulen)
{
	const char *tag = role_tag(role);
	size_t len, pad = 0;
	int n;

	if (!tag)
		return -1;
	if (role == ROLE_TOP) {
		n = snprintf(uuid, ulen, "COWBACKUP-%s-%s", tag, base);
	} else {
		len = strlen(DEVUUID_HIDDEN_HEAD) + strlen(tag) +
		      strlen(base) + 2;
		if (len < DEVUUID_HIDDEN_MIN)
			pad = DEVUUID_HIDDEN_MIN - len;
		n = snprintf(uuid, ulen, "%s%.*s-%s-%s", DEVUUID_HIDDEN_HEAD,
			     (int)pad,
			     "________________________________________"
			     "________________________________________",
			     tag, base);
	}
	if (n < 0 || (size_t)n >= ulen || (size_t)n >= DMUUID_MAX)
		return -1;
	return 0;
}

/* "<TAG>-<base>" at @p: the role, with *base set. */
static enum dev_role parse_tail(const char *p, const char **base)
{
	size_t i, t;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		t = strlen(roles[i].tag);
		if (!strncmp(p, roles[i].tag, t) && p[t] == '-' && p[t + 1]) {
			if (base)
				*base = p + t + 1;
			return roles[i].role;
		}
	}
	return ROLE_NONE;
}

enum dev_role devuuid_parse(const char *uuid, const char **base)
{
	const char *head = DEVUUID_HIDDEN_HEAD;
	enum dev_role role;
	const char *p;

	if (!strncmp(uuid, head, strlen(head))) {
		p = uuid + strlen(head);
		p += strspn(p, "_");
		if (*p++ != '-')
			return ROLE_NONE;
		role = parse_tail(p, base);
		return role == ROLE_TOP ? ROLE_NONE : role;
	}
	/* COWBACKUP-TOP-<name>, and every role before the LVM- scheme. */
	if (!strncmp(uuid, "COWBACKUP-", 10))
		return parse_tail(uuid + 10, base);
	return ROLE_NONE;
}

bool devuuid_is(const char *uuid, enum dev_role role, const char *base)
{
	const char *b;

	return devuuid_parse(uuid, &b) == role && !strcmp(b, base);
}
