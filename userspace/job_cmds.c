// SPDX-License-Identifier: GPL-2.0
/*
 * The job commands: backup, start, status, list, wait, pause, resume,
 * cancel, set-speed, finish, recover. Each parses its own options with
 * getopt_long and answers --help.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blockdev.h"
#include "commands.h"
#include "insert.h"
#include "job.h"
#include "incremental.h"
#include "json.h"
#include "marker.h"
#include "nbd_export.h"
#include "nbd_target.h"
#include "progress.h"
#include "recover.h"
#include "image/topmap.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

/* Every command that needs device-mapper: one line and exit 1 if absent. */
static void setup(void)
{
	if (dm_access_check())
		exit(EXIT_FAIL);
	dm_setup(getenv("COWBACKUP_CTL_DEBUG") != NULL);
}

/*
 * Handle -h/--help and unknown options the same way in every command
 * (getopt's own messages are off: opterr = 0 in main).
 */
static int common_opt(int c, const char *cmd, const char *help, char **argv)
{
	if (c == 'h') {
		fputs(help, stdout);
		return EXIT_OK;
	}
	return usage_error(cmd, "invalid option or missing argument: '%s'",
			   argv[optind - 1]);
}

/*
 * Options of a command whose only one besides --help is the flag @name
 * (NULL: none), setting *@set. Returns -1 to go on, else the exit status
 * to return (help shown, or a usage error).
 */
static int flag_opts(int argc, char **argv, const char *cmd, const char *help,
		     const char *name, int val, bool *set)
{
	const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ name, no_argument, NULL, val },
		{ NULL, 0, NULL, 0 }
	};
	char shortopts[3] = { 'h', val > 0 && val < 256 ? (char)val : 0, 0 };
	int c;

	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (!name || c != val)
			return common_opt(c, cmd, help, argv);
		*set = true;
	}
	return -1;
}

/*------------------------------------------------------------------*/
/* start options, shared with backup */

#define START_OPTIONS_HELP						\
	"  -s, --sync full|top|none   what to copy (default full)\n"	\
	"  -c, --cluster-size SIZE    copy granularity, 4K..8M, power of two\n" \
	"                             (default 64K)\n"			\
	"      --speed RATE           background copy limit per second, e.g.\n" \
	"                             200M (MiB/s) or 100MB (10^6 bytes/s),\n" \
	"                             at least 64K; 0 = unlimited (default)\n" \
	"      --max-workers N        background copies in flight, 1..1024\n" \
	"      --on-source-error P    report|ignore|stop (default report)\n" \
	"      --on-target-error P    report|ignore|stop (default report)\n" \
	"      --cow-error M          break_snapshot|break_write\n"	\
	"                             (default break_snapshot)\n"	\
	"      --top-map IMAGE        sync=top: allocation map from a qcow2 or\n" \
	"                             VMDK image (a loop device over a sparse\n" \
	"                             file needs none)\n"			\
	"      --incremental          on a tracked volume ('track enable'):\n" \
	"                             copy only the clusters changed since the\n" \
	"                             last backup, onto that backup's target;\n" \
	"                             a full backup (saying why) when that is\n" \
	"                             not possible\n"			\
	"      --incremental-only     the same, but refuse instead of a full\n" \
	"                             backup\n"				\
	"  -f, --force                override the target safety checks\n"

enum {
	OPT_SPEED = 256, OPT_MAX_WORKERS, OPT_ON_SOURCE_ERROR,
	OPT_ON_TARGET_ERROR, OPT_COW_ERROR, OPT_PAUSED, OPT_SNAPSHOT,
	OPT_TOP_MAP, OPT_INTERVAL, OPT_QUIET, OPT_JSON, OPT_DRY_RUN,
	OPT_NEW_UUID, OPT_EXPORT, OPT_EXPORT_TLS, OPT_INCREMENTAL,
	OPT_INCREMENTAL_ONLY,
};

#define START_LONG_OPTIONS						\
	{ "sync", required_argument, NULL, 's' },			\
	{ "cluster-size", required_argument, NULL, 'c' },		\
	{ "speed", required_argument, NULL, OPT_SPEED },		\
	{ "max-workers", required_argument, NULL, OPT_MAX_WORKERS },	\
	{ "on-source-error", required_argument, NULL, OPT_ON_SOURCE_ERROR }, \
	{ "on-target-error", required_argument, NULL, OPT_ON_TARGET_ERROR }, \
	{ "cow-error", required_argument, NULL, OPT_COW_ERROR },	\
	{ "top-map", required_argument, NULL, OPT_TOP_MAP },		\
	{ "incremental", no_argument, NULL, OPT_INCREMENTAL },		\
	{ "incremental-only", no_argument, NULL, OPT_INCREMENTAL_ONLY }, \
	{ "force", no_argument, NULL, 'f' },				\
	{ "help", no_argument, NULL, 'h' }

struct start_args {
	struct start_request req;
	const char *top_map;
	double interval;
	bool quiet;
};

static bool is_policy(const char *p)
{
	return !strcmp(p, COWBACKUP_POLICY_REPORT) ||
	       !strcmp(p, COWBACKUP_POLICY_IGNORE) ||
	       !strcmp(p, COWBACKUP_POLICY_STOP);
}

/* A rate option; prints the usage error and returns -1 when refused. */
static int rate_arg(const char *cmd, const char *what, const char *arg,
		    uint64_t *v)
{
	char min[32];
	int r = parse_rate(arg, v);

	if (r == -2)
		usage_error(cmd, "%s'%s' is below the minimum of %s (0 = unlimited)",
			    what, arg, format_rate_short(RATE_MIN_BYTES, min,
							 sizeof(min)));
	else if (r)
		usage_error(cmd, "%s'%s' is not a rate such as 200M (MiB/s) or 100MB/s (10^6 bytes/s)",
			    what, arg);
	return r ? -1 : 0;
}

/* One start option; returns -1 if @c is not one, else an exit status. */
static int start_opt(const char *cmd, int c, const char *arg,
		     struct start_args *a)
{
	struct start_request *r = &a->req;
	uint64_t v;

	switch (c) {
	case 's':
		if (strcmp(arg, COWBACKUP_SYNC_FULL) &&
		    strcmp(arg, COWBACKUP_SYNC_TOP) &&
		    strcmp(arg, COWBACKUP_SYNC_NONE))
			return usage_error(cmd, "--sync: '%s' is not full, top or none",
					   arg);
		r->sync = arg;
		return EXIT_OK;
	case 'c':
		if (parse_size(arg, &v) || v < COWBACKUP_CLUSTER_MIN_SECTORS * 512ULL ||
		    v > COWBACKUP_CLUSTER_MAX_SECTORS * 512ULL || (v & (v - 1)))
			return usage_error(cmd, "--cluster-size: '%s' is not a power of two from 4K to 8M",
					   arg);
		r->cluster_bytes = v;
		return EXIT_OK;
	case OPT_SPEED:
		if (rate_arg(cmd, "--speed: ", arg, &v))
			return EXIT_USAGE;
		r->speed_set = true;
		r->speed = v;
		return EXIT_OK;
	case OPT_MAX_WORKERS:
		if (parse_u64(arg, &v) || v < COWBACKUP_MAX_WORKERS_MIN ||
		    v > COWBACKUP_MAX_WORKERS_MAX)
			return usage_error(cmd, "--max-workers: '%s' is not a number from 1 to 1024",
					   arg);
		r->max_workers = v;
		return EXIT_OK;
	case OPT_ON_SOURCE_ERROR:
	case OPT_ON_TARGET_ERROR:
		if (!is_policy(arg))
			return usage_error(cmd, "--on-%s-error: '%s' is not report, ignore or stop",
					   c == OPT_ON_SOURCE_ERROR ? "source" : "target",
					   arg);
		if (c == OPT_ON_SOURCE_ERROR)
			r->on_source_error = arg;
		else
			r->on_target_error = arg;
		return EXIT_OK;
	case OPT_COW_ERROR:
		if (strcmp(arg, COWBACKUP_COW_BREAK_SNAPSHOT) &&
		    strcmp(arg, COWBACKUP_COW_BREAK_WRITE))
			return usage_error(cmd, "--cow-error: '%s' is not break_snapshot or break_write",
					   arg);
		r->cow_error = arg;
		return EXIT_OK;
	case OPT_TOP_MAP:
		a->top_map = arg;
		return EXIT_OK;
	case OPT_INCREMENTAL:
		r->incremental = true;
		return EXIT_OK;
	case OPT_INCREMENTAL_ONLY:
		r->incremental = r->incremental_only = true;
		return EXIT_OK;
	case 'f':
		r->force = true;
		return EXIT_OK;
	}
	return -1;
}

/*
 * The allocation map for sync=top, read before anything is changed: from
 * --top-map IMAGE, else from the source itself (a loop device over a
 * sparse file).
 */
static int load_top_map(const char *cmd, const char *source,
			struct start_args *a, struct cluster_extent **map)
{
	uint64_t cluster_bytes = a->req.cluster_bytes;
	struct blockdev src;
	size_t n;

	*map = NULL;
	if (a->top_map && strcmp(a->req.sync, COWBACKUP_SYNC_TOP))
		return usage_error(cmd, "--top-map needs --sync top");
	/* The tracker's map decides what an incremental job copies. */
	if (a->req.incremental && strcmp(a->req.sync, COWBACKUP_SYNC_FULL))
		return usage_error(cmd, "--incremental takes no --sync: it copies what changed, or everything");
	if (strcmp(a->req.sync, COWBACKUP_SYNC_TOP))
		return EXIT_OK;
	setup();
	if (blockdev_resolve(source, &src))
		return EXIT_FAIL;
	if (!cluster_bytes)
		cluster_bytes = COWBACKUP_CLUSTER_DEFAULT_SECTORS * 512;
	a->req.map_nclusters = (src.size_bytes + cluster_bytes - 1) /
			       cluster_bytes;
	if (topmap_unallocated(a->top_map ? a->top_map : src.path,
			       cluster_bytes, a->req.map_nclusters, map, &n))
		return EXIT_FAIL;
	a->req.have_map = true;
	a->req.unallocated = *map;
	a->req.n_unallocated = n;
	return EXIT_OK;
}

/*------------------------------------------------------------------*/
/* start */

static const char start_help[] =
	"Usage: cowbackup-ctl start SOURCE TARGET [options]\n"
	"\n"
	"Start a point-in-time backup of SOURCE onto TARGET. SOURCE is an LVM\n"
	"volume (vg/lv), a dm device or any block device; a dm device (LVM)\n"
	"keeps running, mounted and in use: the target is inserted under it.\n"
	"Other devices get a new dm device cowbackup-NAME on top.\n"
	"\n"
	START_OPTIONS_HELP
	"      --paused               start with the background copy paused\n"
	"      --snapshot             also create the read-only point-in-time\n"
	"                             view device JOB-snap\n"
	"      --export URI           with --snapshot: serve the view read-only\n"
	"                             over NBD (qemu-nbd) until finish, at\n"
	"                             nbd://ADDR[:PORT]/NAME or\n"
	"                             nbd+unix:///NAME?socket=PATH\n"
	"      --export-tls DIR       x509 credentials for the export (TLS only)\n"
	"  -h, --help                 this help\n";

/*
 * TARGET as given: a device, or an NBD URI (push mode), checked here so
 * that a bad one is a usage error before anything is set up.
 */
static int target_arg(const char *cmd, const char *arg, struct nbd_uri *u,
		      bool *is_nbd)
{
	char why[160];

	*is_nbd = nbd_target_is_uri(arg);
	if (*is_nbd && nbd_uri_parse(arg, u, why, sizeof(why)))
		return usage_error(cmd, "%s: %s", arg, why);
	return 0;
}

/*
 * job_start() onto @target; an NBD target is connected first, recorded
 * for the job on success and disconnected again on failure.
 */
static int start_on(const char *source, const char *target,
		    const struct nbd_uri *u, bool is_nbd,
		    const struct start_request *req, char *job)
{
	char dev[64], text[PATH_MAX + 300];
	int r;

	if (!is_nbd)
		return job_start(source, target, req, job);
	nbd_uri_format(u, text, sizeof(text));
	if (nbd_target_connect(u, dev, sizeof(dev)))
		return EXIT_FAIL;
	printf("%s: connected as %s\n", text, dev);
	r = job_start(source, dev, req, job);
	if (r) {
		nbd_target_disconnect(dev);
		return r;
	}
	if (nbd_target_record(job, dev, text)) {
		err_msg("%s: cannot record the NBD target in %s; 'finish' will not disconnect %s",
			job, NBD_TARGET_DIR, dev);
	}
	return 0;
}

/* Serve a new job's view over NBD; if that fails, undo the start. */
static int start_export(const char *name, const struct nbd_uri *uri,
			const char *tls)
{
	char text[PATH_MAX + 300];
	struct job job;

	nbd_uri_format(uri, text, sizeof(text));
	if (job_load(name, &job) || !job.view[0]) {
		err_msg("%s: the job or its view vanished", name);
		return EXIT_FAIL;
	}
	if (nbd_export_start(job.name, job.view_path, uri, tls) == 0) {
		printf("%s: point-in-time view served read-only at %s\n",
		       job.name, text);
		return EXIT_OK;
	}
	if (job_finish(job.name, true, false) == EXIT_OK)
		err_msg("%s: no NBD export, so the job was cancelled and finished",
			job.name);
	return EXIT_FAIL;
}

int cmd_start(int argc, char **argv)
{
	static const struct option opts[] = {
		START_LONG_OPTIONS,
		{ "paused", no_argument, NULL, OPT_PAUSED },
		{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
		{ "export", required_argument, NULL, OPT_EXPORT },
		{ "export-tls", required_argument, NULL, OPT_EXPORT_TLS },
		{ NULL, 0, NULL, 0 }
	};
	struct start_args a = { .req.sync = COWBACKUP_SYNC_FULL };
	const char *export = NULL, *tls = NULL;
	struct cluster_extent *ranges;
	char job[DMNAME_MAX], why[160];
	struct nbd_uri uri, turi;
	struct stat st;
	bool to_nbd;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:c:fh", opts, NULL)) != -1) {
		r = start_opt("start", c, optarg, &a);
		if (r > 0)
			return r;
		if (r == 0)
			continue;
		if (c == OPT_PAUSED)
			a.req.paused = true;
		else if (c == OPT_SNAPSHOT)
			a.req.snapshot = true;
		else if (c == OPT_EXPORT)
			export = optarg;
		else if (c == OPT_EXPORT_TLS)
			tls = optarg;
		else
			return common_opt(c, "start", start_help, argv);
	}
	if (argc - optind != 2)
		return usage_error("start", "need SOURCE and TARGET");
	if (export && !a.req.snapshot)
		return usage_error("start", "--export serves the view: add --snapshot");
	/*
	 * An incremental job leaves unchanged clusters to the target's last
	 * backup; a view would read them from the live volume.
	 */
	if (a.req.snapshot && a.req.incremental)
		return usage_error("start", "--snapshot cannot be combined with --incremental: the view would read unchanged clusters from the live volume");
	if (tls && !export)
		return usage_error("start", "--export-tls needs --export");
	if (export && nbd_uri_parse(export, &uri, why, sizeof(why)))
		return usage_error("start", "--export %s: %s", export, why);
	if (tls && (stat(tls, &st) || !S_ISDIR(st.st_mode)))
		return usage_error("start", "--export-tls %s: not a directory",
				   tls);
	r = target_arg("start", argv[optind + 1], &turi, &to_nbd);
	if (r)
		return r;
	r = load_top_map("start", argv[optind], &a, &ranges);
	if (r)
		return r;
	setup();
	r = start_on(argv[optind], argv[optind + 1], &turi, to_nbd, &a.req,
		     job);
	free(ranges);
	if (r || !export)
		return r;
	return start_export(job, &uri, tls);
}

/*------------------------------------------------------------------*/
/* status, list */

/* "tracking": the volume's change tracker as this job sees it, or null. */
static void tracking_json(struct json *j, const struct job *job)
{
	bool base, incremental;
	struct tracker t;

	if (!incr_job_info(job, &t, &base, &incremental)) {
		json_null(j, "tracking");
		return;
	}
	json_object_begin(j, "tracking");
	json_str(j, "history", t.st.uuid);
	json_u64(j, "epoch", t.st.epoch);
	json_bool(j, "checkpointed", base);
	json_bool(j, "incremental", incremental);
	if (incremental)
		json_u64(j, "changed_clusters", t.st.dirty_frozen);
	else
		json_null(j, "changed_clusters");
	json_object_end(j);
}

static void job_json(struct json *j, const struct job *job)
{
	char uri[PATH_MAX + 300];

	json_object_begin(j, NULL);
	json_str(j, "name", job->name);
	/* A detached job is a failed backup, whatever the kernel says. */
	json_str(j, "state", job->detached ? COWBACKUP_STATE_FAILED :
		 job->st.state);
	json_str(j, "sync", job->st.sync);
	json_u64(j, "cluster_size", job->st.cluster_sectors * 512);
	json_u64(j, "settled_clusters", job->st.settled);
	json_u64(j, "total_clusters", job->st.total);
	json_u64(j, "settled_bytes", job_settled_bytes(job));
	json_u64(j, "total_bytes", job->sectors * 512);
	json_u64(j, "cow_copies", job->st.cow_copies);
	json_u64(j, "background_copies", job->st.background_copies);
	json_u64(j, "zero_clusters", job->st.zero_clusters);
	json_u64(j, "errors", job->st.errors);
	json_u64(j, "speed", job->st.speed);
	json_str(j, "source", job->source_path);
	json_str(j, "target", job->target_path);
	if (job->view[0])
		json_str(j, "view", job->view_path);
	else
		json_null(j, "view");
	if (nbd_export_get(job->name, uri, sizeof(uri)))
		json_str(j, "export", uri);
	else
		json_null(j, "export");
	/* Whole percent, rounded down: 100 only when every cluster settled. */
	json_u64(j, "percent", job->st.total ?
		 job->st.settled * 100 / job->st.total : 100);
	json_str(j, "device", job->device_path);
	json_str(j, "job_device", job->dev);
	json_str(j, "kind", job->kind == JOB_IN_PLACE ? "in-place" : "stacked");
	if (job->hidden[0])
		json_str(j, "hidden", job->hidden);
	else
		json_null(j, "hidden");
	json_bool(j, "suspended", job->visible.suspended);
	json_bool(j, "detached", job->detached);
	json_str(j, "kernel_state", job->st.state);
	json_str(j, "backup", job_backup_state(job));
	tracking_json(j, job);
	json_object_end(j);
}

static void jobs_json(const struct job *jobs, size_t n)
{
	struct json j;
	size_t i;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_array_begin(&j, "jobs");
	for (i = 0; i < n; i++)
		job_json(&j, &jobs[i]);
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

static void job_print(const struct job *job)
{
	char a[64], b[64], uri[PATH_MAX + 300];

	printf("Job:               %s\n", job->name);
	if (job->kind == JOB_IN_PLACE)
		printf("Device:            %s (in place: job device %s, original table on %s)\n",
		       job->device_path, job->dev, job->hidden);
	else
		printf("Device:            %s (stacked on its source)\n",
		       job->device_path);
	printf("Source:            %s\n", job->source_path);
	printf("Target:            %s\n", job->target_path);
	printf("View:              %s\n", job->view[0] ? job->view_path : "none");
	if (nbd_export_get(job->name, uri, sizeof(uri)))
		printf("Export:            %s (NBD, read-only)\n", uri);
	printf("State:             %s%s\n", job->detached ?
	       "failed (detached)" : job->st.state,
	       job->visible.suspended ? " (device suspended)" : "");
	if (job->detached)
		printf("Warning:           %s no longer routes through the job (its table was replaced, e.g. by lvextend, lvrename, lvcreate -s or lvchange --refresh); the backup failed and the target stays marked incomplete; run 'cowbackup-ctl finish %s'\n",
		       job->name, job->name);
	printf("Backup:            %s\n", !strcmp(job_backup_state(job), "ready") ?
	       "ready: 'finish' makes the target a complete backup" :
	       "incomplete (the target is marked incomplete)");
	printf("Sync:              %s\n", job->st.sync);
	printf("Cluster size:      %s\n",
	       format_size_long(job->st.cluster_sectors * 512, a, sizeof(a)));
	printf("Progress:          %.1f%%, %" PRIu64 "/%" PRIu64 " clusters settled\n",
	       job_percent(job), job->st.settled, job->st.total);
	printf("Settled:           %s of %s\n",
	       format_size_long(job_settled_bytes(job), a, sizeof(a)),
	       format_size_long(job->sectors * 512, b, sizeof(b)));
	printf("Copy-on-write:     %" PRIu64 " clusters\n", job->st.cow_copies);
	printf("Background copies: %" PRIu64 " clusters\n",
	       job->st.background_copies);
	printf("Zero clusters:     %" PRIu64 "\n", job->st.zero_clusters);
	printf("Errors:            %" PRIu64 "\n", job->st.errors);
	if (job->st.speed)
		printf("Speed limit:       %s\n",
		       format_rate_long(job->st.speed, a, sizeof(a)));
	else
		printf("Speed limit:       unlimited\n");
}

/*
 * A detached job is a failed backup: one error line each, and exit 1.
 */
static int detached_fail(const struct job *jobs, size_t n)
{
	int r = EXIT_OK;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!jobs[i].detached)
			continue;
		err_msg("%s: backup failed: the job was detached (the device's table was replaced, e.g. by lvextend, lvrename, lvcreate -s or lvchange --refresh); %s stays marked incomplete; run 'cowbackup-ctl finish %s'",
			jobs[i].name, jobs[i].target_path, jobs[i].name);
		r = EXIT_FAIL;
	}
	return r;
}

static const char status_help[] =
	"Usage: cowbackup-ctl status [JOB] [--json]\n"
	"\n"
	"Show one job, or every job. JOB is the job device's dm name (as\n"
	"'list' shows it), vg/lv, a /dev path of it, or a stacked job's source.\n"
	"\n"
	"      --json     stable JSON (see the manual for the keys)\n"
	"  -h, --help     this help\n";

int cmd_status(int argc, char **argv)
{
	bool as_json = false;
	struct job job, *jobs;
	size_t n, i;
	int r;

	r = flag_opts(argc, argv, "status", status_help, "json", OPT_JSON,
		      &as_json);
	if (r >= 0)
		return r;
	if (argc - optind > 1)
		return usage_error("status", "too many arguments");
	setup();
	recover_hint();
	if (argc - optind == 1) {
		if (job_find(argv[optind], &job))
			return EXIT_FAIL;
		if (as_json) {
			struct json j;

			json_init(&j, stdout);
			job_json(&j, &job);
			json_finish(&j);
		} else {
			job_print(&job);
		}
		return detached_fail(&job, 1);
	}
	if (job_list(&jobs, &n)) {
		err_msg("cannot list dm devices: %s", dm_last_error());
		return EXIT_FAIL;
	}
	if (as_json)
		jobs_json(jobs, n);
	else if (!n)
		printf("no cowbackup jobs\n");
	for (i = 0; !as_json && i < n; i++) {
		if (i)
			putchar('\n');
		job_print(&jobs[i]);
	}
	r = detached_fail(jobs, n);
	free(jobs);
	return r;
}

static const char list_help[] =
	"Usage: cowbackup-ctl list [--json]\n"
	"\n"
	"List the jobs: one line each, or stable JSON {\"jobs\": [...]}.\n";

int cmd_list(int argc, char **argv)
{
	bool as_json = false;
	struct job *jobs;
	size_t n, i;
	int r;

	r = flag_opts(argc, argv, "list", list_help, "json", OPT_JSON,
		      &as_json);
	if (r >= 0)
		return r;
	if (argc != optind)
		return usage_error("list", "takes no arguments");
	setup();
	recover_hint();
	if (job_list(&jobs, &n)) {
		err_msg("cannot list dm devices: %s", dm_last_error());
		return EXIT_FAIL;
	}
	if (as_json) {
		jobs_json(jobs, n);
	} else if (!n) {
		printf("no cowbackup jobs\n");
	} else {
		printf("%-24s %-10s %-5s %7s  %-10s  %s\n", "JOB", "STATE",
		       "SYNC", "DONE", "BACKUP", "SOURCE -> TARGET");
		for (i = 0; i < n; i++)
			printf("%-24s %-10s %-5s %6.1f%%  %-10s  %s -> %s\n",
			       jobs[i].name, job_state_shown(&jobs[i]),
			       jobs[i].st.sync, job_percent(&jobs[i]),
			       job_backup_state(&jobs[i]), jobs[i].source_path,
			       jobs[i].target_path);
	}
	r = detached_fail(jobs, n);
	free(jobs);
	return r;
}

/*------------------------------------------------------------------*/
/* wait, backup */

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the event wait must return at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int parse_interval(const char *cmd, const char *arg, double *out)
{
	if (parse_seconds(arg, 0.1, 3600, out))
		return usage_error(cmd, "--interval: '%s' is not a number of seconds from 0.1 to 3600",
				   arg);
	return EXIT_OK;
}

static const char wait_help[] =
	"Usage: cowbackup-ctl wait JOB [--interval SECS] [--quiet]\n"
	"\n"
	"Follow JOB until it is completed, cancelled or failed: a progress bar\n"
	"on a terminal, otherwise a line every --interval seconds (default 5)\n"
	"and at every state change. Exit status 0 only if it completed.\n";

int cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	double interval = 5.0;
	struct progress p;
	bool quiet = false;
	struct job job;
	int c, r;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		if (c == OPT_INTERVAL) {
			r = parse_interval("wait", optarg, &interval);
			if (r)
				return r;
		} else if (c == 'q') {
			quiet = true;
		} else {
			return common_opt(c, "wait", wait_help, argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("wait", "need JOB");
	setup();
	recover_hint();
	if (job_find(argv[optind], &job))
		return EXIT_FAIL;
	if (job.detached)
		return detached_fail(&job, 1);
	catch_stop_signals();
	progress_init(&p, stdout, interval, quiet);
	if (progress_watch(job.name, &p, &stop_requested, &job))
		return EXIT_FAIL;
	if (stop_requested) {
		err_msg("%s: interrupted; the job goes on", job.name);
		return EXIT_FAIL;
	}
	/* The watch ends on a final state: was every write seen? */
	job_load(job.name, &job);
	if (job.detached)
		return detached_fail(&job, 1);
	if (strcmp(job.st.state, COWBACKUP_STATE_COMPLETED)) {
		err_msg("%s: job %s%s", job.name, job.st.state,
			!strcmp(job.st.state, COWBACKUP_STATE_FAILED) ?
			" (see dmesg)" : "");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static const char backup_help[] =
	"Usage: cowbackup-ctl backup SOURCE TARGET [options]\n"
	"\n"
	"One-shot backup: start a job, follow it with a progress bar (plain\n"
	"lines when not on a terminal), and finish it, restoring SOURCE's\n"
	"original table. Ctrl-C cancels the job and finishes cleanly. SOURCE\n"
	"stays mounted and in use throughout. sync=none never completes on its\n"
	"own: use start --sync none --snapshot, then cancel and finish.\n"
	"\n"
	START_OPTIONS_HELP
	"      --interval SECS        seconds between plain progress lines (5)\n"
	"      --new-uuid             give the finished backup's filesystem a\n"
	"                             new UUID (ext2/3/4, xfs)\n"
	"  -q, --quiet                no progress output\n"
	"  -h, --help                 this help\n";

/* Cancel (if still running) and finish after Ctrl-C. */
static int backup_interrupted(const struct job *job, const char *target)
{
	sigset_t block;

	/* A second Ctrl-C must not cut the cleanup short. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, NULL);
	err_msg("%s: interrupted, cancelling the job", job->name);
	if (job_finish(job->name, true, false))
		return EXIT_FAIL;
	err_msg("%s: backup interrupted: job cancelled and finished; %s holds an incomplete backup",
		job->name, target);
	return EXIT_FAIL;
}

/*
 * The device's table was replaced behind the job: a failed backup. Take
 * the job's devices down (recovery knows how) and leave the target
 * marked incomplete.
 */
static int backup_detached(const struct job *job, const char *target)
{
	detached_fail(job, 1);
	if (job_recover(false, true, job->name) < 0)
		err_msg("%s: could not remove the job's devices; run 'cowbackup-ctl recover'",
			job->name);
	marker_cleanup(job->name);
	nbd_target_release(job->name);
	err_msg("%s: backup failed; %s holds an incomplete backup", job->name,
		target);
	return EXIT_FAIL;
}

int cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		START_LONG_OPTIONS,
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "new-uuid", no_argument, NULL, OPT_NEW_UUID },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 }
	};
	struct start_args a = { .req.sync = COWBACKUP_SYNC_FULL,
				.interval = 5.0 };
	char name[DMNAME_MAX], size[64], target[PATH_MAX];
	struct cluster_extent *ranges;
	struct job job, left;
	bool new_uuid = false, to_nbd;
	struct nbd_uri turi;
	struct progress p;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:c:fqh", opts, NULL)) != -1) {
		r = start_opt("backup", c, optarg, &a);
		if (r > 0)
			return r;
		if (r == 0)
			continue;
		if (c == OPT_INTERVAL) {
			r = parse_interval("backup", optarg, &a.interval);
			if (r)
				return r;
		} else if (c == 'q') {
			a.quiet = true;
		} else if (c == OPT_NEW_UUID) {
			new_uuid = true;
		} else {
			return common_opt(c, "backup", backup_help, argv);
		}
	}
	if (argc - optind != 2)
		return usage_error("backup", "need SOURCE and TARGET");
	if (!strcmp(a.req.sync, COWBACKUP_SYNC_NONE))
		return usage_error("backup", "--sync none never completes on its own; use 'start --sync none --snapshot', read the view, then 'cancel' and 'finish'");
	r = target_arg("backup", argv[optind + 1], &turi, &to_nbd);
	if (r)
		return r;
	r = load_top_map("backup", argv[optind], &a, &ranges);
	if (r)
		return r;

	catch_stop_signals();
	setup();
	r = start_on(argv[optind], argv[optind + 1], &turi, to_nbd, &a.req,
		     name);
	free(ranges);
	if (r)
		return r;
	if (job_load(name, &job)) {
		err_msg("%s: the job vanished", name);
		return EXIT_FAIL;
	}
	if (to_nbd)
		nbd_uri_format(&turi, target, sizeof(target));
	else
		snprintf(target, sizeof(target), "%s", job.target_path);
	progress_init(&p, stdout, a.interval, a.quiet);
	if (progress_watch(name, &p, &stop_requested, &job))
		return EXIT_FAIL;
	if (stop_requested)
		return backup_interrupted(&job, target);
	if (!job_load(name, &job) && job.detached)
		return backup_detached(&job, target);

	if (strcmp(job.st.state, COWBACKUP_STATE_COMPLETED))
		new_uuid = false;	/* nothing to rename: said below */
	r = job_finish(name, true, new_uuid);
	if (r && job_load(name, &left) == 0)
		return EXIT_FAIL;	/* not finished: said why */
	if (strcmp(job.st.state, COWBACKUP_STATE_COMPLETED)) {
		err_msg("%s: backup %s with %" PRIu64 " error(s)%s; %s holds an incomplete backup",
			name, job.st.state, job.st.errors,
			!strcmp(job.st.state, COWBACKUP_STATE_FAILED) ?
			" (see dmesg)" : "", target);
		return EXIT_FAIL;
	}
	printf("%s: backup complete: %s on %s (%" PRIu64 " copied on write, %" PRIu64 " in background, %" PRIu64 " zero clusters)\n",
	       name, format_size_long(job.sectors * 512, size, sizeof(size)),
	       target, job.st.cow_copies, job.st.background_copies,
	       job.st.zero_clusters);
	if (r)
		err_msg("%s: the backup is complete, but its filesystem keeps the source's UUID",
			target);
	return r ? EXIT_FAIL : EXIT_OK;
}

/*------------------------------------------------------------------*/
/* pause, resume, cancel, set-speed */

static int job_message_cmd(int argc, char **argv, const char *cmd,
			   const char *msg, const char *done)
{
	char help[256];
	struct job job;
	int r;

	snprintf(help, sizeof(help),
		 "Usage: cowbackup-ctl %s JOB\n\nSend '%s' to the job.\n", cmd,
		 msg);
	r = flag_opts(argc, argv, cmd, help, NULL, 0, NULL);
	if (r >= 0)
		return r;
	if (argc - optind != 1)
		return usage_error(cmd, "need JOB");
	setup();
	if (job_find(argv[optind], &job))
		return EXIT_FAIL;
	if (job_state_final(job.st.state)) {
		err_msg("%s: cannot %s: the job is already %s", job.name, cmd,
			job.st.state);
		return EXIT_FAIL;
	}
	if (dm_message(job.dev, msg, NULL)) {
		err_msg("%s: %s failed: %s (see dmesg)", job.name, cmd,
			dm_last_error());
		return EXIT_FAIL;
	}
	if (!job_load(job.name, &job))
		printf("%s: %s, now %s\n", job.name, done, job.st.state);
	return EXIT_OK;
}

int cmd_pause(int argc, char **argv)
{
	return job_message_cmd(argc, argv, "pause", COWBACKUP_MSG_PAUSE,
			       "background copy paused");
}

int cmd_resume(int argc, char **argv)
{
	return job_message_cmd(argc, argv, "resume", COWBACKUP_MSG_RESUME,
			       "background copy resumed");
}

int cmd_cancel(int argc, char **argv)
{
	return job_message_cmd(argc, argv, "cancel", COWBACKUP_MSG_CANCEL,
			       "cancelled (run 'finish' to restore the original table)");
}

static const char set_speed_help[] =
	"Usage: cowbackup-ctl set-speed JOB RATE\n"
	"\n"
	"Limit the background copy to RATE bytes per second: 200M = 200 MiB/s\n"
	"(k/K, m/M, ... and KiB, MiB are binary), 100MB = 10^8 bytes/s (KB, MB,\n"
	"... are decimal); at least 64K; 0 removes the limit.\n";

int cmd_set_speed(int argc, char **argv)
{
	char msg[64], size[64];
	struct job job;
	uint64_t rate;
	int r;

	r = flag_opts(argc, argv, "set-speed", set_speed_help, NULL, 0, NULL);
	if (r >= 0)
		return r;
	if (argc - optind != 2)
		return usage_error("set-speed", "need JOB and RATE");
	if (rate_arg("set-speed", "", argv[optind + 1], &rate))
		return EXIT_USAGE;
	setup();
	if (job_find(argv[optind], &job))
		return EXIT_FAIL;
	snprintf(msg, sizeof(msg), "%s %" PRIu64, COWBACKUP_MSG_SPEED, rate);
	if (dm_message(job.dev, msg, NULL)) {
		err_msg("%s: set-speed failed: %s (see dmesg)", job.name,
			dm_last_error());
		return EXIT_FAIL;
	}
	if (rate)
		printf("%s: background copy limited to %s\n", job.name,
		       format_rate_long(rate, size, sizeof(size)));
	else
		printf("%s: background copy unlimited\n", job.name);
	return EXIT_OK;
}

/*------------------------------------------------------------------*/
/* finish, recover */

static const char finish_help[] =
	"Usage: cowbackup-ctl finish JOB [--force] [--new-uuid]\n"
	"\n"
	"Take the cowbackup target out again: restore the original table (the\n"
	"device stays mounted and in use) and remove the hidden and view\n"
	"devices. A job still running or paused needs --force, which cancels\n"
	"it first. Also completes a finish that was interrupted.\n"
	"--new-uuid gives a completed backup's filesystem a new UUID (ext2/3/4:\n"
	"e2fsck -p, tune2fs -U; xfs: log replay, xfs_admin -U), so that it never\n"
	"takes the source's /dev/disk/by-uuid link or its mount UUID=.\n";

int cmd_finish(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "new-uuid", no_argument, NULL, OPT_NEW_UUID },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool force = false, new_uuid = false;
	struct job job;
	int c;

	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		if (c == 'f')
			force = true;
		else if (c == OPT_NEW_UUID)
			new_uuid = true;
		else
			return common_opt(c, "finish", finish_help, argv);
	}
	if (argc - optind != 1)
		return usage_error("finish", "need JOB");
	setup();
	/*
	 * A detached job (its device's table replaced, e.g. by lvextend):
	 * the device no longer routes through it, so there is no table to
	 * swap back; recovery removes the job's devices. The target stays
	 * marked incomplete.
	 */
	if (!strchr(argv[optind], '/') &&
	    job_load(argv[optind], &job) == 0 && job.detached) {
		if (job_recover(false, false, job.name) < 0)
			return EXIT_FAIL;
		marker_cleanup(job.name);
		nbd_target_release(job.name);
		/* Devices cleaned up, but the backup failed: exit 1. */
		err_msg("%s: job finished, but the backup failed: the job was detached; %s holds an incomplete backup and stays marked so",
			job.name, job.target_path);
		return EXIT_FAIL;
	}
	return job_finish(argv[optind], force, new_uuid);
}

static const char recover_help[] =
	"Usage: cowbackup-ctl recover [--dry-run]\n"
	"\n"
	"Complete or roll back every start/finish that was interrupted (the\n"
	"tool killed, the machine's power kept), using only the kernel's dm\n"
	"tables. Running jobs are left alone.\n";

int cmd_recover(int argc, char **argv)
{
	bool dry_run = false;
	struct job *jobs;
	size_t n;
	int r, m;

	r = flag_opts(argc, argv, "recover", recover_help, "dry-run", 'n',
		      &dry_run);
	if (r >= 0)
		return r;
	if (argc != optind)
		return usage_error("recover", "takes no arguments");
	setup();
	r = job_recover(dry_run, false, NULL);
	if (r < 0)
		return EXIT_FAIL;
	/* Staging devices left by a killed start (marker.c). */
	m = marker_cleanup_orphans(dry_run);
	if (m < 0)
		return EXIT_FAIL;
	r += m;
	/* NBD servers of views that are gone (a killed finish). */
	m = nbd_export_cleanup_orphans(dry_run);
	if (m < 0)
		return EXIT_FAIL;
	r += m;
	/* NBD targets of jobs that are gone. */
	m = nbd_target_cleanup_orphans(dry_run);
	if (m < 0)
		return EXIT_FAIL;
	r += m;
	if (r == 0)
		printf("recover: nothing to do\n");
	if (!job_list(&jobs, &n)) {
		size_t i, untouched = 0;

		/* A dry run changed nothing: count only what stays. */
		for (i = 0; i < n; i++)
			if (!dry_run || job_recover(true, true, jobs[i].name) == 0)
				untouched++;
		if (untouched)
			printf("recover: %zu job(s) in place, untouched (see 'cowbackup-ctl list')\n",
			       untouched);
		free(jobs);
	}
	return EXIT_OK;
}
