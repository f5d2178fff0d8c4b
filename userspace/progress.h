/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Progress display for `backup`, `wait` and `restore`: a one-line bar redrawn in
 * place on a terminal (percent, bytes settled, rate, ETA, state), plain
 * periodic lines otherwise (logs, serial consoles, pipes).
 */
#ifndef COWBACKUP_PROGRESS_H
#define COWBACKUP_PROGRESS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "job.h"

struct progress {
	FILE *out;
	bool tty;
	bool quiet;
	bool on_line;			/* a bar is drawn, no newline yet */
	double interval;		/* seconds between plain lines */
	double last_line;		/* time of the last plain line */
	double last_sample;		/* for the rate */
	uint64_t last_bytes;
	double rate;			/* bytes per second, smoothed */
	double start;			/* for the average at the end */
	uint64_t start_bytes;		/* UINT64_MAX: not sampled yet */
	char last_state[16];
};

void progress_init(struct progress *p, FILE *out, double interval,
		   bool quiet);

/* Where any long operation stands: what the bar and lines show. */
struct progress_sample {
	const char *name;	/* prefix of plain lines */
	uint64_t done;		/* bytes */
	uint64_t total;
	const char *state;	/* "running", "writing", "verifying", ... */
	bool final;
};

void progress_show_sample(struct progress *p, const struct progress_sample *s);
void progress_end_sample(struct progress *p, const struct progress_sample *s);

/* Show @job; plain lines only every interval or on a state change. */
void progress_show(struct progress *p, const struct job *job);
/* End the bar with a final line. */
void progress_end(struct progress *p, const struct job *job);
/* Take the bar off the line before printing something else. */
void progress_break(struct progress *p);

/*
 * Follow job @name until its state is final or *stop becomes true. Uses
 * the dm event of the job device (every state change raises one) and a
 * refresh timer. Returns 0 with @job holding the last state, or -1.
 */
int progress_watch(const char *job_name, struct progress *p,
		   volatile sig_atomic_t *stop, struct job *job);

#endif /* COWBACKUP_PROGRESS_H */
