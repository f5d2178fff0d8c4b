// SPDX-License-Identifier: GPL-2.0
// userspace-sources: userspace/nbd_uri.c
/* userspace/nbd_uri.c: NBD URIs as QEMU and libnbd write them. */
#include <string.h>

#include "kselftest_harness.h"
#include "nbd_uri.h"

TEST(accepts)
{
	static const struct {
		const char *text, *host, *export, *socket, *again;
		unsigned int port;
	} cases[] = {
		{ "nbd://127.0.0.1/pit", "127.0.0.1", "pit", "", "nbd://127.0.0.1:10809/pit", 10809 },
		{ "nbd://backup.example.org:10810/vm-disk_1.x", "backup.example.org", "vm-disk_1.x", "", "nbd://backup.example.org:10810/vm-disk_1.x", 10810 },
		{ "nbd://[::1]:2000/a", "::1", "a", "", "nbd://[::1]:2000/a", 2000 },
		{ "nbd://[fe80::1]/a", "fe80::1", "a", "", "nbd://[fe80::1]:10809/a", 10809 },
		{ "nbd+unix:///pit?socket=/run/cb.sock", "", "pit", "/run/cb.sock", "nbd+unix:///pit?socket=/run/cb.sock", 0 },
	};
	struct nbd_uri u;
	char why[160], back[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(0, nbd_uri_parse(cases[i].text, &u, why, sizeof(why)))
			TH_LOG("%s: %s", cases[i].text, why);
		ASSERT_STREQ(cases[i].host, u.host);
		ASSERT_STREQ(cases[i].export, u.export);
		ASSERT_STREQ(cases[i].socket, u.socket);
		ASSERT_EQ(cases[i].port, u.port);
		nbd_uri_format(&u, back, sizeof(back));
		ASSERT_STREQ(cases[i].again, back);
	}
}

TEST(refuses_with_a_reason)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "", "not an NBD URI" },
		{ "http://host/x", "not an NBD URI" },
		{ "nbd://host", "no export name" },
		{ "nbd://host/", "no export name" },
		{ "nbd:///x", "no host" },
		{ "nbd://host:0/x", "port must be" },
		{ "nbd://host:65536/x", "port must be" },
		{ "nbd://host:12a/x", "port must be" },
		{ "nbd://host:/x", "port must be" },
		{ "nbd://ho st/x", "bad host name" },
		{ "nbd://[::1/x", "unterminated" },
		{ "nbd://[::1]x/x", "junk after" },
		{ "nbd://h/x?tls=1", "no query" },
		{ "nbd://h/a/b", "not allowed" },
		{ "nbd://h/a%20b", "not allowed" },
		{ "nbd+unix://host/x?socket=/s", "takes no host" },
		{ "nbd+unix:///x", "no socket" },
		{ "nbd+unix:///x?socket=rel", "absolute" },
		{ "nbd+unix:///?socket=/s", "no export name" },
		{ "nbd+unix:///x?socket=/s&a=b", "only socket" },
	};
	struct nbd_uri u;
	char why[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = 0;
		ASSERT_EQ(-1, nbd_uri_parse(cases[i].text, &u, why, sizeof(why)))
			TH_LOG("%s accepted", cases[i].text);
		ASSERT_NE(NULL, strstr(why, cases[i].why))
			TH_LOG("%s: '%s'", cases[i].text, why);
	}
}

TEST(long_fields)
{
	char text[1200], why[160];
	struct nbd_uri u;

	snprintf(text, sizeof(text), "nbd://h/%0256d", 0);
	ASSERT_EQ(-1, nbd_uri_parse(text, &u, why, sizeof(why)));
	snprintf(text, sizeof(text), "nbd://h/%0255d", 0);
	ASSERT_EQ(0, nbd_uri_parse(text, &u, why, sizeof(why)));
	snprintf(text, sizeof(text), "nbd://%0300d/x", 0);
	ASSERT_EQ(-1, nbd_uri_parse(text, &u, why, sizeof(why)));
	snprintf(text, sizeof(text), "nbd+unix:///x?socket=/%0120d", 0);
	ASSERT_EQ(-1, nbd_uri_parse(text, &u, why, sizeof(why)));
}

TEST_HARNESS_MAIN
