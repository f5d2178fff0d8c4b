// SPDX-License-Identifier: GPL-2.0
/*
 * The one place that reads image bytes. Every read names the field it is
 * for, so a range outside the file becomes one clear error line instead of
 * a short read that format code might misinterpret.
 */
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int img_error(const struct img_src *s, const char *field, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	err_msg("%s: %s: %s", s->path, field, reason);
	return -1;
}

int src_open(struct img_src *s, const char *path)
{
	struct stat st;
	int fd;

	memset(s, 0, sizeof(*s));
	s->path = path;
	s->fd = -1;
	/* O_NONBLOCK: opening a FIFO must not hang; cleared below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err_msg("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		err_msg("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		s->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		uint64_t bytes;

		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
			err_msg("%s: cannot get the device size: %s", path,
				strerror(errno));
			close(fd);
			return -1;
		}
		s->size = bytes;
		s->is_blockdev = true;
		s->rdev = st.st_rdev;
	} else {
		err_msg("%s: not a regular file or block device", path);
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, 0) < 0) {
		err_msg("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	s->allocated = (uint64_t)st.st_blocks * 512;
	s->fd = fd;
	return 0;
}

void src_from_mem(struct img_src *s, const char *name, const void *data,
		  size_t len)
{
	memset(s, 0, sizeof(*s));
	s->path = name;
	s->fd = -1;
	s->mem = data;
	s->size = len;
	s->allocated = len;
}

void src_close(struct img_src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

int src_read(const struct img_src *s, uint64_t off, void *buf, size_t len,
	     const char *field)
{
	uint8_t *p = buf;

	if (!range_inside(off, len, s->size))
		return img_error(s, field,
				 "%zu bytes at offset %" PRIu64
				 " are past the end of the file (%" PRIu64
				 " bytes)", len, off, s->size);
	if (s->mem) {
		memcpy(buf, s->mem + off, len);
		return 0;
	}
	while (len) {
		ssize_t n = pread(s->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return img_error(s, field, "read at offset %" PRIu64
					 " failed: %s", off, strerror(errno));
		if (n == 0)
			return img_error(s, field, "file shrank while reading "
					 "offset %" PRIu64, off);
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

bool src_is_hole(struct img_src *s, uint64_t off, uint64_t len)
{
	off_t data;

	if (s->fd < 0 || s->is_blockdev || !len ||
	    !range_inside(off, len, s->size))
		return false;
	/* Tables are walked mostly in file order: one lseek per hole. */
	if (off >= s->hole_start && off + len <= s->hole_end)
		return true;
	data = lseek(s->fd, (off_t)off, SEEK_DATA);
	if (data < 0 && errno == ENXIO)
		data = (off_t)s->size;	/* no data from @off to the end */
	if (data < 0 || (uint64_t)data < off + len)
		return false;
	s->hole_start = off;
	s->hole_end = (uint64_t)data;
	return true;
}

void *src_read_table(const struct img_src *s, uint64_t off, uint64_t len,
		     const char *field)
{
	void *buf;

	if (!range_inside(off, len, s->size)) {
		img_error(s, field, "%" PRIu64 " bytes at offset %" PRIu64
			  " are past the end of the file (%" PRIu64 " bytes)",
			  len, off, s->size);
		return NULL;
	}
	if (len > SIZE_MAX) {
		img_error(s, field, "table too large");
		return NULL;
	}
	buf = malloc(len ? (size_t)len : 1);
	if (!buf) {
		img_error(s, field, "out of memory for %" PRIu64 " bytes", len);
		return NULL;
	}
	if (src_read(s, off, buf, (size_t)len, field)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Length of the valid UTF-8 sequence at @p (at most @left bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

char *img_printable(const char *raw, size_t len)
{
	const unsigned char *p = (const unsigned char *)raw;
	char *out, *o;
	size_t i = 0;

	out = malloc(len * 4 + 1);
	if (!out)
		return NULL;
	o = out;
	while (i < len && p[i]) {
		size_t n = utf8_len(p + i, len - i);

		if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\'))
			n = 0;
		if (!n) {
			o += sprintf(o, "\\x%02x", p[i]);
			i++;
			continue;
		}
		memcpy(o, p + i, n);
		o += n;
		i += n;
	}
	*o = '\0';
	return out;
}
