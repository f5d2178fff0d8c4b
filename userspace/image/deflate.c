// SPDX-License-Identifier: GPL-2.0
/*
 * zlib-format compressor: one fixed-Huffman deflate block fed by a greedy
 * LZ77 matcher (hash of the next three bytes, chains bounded in length),
 * falling back to stored blocks when that would not be smaller.
 */
#include "image/deflate.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW		32768
#define HASH_BITS	15
#define HASH_SIZE	(1u << HASH_BITS)
#define MIN_MATCH	3
#define MAX_MATCH	258
#define MAX_CHAIN	64
#define STORED_MAX	65535

static const uint16_t len_base[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
};
static const uint8_t len_extra[29] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
};
static const uint16_t dist_base[30] = {
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
	16385, 24577,
};
static const uint8_t dist_extra[30] = {
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
};

struct bits {
	uint8_t *out;
	size_t cap;
	size_t pos;
	uint64_t acc;		/* pending bits, LSB first */
	unsigned int n;
	bool full;		/* ran out of room: result unusable */
};

static void put_bits(struct bits *b, uint32_t v, unsigned int n)
{
	b->acc |= (uint64_t)v << b->n;
	b->n += n;
	while (b->n >= 8) {
		if (b->pos < b->cap)
			b->out[b->pos++] = (uint8_t)b->acc;
		else
			b->full = true;
		b->acc >>= 8;
		b->n -= 8;
	}
}

/* Huffman codes go out most significant bit first. */
static void put_code(struct bits *b, uint32_t code, unsigned int len)
{
	uint32_t rev = 0;
	unsigned int i;

	for (i = 0; i < len; i++)
		rev |= ((code >> i) & 1) << (len - 1 - i);
	put_bits(b, rev, len);
}

static void flush_bits(struct bits *b)
{
	if (b->n)
		put_bits(b, 0, 8 - b->n);
}

/* The fixed literal/length code of RFC 1951 section 3.2.6. */
static void put_litlen(struct bits *b, unsigned int sym)
{
	if (sym < 144)
		put_code(b, 0x30 + sym, 8);
	else if (sym < 256)
		put_code(b, 0x190 + sym - 144, 9);
	else if (sym < 280)
		put_code(b, sym - 256, 7);
	else
		put_code(b, 0xc0 + sym - 280, 8);
}

static void put_match(struct bits *b, unsigned int len, unsigned int dist)
{
	unsigned int i = 28, d = 29;

	while (len_base[i] > len)
		i--;
	put_litlen(b, 257 + i);
	put_bits(b, len - len_base[i], len_extra[i]);
	while (dist_base[d] > dist)
		d--;
	put_code(b, d, 5);
	put_bits(b, dist - dist_base[d], dist_extra[d]);
}

static uint32_t hash3(const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

	return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* Longest earlier match for position @i; returns its length. */
static unsigned int find_match(const uint8_t *in, size_t len, size_t i,
			       const int32_t *head, const int32_t *prev,
			       unsigned int *dist)
{
	size_t limit = len - i < MAX_MATCH ? len - i : MAX_MATCH;
	int32_t cand = head[hash3(in + i)];
	unsigned int best = 0, chain = MAX_CHAIN;

	while (cand >= 0 && i - (size_t)cand <= WINDOW && chain--) {
		const uint8_t *a = in + cand, *p = in + i;
		unsigned int n = 0;

		while (n < limit && a[n] == p[n])
			n++;
		if (n > best) {
			best = n;
			*dist = (unsigned int)(i - (size_t)cand);
			if (n == limit)
				break;
		}
		cand = prev[cand % WINDOW];
	}
	return best >= MIN_MATCH ? best : 0;
}

static void insert_hash(const uint8_t *in, size_t len, size_t i,
			int32_t *head, int32_t *prev)
{
	uint32_t h;

	if (i + MIN_MATCH > len)
		return;
	h = hash3(in + i);
	prev[i % WINDOW] = head[h];
	head[h] = (int32_t)i;
}

/* One fixed-Huffman block; false if it did not fit in b->cap. */
static bool deflate_fixed(struct bits *b, const uint8_t *in, size_t len)
{
	int32_t *head = malloc(HASH_SIZE * sizeof(*head));
	int32_t *prev = malloc(WINDOW * sizeof(*prev));
	size_t i = 0, next_check = 8192;

	if (!head || !prev) {
		free(head);
		free(prev);
		return false;
	}
	memset(head, 0xff, HASH_SIZE * sizeof(*head));
	put_bits(b, 1, 1);	/* BFINAL */
	put_bits(b, 1, 2);	/* BTYPE = fixed Huffman */
	while (i < len && !b->full) {
		unsigned int dist = 0, n = 0;

		/* Incompressible so far (random data): store it instead. */
		if (i >= next_check) {
			if (b->pos > i) {
				b->full = true;
				break;
			}
			next_check = i + 8192;
		}

		if (i + MIN_MATCH <= len)
			n = find_match(in, len, i, head, prev, &dist);
		if (n) {
			put_match(b, n, dist);
			while (n--)
				insert_hash(in, len, i++, head, prev);
		} else {
			put_litlen(b, in[i]);
			insert_hash(in, len, i++, head, prev);
		}
	}
	put_litlen(b, 256);	/* end of block */
	flush_bits(b);
	free(head);
	free(prev);
	return !b->full;
}

static size_t stored_size(size_t len)
{
	size_t blocks = len ? (len + STORED_MAX - 1) / STORED_MAX : 1;

	return len + blocks * 5;
}

size_t zlib_bound(size_t len)
{
	return 2 + stored_size(len) + 4;
}

static size_t deflate_stored(uint8_t *out, const uint8_t *in, size_t len)
{
	size_t pos = 0;

	do {
		size_t n = len < STORED_MAX ? len : STORED_MAX;

		out[pos++] = n == len ? 1 : 0;	/* BFINAL, BTYPE = stored */
		out[pos++] = (uint8_t)n;
		out[pos++] = (uint8_t)(n >> 8);
		out[pos++] = (uint8_t)~n;
		out[pos++] = (uint8_t)(~n >> 8);
		memcpy(out + pos, in, n);
		pos += n;
		in += n;
		len -= n;
	} while (len);
	return pos;
}

static uint32_t adler32(const uint8_t *p, size_t len)
{
	uint32_t a = 1, b = 0;

	while (len) {
		/* 5552 bytes keep b below 2^32 before the modulo. */
		size_t n = len < 5552 ? len : 5552;

		len -= n;
		while (n--) {
			a += *p++;
			b += a;
		}
		a %= 65521;
		b %= 65521;
	}
	return b << 16 | a;
}

size_t zlib_compress(const uint8_t *in, size_t len, uint8_t *out)
{
	struct bits b = {
		.out = out + 2,
		.cap = stored_size(len) - 1,	/* must beat stored */
	};
	uint32_t sum = adler32(in, len);
	size_t n;

	out[0] = 0x78;		/* deflate, 32 KiB window */
	out[1] = 0x01;		/* check bits: 0x7801 % 31 == 0 */
	if (deflate_fixed(&b, in, len))
		n = b.pos;
	else
		n = deflate_stored(out + 2, in, len);
	out[2 + n] = (uint8_t)(sum >> 24);
	out[3 + n] = (uint8_t)(sum >> 16);
	out[4 + n] = (uint8_t)(sum >> 8);
	out[5 + n] = (uint8_t)sum;
	return 2 + n + 4;
}
