// SPDX-License-Identifier: GPL-2.0
#include "nbd_export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dm.h"
#include "job.h"
#include "util.h"

static void paths(const char *job, char *pid, char *uri, size_t len)
{
	snprintf(pid, len, "%s/%s.pid", EXPORT_DIR, job);
	snprintf(uri, len, "%s/%s.uri", EXPORT_DIR, job);
}

/* The qemu-nbd serving job @job, or 0 (a stale pid file is no server). */
static pid_t server_pid(const char *job)
{
	char pidf[PATH_MAX], urif[PATH_MAX], line[32], comm[64];
	char proc[64];
	long v;

	paths(job, pidf, urif, sizeof(pidf));
	if (read_first_line(pidf, line, sizeof(line)))
		return 0;
	v = strtol(line, NULL, 10);
	if (v <= 1 || v > 1 << 22)
		return 0;
	snprintf(proc, sizeof(proc), "/proc/%ld/comm", v);
	if (read_first_line(proc, comm, sizeof(comm)) || strcmp(comm, "qemu-nbd"))
		return 0;
	return (pid_t)v;
}

bool nbd_export_get(const char *job, char *uri, size_t len)
{
	char pidf[PATH_MAX], urif[PATH_MAX];

	paths(job, pidf, urif, sizeof(pidf));
	return server_pid(job) && !read_first_line(urif, uri, len);
}

int nbd_export_start(const char *job, const char *view,
		     const struct nbd_uri *u, const char *tls_dir)
{
	char pidf[PATH_MAX], urif[PATH_MAX], text[PATH_MAX + 300];
	char pidarg[PATH_MAX + 16], name[NBD_EXPORT_MAX + 16];
	char bind[300], port[32], sock[PATH_MAX + 16], tls[PATH_MAX + 64];
	char out[1024];
	char *argv[20];
	int n = 0, rc;
	FILE *f;

	if (make_run_dir(EXPORT_DIR, 0700)) {
		err_msg("%s: cannot create %s: %s", job, EXPORT_DIR,
			strerror(errno));
		return -1;
	}
	paths(job, pidf, urif, sizeof(pidf));
	nbd_uri_format(u, text, sizeof(text));
	snprintf(pidarg, sizeof(pidarg), "--pid-file=%s", pidf);
	snprintf(name, sizeof(name), "--export-name=%s", u->export);
	argv[n++] = "qemu-nbd";
	argv[n++] = "--read-only";
	argv[n++] = "--persistent";
	argv[n++] = "--shared=0";	/* any number of readers */
	argv[n++] = "--format=raw";
	/* O_DIRECT: never a page cache between the view and its readers. */
	argv[n++] = "--cache=none";
	argv[n++] = name;
	argv[n++] = pidarg;
	if (u->is_unix) {
		snprintf(sock, sizeof(sock), "--socket=%s", u->socket);
		argv[n++] = sock;
	} else {
		snprintf(bind, sizeof(bind), "--bind=%s", u->host);
		snprintf(port, sizeof(port), "--port=%u", u->port);
		argv[n++] = bind;
		argv[n++] = port;
	}
	if (tls_dir) {
		snprintf(tls, sizeof(tls),
			 "tls-creds-x509,id=cbtls,endpoint=server,dir=%s",
			 tls_dir);
		argv[n++] = "--object";
		argv[n++] = tls;
		argv[n++] = "--tls-creds=cbtls";
	}
	argv[n++] = "--fork";	/* returns once it listens */
	argv[n++] = (char *)view;
	argv[n] = NULL;

	rc = run_program(argv, true, out, sizeof(out));
	if (rc) {
		/* qemu-nbd: "qemu-nbd: Failed to ...": keep its reason. */
		out[strcspn(out, "\n")] = '\0';
		if (rc == 127)
			err_msg("%s: cannot run qemu-nbd (install qemu-utils)",
				text);
		else
			err_msg("%s: qemu-nbd failed (exit %d): %s", text, rc,
				out[0] ? out : "no message");
		unlink(pidf);
		return -1;
	}
	f = fopen(urif, "we");
	if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f)) {
		err_msg("%s: cannot write %s", text, urif);
		nbd_export_stop(job);
		return -1;
	}
	return 0;
}

int nbd_export_stop(const char *job)
{
	char pidf[PATH_MAX], urif[PATH_MAX];
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	pid_t pid = server_pid(job);
	int i;

	paths(job, pidf, urif, sizeof(pidf));
	if (pid) {
		kill(pid, SIGTERM);
		/* It closes the view on exit: wait for that (10 s). */
		for (i = 0; i < 500 && kill(pid, 0) == 0; i++)
			nanosleep(&ts, NULL);
		if (kill(pid, 0) == 0) {
			err_msg("%s: the NBD server (qemu-nbd, pid %d) did not stop",
				job, (int)pid);
			return -1;
		}
	}
	unlink(pidf);
	unlink(urif);
	return 0;
}

int nbd_export_cleanup_orphans(bool dry_run)
{
	DIR *d = opendir(EXPORT_DIR);
	char job[DMNAME_MAX], uri[PATH_MAX];
	struct dirent *de;
	struct job j;
	int count = 0, failed = 0;
	size_t l;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		l = strlen(de->d_name);
		if (l < 5 || l - 4 >= sizeof(job) ||
		    strcmp(de->d_name + l - 4, ".uri"))
			continue;
		snprintf(job, sizeof(job), "%.*s", (int)(l - 4), de->d_name);
		if (job_load(job, &j) == 0 && j.view[0])
			continue;	/* its job still serves a view */
		if (!nbd_export_get(job, uri, sizeof(uri)))
			snprintf(uri, sizeof(uri), "(server gone)");
		count++;
		printf("recover: %s: %sstop the NBD export %s of a job that is gone\n",
		       job, dry_run ? "would " : "", uri);
		if (!dry_run && nbd_export_stop(job))
			failed++;
	}
	closedir(d);
	return failed ? -1 : count;
}
