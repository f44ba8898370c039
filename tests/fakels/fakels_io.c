/*
 * fakels_io.c - the fake language server's base protocol (fakels.h):
 * Content-Length framed JSON-RPC on stdin and stdout, and its log.
 */
#include "tests/fakels/fakels.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_FRAME (64u * 1024 * 1024) /* larger bodies are refused (exit 2) */
#define MAX_HEADER_LINE 1024
#define MAX_HEADERS 32

/* ---- output --------------------------------------------------------------- */

void fk_write_all(const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			_exit(0); /* EPIPE: the client is gone; leave quietly */
		p += n;
		len -= (size_t)n;
	}
}

/* Frames one message. Content-Length counts bytes of the UTF-8 encoding:
 * jansson emits non-ASCII text raw (no JSON_ENSURE_ASCII), so strlen() of
 * the dump is exactly the number of bytes that follow the header. */
void fk_send_msg_new(json_t *msg)
{
	char *body = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!body) {
		fprintf(stderr, "fakels: out of memory\n");
		_exit(1);
	}
	size_t len = strlen(body);
	char head[64];
	int hl = snprintf(head, sizeof(head), "Content-Length: %zu\r\n\r\n", len);
	fk_write_all(head, (size_t)hl);
	fk_write_all(body, len);
	free(body);
}

void fk_send_result_new(json_t *id, json_t *result)
{
	fk_send_msg_new(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
			       "result", result));
}

void fk_send_error(json_t *id, int code, const char *message)
{
	fk_send_msg_new(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
			       id ? id : json_null(), "error", "code", code,
			       "message", message));
}

void fk_send_notification_new(const char *method, json_t *params)
{
	fk_send_msg_new(json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method",
			       method, "params", params));
}

void fk_log(const char *fmt, ...)
{
	if (!fk.log)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(fk.log, fmt, ap);
	va_end(ap);
	fputc('\n', fk.log);
	fflush(fk.log); /* tests read the log while we are still running */
}

/* ---- input ---------------------------------------------------------------- */

/* A small buffered reader on fd 0. We do not use stdio for it because slow
 * mode must know whether a whole message may already sit in our buffer
 * before it poll()s the descriptor. */
static struct {
	char buf[64 * 1024];
	size_t pos, len;
	int eof;
} in;

static int in_fill(void)
{
	if (in.pos < in.len)
		return 1;
	if (in.eof)
		return 0;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, in.buf, sizeof(in.buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			in.eof = 1;
			return 0;
		}
		in.pos = 0;
		in.len = (size_t)n;
		return 1;
	}
}

static int in_getc(void)
{
	return in_fill() ? (unsigned char)in.buf[in.pos++] : -1;
}

/* End of input. Modes that "never exit by themselves" wait to be killed,
 * so that a client cannot get away with merely closing the pipe. */
void fk_on_eof(int status)
{
	if (fk.mode == MODE_HANG || fk.mode == MODE_NO_INIT)
		for (;;)
			pause();
	exit(status);
}

static void refuse(const char *why)
{
	fprintf(stderr, "fakels: %s\n", why);
	fk_on_eof(2);
}

/* Reads one header line without its CRLF into line[MAX_HEADER_LINE].
 * Returns its length, or -1 at end of input before any byte of it. */
static int read_header_line(char *line)
{
	size_t n = 0;
	for (;;) {
		int c = in_getc();
		if (c < 0) {
			if (n == 0)
				return -1;
			refuse("end of input inside a header");
		}
		if (c == '\n') {
			if (n == 0 || line[n - 1] != '\r')
				refuse("header line not terminated by CRLF");
			line[--n] = '\0';
			return (int)n;
		}
		if (n + 1 >= MAX_HEADER_LINE)
			refuse("header line too long");
		line[n++] = (char)c;
	}
}

/* Parses the value of a Content-Length header: digits, optional blanks. */
static long long parse_length(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	if (!isdigit((unsigned char)*v))
		return -1;
	long long n = 0;
	while (isdigit((unsigned char)*v)) {
		n = n * 10 + (*v++ - '0');
		if (n > (long long)MAX_FRAME + 1)
			n = (long long)MAX_FRAME + 1; /* saturate; refused below */
	}
	while (*v == ' ' || *v == '\t')
		v++;
	return *v ? -1 : n;
}

/* Reads one framed message. Returns the parsed JSON, json_null() for a body
 * that is not JSON (the caller answers ParseError), or NULL at end of input. */
json_t *fk_read_msg(void)
{
	char line[MAX_HEADER_LINE];
	long long length = -1;
	int headers = 0, n;

	while ((n = read_header_line(line)) != 0) {
		if (n < 0) {
			if (headers == 0)
				return NULL;
			refuse("end of input inside a header");
		}
		if (++headers > MAX_HEADERS)
			refuse("too many header lines");
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			length = parse_length(line + 15);
			if (length < 0)
				refuse("malformed Content-Length");
		}
	}
	if (length < 0)
		refuse("frame without Content-Length");
	if (length > MAX_FRAME)
		refuse("frame larger than 64 MiB");

	char *body = malloc((size_t)length + 1);
	if (!body)
		refuse("out of memory");
	for (long long got = 0; got < length;) {
		if (!in_fill()) {
			free(body);
			refuse("end of input inside a body");
		}
		size_t take = in.len - in.pos;
		if ((long long)take > length - got)
			take = (size_t)(length - got);
		memcpy(body + got, in.buf + in.pos, take);
		in.pos += take;
		got += (long long)take;
	}

	json_error_t err;
	json_t *msg = json_loadb(body, (size_t)length, 0, &err);
	free(body);
	if (!msg || !json_is_object(msg)) {
		json_decref(msg);
		return json_null();
	}
	return msg;
}

int fk_input_idle(void)
{
	return in.pos == in.len && !in.eof;
}
