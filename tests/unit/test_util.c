// SPDX-License-Identifier: GPL-2.0
// userspace-sources: userspace/util.c
/* userspace/util.c: size and integer parsing, human-readable sizes. */
#include <inttypes.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "util.h"

#define KiB	1024ULL
#define MiB	(1024 * KiB)
#define GiB	(1024 * MiB)
#define TiB	(1024 * GiB)
#define PiB	(1024 * TiB)
#define EiB	(1024 * PiB)

TEST(parse_size_accepts)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{ "0", 0 }, { "512", 512 }, { "007", 7 },
		{ "64K", 64 * KiB }, { "64k", 64 * KiB },
		{ "64KiB", 64 * KiB }, { "64kib", 64 * KiB },
		{ "200M", 200 * MiB }, { "1.5G", 1536 * MiB }, { "2T", 2 * TiB },
		{ "3P", 3 * PiB }, { "15E", 15 * EiB }, { "1B", 1 },
		{ "0.5K", 512 }, { "1.25M", 1280 * KiB }, { "1.5", 1 },
		{ "18446744073709551615", UINT64_MAX },
		{ "16383.999999999999P", 18446744073708425716ULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;

		if (parse_size(cases[i].text, &v) || v != cases[i].bytes)
			TH_LOG("\"%s\" -> %" PRIu64, cases[i].text, v);
		ASSERT_EQ(0, parse_size(cases[i].text, &v));
		ASSERT_EQ(cases[i].bytes, v);
	}
}

TEST(parse_size_rejects)
{
	static const char *const bad[] = {
		"", "K", ".5K", "1.", "1.K", "-1", "+1", " 1", "1 ", "1 K",
		"1X", "1Ki", "1KiBs", "1Bib", "1KK", "0x10", "1e3", "1,5G",
		"16E", "18446744073709551616", "99999999999999999999999",
		"17179869184G", "1.5.5", "nan", "inf", "1KBB", "1iB", "M",
		"1MiBs", "1 MB", "1Mi B",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 777;

		if (parse_size(bad[i], &v) != -1)
			TH_LOG("\"%s\" accepted as %" PRIu64, bad[i], v);
		ASSERT_EQ(-1, parse_size(bad[i], &v));
		ASSERT_EQ(777, v);	/* untouched on error */
	}
	ASSERT_EQ(-1, parse_size(NULL, &(uint64_t){ 0 }));
}

/*
 * Issue 11: a suffix ending in B after the unit letter is decimal (SI):
 * 200MB is 200 * 10^6 bytes, never silently 200 MiB. A single letter (any
 * case) or <letter>iB stays binary, as lvm2's size arguments are.
 */
TEST(parse_size_si_suffixes_are_decimal)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{ "200MB", 200000000ULL }, { "200mb", 200000000ULL },
		{ "200mB", 200000000ULL }, { "64KB", 64000 }, { "64kB", 64000 },
		{ "64kb", 64000 }, { "1GB", 1000000000ULL },
		{ "1.5GB", 1500000000ULL }, { "2TB", 2000000000000ULL },
		{ "1PB", 1000000000000000ULL }, { "18EB", 18000000000000000000ULL },
		{ "200M", 200 * MiB }, { "200m", 200 * MiB },
		{ "200MiB", 200 * MiB }, { "200mib", 200 * MiB },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;

		if (parse_size(cases[i].text, &v) || v != cases[i].bytes)
			TH_LOG("\"%s\" -> %" PRIu64, cases[i].text, v);
		ASSERT_EQ(0, parse_size(cases[i].text, &v));
		ASSERT_EQ(cases[i].bytes, v);
	}
	ASSERT_EQ(-1, parse_size("19EB", &(uint64_t){ 0 }));	/* > 2^64 */
}

/* Rates: a size, optionally followed by "/s"; 0 = unlimited. */
TEST(parse_rate_units_and_minimum)
{
	uint64_t v = 9;

	ASSERT_EQ(0, parse_rate("200M", &v));
	ASSERT_EQ(200 * MiB, v);
	ASSERT_EQ(0, parse_rate("200M/s", &v));
	ASSERT_EQ(200 * MiB, v);
	ASSERT_EQ(0, parse_rate("4MiB/s", &v));
	ASSERT_EQ(4 * MiB, v);
	ASSERT_EQ(0, parse_rate("100MB/s", &v));
	ASSERT_EQ(100000000ULL, v);
	ASSERT_EQ(0, parse_rate("0", &v));
	ASSERT_EQ(0, v);
	ASSERT_EQ(0, parse_rate("64K", &v));
	ASSERT_EQ(RATE_MIN_BYTES, v);
	v = 9;
	/* Below the minimum: refused, value untouched. */
	ASSERT_EQ(-2, parse_rate("1", &v));
	ASSERT_EQ(-2, parse_rate("65535", &v));
	ASSERT_EQ(-2, parse_rate("1K/s", &v));
	ASSERT_EQ(-1, parse_rate("fast", &v));
	ASSERT_EQ(-1, parse_rate("-5M", &v));
	ASSERT_EQ(-1, parse_rate("200M/", &v));
	ASSERT_EQ(-1, parse_rate("200M/h", &v));
	ASSERT_EQ(-1, parse_rate("/s", &v));
	ASSERT_EQ(-1, parse_rate("99999999999999999999999", &v));
	ASSERT_EQ(-1, parse_rate("nan", &v));
	ASSERT_EQ(-1, parse_rate(NULL, &v));
	ASSERT_EQ(9, v);
}

/* Seconds: plain decimal only; no nan, inf, sign, exponent or hex. */
TEST(parse_seconds_strict)
{
	static const char *const bad[] = {
		"nan", "NaN", "inf", "-inf", "infinity", "-1", "+1", "0x10",
		"1e3", "1e-1", "", " 1", "1 ", "1s", ".", "1.", ".5.", "5..",
		"1,5", "0", "0.01", "3601", "1e999", "99999999999999999999999",
	};
	double v = 7;

	ASSERT_EQ(0, parse_seconds("5", 0.1, 3600, &v));
	ASSERT_EQ(5.0, v);
	ASSERT_EQ(0, parse_seconds("0.1", 0.1, 3600, &v));
	ASSERT_EQ(0, parse_seconds(".5", 0.1, 3600, &v));
	ASSERT_EQ(0.5, v);
	ASSERT_EQ(0, parse_seconds("3600", 0.1, 3600, &v));
	ASSERT_EQ(3600.0, v);
	v = 7;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_seconds(bad[i], 0.1, 3600, &v) != -1)
			TH_LOG("\"%s\" accepted as %g", bad[i], v);
		ASSERT_EQ(-1, parse_seconds(bad[i], 0.1, 3600, &v));
		ASSERT_EQ(7.0, v);
	}
	ASSERT_EQ(-1, parse_seconds(NULL, 0.1, 3600, &v));
}

TEST(format_rate_human)
{
	char buf[64];

	ASSERT_STREQ("4 MiB/s", format_rate_short(4 * MiB, buf, sizeof(buf)));
	ASSERT_STREQ("200 MiB/s",
		     format_rate_short(200 * MiB, buf, sizeof(buf)));
	ASSERT_STREQ("512 bytes/s", format_rate_short(512, buf, sizeof(buf)));
	ASSERT_STREQ("4 MiB/s (4194304 bytes/s)",
		     format_rate_long(4 * MiB, buf, sizeof(buf)));
	ASSERT_STREQ("512 bytes/s", format_rate_long(512, buf, sizeof(buf)));
}

TEST(parse_u64_strict)
{
	uint64_t v = 5;

	ASSERT_EQ(0, parse_u64("0", &v));
	ASSERT_EQ(0, v);
	ASSERT_EQ(0, parse_u64("007", &v));
	ASSERT_EQ(7, v);
	ASSERT_EQ(0, parse_u64("18446744073709551615", &v));
	ASSERT_EQ(UINT64_MAX, v);
	v = 5;
	ASSERT_EQ(-1, parse_u64("18446744073709551616", &v));
	ASSERT_EQ(-1, parse_u64("", &v));
	ASSERT_EQ(-1, parse_u64("12a", &v));
	ASSERT_EQ(-1, parse_u64(" 1", &v));
	ASSERT_EQ(-1, parse_u64("1 ", &v));
	ASSERT_EQ(-1, parse_u64("+1", &v));
	ASSERT_EQ(-1, parse_u64("-1", &v));
	ASSERT_EQ(-1, parse_u64("0x10", &v));
	ASSERT_EQ(-1, parse_u64("1K", &v));
	ASSERT_EQ(-1, parse_u64(NULL, &v));
	ASSERT_EQ(5, v);
}

TEST(format_size_exact)
{
	char buf[64];

	ASSERT_STREQ("0 bytes", format_size_short(0, buf, sizeof(buf)));
	ASSERT_STREQ("512 bytes", format_size_short(512, buf, sizeof(buf)));
	ASSERT_STREQ("1023 bytes", format_size_short(1023, buf, sizeof(buf)));
	ASSERT_STREQ("1 KiB", format_size_short(1024, buf, sizeof(buf)));
	ASSERT_STREQ("1.5 KiB", format_size_short(1536, buf, sizeof(buf)));
	ASSERT_STREQ("64 KiB", format_size_short(64 * KiB, buf, sizeof(buf)));
	ASSERT_STREQ("1.46 GiB",
		     format_size_short(1572864000, buf, sizeof(buf)));
	ASSERT_STREQ("16 EiB",
		     format_size_short(UINT64_MAX, buf, sizeof(buf)));
	ASSERT_STREQ("512 bytes", format_size_long(512, buf, sizeof(buf)));
	ASSERT_STREQ("1.46 GiB (1572864000 bytes)",
		     format_size_long(1572864000, buf, sizeof(buf)));
	ASSERT_STREQ("1 TiB (1099511627776 bytes)",
		     format_size_long(TiB, buf, sizeof(buf)));
	/* Truncated, but terminated and within the buffer. */
	memset(buf, 'x', sizeof(buf));
	format_size_long(1572864000, buf, 8);
	ASSERT_STREQ("1.46 Gi", buf);
	ASSERT_EQ('x', buf[8]);
}

/*
 * Every size prints as "<number> <unit>" (no exponent notation) and reads
 * back within 0.5%: checked around every unit boundary, including the
 * values just below one (1000..1023.99 of a unit).
 */
TEST(format_size_short_reads_back)
{
	static const char *const units[] = {
		"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};
	regex_t re;
	char buf[64];

	ASSERT_EQ(0, regcomp(&re, "^[0-9]+(\\.[0-9]+)? (bytes|[KMGTPE]iB)$",
			     REG_EXTENDED | REG_NOSUB));
	for (int u = 1; u <= 6; u++) {
		for (int k = -300; k <= 300; k++) {
			uint64_t base = 1ULL << (10 * u);
			uint64_t v = (uint64_t)((double)base * (1.0 + k / 1024.0));
			double num, unit = 1;
			char name[8];
			int i;

			if (k < 0 && u == 1)
				v = 1024 + k;	/* plain bytes below 1 KiB */
			format_size_short(v, buf, sizeof(buf));
			if (regexec(&re, buf, 0, NULL, 0))
				TH_LOG("%" PRIu64 " -> \"%s\"", v, buf);
			ASSERT_EQ(0, regexec(&re, buf, 0, NULL, 0));
			ASSERT_EQ(2, sscanf(buf, "%lf %7s", &num, name));
			for (i = 0; strcmp(units[i], name); i++)
				unit *= 1024;
			ASSERT_LT(num * unit, (double)v * 1.005);
			ASSERT_GT(num * unit, (double)v * 0.995);
		}
	}
	regfree(&re);
}

TEST_HARNESS_MAIN
