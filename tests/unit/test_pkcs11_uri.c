/*
 * test_pkcs11_uri.c - PKCS#11 URIs (RFC 7512): the examples of the RFC,
 * every attribute, percent-decoding, and each malformed form refused
 * with a message naming what is wrong; writing URIs back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../hw/pkcs11_uri.h"

static struct p11_uri *
parse_ok(const char *s)
{
	struct p11_uri *u = NULL;
	struct sd_err e = { "" };

	if (p11_uri_parse(s, &u, &e) != 0)
		fail_msg("%s: %s", s, e.msg);
	assert_non_null(u);
	return u;
}

/* Parsing s fails with code, and the message holds want. */
static void
parse_bad(const char *s, int code, const char *want)
{
	struct p11_uri *u = (struct p11_uri *)&u;
	struct sd_err e = { "" };

	assert_int_equal(p11_uri_parse(s, &u, &e), code);
	assert_null(u);
	if (strstr(e.msg, want) == NULL)
		fail_msg("%s: message '%s' lacks '%s'", s, e.msg, want);
}

static void
test_simple(void **state)
{
	struct p11_uri *u;

	(void)state;
	u = parse_ok("pkcs11:token=officer0;object=sd-wrap-0;type=private");
	assert_string_equal(u->token, "officer0");
	assert_string_equal(u->object, "sd-wrap-0");
	assert_string_equal(u->type, "private");
	assert_false(u->has_id);
	assert_null(u->pin_source);
	assert_null(u->module_path);
	assert_null(u->manufacturer);
	p11_uri_free(u);

	/* the empty URI matches everything */
	u = parse_ok("pkcs11:");
	assert_null(u->token);
	p11_uri_free(u);
}

/* RFC 7512 section 3.4, the examples that carry no PIN value. */
static void
test_rfc_examples(void **state)
{
	static const uint8_t id[] = { 0x69, 0x95, 0x3e, 0x5c };
	struct p11_uri *u;

	(void)state;
	u = parse_ok("pkcs11:object=my-pubkey;type=public");
	assert_string_equal(u->object, "my-pubkey");
	assert_string_equal(u->type, "public");
	p11_uri_free(u);

	u = parse_ok("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;"
	    "manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;"
	    "type=cert;id=%69%95%3E%5C%F4%CD%AA%3A%9B%26%24%09%32%55;"
	    "serial=");
	assert_string_equal(u->token, "The Software PKCS#11 Softtoken");
	assert_string_equal(u->manufacturer, "Snake Oil, Inc.");
	assert_string_equal(u->model, "1.0");
	assert_string_equal(u->type, "cert");
	assert_true(u->has_id);
	assert_int_equal(u->id_len, 14);
	assert_memory_equal(u->id, id, sizeof(id));
	assert_string_equal(u->serial, "");
	p11_uri_free(u);

	u = parse_ok("pkcs11:token=Software%20PKCS%2311%20softtoken;"
	    "manufacturer=Snake%20Oil,%20Inc.?pin-source=file:/etc/token");
	assert_string_equal(u->pin_source, "file:/etc/token");
	p11_uri_free(u);

	u = parse_ok("pkcs11:slot-description=Sun%20Metaslot");
	assert_string_equal(u->slot_description, "Sun Metaslot");
	p11_uri_free(u);

	u = parse_ok("pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;"
	    "library-description=Soft%20Token;library-version=1.23");
	assert_string_equal(u->lib_manufacturer, "Snake Oil, Inc.");
	assert_string_equal(u->lib_description, "Soft Token");
	assert_string_equal(u->lib_version, "1.23");
	p11_uri_free(u);

	u = parse_ok("pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;"
	    "object=my-certificate;type=cert");
	assert_string_equal(u->token, "A name with a substring %;");
	p11_uri_free(u);

	u = parse_ok("pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:"
	    "%20%C3%A1;object=my-certificate;type=cert");
	assert_string_equal(u->token, "Name with a small A with acute: \xc3\xa1");
	p11_uri_free(u);

	u = parse_ok("pkcs11:slot-id=1");
	assert_true(u->has_slot_id);
	assert_int_equal(u->slot_id, 1);
	p11_uri_free(u);

	u = parse_ok("pkcs11:slot-manufacturer=Ample%20Purveyors;"
	    "slot-id=327?module-name=mypkcs11");
	assert_string_equal(u->slot_manufacturer, "Ample Purveyors");
	assert_int_equal(u->slot_id, 327);
	assert_string_equal(u->module_name, "mypkcs11");
	p11_uri_free(u);

	u = parse_ok("pkcs11:token=officer0;id=%03?module-path="
	    "/usr/lib/x86_64-linux-gnu/libykcs11.so&pin-source=/tmp/pin");
	assert_int_equal(u->id_len, 1);
	assert_int_equal(u->id[0], 3);
	assert_string_equal(u->module_path,
	    "/usr/lib/x86_64-linux-gnu/libykcs11.so");
	assert_string_equal(u->pin_source, "/tmp/pin");
	p11_uri_free(u);
}

static void
test_id_with_nul(void **state)
{
	struct p11_uri *u;

	(void)state;
	u = parse_ok("pkcs11:id=%00%01%00");
	assert_int_equal(u->id_len, 3);
	assert_int_equal(u->id[0], 0);
	assert_int_equal(u->id[1], 1);
	assert_int_equal(u->id[2], 0);
	p11_uri_free(u);
	/* an empty id is an id of no bytes, not "any id" */
	u = parse_ok("pkcs11:id=");
	assert_true(u->has_id);
	assert_int_equal(u->id_len, 0);
	p11_uri_free(u);
}

static void
test_refused(void **state)
{
	(void)state;
	parse_bad("pkcs12:token=a", SD_ERR_FORMAT, "not a pkcs11: URI");
	parse_bad("token=a", SD_ERR_FORMAT, "not a pkcs11: URI");
	parse_bad("pkcs11:tokn=a", SD_ERR_FORMAT, "unknown attribute 'tokn'");
	parse_bad("pkcs11:x-vendor=a", SD_ERR_FORMAT,
	    "unknown attribute 'x-vendor'");
	parse_bad("pkcs11:token=a;token=b", SD_ERR_FORMAT,
	    "'token' given twice");
	parse_bad("pkcs11:id=%01;id=%02", SD_ERR_FORMAT, "'id' given twice");
	parse_bad("pkcs11:token", SD_ERR_FORMAT, "is not name=value");
	parse_bad("pkcs11:token=a;", SD_ERR_FORMAT, "empty attribute");
	parse_bad("pkcs11:;token=a", SD_ERR_FORMAT, "empty attribute");
	parse_bad("pkcs11:token=a;;object=b", SD_ERR_FORMAT,
	    "empty attribute");
	parse_bad("pkcs11:token=a?", SD_ERR_FORMAT, "nothing after '?'");
	parse_bad("pkcs11:token=a?pin-source=/p&", SD_ERR_FORMAT,
	    "empty attribute");
	parse_bad("pkcs11:id=%0", SD_ERR_FORMAT, "id: bad percent-escape");
	parse_bad("pkcs11:id=%zz", SD_ERR_FORMAT, "id: bad percent-escape");
	parse_bad("pkcs11:token=a%", SD_ERR_FORMAT,
	    "token: bad percent-escape at offset 1");
	parse_bad("pkcs11:token=a%00b", SD_ERR_FORMAT, "token: contains %00");
	parse_bad("pkcs11:object=a\tb", SD_ERR_FORMAT,
	    "object: control character");
	parse_bad("pkcs11:type=secret", SD_ERR_FORMAT, "type must be");
	parse_bad("pkcs11:slot-id=x1", SD_ERR_FORMAT, "slot-id must be");
	parse_bad("pkcs11:slot-id=1x", SD_ERR_FORMAT, "slot-id must be");
	parse_bad("pkcs11:slot-id=", SD_ERR_FORMAT, "slot-id must be");
	/* query attributes after '?', path attributes before it */
	parse_bad("pkcs11:pin-source=/p", SD_ERR_FORMAT,
	    "'pin-source' belongs after the '?'");
	parse_bad("pkcs11:?token=a", SD_ERR_FORMAT,
	    "'token' belongs before the '?'");
	/* a PIN is never taken from a command line */
	parse_bad("pkcs11:token=a?pin-value=123456", SD_ERR_FORMAT,
	    "pin-value would put the PIN on the command line");
}

static void
test_too_long(void **state)
{
	char *s = malloc(P11_URI_MAX + 32);

	(void)state;
	assert_non_null(s);
	memcpy(s, "pkcs11:object=", 14);
	memset(s + 14, 'a', P11_URI_MAX);
	s[14 + P11_URI_MAX] = '\0';
	parse_bad(s, SD_ERR_LIMIT, "longer than");
	free(s);
}

static void
test_pin_source(void **state)
{
	static const struct {
		const char *uri, *path;
	} ok[] = {
		{ "pkcs11:?pin-source=file:/etc/pin", "/etc/pin" },
		{ "pkcs11:?pin-source=file:///etc/pin", "/etc/pin" },
		{ "pkcs11:?pin-source=/etc/pin", "/etc/pin" },
		{ "pkcs11:?pin-source=pin.txt", "pin.txt" },
		{ "pkcs11:?pin-source=file:pin.txt", "pin.txt" },
		{ "pkcs11:?pin-source=dir%20x/pin", "dir x/pin" },
	};
	struct p11_uri *u;
	struct sd_err e = { "" };
	char *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		u = parse_ok(ok[i].uri);
		assert_int_equal(p11_uri_pin_path(u, &p, &e), 0);
		assert_string_equal(p, ok[i].path);
		free(p);
		p11_uri_free(u);
	}
	u = parse_ok("pkcs11:token=a");
	assert_int_equal(p11_uri_pin_path(u, &p, &e), 0);
	assert_null(p);
	p11_uri_free(u);
	u = parse_ok("pkcs11:?pin-source=file://host/etc/pin");
	assert_int_equal(p11_uri_pin_path(u, &p, &e), SD_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "only local files"));
	p11_uri_free(u);
	u = parse_ok("pkcs11:?pin-source=https:example");
	assert_int_equal(p11_uri_pin_path(u, &p, &e), SD_ERR_UNSUPPORTED);
	assert_null(p);
	p11_uri_free(u);
	u = parse_ok("pkcs11:?pin-source=file:");
	assert_int_equal(p11_uri_pin_path(u, &p, &e), SD_ERR_FORMAT);
	p11_uri_free(u);
}

static void
test_format(void **state)
{
	static const uint8_t id[] = { 0x03, 0x00, 0xab };
	struct p11_uri *u;
	char *s;

	(void)state;
	assert_int_equal(p11_uri_format("officer0", "sd-wrap-0", NULL, 0,
	    "private", NULL, &s), 0);
	assert_string_equal(s,
	    "pkcs11:token=officer0;object=sd-wrap-0;type=private");
	free(s);
	assert_int_equal(p11_uri_format("My Token; 2", "a/b%c", id,
	    sizeof(id), "private", "/usr/lib/lib x.so", &s), 0);
	assert_string_equal(s, "pkcs11:token=My%20Token%3B%202;"
	    "object=a%2Fb%25c;id=%03%00%AB;type=private"
	    "?module-path=/usr/lib/lib%20x.so");
	/* and back: what is written parses to what was given */
	u = parse_ok(s);
	assert_string_equal(u->token, "My Token; 2");
	assert_string_equal(u->object, "a/b%c");
	assert_int_equal(u->id_len, sizeof(id));
	assert_memory_equal(u->id, id, sizeof(id));
	assert_string_equal(u->module_path, "/usr/lib/lib x.so");
	p11_uri_free(u);
	free(s);
	assert_int_equal(p11_uri_format(NULL, NULL, NULL, 0, NULL, NULL, &s),
	    0);
	assert_string_equal(s, "pkcs11:");
	free(s);
}

/*
 * A URI that p11_uri_format writes must be one p11_uri_parse reads: an id
 * of many bytes (each written %XX) could make it longer than P11_URI_MAX
 * (found by tests/fuzz/fuzz_p11uri).
 */
static void
test_format_never_too_long(void **state)
{
	struct sd_err e = { "" };
	struct p11_uri *u = NULL;
	uint8_t id[2000];
	char *s = NULL;
	size_t n;

	(void)state;
	memset(id, 0xab, sizeof(id));
	/* "pkcs11:token=t;id=" + 3 per byte + ";type=private" */
	n = (P11_URI_MAX - 18 - 13) / 3;
	assert_int_equal(p11_uri_format("t", NULL, id, n, "private", NULL,
	    &s), 0);
	assert_true(strlen(s) <= P11_URI_MAX);
	assert_int_equal(p11_uri_parse(s, &u, &e), 0);
	assert_int_equal(u->id_len, n);
	p11_uri_free(u);
	free(s);
	s = NULL;
	assert_int_equal(p11_uri_format("t", NULL, id, n + 1, "private", NULL,
	    &s), SD_ERR_LIMIT);
	assert_null(s);
	assert_int_equal(p11_uri_format("t", NULL, id, sizeof(id), "private",
	    NULL, &s), SD_ERR_LIMIT);
	assert_null(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_format_never_too_long),
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_id_with_nul),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_pin_source),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
