#include "tests/unit/harness.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/jcs.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static double from_bits(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof d);
	return d;
}

/* RFC 8785 section 3.2.2: the sample object and its canonical form. */
TEST(core_jcs__rfc8785_section_3_2_2_example)
{
	static const char input[] =
		"{\n"
		"  \"numbers\": [333333333.33333329, 1E30, 4.50,\n"
		"              2e-3, 0.000000000000000000000000001],\n"
		"  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
		"  \"literals\": [null, true, false]\n"
		"}";
	static const char expected[] =
		"{\"literals\":[null,true,false],"
		"\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
		"\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
	json_error_t jerr;
	json_t *v = json_loads(input, 0, &jerr);
	char *s;

	CHECK(v != NULL);
	s = jcs_dumps(v);
	CHECK_EQ_STR(s, expected);
	free(s);
	json_decref(v);
}

/* RFC 8785 section 3.2.3: property names sort as UTF-16 code units. */
TEST(core_jcs__sorts_keys_by_utf16_code_units)
{
	static const char input[] =
		"{\n"
		"  \"\\u20ac\": \"Euro Sign\",\n"
		"  \"\\r\": \"Carriage Return\",\n"
		"  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
		"  \"1\": \"One\",\n"
		"  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n"
		"  \"\\u0080\": \"Control\",\n"
		"  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n"
		"}";
	static const char expected[] =
		"{\"\\r\":\"Carriage Return\","
		"\"1\":\"One\","
		"\"\xc2\x80\":\"Control\","
		"\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
		"\"\xe2\x82\xac\":\"Euro Sign\","
		"\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
		"\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}";
	json_error_t jerr;
	json_t *v = json_loads(input, 0, &jerr);
	char *s;

	CHECK(v != NULL);
	s = jcs_dumps(v);
	CHECK_EQ_STR(s, expected);
	free(s);
	json_decref(v);
}

TEST(core_jcs__supplementary_sorts_before_private_use_and_prefix_first)
{
	json_t *v = json_object();
	char *s;

	/* U+FFFF (EF BF BF) vs U+10000 (F0 90 80 80 = D800 DC00): bytes say
	 * U+FFFF first, UTF-16 says U+10000 first. */
	json_object_set_new(v, "\xef\xbf\xbf", json_integer(1));
	json_object_set_new(v, "\xf0\x90\x80\x80", json_integer(2));
	json_object_set_new(v, "\xee\x80\x80", json_integer(3));	/* U+E000 */
	json_object_set_new(v, "\xf0\x9f\x98\x81", json_integer(4));	/* U+1F601 */
	json_object_set_new(v, "\xf0\x9f\x98\x80", json_integer(5));	/* U+1F600 */
	json_object_set_new(v, "ab", json_integer(6));
	json_object_set_new(v, "a", json_integer(7));
	json_object_set_new(v, "", json_integer(8));
	s = jcs_dumps(v);
	CHECK_EQ_STR(s, "{\"\":8,\"a\":7,\"ab\":6,"
		"\"\xf0\x90\x80\x80\":2,\"\xf0\x9f\x98\x80\":5,\"\xf0\x9f\x98\x81\":4,"
		"\"\xee\x80\x80\":3,\"\xef\xbf\xbf\":1}");
	free(s);
	json_decref(v);
}

/* RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text. */
TEST(core_jcs__rfc8785_appendix_b_numbers)
{
	static const struct { uint64_t bits; const char *text; } cases[] = {
		{ 0x0000000000000000ULL, "0" },
		{ 0x8000000000000000ULL, "0" },
		{ 0x0000000000000001ULL, "5e-324" },
		{ 0x8000000000000001ULL, "-5e-324" },
		{ 0x7fefffffffffffffULL, "1.7976931348623157e+308" },
		{ 0xffefffffffffffffULL, "-1.7976931348623157e+308" },
		{ 0x4340000000000000ULL, "9007199254740992" },
		{ 0xc340000000000000ULL, "-9007199254740992" },
		{ 0x4430000000000000ULL, "295147905179352830000" },
		{ 0x44b52d02c7e14af5ULL, "9.999999999999997e+22" },
		{ 0x44b52d02c7e14af6ULL, "1e+23" },
		{ 0x44b52d02c7e14af7ULL, "1.0000000000000001e+23" },
		{ 0x444b1ae4d6e2ef4eULL, "999999999999999700000" },
		{ 0x444b1ae4d6e2ef4fULL, "999999999999999900000" },
		{ 0x444b1ae4d6e2ef50ULL, "1e+21" },
		{ 0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7" },
		{ 0x3eb0c6f7a0b5ed8dULL, "0.000001" },
		{ 0x41b3de4355555553ULL, "333333333.3333332" },
		{ 0x41b3de4355555554ULL, "333333333.33333325" },
		{ 0x41b3de4355555555ULL, "333333333.3333333" },
		{ 0x41b3de4355555556ULL, "333333333.3333334" },
		{ 0x41b3de4355555557ULL, "333333333.33333343" },
		{ 0xbecbf647612f3696ULL, "-0.0000033333333333333333" },
		{ 0x43143ff3c1cb0959ULL, "1424953923781206.2" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *v = json_real(from_bits(cases[i].bits));
		char num[32];
		char *s;

		CHECK(v != NULL);
		s = jcs_dumps(v);
		json_decref(v);
		if (!s || strcmp(s, cases[i].text) != 0)
			test_fail(__FILE__, __LINE__, "0x%016llx: got \"%s\", want \"%s\"",
				(unsigned long long)cases[i].bits, s ? s : "(null)",
				cases[i].text);
		free(s);
		CHECK_EQ_INT(jcs_format_number(num, sizeof num, from_bits(cases[i].bits)), 0);
		CHECK_EQ_STR(num, cases[i].text);
	}
}

TEST(core_jcs__number_layout_follows_ecmascript)
{
	static const struct { double d; const char *text; } cases[] = {
		{ 1.0, "1" },
		{ -1.5, "-1.5" },
		{ 4.5e15, "4500000000000000" },
		{ 1e20, "100000000000000000000" },
		{ 1e21, "1e+21" },
		{ 1.5e21, "1.5e+21" },
		{ 1e-6, "0.000001" },
		{ 1e-7, "1e-7" },
		{ 1.25e-7, "1.25e-7" },
		{ 0.1, "0.1" },
		{ 0.30000000000000004, "0.30000000000000004" },
		{ 123.456, "123.456" },
		{ 2.2250738585072014e-308, "2.2250738585072014e-308" },
	};
	size_t i;
	char num[32];

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_EQ_INT(jcs_format_number(num, sizeof num, cases[i].d), 0);
		CHECK_EQ_STR(num, cases[i].text);
	}
	CHECK_EQ_INT(jcs_format_number(num, sizeof num, -0.0), 0);
	CHECK_EQ_STR(num, "0");
}

TEST(core_jcs__non_finite_numbers_are_rejected)
{
	char num[32];

	CHECK_EQ_INT(jcs_format_number(num, sizeof num, NAN), LN_EGENERIC);
	CHECK_EQ_STR(num, "");
	CHECK_EQ_INT(jcs_format_number(num, sizeof num, INFINITY), LN_EGENERIC);
	CHECK_EQ_INT(jcs_format_number(num, sizeof num, -INFINITY), LN_EGENERIC);
	CHECK(strstr(ln_error_msg(), "infinite") != NULL);
	/* jansson itself refuses to hold them */
	CHECK(json_real(NAN) == NULL);
}

TEST(core_jcs__integers_are_converted_to_double)
{
	json_t *v = json_pack("[I,I,I,i,i]", (json_int_t)9007199254740993LL,
		(json_int_t)4500000000000000LL, (json_int_t)-9223372036854775807LL - 1,
		0, -42);
	char *s;

	CHECK(v != NULL);
	s = jcs_dumps(v);
	CHECK_EQ_STR(s, "[9007199254740992,4500000000000000,-9223372036854776000,0,-42]");
	free(s);
	json_decref(v);
}

TEST(core_jcs__escapes_only_control_characters)
{
	char raw[34];
	json_t *v;
	char *s;
	int i;

	for (i = 0; i < 32; i++)
		raw[i] = (char)i;
	raw[32] = 0x7f;		/* DEL is not a control character for JSON */
	raw[33] = '/';		/* never escaped */
	v = json_stringn(raw, sizeof raw);
	CHECK(v != NULL);
	s = jcs_dumps(v);
	CHECK_EQ_STR(s, "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
		"\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
		"\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
		"\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\x7f/\"");
	free(s);
	json_decref(v);

	v = json_string("quote\" back\\slash \xe2\x80\xa8 \xf0\x9f\x98\x80");
	s = jcs_dumps(v);
	CHECK_EQ_STR(s, "\"quote\\\" back\\\\slash \xe2\x80\xa8 \xf0\x9f\x98\x80\"");
	free(s);
	json_decref(v);
}

TEST(core_jcs__nested_objects_and_arrays_are_canonical)
{
	json_error_t jerr;
	json_t *v = json_loads("{ \"b\": [1, {\"z\": null, \"a\": [ ]}, [[\"x\"]]],\n"
		"  \"a\": { }, \"c\": {\"y\": {\"b\": 2.0, \"a\": -0.0}} }", 0, &jerr);
	char *s;

	CHECK(v != NULL);
	s = jcs_dumps(v);
	CHECK_EQ_STR(s, "{\"a\":{},\"b\":[1,{\"a\":[],\"z\":null},[[\"x\"]]],"
		"\"c\":{\"y\":{\"a\":0,\"b\":2}}}");
	free(s);
	json_decref(v);
}

TEST(core_jcs__rejects_invalid_utf8_and_restores_buffer)
{
	static const struct { const char *bytes; size_t len; } bad[] = {
		{ "\xff", 1 },			/* never valid */
		{ "a\xc0\xaf", 3 },		/* overlong '/' */
		{ "\xed\xa0\x80", 3 },		/* UTF-16 surrogate D800 */
		{ "\xe2\x82", 2 },		/* truncated */
		{ "\xf4\x90\x80\x80", 4 },	/* above U+10FFFF */
		{ "\x80", 1 },			/* stray continuation */
	};
	struct buf b = BUF_INIT;
	size_t i;

	buf_adds(&b, "keep");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *str = json_stringn_nocheck(bad[i].bytes, bad[i].len);
		json_t *obj = json_object();
		json_t *arr = json_pack("[i,o]", 1, json_incref(str));

		CHECK(str && obj && arr);
		CHECK_EQ_INT(jcs_serialize(&b, str), LN_EGENERIC);
		CHECK(strstr(ln_error_msg(), "UTF-8") != NULL);
		CHECK_EQ_INT(jcs_serialize(&b, arr), LN_EGENERIC);
		/* the same bytes as a member name */
		CHECK_EQ_INT(json_object_setn_nocheck(obj, bad[i].bytes, bad[i].len,
			json_true()), 0);
		json_object_set_new(obj, "ok", json_null());
		CHECK_EQ_INT(jcs_serialize(&b, obj), LN_EGENERIC);
		CHECK(jcs_dumps(obj) == NULL);
		CHECK_EQ_INT(b.len, 4);
		CHECK_EQ_STR(b.data, "keep");
		json_decref(str);
		json_decref(obj);
		json_decref(arr);
	}
	buf_release(&b);
}

TEST(core_jcs__limits_nesting_depth)
{
	json_t *root = json_array(), *cur = root;
	struct buf b = BUF_INIT;
	int i;

	/* JCS_MAX_DEPTH containers in total are fine ... */
	for (i = 1; i < JCS_MAX_DEPTH; i++) {
		json_t *next = json_array();
		json_array_append_new(cur, next);
		cur = next;
	}
	CHECK_EQ_INT(jcs_serialize(&b, root), 0);
	CHECK_EQ_INT(b.len, 2 * JCS_MAX_DEPTH);
	buf_reset(&b);
	/* ... one more is not */
	json_array_append_new(cur, json_object());
	CHECK_EQ_INT(jcs_serialize(&b, root), LN_EGENERIC);
	CHECK(strstr(ln_error_msg(), "nesting") != NULL);
	CHECK_EQ_INT(b.len, 0);
	buf_release(&b);
	json_decref(root);
}

TEST(core_hash__sha256_known_vectors)
{
	char hex[LN_SHA256_HEX_SIZE];
	unsigned char raw[LN_SHA256_LEN];

	ln_sha256_hex("abc", 3, hex);
	CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ln_sha256_hex("", 0, hex);
	CHECK_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ln_sha256_hex(NULL, 0, hex);
	CHECK_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ln_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	CHECK_EQ_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	ln_sha256("abc", 3, raw);
	CHECK_EQ_INT(raw[0], 0xba);
	CHECK_EQ_INT(raw[31], 0xad);
}

TEST(core_hash__incremental_matches_one_shot)
{
	static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct ln_sha256_ctx c;
	char hex[LN_SHA256_HEX_SIZE];
	size_t i;

	ln_sha256_init(&c);
	for (i = 0; i < sizeof msg - 1; i += 5)
		ln_sha256_update(&c, msg + i, sizeof msg - 1 - i < 5 ? sizeof msg - 1 - i : 5);
	ln_sha256_update(&c, NULL, 0);
	ln_sha256_final_hex(&c, hex);
	CHECK_EQ_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	ln_sha256_release(&c);	/* harmless after final */

	ln_sha256_init(&c);	/* abandoned contexts are released, not leaked */
	ln_sha256_update(&c, "x", 1);
	ln_sha256_release(&c);
	ln_sha256_release(&c);
}

TEST(core_hash__json_digest_is_independent_of_insertion_order)
{
	json_t *a = json_object(), *b = json_object(), *inner_a, *inner_b;
	char da[LN_JSON_DIGEST_SIZE], db[LN_JSON_DIGEST_SIZE];
	char expect[LN_JSON_DIGEST_SIZE], hex[LN_SHA256_HEX_SIZE];
	static const char canon[] = "{\"a\":[1,2.5,\"x\"],\"m\":{\"p\":true,\"q\":null},\"z\":\"last\"}";

	inner_a = json_pack("{s:b,s:n}", "p", 1, "q");
	inner_b = json_pack("{s:n,s:b}", "q", "p", 1);
	json_object_set_new(a, "z", json_string("last"));
	json_object_set_new(a, "a", json_pack("[i,f,s]", 1, 2.5, "x"));
	json_object_set_new(a, "m", inner_a);
	json_object_set_new(b, "m", inner_b);
	json_object_set_new(b, "a", json_pack("[i,f,s]", 1, 2.5, "x"));
	json_object_set_new(b, "z", json_string("last"));

	CHECK_EQ_INT(ln_json_digest(da, a), 0);
	CHECK_EQ_INT(ln_json_digest(db, b), 0);
	CHECK_EQ_STR(da, db);
	CHECK_EQ_INT(strlen(da), 71);
	CHECK(strncmp(da, "sha256:", 7) == 0);
	ln_sha256_hex(canon, sizeof canon - 1, hex);
	snprintf(expect, sizeof expect, "sha256:%s", hex);
	CHECK_EQ_STR(da, expect);

	/* a different value gives a different digest */
	json_object_set_new(b, "z", json_string("Last"));
	CHECK_EQ_INT(ln_json_digest(db, b), 0);
	CHECK(strcmp(da, db) != 0);

	/* errors from the canonicalizer come through unchanged */
	json_object_set_new(b, "bad", json_stringn_nocheck("\xff", 1));
	CHECK_EQ_INT(ln_json_digest(db, b), LN_EGENERIC);
	CHECK_EQ_STR(db, "");
	json_decref(a);
	json_decref(b);
}
