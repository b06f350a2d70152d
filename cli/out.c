/* SPDX-License-Identifier: MIT */
/*
 * out.c — what the command writes: messages on stderr, names escaped for
 * a terminal or as JSON strings, sizes in words, and whole reads and
 * writes of descriptors.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "cli.h"

/* ---- messages ------------------------------------------------------------ */

/* The one way messages reach stderr: @lead, then the formatted message.
 * Standard output is flushed first, so the two come out in order. */
static void vsay(const char *lead, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs(lead, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_fail(const char *action, const char *name, int err)
{
	return cli_failn(action, name, "%s", pshm_strerror(err));
}

int cli_failn(const char *action, const char *name, const char *fmt, ...)
{
	char esc[CLI_ESC_MAX], lead[CLI_ESC_MAX + 64];
	snprintf(lead, sizeof(lead), "pshm: %s '%s': ", action,
		 cli_esc(name ? name : "", esc, sizeof(esc)));
	va_list ap;
	va_start(ap, fmt);
	vsay(lead, fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

int cli_failf(const char *action, const char *fmt, ...)
{
	char lead[128];
	snprintf(lead, sizeof(lead), "pshm: %s: ", action);
	va_list ap;
	va_start(ap, fmt);
	vsay(lead, fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

/* ---- names ----------------------------------------------------------------- */

/* Invisible characters that reorder or hide text on a terminal (bidi
 * controls, zero-width ones): printable to iswprint(), yet hostile. */
static bool sneaky(wchar_t wc)
{
	return (wc >= 0x200b && wc <= 0x200f) || (wc >= 0x202a && wc <= 0x202e) ||
	       (wc >= 0x2066 && wc <= 0x2069) || wc == 0xfeff;
}

/* How many bytes at @p to show as they are: one printable character in
 * the current locale; 0 to escape the byte at @p. */
static size_t printable(const char *p)
{
	unsigned char c = (unsigned char)*p;
	if (c < 0x80)
		return c >= 0x20 && c < 0x7f && c != '\\';
	mbstate_t st;
	memset(&st, 0, sizeof(st));
	wchar_t wc;
	size_t n = mbrtowc(&wc, p, strnlen(p, MB_LEN_MAX), &st);
	if (n == (size_t)-1 || n == (size_t)-2 || n == 0 || !iswprint((wint_t)wc) || sneaky(wc))
		return 0;
	return n;
}

const char *cli_esc(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	if (!len)
		return buf;
	for (const char *p = s; *p;) {
		char t[MB_LEN_MAX + 1];
		size_t n = printable(p), k = n;
		if (n)
			memcpy(t, p, n);
		else
			k = (size_t)snprintf(t, sizeof(t), *p == '\\' ? "\\\\" : "\\x%02x",
					     (unsigned char)*p);
		if (o + k >= len)
			break;
		memcpy(buf + o, t, k);
		o += k;
		p += n ? n : 1;
	}
	buf[o] = '\0';
	return buf;
}

/* Length of the valid UTF-8 sequence at @p (1 to 4 bytes), or 0 if it is
 * not one (RFC 3629: no overlong form, no surrogate, nothing past
 * U+10FFFF). A NUL ends any sequence early, so this never reads past it. */
static size_t utf8_len(const unsigned char *p)
{
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
		 : (p[0] & 0xf0) == 0xe0 ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
	if (n <= 1)
		return n;
	uint32_t cp = p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void cli_json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_len(p);
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f || n == 0)
			printf("\\u%04x", *p); /* a byte that is not UTF-8: as U+00XX */
		else
			fwrite(p, 1, n, stdout);
		p += n ? n : 1;
	}
	putchar('"');
}

/* ---- numbers and users in words ------------------------------------------------ */

const char *cli_human(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu", (unsigned long long)n);
	else
		snprintf(buf, len, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
	return buf;
}

const char *cli_size_words(uint64_t n, char *buf, size_t len)
{
	char h[16];
	if (n < 1024)
		snprintf(buf, len, "%" PRIu64 " byte%s", n, n == 1 ? "" : "s");
	else
		snprintf(buf, len, "%s (%" PRIu64 " bytes)", cli_human(n, h, sizeof(h)), n);
	return buf;
}

const char *cli_user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
	return buf;
}

/* ---- input and output ---------------------------------------------------- */

int cli_read_full(int fd, char *buf, size_t cap, size_t *got)
{
	*got = 0;
	while (*got < cap) {
		ssize_t n = read(fd, buf + *got, cap - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

int cli_read_all(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	char *buf = malloc(cap);
	int r = buf ? 0 : -ENOMEM;
	while (r == 0 && (r = cli_read_full(fd, buf + n, cap - n, &got)) == 0) {
		n += got;
		if (n < cap)
			break; /* end of file */
		char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
		if (!nb) {
			r = -ENOMEM;
		} else {
			buf = nb;
			cap *= 2;
		}
	}
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = n;
	return 0;
}

int cli_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

volatile sig_atomic_t cli_stop;

static void on_stop(int sig)
{
	(void)sig;
	cli_stop = 1;
}

void cli_catch_stop(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* strerror(), not pshm_strerror(): this is not about shared memory. */
int cli_out_fail(const char *action, const char *name, int err)
{
	return cli_failn(action, name, "standard output: %s", strerror(-err));
}

/* errno says why only if this fflush() failed: an earlier failure leaves
 * the error flag but not its reason. */
int cli_finish_stdout(const char *action, const char *name)
{
	errno = 0;
	int r = fflush(stdout);
	int e = errno;
	if (r != 0 || ferror(stdout))
		return cli_out_fail(action, name, -(r != 0 && e ? e : EIO));
	return EXIT_OK;
}
