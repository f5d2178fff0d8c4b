/* SPDX-License-Identifier: GPL-2.0 */
/* The command line of info and map: IMAGE [--json]. */
#ifndef COWBACKUP_IMAGE_ARGS_H
#define COWBACKUP_IMAGE_ARGS_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Parse CMD's options (--json sets *json, --help prints usage) and check
 * for exactly one IMAGE, then at argv[optind]. Returns -1 to go on, else
 * the exit status to return.
 */
int image_json_args(int argc, char **argv, const char *cmd,
		    void (*usage)(FILE *out), bool *json);
/* The same, also taking --force (info: show an incomplete backup). */
int image_json_force_args(int argc, char **argv, const char *cmd,
			  void (*usage)(FILE *out), bool *json, bool *force);

#endif /* COWBACKUP_IMAGE_ARGS_H */
