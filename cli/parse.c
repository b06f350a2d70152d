/* SPDX-License-Identifier: MIT */
/*
 * parse.c — numbers from the command line, one family: sizes, offsets and
 * counts share one syntax, durations the same digits, and none of them
 * takes what strtoull()/strtod() alone would (spaces, signs, "inf").
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* strtoull() of @s in @base, after checking that it starts with a digit:
 * strtoull() alone skips spaces and takes a sign (" -1" is 2^64 - 1).
 * *@end is where the digits stop. Returns 0, -EINVAL or -ERANGE. */
static int parse_digits(const char *s, int base, unsigned long long *v, char **end)
{
	unsigned char c = s ? (unsigned char)s[0] : 0;
	if (!(base == 16 ? isxdigit(c) : isdigit(c)))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, end, base);
	return errno == ERANGE ? -ERANGE : 0;
}

/* A binary unit after a number: its shift, and *@end moved past it; -1 if
 * what follows is not one. */
static int unit_shift(char **end)
{
	static const char units[] = "kmgt";
	if (!**end)
		return 0;
	const char *u = strchr(units, tolower((unsigned char)**end));
	if (!u)
		return -1;
	char *p = *end + 1;
	if (!strcmp(p, "iB") || !strcmp(p, "B"))
		p += strlen(p);
	if (*p)
		return -1;
	*end = p;
	return 10 * (int)(u - units + 1);
}

int cli_parse_number(const char *s, uint64_t *out)
{
	bool hex = s && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	unsigned long long v;
	char *end;
	int r = parse_digits(hex ? s + 2 : s, hex ? 16 : 10, &v, &end);
	if (r < 0)
		return r;
	int shift = unit_shift(&end);
	if (shift < 0)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int cli_parse_duration(const char *s, double *out)
{
	/* Plain decimal only: strtod() would also take spaces, signs, "inf",
	 * hexadecimal and exponents. */
	size_t k = s ? strspn(s, "0123456789.") : 0;
	if (!k || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end != s + k || errno == ERANGE || !isfinite(v))
		return -EINVAL;
	static const struct {
		char c;
		double secs;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	double unit = *end ? 0 : 1;
	for (size_t i = 0; *end && i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].c && !end[1])
			unit = units[i].secs;
	if (!unit)
		return -EINVAL;
	if (v * unit > CLI_DURATION_MAX)
		return -ERANGE;
	*out = v * unit;
	return 0;
}

int cli_parse_mode(const char *s, mode_t *out)
{
	unsigned long long v;
	char *end;
	if (parse_digits(s, 8, &v, &end) < 0 || *end || v == 0 || v > 0777)
		return -EINVAL;
	*out = (mode_t)v;
	return 0;
}

int cli_parse_uid(const char *s, uid_t *out)
{
	unsigned long long v;
	char *end;
	if (parse_digits(s, 10, &v, &end) == 0 && !*end && v < (uid_t)-1) {
		*out = (uid_t)v;
		return 0;
	}
	struct passwd *pw = getpwnam(s);
	if (!pw)
		return -EINVAL;
	*out = pw->pw_uid;
	return 0;
}
