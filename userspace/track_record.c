// SPDX-License-Identifier: GPL-2.0
#include "track_record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define STATE_DIR_DEFAULT	"/var/lib/cowbackup"

static int record_path(const char *uuid, char *buf, size_t len)
{
	const char *dir = getenv("COWBACKUP_STATE_DIR");
	size_t i;

	/* The UUID comes from the kernel; still, never a path. */
	if (!uuid[0] || strlen(uuid) > 64)
		return -1;
	for (i = 0; uuid[i]; i++)
		if (!strchr("0123456789abcdefABCDEF-", uuid[i]))
			return -1;
	if (!dir || !dir[0])
		dir = STATE_DIR_DEFAULT;
	return snprintf(buf, len, "%s/track/%s", dir, uuid) >= (int)len ?
	       -1 : 0;
}

void track_target_id(const struct blockdev *bd, char *buf, size_t len)
{
	if (bd->is_dm && bd->dm_uuid[0])
		snprintf(buf, len, "dm:%s", bd->dm_uuid);
	else
		snprintf(buf, len, "dev:%s", bd->path);
}

int track_record_load(const char *uuid, struct track_record *rec)
{
	char path[PATH_MAX], line[TRACK_TARGET_ID_MAX + 32];
	FILE *f;
	int bad = 0;

	memset(rec, 0, sizeof(*rec));
	if (record_path(uuid, path, sizeof(path)))
		return 1;
	f = fopen(path, "re");
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		char *v;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (!eq) {
			bad = 1;
			break;
		}
		*eq = '\0';
		v = eq + 1;
		if (!strcmp(line, "volume"))
			snprintf(rec->volume, sizeof(rec->volume), "%s", v);
		else if (!strcmp(line, "epoch"))
			bad |= parse_u64(v, &rec->epoch);
		else if (!strcmp(line, "target"))
			snprintf(rec->target, sizeof(rec->target), "%s", v);
		else if (!strcmp(line, "target_digest"))
			bad |= sscanf(v, "%" SCNx64, &rec->target_digest) != 1;
		else if (!strcmp(line, "sectors"))
			bad |= parse_u64(v, &rec->sectors);
		else if (!strcmp(line, "pending_epoch"))
			bad |= parse_u64(v, &rec->pending_epoch);
		else if (!strcmp(line, "pending_target"))
			snprintf(rec->pending_target,
				 sizeof(rec->pending_target), "%s", v);
	}
	fclose(f);
	if (bad) {
		memset(rec, 0, sizeof(*rec));
		return 1;
	}
	return 0;
}

int track_record_save(const char *uuid, const struct track_record *rec)
{
	char path[PATH_MAX], *text = NULL;
	int n;

	if (record_path(uuid, path, sizeof(path))) {
		err_msg("tracking history '%s': not a UUID, not recorded", uuid);
		return -1;
	}
	n = asprintf(&text,
		     "# cowbackup-ctl: the base of the next incremental backup of this tracking history\n"
		     "volume=%s\nepoch=%" PRIu64 "\ntarget=%s\n"
		     "target_digest=%016" PRIx64 "\nsectors=%" PRIu64 "\n"
		     "pending_epoch=%" PRIu64 "\npending_target=%s\n",
		     rec->volume, rec->epoch, rec->target, rec->target_digest,
		     rec->sectors, rec->pending_epoch, rec->pending_target);
	if (n < 0) {
		err_msg("%s: out of memory", path);
		return -1;
	}
	if (write_file_atomic(path, text)) {
		err_msg("%s: cannot write: %s", path, strerror(errno));
		free(text);
		return -1;
	}
	free(text);
	return 0;
}
