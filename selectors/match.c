/*
 * match.c - tokens, Jaccard and winnowing (see match.h).
 */
#include "selectors/match.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

size_t sel_tokenize(struct sel_tok **out, const char *text, size_t start, size_t end)
{
	size_t n = 0, cap = 0, i = start;
	struct sel_tok *v = NULL;

	while (i < end) {
		size_t s = i;
		if (is_space((unsigned char)text[i])) {
			i++;
			continue;
		}
		if (is_word((unsigned char)text[i]))
			while (i < end && is_word((unsigned char)text[i]))
				i++;
		else
			i++;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[n].start = s;
		v[n].end = i;
		n++;
	}
	*out = v;
	return n;
}

struct span {
	const char *p;
	size_t n;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	size_t m = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, m);

	if (c)
		return c;
	return x->n < y->n ? -1 : x->n > y->n;
}

/* Sorted unique token texts. */
static size_t token_set(struct span **out, const char *s, size_t len)
{
	struct sel_tok *t;
	size_t n = sel_tokenize(&t, s, 0, len), i, u = 0;
	struct span *v = xmalloc((n ? n : 1) * sizeof *v);

	for (i = 0; i < n; i++) {
		v[i].p = s + t[i].start;
		v[i].n = t[i].end - t[i].start;
	}
	free(t);
	if (n)
		qsort(v, n, sizeof *v, cmp_span);
	for (i = 0; i < n; i++)
		if (u == 0 || cmp_span(&v[u - 1], &v[i]))
			v[u++] = v[i];
	*out = v;
	return u;
}

double sel_token_jaccard(const char *a, size_t alen, const char *b, size_t blen)
{
	struct span *x, *y;
	size_t nx = token_set(&x, a, alen), ny = token_set(&y, b, blen), i = 0, j = 0, inter = 0;
	double r;

	while (i < nx && j < ny) {
		int c = cmp_span(&x[i], &y[j]);
		if (c == 0) {
			inter++;
			i++;
			j++;
		} else if (c < 0) {
			i++;
		} else {
			j++;
		}
	}
	r = nx + ny == 0 ? 1.0 : (double)inter / (double)(nx + ny - inter);
	free(x);
	free(y);
	return r;
}

size_t sel_winnow(struct sel_fp **out, const char *text, size_t start, size_t end, int k, int w)
{
	size_t *pos, n = 0, i, nh, nfp = 0;
	uint64_t *h;
	struct sel_fp *fp;
	size_t last = (size_t)-1;

	*out = NULL;
	pos = xmalloc((end - start + 1) * sizeof *pos);
	for (i = start; i < end; i++)
		if (!is_space((unsigned char)text[i]))
			pos[n++] = i;
	if (n == 0) {
		free(pos);
		return 0;
	}
	nh = n >= (size_t)k ? n - (size_t)k + 1 : 1;
	h = xmalloc(nh * sizeof *h);
	fp = xmalloc(nh * sizeof *fp);
	for (i = 0; i < nh; i++) {
		uint64_t x = 1469598103934665603ULL;
		size_t j, len = n >= (size_t)k ? (size_t)k : n;
		for (j = 0; j < len; j++) {
			x ^= (unsigned char)text[pos[i + j]];
			x *= 1099511628211ULL;
		}
		h[i] = x;
	}
	for (i = 0; i + (size_t)w <= nh || (i == 0 && nh < (size_t)w); i++) {
		size_t j, best = i, lim = nh < (size_t)w ? nh : i + (size_t)w;
		for (j = i; j < lim; j++)
			if (h[j] <= h[best])
				best = j;
		if (best != last) {
			size_t len = n >= (size_t)k ? (size_t)k : n;
			fp[nfp].hash = h[best];
			fp[nfp].start = pos[best];
			fp[nfp].end = pos[best + len - 1] + 1;
			nfp++;
			last = best;
		}
	}
	free(pos);
	free(h);
	*out = fp;
	return nfp;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static size_t hash_set(uint64_t **out, const struct sel_fp *a, size_t na)
{
	uint64_t *v = xmalloc((na ? na : 1) * sizeof *v);
	size_t i, u = 0;

	for (i = 0; i < na; i++)
		v[i] = a[i].hash;
	if (na)
		qsort(v, na, sizeof *v, cmp_u64);
	for (i = 0; i < na; i++)
		if (u == 0 || v[u - 1] != v[i])
			v[u++] = v[i];
	*out = v;
	return u;
}

double sel_fp_jaccard(const struct sel_fp *a, size_t na, const struct sel_fp *b, size_t nb)
{
	uint64_t *x, *y;
	size_t nx, ny, i = 0, j = 0, inter = 0;
	double r;

	if (!na || !nb)
		return 0;
	nx = hash_set(&x, a, na);
	ny = hash_set(&y, b, nb);
	while (i < nx && j < ny) {
		if (x[i] == y[j]) {
			inter++;
			i++;
			j++;
		} else if (x[i] < y[j]) {
			i++;
		} else {
			j++;
		}
	}
	r = (double)inter / (double)(nx + ny - inter);
	free(x);
	free(y);
	return r;
}

int sel_fp_has(const struct sel_fp *a, size_t na, uint64_t h)
{
	size_t i;

	for (i = 0; i < na; i++)
		if (a[i].hash == h)
			return 1;
	return 0;
}
