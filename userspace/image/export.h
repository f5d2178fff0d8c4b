/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Image writers used by `export`. export.c reads the backup one cluster
 * ("unit") at a time, in increasing order, and hands each present unit to
 * a writer as data or as zeroes; units never handed over stay unallocated
 * (they read from the backing file, or as zeroes without one). finish()
 * writes the metadata; the caller fsyncs and renames.
 */
#ifndef COWBACKUP_EXPORT_H
#define COWBACKUP_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum export_compress {
	EXPORT_COMPRESS_NONE,
	EXPORT_COMPRESS_ZLIB,	/* qcow2 compression_type=zlib (deflate) */
	EXPORT_COMPRESS_ZSTD,	/* qcow2 compression_type=zstd */
};

struct export_params {
	uint64_t size;		/* virtual size in bytes */
	uint64_t unit;		/* bytes per unit: the cluster or grain */
	const char *backing;	/* name to record, or NULL */
	const char *backing_format;	/* qcow2: "qcow2", "vmdk", "raw" */
	uint32_t backing_cid;	/* vmdk: the parent's CID */
	const char *adapter_type;	/* vmdk */
	bool stream;		/* vmdk: streamOptimized */
	const char *extent_name;	/* vmdk: basename of the output */
	enum export_compress compress;	/* qcow2 */
	unsigned int threads;	/* compression threads (>= 1) */
};

struct out_file {
	int fd;
	const char *path;	/* the final name, for messages */
	/*
	 * Standard output: written strictly in order; a gap before @off is
	 * filled with zeroes, a write behind *pos is an error.
	 */
	bool pipe;
	uint64_t *pos;
};

/*
 * pwrite() all of it (to a pipe: write() in order) or print one error
 * line and return -1.
 */
int out_write(const struct out_file *o, const void *buf, size_t len,
	      uint64_t off);

struct writer {
	/* @data is one unit, or NULL for a unit that reads as zeroes. */
	int (*put)(struct writer *w, uint64_t index, const uint8_t *data);
	int (*finish)(struct writer *w);
	void (*destroy)(struct writer *w);
	uint64_t data_units;
	uint64_t zero_units;
	uint64_t compressed_units;	/* of data_units */
};

/* Both print one error line and return NULL on bad parameters. */
struct writer *qcow2_writer_new(const struct out_file *o,
				const struct export_params *p);
struct writer *vmdk_writer_new(const struct out_file *o,
			       const struct export_params *p);
struct writer *raw_writer_new(const struct out_file *o,
			      const struct export_params *p);

/* Largest unit each writer takes; export.c picks min(job cluster, this). */
#define QCOW2_WRITE_MAX_CLUSTER	(2u << 20)
#define VMDK_WRITE_MAX_GRAIN	(64u << 10)
#define EXPORT_DEFAULT_UNIT	(64u << 10)

#endif /* COWBACKUP_EXPORT_H */
