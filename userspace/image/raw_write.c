// SPDX-License-Identifier: GPL-2.0
/*
 * The raw writer of `export --format raw`: each unit at index * unit.
 * Into a file, zero units and units never handed over stay holes and
 * finish() sets the size; into a stream (standard output) the gaps are
 * written as zeroes, so the stream is the whole disk image.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/export.h"
#include "util.h"

struct raw_writer {
	struct writer w;
	const struct out_file *o;
	const struct export_params *p;
	uint8_t *zero;
};

static int raw_put(struct writer *w, uint64_t index, const uint8_t *data)
{
	struct raw_writer *r = (struct raw_writer *)w;
	uint64_t off = index * r->p->unit, len = r->p->unit;

	if (off + len > r->p->size)
		len = r->p->size - off;
	if (!data) {
		w->zero_units++;
		/* A file keeps a hole; a stream gets zeroes at the next write. */
		return 0;
	}
	w->data_units++;
	return out_write(r->o, data, (size_t)len, off);
}

static int raw_finish(struct writer *w)
{
	struct raw_writer *r = (struct raw_writer *)w;

	if (r->o->pipe)
		return out_write(r->o, NULL, 0, r->p->size);
	if (ftruncate(r->o->fd, (off_t)r->p->size)) {
		err_msg("%s: cannot set the size: %m", r->o->path);
		return -1;
	}
	return 0;
}

static void raw_destroy(struct writer *w)
{
	free(w);
}

struct writer *raw_writer_new(const struct out_file *o,
			      const struct export_params *p)
{
	struct raw_writer *r = calloc(1, sizeof(*r));

	if (!r) {
		err_msg("%s: out of memory", o->path);
		return NULL;
	}
	r->o = o;
	r->p = p;
	r->w.put = raw_put;
	r->w.finish = raw_finish;
	r->w.destroy = raw_destroy;
	return &r->w;
}
