// SPDX-License-Identifier: GPL-2.0
/*
 * cowbackup-ctl track enable|disable|status|resume: the change tracker
 * (cowbackup-track) under a live dm volume, for incremental backups.
 * Insertion and removal are in track_insert.c, the tracker's state in
 * tracker.h.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "devuuid.h"
#include "incremental.h"
#include "json.h"
#include "recover.h"
#include "track_insert.h"
#include "tracker.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

static const char track_help[] =
	"Usage: cowbackup-ctl track enable VOL --meta METADEV [--cluster-size S] [--force]\n"
	"       cowbackup-ctl track resume VOL --meta METADEV\n"
	"       cowbackup-ctl track resume --all\n"
	"       cowbackup-ctl track disable VOL\n"
	"       cowbackup-ctl track status [VOL] [--json]\n"
	"\n"
	"Changed-block tracking for incremental backups: a cowbackup-track\n"
	"device is put under the dm volume VOL (an LVM LV vg/lv, a dm name or\n"
	"its /dev path) while it stays mounted and in use, and records the\n"
	"clusters written on the small metadata device METADEV.\n"
	"\n"
	"  enable     start tracking VOL; METADEV needs 8 + 2 * M sectors\n"
	"             (M: one bit per cluster, in 4 KiB units); it may hold\n"
	"             a history already; other signatures need --force\n"
	"  resume     re-arm at boot, before VOL is mounted: METADEV must hold\n"
	"             a history; writes made to VOL before that make the next\n"
	"             backup a full one. --all: every volume of the list\n"
	"             $COWBACKUP_CONF_DIR/tracked (default /etc/cowbackup/tracked)\n"
	"  disable    stop tracking: the original table comes back and the\n"
	"             history is marked bypassed\n"
	"  status     the tracker of VOL, or of every tracked volume\n"
	"\n"
	"Options:\n"
	"  -m, --meta METADEV         the metadata device (an LV)\n"
	"  -c, --cluster-size SIZE    tracking granularity, 4K..8M, power of two\n"
	"                             (default 64K)\n"
	"  -a, --all                  resume: every volume in the list\n"
	"  -f, --force                enable: overwrite a signature on METADEV\n"
	"  -j, --json                 status: stable JSON\n"
	"  -h, --help                 this help\n";

enum { OPT_JSON = 'j' };

static void setup(void)
{
	if (dm_access_check())
		exit(EXIT_FAIL);
	dm_setup(getenv("COWBACKUP_CTL_DEBUG") != NULL);
}

struct track_opts {
	const char *meta;
	bool cluster_set;
	uint64_t cluster_sectors;
	bool all, force, json;
};

static int parse_opts(int argc, char **argv, const char *sub,
		      struct track_opts *o)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "meta", required_argument, NULL, 'm' },
		{ "cluster-size", required_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	char cmd[32];
	uint64_t bytes;
	int c;

	snprintf(cmd, sizeof(cmd), "track %s", sub);
	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "hm:c:afj", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(track_help, stdout);
			return EXIT_OK;
		case 'm':
			o->meta = optarg;
			break;
		case 'c':
			if (parse_size(optarg, &bytes) || bytes < 4096 ||
			    bytes > (8u << 20) || (bytes & (bytes - 1)))
				return usage_error(cmd, "--cluster-size '%s': a power of two from 4K to 8M",
						   optarg);
			o->cluster_set = true;
			o->cluster_sectors = bytes / 512;
			break;
		case 'a':
			o->all = true;
			break;
		case 'f':
			o->force = true;
			break;
		case 'j':
			o->json = true;
			break;
		case ':':
			return usage_error(cmd, "option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			return usage_error(cmd, "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	/* Options that mean nothing for this subcommand. */
	if (o->meta && strcmp(sub, "enable") && strcmp(sub, "resume"))
		return usage_error(cmd, "--meta is for enable and resume");
	if (o->cluster_set && strcmp(sub, "enable"))
		return usage_error(cmd, "--cluster-size is for enable");
	if (o->force && strcmp(sub, "enable"))
		return usage_error(cmd, "--force is for enable");
	if (o->all && strcmp(sub, "resume"))
		return usage_error(cmd, "--all is for resume");
	if (o->json && strcmp(sub, "status"))
		return usage_error(cmd, "--json is for status");
	return -1;
}

/*------------------------------------------------------------------*/
/* status */

static const char *reason_or_null(const char *r)
{
	return strcmp(r, "-") ? r : NULL;
}

/* The name users know the volume by: vg/lv for an LV. */
static void vol_display(const char *dm, char *buf, size_t len)
{
	struct dm_dev_info info;

	if (dm_get_info(dm, &info) || !info.exists)
		snprintf(buf, len, "%s", dm);
	else
		track_display_name(dm, info.uuid, buf, len);
}

static void map_json(struct json *j, const char *key, const struct tracker *t,
		     bool frozen)
{
	const char *reason = frozen ? t->st.frozen_reason : t->st.current_reason;
	uint64_t n = frozen ? t->st.dirty_frozen : t->st.dirty_current;

	json_object_begin(j, key);
	json_u64(j, "epoch", frozen ? t->st.epoch - 1 : t->st.epoch);
	json_bool(j, "valid", !reason_or_null(reason));
	if (reason_or_null(reason))
		json_str(j, "reason", reason);
	else
		json_null(j, "reason");
	json_u64(j, "dirty_clusters", n);
	json_u64(j, "dirty_bytes", n * t->st.cluster_sectors * 512);
	json_object_end(j);
}

/*
 * Can the next backup be incremental (onto the last backup's target)?
 * The reason in @why when not.
 */
static bool next_incremental(const struct tracker *t, char *why, size_t len)
{
	struct track_record rec;

	track_record_load(t->st.uuid, &rec);
	return incr_base_usable(t, &rec, why, len);
}

static void tracker_json(struct json *j, const struct tracker *t)
{
	char disp[2 * DMNAME_MAX], why[640];
	bool incr = next_incremental(t, why, sizeof(why));

	vol_display(t->vol, disp, sizeof(disp));
	json_object_begin(j, NULL);
	json_str(j, "volume", disp);
	json_str(j, "dm_name", t->vol);
	json_str(j, "device", t->dev);
	json_str(j, "original_device", t->orig);
	json_str(j, "metadata", t->meta_path);
	json_bool(j, "attached", t->attached);
	json_str(j, "history", t->st.uuid);
	json_u64(j, "epoch", t->st.epoch);
	json_u64(j, "size", t->sectors * 512);
	json_u64(j, "cluster_size", t->st.cluster_sectors * 512);
	map_json(j, "frozen", t, true);
	map_json(j, "current", t, false);
	json_object_begin(j, "next_backup");
	json_str(j, "kind", incr ? "incremental" : "full");
	if (incr)
		json_null(j, "reason");
	else
		json_str(j, "reason", why);
	json_object_end(j);
	json_object_end(j);
}

static void map_print(const char *label, const struct tracker *t,
		      bool frozen)
{
	const char *reason = frozen ? t->st.frozen_reason : t->st.current_reason;
	uint64_t n = frozen ? t->st.dirty_frozen : t->st.dirty_current;
	char size[64];

	printf("  %-15s epoch %" PRIu64 ", %s%s%s%s, %" PRIu64 " dirty clusters (%s)\n",
	       label, frozen ? t->st.epoch - 1 : t->st.epoch,
	       reason_or_null(reason) ? "invalid" : "valid",
	       reason_or_null(reason) ? " (" : "",
	       reason_or_null(reason) ? reason : "",
	       reason_or_null(reason) ? ")" : "", n,
	       format_size_short(n * t->st.cluster_sectors * 512, size,
				 sizeof(size)));
}

static void tracker_print(const struct tracker *t)
{
	char disp[2 * DMNAME_MAX], size[64], why[640];

	vol_display(t->vol, disp, sizeof(disp));
	printf("%s: %s\n", disp, t->attached ? "tracked" :
	       "detached: writes are not tracked; run 'track enable' again");
	printf("  %-15s %s\n", "tracker:", t->dev);
	printf("  %-15s %s\n", "metadata:", t->meta_path);
	printf("  %-15s %s\n", "attached:", t->attached ? "yes" : "no");
	printf("  %-15s %s, epoch %" PRIu64 "\n", "history:", t->st.uuid,
	       t->st.epoch);
	printf("  %-15s %s (%" PRIu64 " sectors)\n", "cluster size:",
	       format_size_short(t->st.cluster_sectors * 512, size,
				 sizeof(size)), t->st.cluster_sectors);
	map_print("frozen map:", t, true);
	map_print("current map:", t, false);
	if (next_incremental(t, why, sizeof(why)))
		printf("  %-15s incremental (onto the last backup's target)\n",
		       "next backup:");
	else
		printf("  %-15s full: %s\n", "next backup:", why);
}

/* Every tracked volume, by its tracker devices (ROLE_TRACK). */
static int load_all(struct tracker **out, size_t *count)
{
	struct tracker *v = NULL, *g;
	char **names;
	size_t n, i, k = 0;

	*out = NULL;
	*count = 0;
	if (dm_list_names(&names, &n)) {
		err_msg("cannot list dm devices: %s", dm_last_error());
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct dm_dev_info info;
		const char *base;

		if (dm_get_info(names[i], &info) || !info.exists ||
		    devuuid_parse(info.uuid, &base) != ROLE_TRACK)
			continue;
		g = realloc(v, (k + 1) * sizeof(*v));
		if (!g)
			break;
		v = g;
		if (tracker_load(base, &v[k]) == 0)
			k++;
	}
	dm_free_names(names, n);
	*out = v;
	*count = k;
	return 0;
}

static int track_status(int argc, char **argv, const struct track_opts *o)
{
	struct tracker t, *all = NULL;
	struct json j;
	size_t n = 0, i;
	int r = EXIT_OK;

	if (argc - optind > 1)
		return usage_error("track status", "too many arguments");
	setup();
	recover_hint();
	if (argc - optind == 1) {
		struct blockdev bd;
		char disp[2 * DMNAME_MAX];

		if (track_vol_names(argv[optind], &bd, disp, sizeof(disp)))
			return EXIT_FAIL;
		r = tracker_load(bd.dm_name, &t);
		if (r < 0)
			return EXIT_FAIL;
		if (r == 1) {
			err_msg("%s: not tracked (see 'cowbackup-ctl track enable')",
				disp);
			return EXIT_FAIL;
		}
		if (o->json) {
			json_init(&j, stdout);
			tracker_json(&j, &t);
			json_finish(&j);
		} else {
			tracker_print(&t);
		}
		return t.attached ? EXIT_OK : EXIT_FAIL;
	}
	if (load_all(&all, &n))
		return EXIT_FAIL;
	if (o->json) {
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_array_begin(&j, "trackers");
		for (i = 0; i < n; i++)
			tracker_json(&j, &all[i]);
		json_array_end(&j);
		json_object_end(&j);
		json_finish(&j);
	} else if (!n) {
		printf("no tracked volumes\n");
	}
	for (i = 0; i < n; i++) {
		if (!o->json) {
			if (i)
				putchar('\n');
			tracker_print(&all[i]);
		}
		if (!all[i].attached)
			r = EXIT_FAIL;
	}
	free(all);
	return r;
}

/*------------------------------------------------------------------*/
/* resume --all */

/* Is the volume of a config line there (active), without a message? */
static bool volume_present(const char *vol)
{
	char name[DMNAME_MAX];
	struct dm_dev_info info;

	if (vol[0] == '/')
		return access(vol, F_OK) == 0;
	if (strchr(vol, '/')) {
		if (lvm_dm_name(vol, name, sizeof(name)))
			return false;
	} else {
		snprintf(name, sizeof(name), "%.127s", vol);
	}
	return !dm_get_info(name, &info) && info.exists;
}

static int resume_all(void)
{
	struct track_conf_entry *e;
	struct track_request req = { .resume = true, .keep_conf = true };
	size_t n, i;
	int failed = 0;

	if (track_conf_read(&e, &n))
		return EXIT_FAIL;
	for (i = 0; i < n; i++) {
		struct blockdev bd;
		struct tracker t;
		char disp[2 * DMNAME_MAX];
		int r;

		if (!volume_present(e[i].vol)) {
			err_msg("%s: not active (no such device); not re-armed, skipped",
				e[i].vol);
			failed++;
			continue;
		}
		if (track_vol_names(e[i].vol, &bd, disp, sizeof(disp))) {
			failed++;
			continue;
		}
		r = tracker_load(bd.dm_name, &t);
		if (r == 0 && t.attached) {
			printf("%s: already tracked\n", disp);
			continue;
		}
		req.cluster_set = true;
		req.cluster_sectors = e[i].cluster_sectors;
		if (track_enable(e[i].vol, e[i].meta, &req) != EXIT_OK) {
			failed++;
			continue;
		}
	}
	free(e);
	if (!n)
		printf("no tracked volumes listed\n");
	return failed ? EXIT_FAIL : EXIT_OK;
}

/*------------------------------------------------------------------*/

int cmd_track(int argc, char **argv)
{
	struct track_request req = { 0 };
	struct track_opts o;
	const char *sub;
	int r;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "-h") ||
				  !strcmp(argv[1], "--help"))) {
			fputs(track_help, stdout);
			return EXIT_OK;
		}
		return usage_error("track", "no subcommand given (enable, disable, status, resume)");
	}
	sub = argv[1];
	if (strcmp(sub, "enable") && strcmp(sub, "disable") &&
	    strcmp(sub, "status") && strcmp(sub, "resume"))
		return usage_error("track", "unknown subcommand '%s' (enable, disable, status, resume)",
				   sub);
	/* getopt runs on argv from the subcommand on. */
	r = parse_opts(argc - 1, argv + 1, sub, &o);
	if (r >= 0)
		return r;
	argc--;
	argv++;
	if (!strcmp(sub, "status"))
		return track_status(argc, argv, &o);
	if (!strcmp(sub, "resume") && o.all) {
		if (argc != optind)
			return usage_error("track resume", "--all takes no volume");
		if (o.meta)
			return usage_error("track resume", "--all takes --meta from the list of tracked volumes");
		setup();
		return resume_all();
	}
	if (argc - optind > 1)
		return usage_error("track", "%s: too many arguments", sub);
	if (argc - optind < 1)
		return usage_error("track", "%s: no volume given", sub);
	if (!strcmp(sub, "disable")) {
		setup();
		return track_disable(argv[optind]);
	}
	if (!o.meta)
		return usage_error("track", "%s: --meta METADEV is required", sub);
	req.cluster_set = o.cluster_set;
	req.cluster_sectors = o.cluster_sectors;
	req.force = o.force;
	req.resume = !strcmp(sub, "resume");
	setup();
	return track_enable(argv[optind], o.meta, &req);
}
