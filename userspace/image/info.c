// SPDX-License-Identifier: GPL-2.0
/*
 * `cowbackup-ctl info IMAGE [--json]`: what an image is, in the words of
 * `qemu-img info` (JSON keys are the same where both tools have them, so
 * the two can be compared), plus what a backup administrator needs to know
 * about VMDK adapter type and geometry. Names found inside the image are
 * shown as text and never opened.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "image/image.h"
#include "image/image_args.h"
#include "image/incomplete.h"
#include "image/qcow2.h"
#include "image/raw.h"
#include "image/vmdk.h"
#include "json.h"
#include "util.h"

static void info_usage(FILE *out)
{
	fprintf(out,
		"Usage: cowbackup-ctl info IMAGE [--json]\n"
		"\n"
		"Show the format (qcow2, vmdk or raw), virtual size, disk size,\n"
		"cluster size, backing file and format-specific details of\n"
		"IMAGE, a file or a block device. Backing files, data files and\n"
		"extent files named inside IMAGE are shown, never opened.\n"
		"\n"
		"  --json    print JSON with qemu-img's key names\n"
		"  --force   show a backup target marked incomplete (the\n"
		"            default refuses it)\n"
		"  --help    show this help\n");
}

/* Printable copy of an image-supplied name, or "" on allocation failure. */
static char *shown(const char *raw)
{
	char *p = img_printable(raw, strlen(raw));

	return p ? p : strdup("");
}

/*------------------------------------------------------------------------*/
/* Human-readable output */

static void print_size(const char *label, uint64_t v)
{
	char buf[64];

	printf("%s: %s\n", label, format_size_long(v, buf, sizeof(buf)));
}

static void human_qcow2(const struct qcow2 *q)
{
	uint32_t i;

	if (q->nb_snapshots) {
		printf("Snapshot list:\n");
		printf("%-10s %-20s %12s %20s\n", "ID", "TAG", "VM SIZE",
		       "DATE (UTC seconds)");
		for (i = 0; i < q->nb_snapshots; i++)
			printf("%-10s %-20s %12" PRIu64 " %20" PRIu32 "\n",
			       q->snapshots[i].id, q->snapshots[i].name,
			       q->snapshots[i].vm_state_size,
			       q->snapshots[i].date_sec);
	}
	printf("Format specific information:\n");
	printf("    compat: %s\n", q->version >= 3 ? "1.1" : "0.10");
	printf("    compression type: %s\n",
	       q->compression_type ? "zstd" : "zlib");
	if (q->version >= 3) {
		printf("    lazy refcounts: %s\n",
		       q->compatible & QCOW2_COMPAT_LAZY_REFCOUNTS ?
		       "true" : "false");
	}
	printf("    refcount bits: %u\n", 1u << q->refcount_order);
	if (q->version >= 3) {
		printf("    corrupt: %s\n",
		       q->incompatible & QCOW2_INCOMPAT_CORRUPT ?
		       "true" : "false");
		printf("    extended l2: %s\n",
		       q->extended_l2 ? "true" : "false");
		printf("    dirty: %s\n",
		       q->incompatible & QCOW2_INCOMPAT_DIRTY ?
		       "true" : "false");
	}
	if (q->crypt_method)
		printf("    encrypted: %s\n",
		       q->crypt_method == 1 ? "aes" : "luks");
	if (q->data_file) {
		char *df = shown(q->data_file);

		printf("    data file: %s (not opened)\n", df);
		printf("    data file raw: %s\n",
		       q->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW ?
		       "true" : "false");
		free(df);
	}
}

static void human_vmdk(const struct vmdk *v)
{
	const struct vmdk_desc *d = &v->desc;
	size_t i;

	printf("Format specific information:\n");
	if (d->has_cid)
		printf("    cid: %08" PRIx32 "\n", d->cid);
	if (d->has_parent_cid)
		printf("    parent cid: %08" PRIx32 "\n", d->parent_cid);
	printf("    create type: %s\n", d->create_type ? d->create_type :
	       (v->sparse ? "monolithicSparse" : "(none)"));
	printf("    adapter type: %s\n", d->adapter_type ? d->adapter_type :
	       "(none)");
	if (d->has_cylinders || d->has_heads || d->has_sectors)
		printf("    geometry: cylinders %" PRIu64 ", heads %" PRIu64
		       ", sectors %" PRIu64 "\n", d->cylinders, d->heads,
		       d->sectors);
	if (v->sparse) {
		printf("    version: %" PRIu32 "\n", v->version);
		printf("    compressed: %s\n",
		       v->compress ? "true" : "false");
		printf("    redundant grain directory: %s\n",
		       v->has_rgd ? "true" : "false");
		printf("    zeroed grains: %s\n",
		       v->flags & VMDK_FLAG_ZERO_GRAIN ? "true" : "false");
	}
	if (d->nextents)
		printf("    extents (not opened):\n");
	for (i = 0; i < d->nextents; i++) {
		const struct vmdk_extent_line *x = &d->extents[i];

		printf("        [%zu]: %s %" PRIu64 " %s", i, x->access,
		       x->sectors, x->type);
		if (x->filename)
			printf(" \"%s\"", x->filename);
		if (x->has_offset)
			printf(" %" PRIu64, x->offset);
		printf("\n");
	}
}

static void print_human(const struct image *img, const char *path)
{
	char *name = shown(path);

	printf("image: %s\n", name);
	free(name);
	printf("file format: %s\n", img_format_name(img->format));
	print_size("virtual size", img->virtual_size);
	print_size("disk size", img->src.allocated);
	if (img->cluster_size)
		print_size("cluster size", img->cluster_size);
	if (img->backing_file) {
		char *b = shown(img->backing_file);

		printf("backing file: %s (not opened)\n", b);
		free(b);
	}
	if (img->backing_format) {
		char *b = shown(img->backing_format);

		printf("backing file format: %s\n", b);
		free(b);
	}
	if (img->format == IMG_QCOW2)
		human_qcow2(img->qcow2);
	else if (img->format == IMG_VMDK)
		human_vmdk(img->vmdk);
	else if (img->raw->content[0])
		printf("content: %s\n", img->raw->content);
	if (img->format == IMG_RAW && img->raw->loop_backing) {
		char *b = shown(img->raw->loop_backing);

		printf("loop device over: %s\n", b);
		free(b);
	}
}

/*------------------------------------------------------------------------*/
/* JSON output */

static void json_text(struct json *j, const char *key, const char *raw)
{
	char *p = shown(raw);

	json_str(j, key, p);
	free(p);
}

static void json_snapshots(struct json *j, const struct qcow2 *q)
{
	uint32_t i;

	json_array_begin(j, "snapshots");
	for (i = 0; i < q->nb_snapshots; i++) {
		const struct qcow2_snapshot *sn = &q->snapshots[i];

		json_object_begin(j, NULL);
		json_str(j, "id", sn->id);
		json_str(j, "name", sn->name);
		json_u64(j, "vm-state-size", sn->vm_state_size);
		json_u64(j, "date-sec", sn->date_sec);
		json_u64(j, "date-nsec", sn->date_nsec);
		json_u64(j, "vm-clock-sec", sn->vm_clock_nsec / 1000000000);
		json_u64(j, "vm-clock-nsec", sn->vm_clock_nsec % 1000000000);
		if (sn->has_icount)
			json_u64(j, "icount", sn->icount);
		json_object_end(j);
	}
	json_array_end(j);
}

static void json_qcow2(struct json *j, const struct qcow2 *q)
{
	json_str(j, "compat", q->version >= 3 ? "1.1" : "0.10");
	json_str(j, "compression-type", q->compression_type ? "zstd" : "zlib");
	if (q->version >= 3)
		json_bool(j, "lazy-refcounts",
			  q->compatible & QCOW2_COMPAT_LAZY_REFCOUNTS);
	json_u64(j, "refcount-bits", 1u << q->refcount_order);
	if (q->version >= 3) {
		json_bool(j, "corrupt", q->incompatible &
			  QCOW2_INCOMPAT_CORRUPT);
		json_bool(j, "extended-l2", q->extended_l2);
	}
	if (q->crypt_method) {
		json_object_begin(j, "encrypt");
		json_str(j, "format", q->crypt_method == 1 ? "aes" : "luks");
		json_object_end(j);
	}
	if (q->data_file) {
		json_text(j, "data-file", q->data_file);
		json_bool(j, "data-file-raw",
			  q->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW);
	}
}

static void json_vmdk(struct json *j, const struct image *img)
{
	const struct vmdk *v = img->vmdk;
	const struct vmdk_desc *d = &v->desc;
	size_t i;

	if (d->has_cid)
		json_u64(j, "cid", d->cid);
	if (d->has_parent_cid)
		json_u64(j, "parent-cid", d->parent_cid);
	if (d->create_type)
		json_str(j, "create-type", d->create_type);
	else if (v->sparse)
		json_str(j, "create-type", "monolithicSparse");
	if (d->adapter_type)
		json_str(j, "adapter-type", d->adapter_type);
	if (d->has_cylinders || d->has_heads || d->has_sectors) {
		json_object_begin(j, "geometry");
		json_u64(j, "cylinders", d->cylinders);
		json_u64(j, "heads", d->heads);
		json_u64(j, "sectors", d->sectors);
		json_object_end(j);
	}
	if (v->sparse) {
		json_u64(j, "version", v->version);
		json_bool(j, "compressed", v->compress != 0);
		json_bool(j, "redundant-gd", v->has_rgd);
		json_bool(j, "zeroed-grain", v->flags & VMDK_FLAG_ZERO_GRAIN);
	}
	json_array_begin(j, "extents");
	for (i = 0; i < d->nextents; i++) {
		const struct vmdk_extent_line *x = &d->extents[i];

		json_object_begin(j, NULL);
		if (x->filename)
			json_str(j, "filename", x->filename);
		json_u64(j, "virtual-size", x->sectors * VMDK_SECTOR);
		json_str(j, "access", x->access);
		json_str(j, "type", x->type);
		if (x->has_offset)
			json_u64(j, "offset", x->offset * VMDK_SECTOR);
		json_object_end(j);
	}
	json_array_end(j);
}

static void print_json(const struct image *img, const char *path)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_text(&j, "filename", path);
	json_str(&j, "format", img_format_name(img->format));
	json_u64(&j, "virtual-size", img->virtual_size);
	json_u64(&j, "actual-size", img->src.allocated);
	if (img->cluster_size)
		json_u64(&j, "cluster-size", img->cluster_size);
	if (img->format == IMG_QCOW2)
		json_bool(&j, "dirty-flag", img->qcow2->incompatible &
			  QCOW2_INCOMPAT_DIRTY);
	else if (img->format == IMG_VMDK)
		json_bool(&j, "dirty-flag", img->vmdk->unclean);
	else
		json_bool(&j, "dirty-flag", false);
	if (img->backing_file)
		json_text(&j, "backing-filename", img->backing_file);
	if (img->backing_format)
		json_text(&j, "backing-filename-format", img->backing_format);
	if (img->format == IMG_QCOW2 && img->qcow2->nb_snapshots)
		json_snapshots(&j, img->qcow2);

	json_object_begin(&j, "format-specific");
	json_str(&j, "type", img_format_name(img->format));
	json_object_begin(&j, "data");
	if (img->format == IMG_QCOW2) {
		json_qcow2(&j, img->qcow2);
	} else if (img->format == IMG_VMDK) {
		json_vmdk(&j, img);
	} else {
		json_bool(&j, "block-device", img->src.is_blockdev);
		if (img->raw->content[0])
			json_str(&j, "content", img->raw->content);
		if (img->raw->loop_backing)
			json_text(&j, "loop-backing-file",
				  img->raw->loop_backing);
	}
	json_object_end(&j);
	json_object_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

int cmd_info(int argc, char **argv)
{
	struct image img;
	bool json = false, force = false;
	int r;

	r = image_json_force_args(argc, argv, "info", info_usage, &json,
				  &force);
	if (r >= 0)
		return r;
	if (image_open(&img, argv[optind]))
		return EXIT_FAIL;
	/* A backup target that was never completed and finished. */
	if (img.format == IMG_RAW && img.src.fd >= 0 &&
	    incomplete_refuse(argv[optind], img.src.fd, force, "show")) {
		image_close(&img);
		return EXIT_FAIL;
	}
	if (json)
		print_json(&img, argv[optind]);
	else
		print_human(&img, argv[optind]);
	image_close(&img);
	return EXIT_OK;
}
