// SPDX-License-Identifier: GPL-2.0
/*
 * VMDK descriptor parser: at most 1 MiB of text, taken one line at a time
 * into key = value pairs and extent lines. Lines are bounded, numbers are
 * checked for overflow, and names (extent files, parent hint) are kept as
 * text only: nothing here opens a file.
 */
#include "image/vmdk.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const access_modes[] = { "RW", "RDONLY", "NOACCESS" };
static const char *const extent_types[] = {
	"FLAT", "SPARSE", "ZERO", "VMFS", "VMFSSPARSE", "VMFSRDM", "VMFSRAW",
	"SESPARSE",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

bool vmdk_desc_probe(const uint8_t *head, size_t len)
{
	static const char sig[] = "# Disk DescriptorFile";

	return len >= sizeof(sig) - 1 && !memcmp(head, sig, sizeof(sig) - 1);
}

struct line_ctx {
	const struct img_src *s;
	unsigned long lineno;
	char field[48];
};

static int line_error(struct line_ctx *c, const char *reason)
{
	return img_error(c->s, c->field, "%s", reason);
}

static bool in_list(const char *word, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(word, list[i]))
			return true;
	return false;
}

/* Copy the next whitespace-separated word of at most @cap - 1 bytes. */
static const char *next_word(const char *p, char *word, size_t cap)
{
	size_t n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p && *p != ' ' && *p != '\t') {
		if (n + 1 >= cap)
			return NULL;
		word[n++] = *p++;
	}
	word[n] = '\0';
	return n ? p : NULL;
}

static int parse_extent(struct line_ctx *c, struct vmdk_desc *d,
			const char *p)
{
	struct vmdk_extent_line *x, *grown;
	char number[24];
	const char *q;

	if (d->nextents >= VMDK_MAX_EXTENTS)
		return line_error(c, "more than 256 extents");
	grown = realloc(d->extents, (d->nextents + 1) * sizeof(*grown));
	if (!grown)
		return line_error(c, "out of memory");
	d->extents = grown;
	x = &d->extents[d->nextents];
	memset(x, 0, sizeof(*x));
	d->nextents++;

	p = next_word(p, x->access, sizeof(x->access));
	if (!p || !in_list(x->access, access_modes, ARRAY_SIZE(access_modes)))
		return line_error(c, "extent access is not RW, RDONLY or "
				  "NOACCESS");
	p = next_word(p, number, sizeof(number));
	if (!p || parse_u64(number, &x->sectors) ||
	    x->sectors > VMDK_MAX_CAPACITY)
		return line_error(c, "extent size is not a sector count");
	p = next_word(p, x->type, sizeof(x->type));
	if (!p || !in_list(x->type, extent_types, ARRAY_SIZE(extent_types)))
		return line_error(c, "unknown extent type");
	while (*p == ' ' || *p == '\t')
		p++;
	if (!strcmp(x->type, "ZERO")) {
		if (*p)
			return line_error(c, "ZERO extent with a file name");
		return 0;
	}
	if (*p != '"')
		return line_error(c, "extent file name is not quoted");
	q = strchr(p + 1, '"');
	if (!q)
		return line_error(c, "extent file name has no closing quote");
	if (q - p - 1 > VMDK_MAX_PATH)
		return line_error(c, "extent file name longer than 4096 bytes");
	x->filename = img_printable(p + 1, (size_t)(q - p - 1));
	if (!x->filename)
		return line_error(c, "out of memory");
	p = q + 1;
	if (next_word(p, number, sizeof(number))) {
		p = next_word(p, number, sizeof(number));
		if (parse_u64(number, &x->offset) ||
		    x->offset > VMDK_MAX_CAPACITY)
			return line_error(c, "extent offset is not a sector "
					  "number");
		x->has_offset = true;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return line_error(c, "trailing text after the extent "
					  "offset");
	} else {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return line_error(c, "trailing text after the extent "
					  "file name");
	}
	if (!strcmp(x->type, "FLAT") && !x->has_offset)
		return line_error(c, "FLAT extent without an offset");
	return 0;
}

static int parse_hex32(const char *v, uint32_t *out)
{
	unsigned long long n;
	char *end;

	if (!*v || strlen(v) > 8 || !isxdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 16);
	if (errno || *end)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int set_text(char **slot, const char *v)
{
	free(*slot);
	*slot = img_printable(v, strlen(v));
	return *slot ? 0 : -1;
}

static int parse_number(struct line_ctx *c, const char *key, const char *v,
			uint64_t *out, bool *has)
{
	char reason[96];

	if (parse_u64(v, out) || *out > UINT32_MAX) {
		snprintf(reason, sizeof(reason), "%s is not a number", key);
		return line_error(c, reason);
	}
	*has = true;
	return 0;
}

static int apply_pair(struct line_ctx *c, struct vmdk_desc *d,
		      const char *key, const char *v)
{
	uint64_t n;
	bool dummy;

	if (!strcmp(key, "version")) {
		if (parse_number(c, key, v, &n, &dummy))
			return -1;
		d->version = (uint32_t)n;
	} else if (!strcmp(key, "CID")) {
		if (parse_hex32(v, &d->cid))
			return line_error(c, "CID is not a 32-bit hex number");
		d->has_cid = true;
	} else if (!strcmp(key, "parentCID")) {
		if (parse_hex32(v, &d->parent_cid))
			return line_error(c, "parentCID is not a 32-bit hex "
					  "number");
		d->has_parent_cid = true;
	} else if (!strcmp(key, "createType")) {
		if (set_text(&d->create_type, v))
			return line_error(c, "out of memory");
	} else if (!strcmp(key, "parentFileNameHint")) {
		if (strlen(v) > VMDK_MAX_PATH)
			return line_error(c, "parentFileNameHint longer than "
					  "4096 bytes");
		free(d->parent_hint);
		d->parent_hint = strdup(v);
		if (!d->parent_hint)
			return line_error(c, "out of memory");
	} else if (!strcmp(key, "ddb.adapterType")) {
		if (set_text(&d->adapter_type, v))
			return line_error(c, "out of memory");
	} else if (!strcmp(key, "ddb.geometry.cylinders")) {
		return parse_number(c, key, v, &d->cylinders,
				    &d->has_cylinders);
	} else if (!strcmp(key, "ddb.geometry.heads")) {
		return parse_number(c, key, v, &d->heads, &d->has_heads);
	} else if (!strcmp(key, "ddb.geometry.sectors")) {
		return parse_number(c, key, v, &d->sectors, &d->has_sectors);
	}
	/* Other keys (encoding, ddb.uuid, ...) are not needed. */
	return 0;
}

static bool is_key_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '.' || ch == '_' ||
	       ch == '-';
}

/* "key = value" or key="value"; @line is NUL-terminated and trimmed. */
static int parse_pair(struct line_ctx *c, struct vmdk_desc *d, char *line)
{
	char *eq = strchr(line, '='), *key_end, *v;
	size_t vlen;

	if (!eq || eq == line)
		return line_error(c, "neither 'key = value' nor an extent");
	for (key_end = eq; key_end > line && (key_end[-1] == ' ' ||
					      key_end[-1] == '\t'); key_end--)
		;
	*key_end = '\0';
	for (v = line; *v; v++)
		if (!is_key_char(*v))
			return line_error(c, "key has characters other than "
					  "letters, digits, '.', '_', '-'");
	v = eq + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	vlen = strlen(v);
	if (*v == '"') {
		if (vlen < 2 || v[vlen - 1] != '"')
			return line_error(c, "value has no closing quote");
		v[vlen - 1] = '\0';
		v++;
		if (strchr(v, '"'))
			return line_error(c, "quote inside a quoted value");
	}
	return apply_pair(c, d, line, v);
}

static int parse_line(struct line_ctx *c, struct vmdk_desc *d, char *line)
{
	char word[12];
	size_t n;

	while (*line == ' ' || *line == '\t')
		line++;
	n = strlen(line);
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
		     line[n - 1] == '\r'))
		line[--n] = '\0';
	if (!n || line[0] == '#')
		return 0;
	if (next_word(line, word, sizeof(word)) &&
	    in_list(word, access_modes, ARRAY_SIZE(access_modes)))
		return parse_extent(c, d, line);
	return parse_pair(c, d, line);
}

int vmdk_desc_parse(const struct img_src *s, const char *text, size_t len,
		    struct vmdk_desc *d)
{
	struct line_ctx c = { .s = s };
	char *line;
	size_t pos = 0;

	if (len > VMDK_MAX_DESC_BYTES)
		return img_error(s, "descriptor", "%zu bytes, more than 1 MiB",
				 len);
	line = malloc(VMDK_MAX_LINE + 1);
	if (!line)
		return img_error(s, "descriptor", "out of memory");
	d->present = true;
	while (pos < len && text[pos]) {
		size_t n = 0;

		c.lineno++;
		snprintf(c.field, sizeof(c.field), "descriptor line %lu",
			 c.lineno);
		while (pos < len && text[pos] && text[pos] != '\n') {
			if (n == VMDK_MAX_LINE) {
				free(line);
				return line_error(&c, "longer than 8192 bytes");
			}
			line[n++] = text[pos++];
		}
		line[n] = '\0';
		if (pos < len && text[pos] == '\n')
			pos++;
		if (parse_line(&c, d, line)) {
			free(line);
			return -1;
		}
	}
	free(line);
	return 0;
}

void vmdk_desc_free(struct vmdk_desc *d)
{
	size_t i;

	for (i = 0; i < d->nextents; i++)
		free(d->extents[i].filename);
	free(d->extents);
	free(d->create_type);
	free(d->parent_hint);
	free(d->adapter_type);
	memset(d, 0, sizeof(*d));
}
