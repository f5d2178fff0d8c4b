// SPDX-License-Identifier: GPL-2.0
/* The command line shared by info and map: IMAGE [--json]. */
#include <getopt.h>

#include "image/image_args.h"
#include "util.h"

int image_json_args(int argc, char **argv, const char *cmd,
		    void (*usage)(FILE *out), bool *json)
{
	return image_json_force_args(argc, argv, cmd, usage, json, NULL);
}

int image_json_force_args(int argc, char **argv, const char *cmd,
			  void (*usage)(FILE *out), bool *json, bool *force)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = true;
			break;
		case 'f':
			if (!force)
				return usage_error(cmd, "unknown option '%s'",
						   argv[optind - 1]);
			*force = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			return usage_error(cmd, "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_error(cmd, "expected one IMAGE argument");
	return -1;
}
