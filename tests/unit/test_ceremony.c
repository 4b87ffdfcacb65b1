/*
 * test_ceremony.c - the transcript's hash chain (a known answer, every
 * single-byte edit named at its entry, removals, reorderings) and the
 * ceremony files' expansion (foreach, optional groups, lists, conditions,
 * the errors that name what is wrong).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shares/ceremony.h"
#include "../../shares/transcript.h"

/* ------------------------------------------------------------ chain */

static void
test_seal_known_answer(void **state)
{
	static const char want[] = "{\"seq\":1,\"kind\":\"begin\",\"prev\":\""
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\",\"hash\":\"abfbed0639c196d198ed11e4bb02af2d6625894ecc2a9178b2"
	    "17caf56d549915\"}\n";
	uint8_t prev[32] = { 0 }, head[32];
	struct sd_err e = { "" };
	json_t *f = json_pack("{s:s}", "kind", "begin");
	char *line = NULL, hex[65];
	size_t len = 0;

	(void)state;
	assert_int_equal(transcript_seal(f, 1, prev, &line, &len, head, &e), 0);
	assert_string_equal(line, want);
	assert_int_equal(len, strlen(want));
	transcript_hex(head, hex);
	assert_string_equal(hex, "abfbed0639c196d198ed11e4bb02af2d6625894ecc2a"
	    "9178b217caf56d549915");
	free(line);
	json_decref(f);
}

static void
test_seal_refuses_chain_fields(void **state)
{
	static const char *const keys[] = { "seq", "prev", "hash" };
	uint8_t prev[32] = { 0 }, head[32];
	struct sd_err e = { "" };
	char *line = NULL;
	size_t len = 0;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		json_t *f = json_pack("{s:i}", keys[i], 1);

		assert_int_equal(transcript_seal(f, 1, prev, &line, &len, head,
		    &e), SD_ERR_ARG);
		assert_null(line);
		json_decref(f);
	}
}

#define N_ENTRIES 6

/* A chain of N_ENTRIES entries; ends[i] = offset after line i. */
static char *
make_chain(size_t ends[N_ENTRIES], uint8_t heads[N_ENTRIES][32])
{
	uint8_t prev[32] = { 0 };
	struct sd_err e = { "" };
	char *buf = NULL, *line = NULL;
	size_t len = 0, n;

	for (size_t i = 0; i < N_ENTRIES; i++) {
		json_t *f = json_pack("{s:s, s:i, s:[s,s], s:s}", "kind", "step",
		    "n", (int)i, "argv", "verify", "--json", "who", "Zoë");

		assert_int_equal(transcript_seal(f, i + 1, prev, &line, &n,
		    heads[i], &e), 0);
		json_decref(f);
		buf = realloc(buf, len + n + 1);
		assert_non_null(buf);
		memcpy(buf + len, line, n + 1);
		len += n;
		ends[i] = len;
		memcpy(prev, heads[i], 32);
		free(line);
	}
	return buf;
}

static void
test_chain_checks(void **state)
{
	uint8_t heads[N_ENTRIES][32];
	size_t ends[N_ENTRIES];
	struct transcript_check res;
	struct sd_err e = { "" };
	char *buf = make_chain(ends, heads);

	(void)state;
	assert_int_equal(transcript_check(buf, ends[N_ENTRIES - 1], &res, &e), 0);
	assert_int_equal(res.n_entries, N_ENTRIES);
	assert_int_equal(res.bad_entry, 0);
	assert_memory_equal(res.heads, heads, sizeof(heads));
	transcript_check_clear(&res);
	/* non-ASCII is escaped: one entry, one line, whatever the names */
	assert_non_null(strstr(buf, "Zo\\u00EB"));
	assert_int_equal(transcript_check("", 0, &res, &e), SD_ERR_FORMAT);
	transcript_check_clear(&res);
	free(buf);
}

/* Which entry (1-based) holds byte off. */
static size_t
entry_of(const size_t ends[N_ENTRIES], size_t off)
{
	for (size_t i = 0; i < N_ENTRIES; i++)
		if (off < ends[i])
			return i + 1;
	return 0;
}

static void
test_every_byte_edit_is_named(void **state)
{
	uint8_t heads[N_ENTRIES][32];
	size_t ends[N_ENTRIES], len, off;
	struct transcript_check res;
	struct sd_err e = { "" };
	char *buf = make_chain(ends, heads);
	static const uint8_t flips[] = { 0x01, 0x20, 0x80 };

	(void)state;
	len = ends[N_ENTRIES - 1];
	for (off = 0; off < len; off++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			size_t want = entry_of(ends, off);

			buf[off] ^= (char)flips[f];
			assert_int_equal(transcript_check(buf, len, &res, &e),
			    SD_ERR_AUTH);
			if (res.bad_entry != want)
				fail_msg("byte %zu ^ %02x: entry %zu named, "
				    "expected %zu (%s)", off, flips[f],
				    res.bad_entry, want, res.reason);
			/* the entries before it are good, with their heads */
			assert_int_equal(res.n_entries, want - 1);
			if (want > 1)
				assert_memory_equal(res.heads[want - 2],
				    heads[want - 2], 32);
			transcript_check_clear(&res);
			buf[off] ^= (char)flips[f];
		}
	}
	free(buf);
}

static void
test_removed_and_reordered(void **state)
{
	uint8_t heads[N_ENTRIES][32];
	size_t ends[N_ENTRIES], len, k, start, n;
	struct transcript_check res;
	struct sd_err e = { "" };
	char *buf = make_chain(ends, heads), *cut;

	(void)state;
	len = ends[N_ENTRIES - 1];
	cut = malloc(len);
	assert_non_null(cut);
	/* entry k removed: named at k (the last one: the chain just ends) */
	for (k = 1; k <= N_ENTRIES; k++) {
		start = k == 1 ? 0 : ends[k - 2];
		n = ends[k - 1] - start;
		memcpy(cut, buf, start);
		memcpy(cut + start, buf + ends[k - 1], len - ends[k - 1]);
		if (k < N_ENTRIES) {
			assert_int_equal(transcript_check(cut, len - n, &res, &e),
			    SD_ERR_AUTH);
			assert_int_equal(res.bad_entry, k);
			assert_non_null(strstr(res.reason, "removed"));
		} else {
			assert_int_equal(transcript_check(cut, len - n, &res, &e),
			    0);
			assert_int_equal(res.n_entries, N_ENTRIES - 1);
		}
		transcript_check_clear(&res);
	}
	/* entries 3 and 4 swapped: named at 3 */
	memcpy(cut, buf, ends[1]);
	n = ends[2] - ends[1];
	memcpy(cut + ends[1], buf + ends[2], ends[3] - ends[2]);
	memcpy(cut + ends[1] + (ends[3] - ends[2]), buf + ends[1], n);
	memcpy(cut + ends[3], buf + ends[3], len - ends[3]);
	assert_int_equal(transcript_check(cut, len, &res, &e), SD_ERR_AUTH);
	assert_int_equal(res.bad_entry, 3);
	transcript_check_clear(&res);
	/* an entry replaced by a well-sealed entry of another chain */
	{
		uint8_t other[32] = { 1 }, h[32];
		json_t *f = json_pack("{s:s}", "kind", "forged");
		char *line = NULL;
		size_t ln = 0;

		assert_int_equal(transcript_seal(f, 3, other, &line, &ln, h, &e),
		    0);
		memcpy(cut, buf, ends[1]);
		memcpy(cut + ends[1], line, ln);
		memcpy(cut + ends[1] + ln, buf + ends[2], len - ends[2]);
		assert_int_equal(transcript_check(cut, ends[1] + ln + len -
		    ends[2], &res, &e), SD_ERR_AUTH);
		assert_int_equal(res.bad_entry, 3);
		assert_non_null(strstr(res.reason, "does not chain"));
		transcript_check_clear(&res);
		free(line);
		json_decref(f);
	}
	/* cut short: the last line without its end */
	assert_int_equal(transcript_check(buf, len - 1, &res, &e), SD_ERR_AUTH);
	assert_int_equal(res.bad_entry, N_ENTRIES);
	transcript_check_clear(&res);
	free(cut);
	free(buf);
}

/* ------------------------------------------------------------ ceremony */

static const char cer[] =
    "{\"ceremony\": \"t\", \"title\": \"T\", \"version\": 2,\n"
    " \"roles\": [{\"id\": \"operator\", \"title\": \"Op\"},\n"
    "            {\"id\": \"officer\", \"title\": \"Off\"}],\n"
    " \"params\": [{\"name\": \"sd\"}, {\"name\": \"pw\", \"required\": false},\n"
    "   {\"name\": \"bits\", \"default\": \"3072\"},\n"
    "   {\"name\": \"cards\", \"default\": \"no\"},\n"
    "   {\"name\": \"hash\", \"required\": false},\n"
    "   {\"name\": \"off\", \"list\": [\"name\", \"key\"]}],\n"
    " \"steps\": [\n"
    "  {\"id\": \"gen\", \"title\": \"${each.name} #${n}\", \"role\": \"officer\",\n"
    "   \"who\": \"${each.name}\", \"foreach\": \"off\",\n"
    "   \"run\": [\"keygen\", \"--index\", \"${i}\", \"-b\", \"${bits}\",\n"
    "            [\"--password-file\", \"${pw}\"], \"--json\"],\n"
    "   \"outputs\": [\"${each.key}\"]},\n"
    "  {\"id\": \"card\", \"title\": \"c\", \"role\": \"officer\", \"if\": \"cards\",\n"
    "   \"manual\": \"x\"},\n"
    "  {\"id\": \"nocard\", \"title\": \"n\", \"role\": \"officer\", \"if\": \"!cards\",\n"
    "   \"manual\": \"y\", \"checkpoint\": [\"operator\"]},\n"
    "  {\"id\": \"v\", \"title\": \"v $$5\", \"role\": \"operator\",\n"
    "   \"run\": [\"verify\", \"--sd-file\", \"${sd}\", \"--sd-wrapping-keys\",\n"
    "            \"@{off.key}\", \"--json\"], \"status\": [0, 3],\n"
    "   \"inputs\": [{\"file\": \"${sd}\", \"sha256\": \"${hash}\"}, \"@{off.key}\"]}]}";

static struct ceremony *
load(const char *params, int want_r, const char *want_msg)
{
	struct ceremony *c = NULL;
	struct sd_err e = { "" };
	int r = ceremony_load(cer, strlen(cer), params, strlen(params), &c, &e);

	if (r != want_r)
		fail_msg("ceremony_load: %d (%s), expected %d", r, e.msg, want_r);
	if (want_msg != NULL && strstr(e.msg, want_msg) == NULL)
		fail_msg("message '%s' lacks '%s'", e.msg, want_msg);
	return c;
}

static void
test_expand(void **state)
{
	struct ceremony *c = load("{\"sd\": \"sd.json\", \"pw\": \"p\", "
	    "\"people\": {\"operator\": \"Olive\"}, "
	    "\"off\": [{\"name\": \"A\", \"key\": \"a.key\"}, "
	    "{\"name\": \"B\", \"key\": \"b.key\"}]}", 0, NULL);
	const struct cer_step *s;

	(void)state;
	assert_string_equal(c->version, "2");
	assert_int_equal(c->n_steps, 4);
	s = &c->steps[1];
	assert_string_equal(s->id, "gen.2");
	assert_string_equal(s->title, "B #2");
	assert_string_equal(s->who, "B");
	assert_int_equal(s->argc, 8);
	assert_string_equal(s->argv[2], "1");
	assert_string_equal(s->argv[4], "3072");       /* the default */
	assert_string_equal(s->argv[6], "p");          /* the group kept */
	assert_string_equal(s->outputs[0], "b.key");
	s = &c->steps[2];
	assert_string_equal(s->id, "nocard");          /* !cards */
	assert_string_equal(s->checkpoint[0], "operator");
	s = &c->steps[3];
	assert_string_equal(s->title, "v $5");
	assert_int_equal(s->argc, 7);
	assert_string_equal(s->argv[4], "a.key");      /* @{off.key} */
	assert_string_equal(s->argv[5], "b.key");
	assert_string_equal(s->who, "Olive");          /* the role's person */
	assert_int_equal(s->n_inputs, 3);
	assert_null(s->inputs[0].sha256);              /* hash not given */
	assert_string_equal(s->inputs[2].path, "b.key");
	assert_true(ceremony_status_ok(s, 3));
	assert_false(ceremony_status_ok(s, 1));
	assert_int_equal(ceremony_step_index(c, "v"), 3);
	ceremony_free(c);

	/* without pw the group goes; cards=yes swaps the conditional steps */
	c = load("{\"sd\": \"x\", \"cards\": \"yes\", \"hash\": "
	    "\"ABFBED0639C196D198ED11E4BB02AF2D6625894ECC2A9178B217CAF56D549915\","
	    " \"off\": [{\"name\": \"A\", \"key\": \"a\"}]}", 0, NULL);
	assert_int_equal(c->n_steps, 3);
	assert_int_equal(c->steps[0].argc, 6);
	assert_string_equal(c->steps[1].id, "card");
	assert_string_equal(c->steps[2].inputs[0].sha256,
	    "abfbed0639c196d198ed11e4bb02af2d6625894ecc2a9178b217caf56d549915");
	ceremony_free(c);
}

static void
test_errors_name_the_place(void **state)
{
	(void)state;
	assert_null(load("{\"off\": []}", SD_ERR_FORMAT, "\"sd\" is required"));
	assert_null(load("{\"sd\": \"x\", \"off\": [], \"sdd\": 1}",
	    SD_ERR_FORMAT, "\"sdd\" is not a parameter"));
	assert_null(load("{\"sd\": \"x\", \"off\": [{\"nam\": \"A\"}]}",
	    SD_ERR_FORMAT, "off[0]: unknown field \"nam\""));
	assert_null(load("{\"sd\": \"x\", \"off\": [{\"name\": \"A\"}]}",
	    SD_ERR_FORMAT, "(gen).outputs[0]: a parameter it needs is not set"));
	assert_null(load("{\"sd\": \"x\", \"hash\": \"12\", \"off\": "
	    "[{\"name\": \"A\", \"key\": \"a\"}]}", SD_ERR_FORMAT,
	    "steps[3] (v).inputs[0].sha256: not 64 hex digits"));
	assert_null(load("{\"sd\": \"x\", \"people\": {\"boss\": \"B\"}, "
	    "\"off\": [{\"name\": \"A\", \"key\": \"a\"}]}", SD_ERR_FORMAT,
	    "people.boss: no such role"));
	assert_null(load("[1]", SD_ERR_FORMAT, "one JSON object"));
	assert_null(load("{\"sd\": \"x\", \"sd\": \"y\"}", SD_ERR_FORMAT,
	    "params: line 1"));
}

static void
test_bad_files(void **state)
{
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "{\"ceremony\":\"t\",\"title\":\"T\",\"version\":\"1\","
		  "\"roles\":[{\"id\":\"o\",\"title\":\"O\"}],\"steps\":[{\"id\":"
		  "\"a\",\"title\":\"A\",\"role\":\"o\",\"run\":[\"ceremony\","
		  "\"run\"]}]}", "other than ceremony" },
		{ "{\"ceremony\":\"t\",\"title\":\"T\",\"version\":\"1\","
		  "\"roles\":[{\"id\":\"o\",\"title\":\"O\"}],\"steps\":[{\"id\":"
		  "\"a\",\"title\":\"A\",\"role\":\"o\",\"run\":[\"x\","
		  "\"--json\"],\"checkpoint\":[\"w\"]}]}",
		  "checkpoint[0]: not a declared role" },
		{ "{\"ceremony\":\"t\",\"title\":\"T\",\"version\":\"1\","
		  "\"roles\":[{\"id\":\"o\",\"title\":\"O\"}],\"steps\":[{\"id\":"
		  "\"a\",\"title\":\"A\",\"role\":\"o\",\"run\":[\"inspect\","
		  "\"sd.json\"]}]}", "must include --json" },
		{ "{\"ceremony\":\"t\",\"title\":\"T\",\"version\":\"1\","
		  "\"roles\":[{\"id\":\"o\",\"title\":\"O\"}],\"steps\":[{\"id\":"
		  "\"A\",\"title\":\"A\",\"role\":\"o\",\"manual\":\"m\"}]}",
		  "lowercase" },
		{ "{\"ceremony\":\"t\",\"title\":\"T\",\"version\":\"1\","
		  "\"roles\":[{\"id\":\"o\",\"title\":\"O\"}],\"steps\":[{\"id\":"
		  "\"a\",\"title\":\"${x\",\"role\":\"o\",\"manual\":\"m\"}]}",
		  "unterminated" },
		{ "{\"ceremony\":\"t\",\"title\":\"T\",\"version\":\"1\","
		  "\"roles\":[{\"id\":\"o\",\"title\":\"O\"}],\"steps\":[{\"id\":"
		  "\"a\",\"title\":\"${i}\",\"role\":\"o\",\"manual\":\"m\"}]}",
		  "outside a foreach" },
		{ "{\"ceremony\":\"t\",\"title\":\"T\",\"version\":\"1\","
		  "\"roles\":[],\"steps\":[]}", "roles: must be a non-empty" },
		/*
		 * A parameter refused after its name was kept: the name was
		 * leaked (found by tests/fuzz/fuzz_ceremony; LeakSanitizer
		 * sees it under make san-check).
		 */
		{ "{\"ceremony\":\"t\",\"title\":\"T\",\"version\":\"1\","
		  "\"roles\":[{\"id\":\"o\",\"title\":\"O\"}],\"params\":[{"
		  "\"name\":\"x\",\"note\":\"n\",\"required\":\"yes\"}],"
		  "\"steps\":[{\"id\":\"a\",\"title\":\"A\",\"role\":\"o\","
		  "\"manual\":\"m\"}]}", "required: must be true or false" },
	};
	struct ceremony *c;
	struct sd_err e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		c = NULL;
		assert_int_equal(ceremony_load(bad[i].json, strlen(bad[i].json),
		    NULL, 0, &c, &e), SD_ERR_FORMAT);
		assert_null(c);
		if (strstr(e.msg, bad[i].msg) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg,
			    bad[i].msg);
	}
}

static void
test_quote(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ceremony_quote_arg("keys/cert_0.key", out,
	    sizeof(out)), 15);
	assert_string_equal(out, "keys/cert_0.key");
	ceremony_quote_arg("pkcs11:token=a;object=b", out, sizeof(out));
	assert_string_equal(out, "'pkcs11:token=a;object=b'");
	ceremony_quote_arg("it's", out, sizeof(out));
	assert_string_equal(out, "'it'\\''s'");
	ceremony_quote_arg("", out, sizeof(out));
	assert_string_equal(out, "''");
	assert_int_equal(ceremony_quote_arg("a b", out, 4), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_known_answer),
		cmocka_unit_test(test_seal_refuses_chain_fields),
		cmocka_unit_test(test_chain_checks),
		cmocka_unit_test(test_every_byte_edit_is_named),
		cmocka_unit_test(test_removed_and_reordered),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_errors_name_the_place),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
