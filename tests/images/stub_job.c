// SPDX-License-Identifier: GPL-2.0
/*
 * Host-test stand-in for job_get_extents(): the "job" is a text file
 *
 *   state completed
 *   sync top
 *   target /path/to/target
 *   cluster 65536
 *   size 20971520
 *   extent START LEN          (clusters; repeated, sorted)
 *
 * so export's job path runs without a kernel. Linked only into the test
 * helper; the real cowbackup-ctl uses the kernel's `bitmap` replies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_extents.h"
#include "util.h"

int job_get_extents(const char *job, struct job_extents *out)
{
	char line[4200], key[32], val[4100];
	FILE *f = fopen(job, "r");

	memset(out, 0, sizeof(*out));
	if (!f) {
		err_msg("%s: no such job", job);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		uint64_t a, b;

		if (sscanf(line, "extent %" SCNu64 " %" SCNu64, &a, &b) == 2) {
			struct cluster_extent *e = realloc(out->extents,
				(out->count + 1) * sizeof(*e));

			if (!e)
				break;
			out->extents = e;
			e[out->count].start = a;
			e[out->count].len = b;
			out->count++;
			continue;
		}
		if (sscanf(line, "%31s %4099s", key, val) != 2)
			continue;
		if (!strcmp(key, "state"))
			snprintf(out->state, sizeof(out->state), "%s", val);
		else if (!strcmp(key, "sync"))
			snprintf(out->sync, sizeof(out->sync), "%s", val);
		else if (!strcmp(key, "target"))
			snprintf(out->target_path, sizeof(out->target_path),
				 "%s", val);
		else if (!strcmp(key, "cluster"))
			out->cluster_bytes = strtoull(val, NULL, 0);
		else if (!strcmp(key, "size"))
			out->size_bytes = strtoull(val, NULL, 0);
	}
	fclose(f);
	if (out->cluster_bytes)
		out->nclusters = (out->size_bytes + out->cluster_bytes - 1) /
				 out->cluster_bytes;
	return 0;
}

void job_extents_free(struct job_extents *je)
{
	free(je->extents);
	je->extents = NULL;
	je->count = 0;
}
