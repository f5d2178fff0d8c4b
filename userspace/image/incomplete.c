// SPDX-License-Identifier: GPL-2.0
/* The "incomplete backup" header; see incomplete.h. */
#include "image/incomplete.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static uint32_t crc32_ieee(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	int i;

	for (i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void incomplete_encode(const struct incomplete_hdr *h,
		       uint8_t out[INCOMPLETE_HDR_SIZE])
{
	memset(out, 0, INCOMPLETE_HDR_SIZE);
	memcpy(out, INCOMPLETE_MAGIC, strlen(INCOMPLETE_MAGIC));
	put32(out + 32, INCOMPLETE_VERSION);
	put32(out + 36, INCOMPLETE_HDR_SIZE);
	put64(out + 40, h->job_bytes);
	put64(out + 48, h->start_time);
	put64(out + 56, h->head_bytes);
	put64(out + 64, h->tail_offset);
	memcpy(out + 72, h->job, strnlen(h->job, sizeof(h->job) - 1));
	put32(out + 508, crc32_ieee(out, 508));
}

int incomplete_decode(const uint8_t *buf, struct incomplete_hdr *h)
{
	memset(h, 0, sizeof(*h));
	/* The magic alone marks it: a damaged header is still incomplete. */
	if (memcmp(buf, INCOMPLETE_MAGIC, strlen(INCOMPLETE_MAGIC)))
		return 0;
	h->crc_ok = get32(buf + 508) == crc32_ieee(buf, 508);
	h->version = get32(buf + 32);
	h->job_bytes = get64(buf + 40);
	h->start_time = get64(buf + 48);
	h->head_bytes = get64(buf + 56);
	h->tail_offset = get64(buf + 64);
	memcpy(h->job, buf + 72, sizeof(h->job) - 1);
	h->job[sizeof(h->job) - 1] = '\0';
	if (!h->crc_ok)
		snprintf(h->job, sizeof(h->job), "?");
	return 1;
}

int incomplete_probe_fd(int fd, struct incomplete_hdr *h)
{
	uint8_t *buf;
	ssize_t n;
	int r;

	/* 4096-aligned, so the same call works on an O_DIRECT fd. */
	if (posix_memalign((void **)&buf, 4096, 4096)) {
		errno = ENOMEM;
		return -1;
	}
	do {
		n = pread(fd, buf, 4096, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		free(buf);
		return -1;
	}
	r = n >= INCOMPLETE_HDR_SIZE ? incomplete_decode(buf, h) : 0;
	free(buf);
	return r;
}

int incomplete_refuse(const char *path, int fd, bool force, const char *what)
{
	struct incomplete_hdr h;
	char when[64] = "an unknown time";
	time_t t;
	int r = incomplete_probe_fd(fd, &h);

	if (r <= 0)
		return 0;	/* a read error shows up when it is read */
	t = (time_t)h.start_time;
	if (h.crc_ok && h.start_time) {
		struct tm tm;

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC",
				 &tm);
	}
	if (!force) {
		err_msg("%s: incomplete backup (job %s, started %s, was not completed and finished); refusing to %s it without --force",
			path, h.job, when, what);
		return -1;
	}
	err_msg("%s: warning: incomplete backup (job %s, started %s); %s it anyway (--force)",
		path, h.job, when, what);
	return 0;
}
