// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: kernel/hbitmap.c driven by an operation stream decoded
 * from the input and checked against a naive model (one byte per bit).
 *
 * Input: two bytes choose the size, then each operation is one opcode byte
 * followed by its arguments (4-byte little-endian values, or raw text for
 * parse). Two bitmaps of the same size (A and B) allow merges; one live
 * iterator on A runs interleaved with every other operation. After each
 * operation the level invariants, the count and the iterator are checked;
 * any disagreement aborts. The source is included (white-box) so the
 * checker can read struct hbitmap.
 */
#include "hbitmap.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

struct input {
	const u8 *p;
	size_t left;
};

static u8 in_byte(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static u32 in_u32(struct input *in)
{
	u32 v = 0;

	for (int i = 0; i < 4; i++)
		v |= (u32)in_byte(in) << (8 * i);
	return v;
}

/* A position: mostly inside, sometimes at or past the end, or huge. */
static u64 in_pos(struct input *in, u64 n)
{
	u32 v = in_u32(in);

	switch (v >> 29) {
	case 0:
		return U64_MAX - (v & 7);
	case 1:
		return n + (v & 7) - 4;		/* around the end, may wrap */
	default:
		return v % (n + 1);
	}
}

static u64 in_len(struct input *in, u64 n)
{
	u32 v = in_u32(in);

	switch (v >> 29) {
	case 0:
		return U64_MAX - (v & 3);
	case 1:
		return v & 1 ? n : 0;
	case 2:
		return (v & 0xffff) % (n + 2);
	default:
		return 1 + (v & 0x7f);
	}
}

struct model {
	u64 n, count;
	u8 *bit;
};

static void model_fill(struct model *m, u64 start, u64 len, int v)
{
	if (start >= m->n)
		return;
	if (len > m->n - start)
		len = m->n - start;
	for (u64 i = start; i < start + len; i++) {
		m->count += v - m->bit[i];
		m->bit[i] = v;
	}
}

static u64 model_next(const struct model *m, u64 from, int v)
{
	for (; from < m->n; from++)
		if (m->bit[from] == v)
			return from;
	return m->n;
}

static void check_invariants(const struct hbitmap *hb, const struct model *m)
{
	u64 count = 0;

	CHECK(hb->count == m->count);
	CHECK(hb->bits[hb->nlevels - 1] <= 64);
	for (unsigned int l = 0; l < hb->nlevels; l++) {
		u64 bits = hb->bits[l];
		u64 nwords = max_t(u64, hb_words(bits), 1);

		if (bits & HB_MASK)
			CHECK(!(hb->words[l][nwords - 1] >> (bits & HB_MASK)));
		if (!bits)
			CHECK(!hb->words[l][0]);
		for (u64 w = 0; w < nwords; w++) {
			if (l == 0)
				count += hweight64(hb->words[0][w]);
			if (l + 1 < hb->nlevels)
				CHECK(((hb->words[l + 1][w >> 6] >> (w & 63)) & 1) ==
				      (hb->words[l][w] != 0));
		}
	}
	CHECK(count == hb->count);
}

/* Model of the extent text: "start+len" words for every run from @from. */
static size_t model_format(const struct model *m, u64 from, char *out,
			   size_t cap)
{
	size_t used = 0;

	for (u64 s = model_next(m, from, 1); s < m->n;) {
		u64 e = model_next(m, s, 0);

		used += snprintf(out + used, cap - used, "%s%llu+%llu",
				 used ? " " : "", s, e - s);
		CHECK(used < cap);
		s = model_next(m, e, 1);
	}
	out[used] = '\0';
	return used;
}

/*
 * The parse grammar, written independently: blank-separated words of
 * digits '+' digits, no overflow, len > 0, inside the bitmap. Returns the
 * error the first bad word must produce (0 if none) and applies the
 * extents to @m only when all are good.
 */
static int model_parse(struct model *m, const char *text)
{
	static u64 starts[4096], lens[4096];
	size_t nwords = 0;
	const char *p = text;

	for (;;) {
		u64 num[2] = { 0, 0 };

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		for (int k = 0; k < 2; k++) {
			if (k && *p++ != '+')
				return -EINVAL;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			for (; *p >= '0' && *p <= '9'; p++) {
				if (num[k] > (U64_MAX - (u64)(*p - '0')) / 10)
					return -ERANGE;
				num[k] = num[k] * 10 + (u64)(*p - '0');
			}
		}
		if (*p && *p != ' ' && *p != '\t' && *p != '\n')
			return -EINVAL;
		if (!num[1])
			return -EINVAL;
		if (num[0] >= m->n || num[1] > m->n - num[0])
			return -ERANGE;
		CHECK(nwords < 4096);
		starts[nwords] = num[0];
		lens[nwords++] = num[1];
	}
	for (size_t i = 0; i < nwords; i++)
		model_fill(m, starts[i], lens[i], 1);
	return 0;
}

static const u64 sizes[] = {
	0, 1, 2, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097, 4161,
	64 * 64 * 64 - 1, 64 * 64 * 64, 64 * 64 * 64 + 1,
};

enum op {
	OP_SET, OP_RESET, OP_SET_ALL, OP_RESET_ALL, OP_TEST, OP_NEXT_SET,
	OP_NEXT_ZERO, OP_DIRTY_AREA, OP_ITER_INIT, OP_ITER_NEXT, OP_MERGE,
	OP_FORMAT, OP_PARSE, OP_PARSE_ROUND_TRIP, OP_COUNT
};

static char text_a[1 << 20], text_b[1 << 20];

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct input in = { data, size };
	struct model ma, mb;
	struct hbitmap *a, *b;
	struct hbitmap_iter it;
	u64 n, it_pos;
	u8 sel;

	sel = in_byte(&in);
	n = sel < 128 ? sizes[sel % ARRAY_SIZE(sizes)]
		      : ((u64)in_byte(&in) << 8 | sel) % 70000;
	a = hbitmap_alloc(n, GFP_KERNEL);
	b = hbitmap_alloc(n, GFP_KERNEL);
	CHECK(a && b);
	ma.n = mb.n = n;
	ma.count = mb.count = 0;
	ma.bit = calloc(n + 1, 1);
	mb.bit = calloc(n + 1, 1);
	hbitmap_iter_init(&it, a, 0);
	it_pos = 0;

	for (int ops = 0; in.left && ops < 200; ops++) {
		u8 opc = in_byte(&in);
		bool on_b = opc & 0x80;
		struct hbitmap *hb = on_b ? b : a;
		struct model *m = on_b ? &mb : &ma;
		u64 p, l, s1, l1, s2, l2, end, max_len, next;
		size_t buflen, k;
		bool r1, r2;
		int ret;

		switch ((opc & 0x7f) % OP_COUNT) {
		case OP_SET:
			p = in_pos(&in, n);
			l = in_len(&in, n);
			hbitmap_set(hb, p, l);
			model_fill(m, p, l, 1);
			break;
		case OP_RESET:
			p = in_pos(&in, n);
			l = in_len(&in, n);
			hbitmap_reset(hb, p, l);
			model_fill(m, p, l, 0);
			break;
		case OP_SET_ALL:
			hbitmap_set_all(hb);
			model_fill(m, 0, n, 1);
			break;
		case OP_RESET_ALL:
			hbitmap_reset(hb, 0, U64_MAX);
			model_fill(m, 0, n, 0);
			break;
		case OP_TEST:
			p = in_pos(&in, n);
			CHECK(hbitmap_test(hb, p) == (p < n && m->bit[p]));
			break;
		case OP_NEXT_SET:
			p = in_pos(&in, n);
			CHECK(hbitmap_next_set(hb, p) == model_next(m, p, 1));
			break;
		case OP_NEXT_ZERO:
			p = in_pos(&in, n);
			CHECK(hbitmap_next_zero(hb, p) == model_next(m, p, 0));
			break;
		case OP_DIRTY_AREA:
			p = in_pos(&in, n);
			end = in_pos(&in, n);
			max_len = in_len(&in, n);
			r1 = hbitmap_next_dirty_area(hb, p, end, max_len,
						     &s1, &l1);
			end = min(end, n);
			s2 = model_next(m, p, 1);
			r2 = p < end && max_len && s2 < end;
			CHECK(r1 == r2);
			if (r1) {
				l2 = model_next(m, s2, 0) - s2;
				l2 = min3(l2, end - s2, max_len);
				CHECK(s1 == s2 && l1 == l2);
			}
			break;
		case OP_ITER_INIT:
			p = in_pos(&in, n);
			hbitmap_iter_init(&it, a, p);
			it_pos = min(p, n);
			break;
		case OP_ITER_NEXT:
			/* Exact: the bits set now, whatever happened since. */
			for (k = 1 + in_byte(&in) % 8; k; k--) {
				u64 got = hbitmap_iter_next(&it);

				CHECK(got == model_next(&ma, it_pos, 1));
				it_pos = got < n ? got + 1 : n;
			}
			break;
		case OP_MERGE:
			CHECK(hbitmap_merge(a, b) == 0);
			for (u64 i = 0; i < n; i++)
				if (mb.bit[i])
					model_fill(&ma, i, 1, 1);
			break;
		case OP_FORMAT:
			/* Page through with a small buffer; compare the text. */
			buflen = in_byte(&in) % 48;
			model_format(m, 0, text_b, sizeof(text_b));
			text_a[0] = '\0';
			k = 0;
			for (p = 0;;) {
				char buf[64], word[48];
				size_t cnt;
				u64 e;

				memset(buf, 'Z', sizeof(buf));
				cnt = hbitmap_format_extents(hb, p, buf, buflen,
							     &next);
				CHECK(buf[buflen] == 'Z');
				if (buflen)
					CHECK(strlen(buf) < buflen);
				CHECK(next >= p && next <= n);
				if (cnt) {
					CHECK(k + strlen(buf) + 2 < sizeof(text_a));
					k += snprintf(text_a + k, sizeof(text_a) - k,
						      "%s%s", k ? " " : "", buf);
				} else if (buflen) {
					CHECK(!buf[0]);
				}
				if (next == n) {
					CHECK(!strcmp(text_a, text_b));
					break;
				}
				/* Stopped at an extent start: its word didn't fit. */
				CHECK(m->bit[next] && (!next || !m->bit[next - 1] ||
						       next == p));
				e = model_next(m, next, 0);
				snprintf(word, sizeof(word), "%s%llu+%llu",
					 cnt ? " " : "", next, e - next);
				CHECK((cnt ? strlen(buf) : 0) + strlen(word) >=
				      buflen);
				if (!cnt)
					break;	/* no progress possible */
				p = next;
			}
			break;
		case OP_PARSE: {
			/* Raw bytes as text: strict parse, all-or-nothing. */
			size_t tl = in_byte(&in) % 64;
			char text[65];
			u8 *before = malloc(n + 1);

			for (k = 0; k < tl; k++) {
				static const char alphabet[] =
					"0123456789+ \t\n-x,0123456789+ ";
				u8 c = in_byte(&in);

				text[k] = c < 200 ? alphabet[c % (sizeof(alphabet) - 1)]
						  : (char)c;
				if (!text[k])
					text[k] = '0';
			}
			text[tl] = '\0';
			memcpy(before, m->bit, n + 1);
			ret = hbitmap_parse_extents(hb, text);
			CHECK(ret == model_parse(m, text));
			if (ret)
				CHECK(!memcmp(before, m->bit, n + 1));
			free(before);
			break;
		}
		case OP_PARSE_ROUND_TRIP:
			/* A's text parsed into B after a reset equals A. */
			model_format(&ma, 0, text_a, sizeof(text_a));
			hbitmap_reset(b, 0, U64_MAX);
			model_fill(&mb, 0, n, 0);
			CHECK(hbitmap_parse_extents(b, text_a) == 0);
			CHECK(model_parse(&mb, text_a) == 0);
			CHECK(!memcmp(ma.bit, mb.bit, n));
			break;
		}
		CHECK(hbitmap_count(hb) == m->count);
		/* The full walk costs O(n / 64): every op for small maps. */
		if (n <= 8192 || ops % 16 == 0) {
			check_invariants(a, &ma);
			check_invariants(b, &mb);
		}
		for (u64 i = 0; i < n; i += 1 + n / 64) {
			CHECK(hbitmap_test(a, i) == ma.bit[i]);
			CHECK(hbitmap_test(b, i) == mb.bit[i]);
		}
	}
	check_invariants(a, &ma);
	check_invariants(b, &mb);
	/* Finally every bit, straight from the level-0 words. */
	for (u64 w = 0; w < hb_words(n); w++) {
		u64 expect = 0;

		for (u64 i = w * 64; i < min(n, w * 64 + 64); i++)
			expect |= (u64)ma.bit[i] << (i & 63);
		CHECK(a->words[0][w] == expect);
	}
	hbitmap_free(a);
	hbitmap_free(b);
	free(ma.bit);
	free(mb.bit);
	return 0;
}
