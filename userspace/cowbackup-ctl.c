// SPDX-License-Identifier: GPL-2.0
/*
 * cowbackup-ctl: drive dm-cowbackup jobs and read/write backup images.
 *
 * A table of subcommands in the style of dmsetup/lvm: global options come
 * before the command, everything after it belongs to the command, which
 * parses it with its own getopt_long and answers its own --help.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "uapi/dm-cowbackup.h"
#include "util.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
};

static const struct command commands[] = {
	{ "backup", cmd_backup, "SOURCE TARGET [start options]" },
	{ "start", cmd_start, "SOURCE TARGET [--sync full|top|none] [options]" },
	{ "status", cmd_status, "[JOB] [--json]" },
	{ "list", cmd_list, "[--json]" },
	{ "wait", cmd_wait, "JOB" },
	{ "pause", cmd_pause, "JOB" },
	{ "resume", cmd_resume, "JOB" },
	{ "cancel", cmd_cancel, "JOB" },
	{ "set-speed", cmd_set_speed, "JOB RATE" },
	{ "finish", cmd_finish, "JOB [--force]" },
	{ "recover", cmd_recover, "[--dry-run]" },
	{ "track", cmd_track, "enable|disable|status|resume VOL [options]" },
	{ "info", cmd_info, "IMAGE [--json]" },
	{ "map", cmd_map, "IMAGE [--json]" },
	{ "export", cmd_export, "JOB OUTPUT --format qcow2|vmdk [options]" },
	{ "restore", cmd_restore, "IMAGE DEVICE [--verify] [--force] [options]" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: cowbackup-ctl [--help] [--version] COMMAND [ARGS]\n"
		"\n"
		"Point-in-time backups of live block devices with the dm-cowbackup\n"
		"target. Commands:\n\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].synopsis);
	fprintf(out,
		"\n'cowbackup-ctl COMMAND --help' describes one command.\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static void print_version(void)
{
	printf("cowbackup-ctl %d.%d.%d\n", COWBACKUP_VERSION_MAJOR,
	       COWBACKUP_VERSION_MINOR, COWBACKUP_VERSION_PATCH);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name;
	size_t i;
	int c;

	/* Every usage error is our own single line. */
	opterr = 0;
	/* '+': stop at the command name, its options are its own. */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_usage(stdout);
			return EXIT_OK;
		case 'V':
			print_version();
			return EXIT_OK;
		default:
			return usage_error(NULL, "unknown global option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error(NULL, "no command given");
	name = argv[optind];
	if (!strcmp(name, "help")) {
		print_usage(stdout);
		return EXIT_OK;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		int first = optind;

		if (strcmp(name, commands[i].name))
			continue;
		/* Each command runs getopt afresh on argv from its name on. */
		optind = 0;
		return commands[i].fn(argc - first, argv + first);
	}
	return usage_error(NULL, "unknown command '%s'", name);
}
