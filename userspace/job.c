// SPDX-License-Identifier: GPL-2.0
#include "job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap_reply.h"
#include "devuuid.h"
#include "job_extents.h"
#include "marker.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

static int name_pair(char *name, size_t nlen, char *uuid, size_t ulen,
		     const char *name_fmt_a, const char *name_b,
		     const char *name_c, enum dev_role role,
		     const char *uuid_base)
{
	int n = snprintf(name, nlen, "%s%s%s", name_fmt_a, name_b, name_c);

	if (n < 0 || (size_t)n >= nlen || (size_t)n >= DMNAME_MAX)
		return -1;
	return devuuid_format(role, uuid_base, uuid, ulen);
}

int job_hidden_name(const char *job, char *name, size_t nlen,
		    char *uuid, size_t ulen)
{
	return name_pair(name, nlen, uuid, ulen, STACKED_NAME_PREFIX, job,
			 "-orig", ROLE_ORIG, job);
}

int job_cow_name(const char *job, char *name, size_t nlen,
		 char *uuid, size_t ulen)
{
	return name_pair(name, nlen, uuid, ulen, STACKED_NAME_PREFIX, job,
			 "-cow", ROLE_COW, job);
}

int track_dev_name(const char *vol, char *name, size_t nlen,
		   char *uuid, size_t ulen)
{
	return name_pair(name, nlen, uuid, ulen, STACKED_NAME_PREFIX, vol,
			 "-track", ROLE_TRACK, vol);
}

int track_orig_name(const char *vol, char *name, size_t nlen,
		    char *uuid, size_t ulen)
{
	return name_pair(name, nlen, uuid, ulen, STACKED_NAME_PREFIX, vol,
			 "-trackorig", ROLE_TRACK_ORIG, vol);
}

int job_view_name(const char *job, char *name, size_t nlen,
		  char *uuid, size_t ulen)
{
	return name_pair(name, nlen, uuid, ulen, "", job, "-snap",
			 ROLE_VIEW, job);
}

int job_stacked_name(const char *kname, char *name, size_t nlen,
		     char *uuid, size_t ulen)
{
	char base[DMNAME_MAX];
	const char *slash = strrchr(kname, '/');

	/* Kernel names may hold '/' (e.g. "cciss/c0d0"): not in dm names. */
	snprintf(base, sizeof(base), "%s", slash ? slash + 1 : kname);
	/* The UUID names the job device: COWBACKUP-TOP-cowbackup-vdb1. */
	if (snprintf(name, nlen, "%s%s", STACKED_NAME_PREFIX, base) >=
	    (int)nlen || strlen(name) >= DMNAME_MAX)
		return -1;
	return devuuid_format(ROLE_TOP, name, uuid, ulen);
}

int job_parse_status(const char *line, struct job_status *st)
{
	int n;

	memset(st, 0, sizeof(*st));
	n = sscanf(line,
		   "%15s %7s %" SCNu64 " %" SCNu64 "/%" SCNu64 " %" SCNu64
		   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		   st->state, st->sync, &st->cluster_sectors, &st->settled,
		   &st->total, &st->cow_copies, &st->background_copies,
		   &st->zero_clusters, &st->errors, &st->speed);
	/* Later fields may be appended; the first nine must be there. */
	if (n != COWBACKUP_STATUS_FIELDS + 1 || !st->cluster_sectors)
		return -1;
	return 0;
}

int job_parse_table(const char *params, uint32_t *src_major,
		    uint32_t *src_minor, uint32_t *tgt_major,
		    uint32_t *tgt_minor)
{
	char src[32], tgt[32];

	if (sscanf(params, "%31s %31s", src, tgt) != 2)
		return -1;
	if (parse_devno(src, src_major, src_minor) ||
	    parse_devno(tgt, tgt_major, tgt_minor))
		return -1;
	return 0;
}

bool table_is_linear_over(const struct dm_table_lines *t, uint32_t major,
			  uint32_t minor)
{
	uint64_t next = 0;
	size_t i;

	for (i = 0; i < t->count; i++) {
		const struct dm_target_line *l = &t->lines[i];
		uint32_t ma, mi;
		char dev[32];
		uint64_t off;

		if (strcmp(l->type, "linear") || l->start != next ||
		    sscanf(l->params, "%31s %" SCNu64, dev, &off) != 2 ||
		    parse_devno(dev, &ma, &mi) || ma != major || mi != minor ||
		    off != l->start)
			return false;
		next = l->start + l->len;
	}
	return t->count > 0;
}

int table_linear_over(struct dm_table_lines *lin,
		      const struct dm_table_lines *orig, uint32_t major,
		      uint32_t minor)
{
	char params[64];
	size_t i;

	for (i = 0; i < orig->count; i++) {
		snprintf(params, sizeof(params), "%u:%u %" PRIu64, major, minor,
			 orig->lines[i].start);
		if (dm_table_add(lin, orig->lines[i].start, orig->lines[i].len,
				 "linear", params))
			return -1;
	}
	return 0;
}

static void devno_path(uint32_t major, uint32_t minor, char *buf, size_t len)
{
	struct blockdev bd;

	if (blockdev_from_devno(major, minor, &bd))
		snprintf(buf, len, "%u:%u", major, minor);
	else
		snprintf(buf, len, "%s", bd.path);
}

/* Find the view device of @job, if any. */
static void find_view(struct job *job)
{
	char name[DMNAME_MAX], uuid[DMUUID_MAX];
	struct dm_dev_info info;

	job->view[0] = '\0';
	job->view_path[0] = '\0';
	if (job_view_name(job->name, name, sizeof(name), uuid, sizeof(uuid)))
		return;
	if (dm_get_info(name, &info) || !info.exists ||
	    !devuuid_is(info.uuid, ROLE_VIEW, job->name))
		return;
	snprintf(job->view, sizeof(job->view), "%s", name);
	dm_dev_path(name, job->view_path, sizeof(job->view_path));
}

/* Load the job whose job device (cowbackup table) is @dev. */
static int load_job_device(const char *dev, struct job *job)
{
	struct dm_table_lines table = { 0 }, status = { 0 };
	struct dm_dev_info src;
	const char *base;
	int r = -1;

	if (dm_get_info(dev, &job->info))
		return -1;
	if (!job->info.exists || !job->info.live_table)
		return 1;
	snprintf(job->dev, sizeof(job->dev), "%s", job->info.name);
	if (dm_get_table(dev, false, &table))
		return -1;
	if (table.count != 1 ||
	    strcmp(table.lines[0].type, COWBACKUP_TARGET_NAME) ||
	    job_parse_table(table.lines[0].params, &job->src_major,
			    &job->src_minor, &job->tgt_major,
			    &job->tgt_minor)) {
		r = 1;
		goto out;
	}
	job->sectors = table.lines[0].len;
	if (dm_get_status(dev, &status))
		goto out;
	if (status.count != 1 ||
	    job_parse_status(status.lines[0].params, &job->st)) {
		err_msg("%s: cannot parse cowbackup status '%s'", dev,
			status.count ? status.lines[0].params : "");
		goto out;
	}
	if (devuuid_parse(job->info.uuid, &base) == ROLE_COW) {
		job->kind = JOB_IN_PLACE;
		snprintf(job->name, sizeof(job->name), "%s", base);
		if (dm_get_info(job->name, &job->visible))
			goto out;
		job->detached = true;
		if (job->visible.exists && job->visible.live_table) {
			struct dm_table_lines vt;

			if (!dm_get_table(job->name, false, &vt)) {
				job->detached = !table_is_linear_over(
					&vt, job->info.major, job->info.minor);
				dm_table_free(&vt);
			}
		}
		if (!dm_get_info_by_devno(job->src_major, job->src_minor,
					  &src) && src.exists)
			snprintf(job->hidden, sizeof(job->hidden), "%s",
				 src.name);
		dm_dev_path(job->name, job->device_path,
			    sizeof(job->device_path));
		snprintf(job->source_path, sizeof(job->source_path), "%s",
			 job->device_path);
	} else {
		job->kind = JOB_STACKED;
		job->visible = job->info;
		snprintf(job->name, sizeof(job->name), "%s", job->dev);
		dm_dev_path(job->name, job->device_path,
			    sizeof(job->device_path));
		devno_path(job->src_major, job->src_minor, job->source_path,
			   sizeof(job->source_path));
	}
	devno_path(job->tgt_major, job->tgt_minor, job->target_data_path,
		   sizeof(job->target_data_path));
	snprintf(job->target_path, sizeof(job->target_path), "%s",
		 job->target_data_path);
	{
		uint32_t ma, mi;

		/* The job writes through the staging device (marker.h). */
		if (marker_staging_target(job->tgt_major, job->tgt_minor,
					  &ma, &mi)) {
			job->staged = true;
			devno_path(ma, mi, job->target_path,
				   sizeof(job->target_path));
		}
	}
	find_view(job);
	r = 0;
out:
	dm_table_free(&table);
	dm_table_free(&status);
	return r;
}

int job_load(const char *job_name, struct job *job)
{
	char name[DMNAME_MAX], cow[DMNAME_MAX], uuid[DMUUID_MAX];
	struct dm_dev_info info;
	int r;

	/* @job_name may point into @job (reloading a job): copy it first. */
	snprintf(name, sizeof(name), "%s", job_name);
	memset(job, 0, sizeof(*job));
	/* The job device itself, or a stacked job. */
	r = load_job_device(name, job);
	if (r <= 0)
		return r;
	/* An in-place job by its name: the COW device is named after it. */
	if (job_cow_name(name, cow, sizeof(cow), uuid, sizeof(uuid)))
		return 1;
	memset(job, 0, sizeof(*job));
	if (dm_get_info(cow, &info))
		return -1;
	if (info.exists && devuuid_is(info.uuid, ROLE_COW, name)) {
		r = load_job_device(cow, job);
		if (r)
			return r;
		/* The visible device must still point at the COW device. */
		return 0;
	}
	if (dm_get_info(name, &job->visible))
		return -1;
	return 1;
}

static int job_cmp(const void *a, const void *b)
{
	return strcmp(((const struct job *)a)->name,
		      ((const struct job *)b)->name);
}

int job_list(struct job **jobs_out, size_t *count_out)
{
	struct job *jobs = NULL, *grown;
	size_t count = 0, i, n;
	char **names;
	int r;

	*jobs_out = NULL;
	*count_out = 0;
	if (dm_list_names(&names, &n))
		return -1;
	for (i = 0; i < n; i++) {
		grown = realloc(jobs, (count + 1) * sizeof(*jobs));
		if (!grown) {
			free(jobs);
			dm_free_names(names, n);
			return -1;
		}
		jobs = grown;
		/* Only job devices; vanishing devices are not an error. */
		r = load_job_device(names[i], &jobs[count]);
		if (r == 0)
			count++;
	}
	dm_free_names(names, n);
	if (count)
		qsort(jobs, count, sizeof(*jobs), job_cmp);
	*jobs_out = jobs;
	*count_out = count;
	return 0;
}

/* Explain why an existing dm device @name is not a job. */
static void not_a_job(const char *arg, const char *name)
{
	char hidden[DMNAME_MAX], uuid[DMUUID_MAX];
	struct dm_dev_info info;

	if (!job_hidden_name(name, hidden, sizeof(hidden), uuid,
			     sizeof(uuid)) &&
	    !dm_get_info(hidden, &info) && info.exists)
		err_msg("%s: not in a job, but %s exists: an interrupted start/finish, or the table was replaced (lvextend, lvchange --refresh); run 'cowbackup-ctl recover'",
			arg, hidden);
	else
		err_msg("%s: not a cowbackup job (see 'cowbackup-ctl list')",
			arg);
}

static int find_by_source(const char *arg, const struct blockdev *bd,
			  struct job *job)
{
	struct job *jobs;
	size_t count, i;

	if (job_list(&jobs, &count)) {
		err_msg("%s: %s", arg, dm_last_error());
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (jobs[i].kind == JOB_STACKED &&
		    jobs[i].src_major == bd->major &&
		    jobs[i].src_minor == bd->minor) {
			*job = jobs[i];
			free(jobs);
			return 0;
		}
	}
	free(jobs);
	err_msg("%s: not the source of any cowbackup job", arg);
	return -1;
}

int job_find(const char *arg, struct job *job)
{
	struct blockdev bd;
	const char *name, *base;
	enum dev_role role;
	int r;

	/* A plain dm name is the common case: no error on a miss here. */
	if (!strchr(arg, '/') && strlen(arg) < DMNAME_MAX) {
		r = job_load(arg, job);
		if (r == 0)
			return 0;
		if (r < 0) {
			err_msg("%s: %s", arg, dm_last_error());
			return -1;
		}
		if (job->visible.exists) {
			not_a_job(arg, arg);
			return -1;
		}
	}
	if (blockdev_resolve(arg, &bd))
		return -1;
	if (!bd.is_dm)
		return find_by_source(arg, &bd, job);
	name = bd.dm_name;
	/* The hidden device stands for its job. */
	role = devuuid_parse(bd.dm_uuid, &base);
	if (role == ROLE_ORIG || role == ROLE_COW)
		name = base;
	r = job_load(name, job);
	if (r < 0)
		err_msg("%s: %s", arg, dm_last_error());
	else if (r > 0)
		not_a_job(arg, name);
	return r ? -1 : 0;
}

bool job_state_final(const char *state)
{
	return !strcmp(state, COWBACKUP_STATE_COMPLETED) ||
	       !strcmp(state, COWBACKUP_STATE_CANCELLED) ||
	       !strcmp(state, COWBACKUP_STATE_FAILED);
}

const char *job_state_shown(const struct job *job)
{
	return job->detached ? "detached" : job->st.state;
}

const char *job_backup_state(const struct job *job)
{
	return !job->detached &&
	       !strcmp(job->st.state, COWBACKUP_STATE_COMPLETED) ?
	       "ready" : "incomplete";
}

uint64_t job_settled_bytes(const struct job *job)
{
	uint64_t bytes = job->st.settled * job->st.cluster_sectors * 512;
	uint64_t size = job->sectors * 512;

	/* The last cluster may be partial. */
	return bytes > size ? size : bytes;
}

double job_percent(const struct job *job)
{
	if (!job->st.total)
		return 100.0;
	return 100.0 * (double)job->st.settled / (double)job->st.total;
}

/*---------------------------------------------------------------------*/
/* job_extents.h: the copied clusters, paged out of the `bitmap` reply. */

int job_get_extents(const char *name, struct job_extents *je)
{
	struct job job;

	memset(je, 0, sizeof(*je));
	if (job_find(name, &job))
		return -1;
	snprintf(je->state, sizeof(je->state), "%s", job.st.state);
	snprintf(je->sync, sizeof(je->sync), "%s", job.st.sync);
	/* The staging device holds the first and last MiB until finish. */
	snprintf(je->target_path, sizeof(je->target_path), "%s",
		 job.target_data_path);
	je->detached = job.detached;
	je->cluster_bytes = job.st.cluster_sectors * 512;
	je->size_bytes = job.sectors * 512;
	je->nclusters = job.st.total;
	return bitmap_reply_read(job.dev, job.name, COWBACKUP_MSG_BITMAP,
				 je->nclusters, &je->extents, &je->count);
}

void job_extents_free(struct job_extents *je)
{
	free(je->extents);
	je->extents = NULL;
	je->count = 0;
}
