/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One function per cowbackup-ctl subcommand. Each takes the argv that
 * starts at the subcommand name (getopt_long-ready) and returns the exit
 * status: EXIT_OK, EXIT_FAIL or EXIT_USAGE.
 */
#ifndef COWBACKUP_COMMANDS_H
#define COWBACKUP_COMMANDS_H

/* Jobs (job_cmds.c and friends). */
int cmd_backup(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_set_speed(int argc, char **argv);
int cmd_finish(int argc, char **argv);
int cmd_recover(int argc, char **argv);

/* Changed-block tracking (track_cmds.c). */
int cmd_track(int argc, char **argv);

/* Images (image/). */
int cmd_info(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_restore(int argc, char **argv);

#endif /* COWBACKUP_COMMANDS_H */
