// SPDX-License-Identifier: GPL-2.0
#include "progress.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include "dm.h"
#include "util.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_init(struct progress *p, FILE *out, double interval,
		   bool quiet)
{
	memset(p, 0, sizeof(*p));
	p->out = out;
	p->tty = isatty(fileno(out));
	p->quiet = quiet;
	p->interval = interval > 0 ? interval : 5.0;
	p->last_line = -1e9;
	p->start = now();
	p->start_bytes = UINT64_MAX;
}

static void update_rate(struct progress *p, uint64_t bytes)
{
	double t = now();

	if (p->last_sample > 0 && t > p->last_sample && bytes >= p->last_bytes) {
		double inst = (double)(bytes - p->last_bytes) /
			      (t - p->last_sample);

		/* Smooth over a few seconds so the ETA does not jump. */
		p->rate = p->rate > 0 ? 0.7 * p->rate + 0.3 * inst : inst;
	}
	p->last_sample = t;
	p->last_bytes = bytes;
}

/* A job as a sample: settled bytes of its length. */
static struct progress_sample job_sample(const struct job *job)
{
	struct progress_sample s = {
		.name = job->name,
		.done = job_settled_bytes(job),
		.total = job->sectors * 512,
		.state = job->st.state,
		.final = job_state_final(job->st.state),
	};

	return s;
}

static double sample_percent(const struct progress_sample *s)
{
	if (!s->total)
		return 100.0;
	return 100.0 * (double)s->done / (double)s->total;
}

static void format_eta(const struct progress *p,
		       const struct progress_sample *s, char *buf, size_t len)
{
	uint64_t left = s->total > s->done ? s->total - s->done : 0;
	double secs;

	if (s->final || !left) {
		snprintf(buf, len, "0:00");
		return;
	}
	if (p->rate < 1.0) {
		snprintf(buf, len, "--:--");
		return;
	}
	secs = (double)left / p->rate;
	if (secs > 99 * 3600)
		snprintf(buf, len, ">99h");
	else if (secs >= 3600)
		snprintf(buf, len, "%d:%02d:%02d", (int)secs / 3600,
			 ((int)secs / 60) % 60, (int)secs % 60);
	else
		snprintf(buf, len, "%d:%02d", (int)secs / 60, (int)secs % 60);
}

/* "45.2%  1.20 GiB of 2.00 GiB  85.3 MiB/s  ETA 0:09  running" */
static void format_fields(const struct progress *p,
			  const struct progress_sample *s, char *buf,
			  size_t len)
{
	char done[32], total[32], rate[32], eta[32];

	format_size_short(s->done, done, sizeof(done));
	format_size_short(s->total, total, sizeof(total));
	format_size_short((uint64_t)p->rate, rate, sizeof(rate));
	format_eta(p, s, eta, sizeof(eta));
	snprintf(buf, len, "%5.1f%%  %s of %s  %s/s  ETA %s  %s",
		 sample_percent(s), done, total, rate, eta, s->state);
}

static int term_width(FILE *out)
{
	struct winsize ws;

	if (ioctl(fileno(out), TIOCGWINSZ, &ws) || ws.ws_col < 40)
		return 80;
	return ws.ws_col;
}

static void draw_bar(struct progress *p, const struct progress_sample *s)
{
	char fields[512], bar[64];
	int width, cells, filled, i;

	format_fields(p, s, fields, sizeof(fields));
	width = term_width(p->out);
	cells = width - (int)strlen(fields) - 5;
	if (cells > 50)
		cells = 50;
	if (cells < 10)
		cells = 0;
	filled = (int)(sample_percent(s) / 100.0 * cells);
	for (i = 0; i < cells; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[cells] = '\0';
	if (cells)
		fprintf(p->out, "\r[%s] %s\033[K", bar, fields);
	else
		fprintf(p->out, "\r%s\033[K", fields);
	fflush(p->out);
	p->on_line = true;
}

void progress_show_sample(struct progress *p, const struct progress_sample *s)
{
	char fields[512];
	bool changed = strcmp(p->last_state, s->state) != 0;
	double t = now();

	if (p->start_bytes == UINT64_MAX)
		p->start_bytes = s->done;
	update_rate(p, s->done);
	snprintf(p->last_state, sizeof(p->last_state), "%s", s->state);
	if (p->quiet)
		return;
	if (p->tty) {
		draw_bar(p, s);
		return;
	}
	if (!changed && t - p->last_line < p->interval)
		return;
	p->last_line = t;
	format_fields(p, s, fields, sizeof(fields));
	fprintf(p->out, "%s: %s\n", s->name, fields);
	fflush(p->out);
}

void progress_show(struct progress *p, const struct job *job)
{
	struct progress_sample s = job_sample(job);

	progress_show_sample(p, &s);
}

void progress_break(struct progress *p)
{
	if (p->on_line) {
		fputc('\n', p->out);
		fflush(p->out);
		p->on_line = false;
	}
}

void progress_end_sample(struct progress *p, const struct progress_sample *s)
{
	char fields[512];
	double t = now();

	/* The final line shows the average rate of the whole watch. */
	if (p->start_bytes != UINT64_MAX && t > p->start &&
	    s->done >= p->start_bytes)
		p->rate = (double)(s->done - p->start_bytes) / (t - p->start);
	if (p->quiet)
		return;
	if (p->tty) {
		draw_bar(p, s);
		progress_break(p);
		return;
	}
	format_fields(p, s, fields, sizeof(fields));
	fprintf(p->out, "%s: %s\n", s->name, fields);
	fflush(p->out);
}

void progress_end(struct progress *p, const struct job *job)
{
	struct progress_sample s = job_sample(job);

	progress_end_sample(p, &s);
}

/*------------------------------------------------------------------*/

static void on_alarm(int sig)
{
	(void)sig;	/* only there to interrupt the event wait */
}

static void arm_timer(double period)
{
	struct itimerval it;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the dm event wait must return with EINTR. */
	sigaction(SIGALRM, &sa, NULL);
	it.it_interval.tv_sec = (time_t)period;
	it.it_interval.tv_usec = (suseconds_t)((period - (double)(time_t)period) *
					       1e6);
	it.it_value = it.it_interval;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm_timer(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
}

int progress_watch(const char *job_name, struct progress *p,
		   volatile sig_atomic_t *stop, struct job *job)
{
	double period = p->tty ? 0.5 : 1.0;
	char name[DMNAME_MAX];
	int r = -1;

	/* @job_name may point into @job, which every load clears. */
	snprintf(name, sizeof(name), "%s", job_name);

	if (!p->tty && p->interval < period)
		period = p->interval;
	arm_timer(period);
	for (;;) {
		int lr = job_load(name, job);

		if (lr) {
			progress_break(p);
			if (lr > 0)
				err_msg("%s: no longer a cowbackup job (finished, or its table was replaced)",
					name);
			else
				err_msg("%s: %s", name, dm_last_error());
			break;
		}
		if (job_state_final(job->st.state)) {
			progress_end(p, job);
			r = 0;
			break;
		}
		progress_show(p, job);
		if (stop && *stop) {
			progress_break(p);
			r = 0;
			break;
		}
		/* Sleeps until a state change, the timer, or a signal. */
		if (dm_wait_event(job->dev, job->info.event_nr) < 0) {
			progress_break(p);
			err_msg("%s: waiting for an event failed: %s", name,
				dm_last_error());
			break;
		}
	}
	disarm_timer();
	return r;
}
