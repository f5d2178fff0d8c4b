// SPDX-License-Identifier: GPL-2.0
#include "bitmap_reply.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm.h"
#include "util.h"

struct extent_list {
	struct cluster_extent *v;
	size_t count, cap;
	uint64_t nclusters;
};

static int extents_add(struct extent_list *l, uint64_t start, uint64_t len)
{
	struct cluster_extent *grown, *last;

	if (l->count) {
		last = &l->v[l->count - 1];
		if (start < last->start + last->len)
			return -1;	/* must be sorted and disjoint */
		if (start == last->start + last->len) {
			last->len += len;
			return 0;
		}
	}
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		grown = realloc(l->v, l->cap * sizeof(*grown));
		if (!grown)
			return -1;
		l->v = grown;
	}
	l->v[l->count].start = start;
	l->v[l->count].len = len;
	l->count++;
	return 0;
}

/* One reply; sets *next (UINT64_MAX for end). -1 if malformed. */
static int parse_reply(char *reply, struct extent_list *l, uint64_t first,
		       uint64_t *next)
{
	char *save = NULL, *word;
	bool have_next = false;

	for (word = strtok_r(reply, " \t\n", &save); word;
	     word = strtok_r(NULL, " \t\n", &save)) {
		uint64_t start, len;
		char *plus;

		if (have_next)
			return -1;	/* next= must be the last word */
		if (!strncmp(word, "next=", 5)) {
			if (!strcmp(word + 5, "end"))
				*next = UINT64_MAX;
			else if (parse_u64(word + 5, next) || *next <= first)
				return -1;
			have_next = true;
			continue;
		}
		plus = strchr(word, '+');
		if (!plus)
			return -1;
		*plus = '\0';
		if (parse_u64(word, &start) || parse_u64(plus + 1, &len) ||
		    !len || start < first || start > l->nclusters ||
		    len > l->nclusters - start)
			return -1;
		if (extents_add(l, start, len))
			return -1;
	}
	return have_next ? 0 : -1;
}

int bitmap_reply_read(const char *dev, const char *who, const char *msg,
		      uint64_t nclusters, struct cluster_extent **ext,
		      size_t *count)
{
	struct extent_list l = { .nclusters = nclusters };
	uint64_t first = 0, next = 0;
	char text[96];

	do {
		char *reply;
		int r;

		snprintf(text, sizeof(text), "%s %" PRIu64, msg, first);
		if (dm_message(dev, text, &reply)) {
			err_msg("%s: %s message failed: %s", who, msg,
				dm_last_error());
			goto fail;
		}
		r = parse_reply(reply, &l, first, &next);
		free(reply);
		if (r) {
			err_msg("%s: malformed %s reply after cluster %" PRIu64,
				who, msg, first);
			goto fail;
		}
		first = next;
	} while (next != UINT64_MAX);
	*ext = l.v;
	*count = l.count;
	return 0;
fail:
	free(l.v);
	return -1;
}
