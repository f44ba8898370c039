#include "core/jcs.h"
#include "core/err.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ---------------------------------------------------------- */

/*
 * Decodes one code point at s[*i] (strict: no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF) and advances *i. Returns 0 or -1.
 * jansson validates what it parses, but json_string_nocheck() and
 * json_object_setn_nocheck() let anything through, so we check again.
 */
static int utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	size_t p = *i, n, k;
	uint32_t c = s[p], min;

	if (c < 0x80) {
		*cp = c;
		*i = p + 1;
		return 0;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 1; c &= 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2; c &= 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3; c &= 0x07; min = 0x10000;
	} else {
		return -1;
	}
	if (len - p - 1 < n)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[p + k] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[p + k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	*i = p + 1 + n;
	return 0;
}

/* Byte offset of the first invalid sequence, or (size_t)-1 when valid. */
static size_t utf8_invalid_at(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		size_t at = i;
		if (utf8_next(u, len, &i, &cp) < 0)
			return at;
	}
	return (size_t)-1;
}

/* The UTF-16 code units of a valid code point; returns how many (1 or 2). */
static int utf16_units(uint32_t cp, uint16_t u[2])
{
	if (cp < 0x10000) {
		u[0] = (uint16_t)cp;
		return 1;
	}
	cp -= 0x10000;
	u[0] = (uint16_t)(0xd800 + (cp >> 10));
	u[1] = (uint16_t)(0xdc00 + (cp & 0x3ff));
	return 2;
}

/*
 * Compares two valid UTF-8 strings as arrays of UTF-16 code units (RFC 8785
 * section 3.2.3). Byte order equals code point order, which differs from
 * UTF-16 order exactly when a supplementary character meets U+E000..U+FFFF,
 * so we compare code point by code point and fall back to code units only
 * where two code points differ.
 */
static int cmp_utf16(const char *a, size_t alen, const char *b, size_t blen)
{
	const unsigned char *ua = (const unsigned char *)a;
	const unsigned char *ub = (const unsigned char *)b;
	size_t i = 0, j = 0;

	while (i < alen && j < blen) {
		uint32_t ca = 0, cb = 0;
		uint16_t xa[2] = { 0, 0 }, xb[2] = { 0, 0 };

		/* Both strings were validated before sorting. */
		if (utf8_next(ua, alen, &i, &ca) < 0 || utf8_next(ub, blen, &j, &cb) < 0)
			return 0;
		if (ca == cb)
			continue;
		utf16_units(ca, xa);
		utf16_units(cb, xb);
		if (xa[0] != xb[0])
			return xa[0] < xb[0] ? -1 : 1;
		/* Same high surrogate: both are supplementary characters. */
		return xa[1] < xb[1] ? -1 : 1;
	}
	return (i < alen) - (j < blen);
}

/* ---- strings -------------------------------------------------------- */

static int write_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	size_t bad = utf8_invalid_at(s, len);

	if (bad != (size_t)-1)
		return ln_error_set(LN_EGENERIC,
			"jcs: string is not valid UTF-8 (byte %zu of %zu)", bad, len);

	buf_addch(out, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[6];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_add(out, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
			u[4] = hex[c >> 4]; u[5] = hex[c & 0xf];
			buf_add(out, u, sizeof u);
			continue;
		}
		buf_adds(out, esc);
	}
	buf_add(out, s + run, len - run);
	buf_addch(out, '"');
	return 0;
}

/* ---- numbers -------------------------------------------------------- */

/*
 * Shortest decimal digits that read back as `d` (d > 0, finite).
 * On return digits[0..*nd) holds the significant digits (no trailing
 * zeros) and d == 0.digits x 10^(*n), i.e. *n is ECMAScript's n.
 *
 * For each precision p = 1..17 we take the correctly rounded p-digit value
 * from printf; if it does not read back, the only other p-digit candidate
 * that can is its neighbour on the other side of d (the rounding interval
 * is lopsided at powers of two), so we try that one too. The first
 * precision that works gives the fewest digits, and among those the closest
 * to d, as Number::toString requires.
 */
static void shortest_digits(double d, char digits[24], int *nd, int *n)
{
	char tmp[40];
	int p;

	for (p = 1; p <= 17; p++) {
		char *e;
		uint64_t m = 0;
		int exp10, k, len;
		double back;

		snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
		back = strtod(tmp, NULL);
		e = strchr(tmp, 'e');
		exp10 = (int)strtol(e + 1, NULL, 10);
		for (k = 0; tmp + k < e; k++)
			if (tmp[k] >= '0' && tmp[k] <= '9')
				m = m * 10 + (uint64_t)(tmp[k] - '0');
		/* exp10 now scales the last digit of m */
		exp10 -= p - 1;

		if (back != d && p < 17) {
			uint64_t alt = back < d ? m + 1 : m - 1;
			if (alt == 0)
				continue;
			snprintf(tmp, sizeof tmp, "%" PRIu64 "e%d", alt, exp10);
			if (strtod(tmp, NULL) != d)
				continue;
			m = alt;
		} else if (back != d) {
			/* 17 significant digits always round-trip; not reached */
			continue;
		}

		while (m % 10 == 0) {
			m /= 10;
			exp10++;
		}
		len = snprintf(digits, 24, "%" PRIu64, m);
		*nd = len;
		*n = exp10 + len;
		return;
	}
	/* unreachable for finite doubles; keep the output well-defined */
	snprintf(digits, 24, "0");
	*nd = 1;
	*n = 1;
}

int jcs_format_number(char *out, size_t size, double d)
{
	struct buf b = BUF_INIT;
	char digits[24];
	int nd = 0, n = 0, i, error = -1;

	if (!isfinite(d)) {
		error = ln_error_set(LN_EGENERIC, "jcs: %s has no JSON form",
			isnan(d) ? "NaN" : "an infinite number");
		goto done;
	}
	if (size < 32) {
		error = ln_error_set(LN_EGENERIC, "jcs: number buffer too small");
		goto done;
	}
	if (d == 0) {	/* both +0 and -0 */
		buf_addch(&b, '0');
		error = 0;
		goto done;
	}
	if (d < 0) {
		buf_addch(&b, '-');
		d = -d;
	}
	shortest_digits(d, digits, &nd, &n);

	if (nd <= n && n <= 21) {
		/* integer: the digits, then n - k zeros */
		buf_add(&b, digits, (size_t)nd);
		for (i = nd; i < n; i++)
			buf_addch(&b, '0');
	} else if (0 < n && n <= 21) {
		buf_add(&b, digits, (size_t)n);
		buf_addch(&b, '.');
		buf_add(&b, digits + n, (size_t)(nd - n));
	} else if (-6 < n && n <= 0) {
		buf_adds(&b, "0.");
		for (i = n; i < 0; i++)
			buf_addch(&b, '0');
		buf_add(&b, digits, (size_t)nd);
	} else {
		buf_addch(&b, digits[0]);
		if (nd > 1) {
			buf_addch(&b, '.');
			buf_add(&b, digits + 1, (size_t)(nd - 1));
		}
		buf_addf(&b, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	error = 0;
done:
	if (!error)
		snprintf(out, size, "%s", b.data);
	else if (size)
		out[0] = '\0';
	buf_release(&b);
	return error;
}

/* ---- values --------------------------------------------------------- */

struct member {
	const char *key;
	size_t len;
	json_t *value;
};

static int member_cmp(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;

	return cmp_utf16(a->key, a->len, b->key, b->len);
}

static int write_value(struct buf *out, const json_t *v, int depth);

static int write_object(struct buf *out, const json_t *obj, int depth)
{
	struct member *m = NULL;
	size_t count = json_object_size(obj), i = 0;
	void *it;
	int error = -1;

	if (count) {
		m = calloc(count, sizeof *m);
		if (!m) {
			error = ln_error_set(LN_EGENERIC, "jcs: out of memory");
			goto done;
		}
	}
	/* jansson's iterator is not const-correct; we only read. */
	for (it = json_object_iter((json_t *)obj); it && i < count;
	     it = json_object_iter_next((json_t *)obj, it), i++) {
		size_t bad;

		m[i].key = json_object_iter_key(it);
		m[i].len = json_object_iter_key_len(it);
		m[i].value = json_object_iter_value(it);
		bad = utf8_invalid_at(m[i].key, m[i].len);
		if (bad != (size_t)-1) {
			error = ln_error_set(LN_EGENERIC,
				"jcs: member name is not valid UTF-8 (byte %zu of %zu)",
				bad, m[i].len);
			goto done;
		}
	}
	count = i;
	if (count > 1)
		qsort(m, count, sizeof *m, member_cmp);

	buf_addch(out, '{');
	for (i = 0; i < count; i++) {
		if (i)
			buf_addch(out, ',');
		error = write_string(out, m[i].key, m[i].len);
		if (error)
			goto done;
		buf_addch(out, ':');
		error = write_value(out, m[i].value, depth);
		if (error)
			goto done;
	}
	buf_addch(out, '}');
	error = 0;
done:
	free(m);
	return error;
}

static int write_value(struct buf *out, const json_t *v, int depth)
{
	char num[32];
	size_t i;
	int error;

	if (!v)
		return ln_error_set(LN_EGENERIC, "jcs: NULL value");

	switch (json_typeof(v)) {
	case JSON_NULL:
		buf_adds(out, "null");
		return 0;
	case JSON_TRUE:
		buf_adds(out, "true");
		return 0;
	case JSON_FALSE:
		buf_adds(out, "false");
		return 0;
	case JSON_INTEGER:
		/* I-JSON: every number is a double, integers included. */
		error = jcs_format_number(num, sizeof num, (double)json_integer_value(v));
		if (error)
			return error;
		buf_adds(out, num);
		return 0;
	case JSON_REAL:
		error = jcs_format_number(num, sizeof num, json_real_value(v));
		if (error)
			return error;
		buf_adds(out, num);
		return 0;
	case JSON_STRING:
		return write_string(out, json_string_value(v), json_string_length(v));
	case JSON_ARRAY:
		if (depth >= JCS_MAX_DEPTH)
			return ln_error_set(LN_EGENERIC,
				"jcs: nesting deeper than %d levels", JCS_MAX_DEPTH);
		buf_addch(out, '[');
		for (i = 0; i < json_array_size(v); i++) {
			if (i)
				buf_addch(out, ',');
			error = write_value(out, json_array_get(v, i), depth + 1);
			if (error)
				return error;
		}
		buf_addch(out, ']');
		return 0;
	case JSON_OBJECT:
		if (depth >= JCS_MAX_DEPTH)
			return ln_error_set(LN_EGENERIC,
				"jcs: nesting deeper than %d levels", JCS_MAX_DEPTH);
		return write_object(out, v, depth + 1);
	}
	return ln_error_set(LN_EGENERIC, "jcs: unknown jansson type %d", (int)json_typeof(v));
}

int jcs_serialize(struct buf *out, const json_t *value)
{
	size_t start = out->len;
	int error = write_value(out, value, 0);

	if (error) {
		/* Nothing was appended when cap is 0 (data is the static ""). */
		out->len = start;
		if (out->cap)
			out->data[start] = '\0';
	}
	return error;
}

char *jcs_dumps(const json_t *value)
{
	struct buf b = BUF_INIT;
	char *s = NULL;

	if (jcs_serialize(&b, value) < 0)
		goto done;
	s = buf_detach(&b, NULL);
done:
	buf_release(&b);
	return s;
}
