// SPDX-License-Identifier: GPL-2.0
#include "nbd_target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm.h"
#include "job.h"
#include "util.h"

bool nbd_target_is_uri(const char *arg)
{
	return !strncmp(arg, "nbd://", 6) || !strncmp(arg, "nbd+unix://", 11);
}

/* A /dev/nbdN with no connection: no pid attribute in sysfs. */
static int free_device(char *dev, size_t len)
{
	char path[64];
	struct stat st;
	int i;

	for (i = 0; i < 256; i++) {
		snprintf(path, sizeof(path), "/sys/block/nbd%d", i);
		if (stat(path, &st))
			break;
		snprintf(path, sizeof(path), "/sys/block/nbd%d/pid", i);
		if (stat(path, &st) && errno == ENOENT) {
			snprintf(dev, len, "/dev/nbd%d", i);
			return 0;
		}
	}
	return -1;
}

int nbd_target_connect(const struct nbd_uri *u, char *dev, size_t len)
{
	char text[PATH_MAX + 300], port[16], out[1024];
	char *modprobe[] = { "modprobe", "nbd", NULL };
	char *argv[16];
	int n = 0, rc;

	nbd_uri_format(u, text, sizeof(text));
	if (access("/sys/module/nbd", F_OK) &&
	    run_program(modprobe, false, NULL, 0)) {
		err_msg("%s: cannot load the nbd kernel module", text);
		return -1;
	}
	if (free_device(dev, len)) {
		err_msg("%s: no free /dev/nbd device", text);
		return -1;
	}
	argv[n++] = "nbd-client";
	if (u->is_unix) {
		argv[n++] = "-unix";
		argv[n++] = (char *)u->socket;
	} else {
		snprintf(port, sizeof(port), "%u", u->port);
		argv[n++] = (char *)u->host;
		argv[n++] = port;
	}
	argv[n++] = dev;
	argv[n++] = "-name";
	argv[n++] = (char *)u->export;
	argv[n++] = "-block-size";
	argv[n++] = "512";
	/* A server that stops answering fails I/O instead of hanging it. */
	argv[n++] = "-timeout";
	argv[n++] = "30";
	argv[n] = NULL;
	rc = run_program(argv, true, out, sizeof(out));
	if (rc == 0)
		return 0;
	if (rc == 127) {
		err_msg("%s: cannot run nbd-client (install nbd-client)", text);
	} else {
		/* Its last line says why ("Connection refused", ...). */
		char *p, *last = out;

		for (p = strtok(out, "\n"); p; p = strtok(NULL, "\n"))
			last = p;
		err_msg("%s: cannot connect: %s", text,
			last[0] ? last : "nbd-client failed");
	}
	return -1;
}

int nbd_target_disconnect(const char *dev)
{
	char *argv[] = { "nbd-client", "-d", (char *)dev, NULL };

	if (run_program(argv, false, NULL, 0)) {
		err_msg("%s: cannot disconnect the NBD device", dev);
		return -1;
	}
	return 0;
}

int nbd_target_record(const char *job, const char *dev, const char *uri)
{
	char path[PATH_MAX];
	FILE *f;

	if (make_run_dir(NBD_TARGET_DIR, 0700))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", NBD_TARGET_DIR, job);
	f = fopen(path, "we");
	if (!f)
		return -1;
	fprintf(f, "%s %s\n", dev, uri);
	return fclose(f) ? -1 : 0;
}

/* The device recorded for @job; -1 when there is none. */
static int recorded(const char *job, char *dev, size_t dlen, char *uri,
		    size_t ulen)
{
	char path[PATH_MAX], line[PATH_MAX + 400], *sp;

	snprintf(path, sizeof(path), "%s/%s", NBD_TARGET_DIR, job);
	if (read_first_line(path, line, sizeof(line)))
		return -1;
	sp = strchr(line, ' ');
	if (!sp || strncmp(line, "/dev/nbd", 8) ||
	    (size_t)(sp - line) >= dlen || strlen(sp + 1) >= ulen)
		return -1;
	*sp = '\0';
	memcpy(dev, line, (size_t)(sp - line) + 1);
	memcpy(uri, sp + 1, strlen(sp + 1) + 1);
	return 0;
}

int nbd_target_release(const char *job)
{
	char dev[64], uri[PATH_MAX + 300], path[PATH_MAX];

	if (recorded(job, dev, sizeof(dev), uri, sizeof(uri)))
		return 0;
	if (nbd_target_disconnect(dev))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", NBD_TARGET_DIR, job);
	unlink(path);
	return 0;
}

int nbd_target_cleanup_orphans(bool dry_run)
{
	DIR *d = opendir(NBD_TARGET_DIR);
	char dev[64], uri[PATH_MAX + 300];
	int count = 0, failed = 0;
	struct dirent *de;
	struct job j;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    recorded(de->d_name, dev, sizeof(dev), uri, sizeof(uri)))
			continue;
		if (job_load(de->d_name, &j) == 0)
			continue;	/* its job still writes to it */
		count++;
		printf("recover: %s: %sdisconnect %s (%s) of a job that is gone\n",
		       de->d_name, dry_run ? "would " : "", dev, uri);
		if (!dry_run && nbd_target_release(de->d_name))
			failed++;
	}
	closedir(d);
	return failed ? -1 : count;
}
