/* SPDX-License-Identifier: MIT */
/*
 * test_name.c — segment names and error messages.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "helpers.h"
#include "pshm.h"

Test(name, plain_and_slash_are_the_same)
{
	char a[PSHM_NAME_MAX + 2], b[PSHM_NAME_MAX + 2];
	cr_assert_eq(pshm_name_canon("posix_shm", a, sizeof(a)), 10);
	cr_assert_eq(pshm_name_canon("/posix_shm", b, sizeof(b)), 10);
	cr_assert_str_eq(a, "/posix_shm");
	cr_assert_str_eq(a, b);
}

Test(name, refuses_bad_names)
{
	const char *bad[] = { "", "/", ".", "..", "/.", "/..", "a/b", "/a/b", "../etc/passwd",
			      "//x", "x/", "./x", "a/../b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(pshm_name_check(bad[i]), -EINVAL, "name '%s'", bad[i]);
	cr_expect_eq(pshm_name_check(NULL), -EINVAL);
}

Test(name, length_limit)
{
	char n[PSHM_NAME_MAX + 3];
	memset(n, 'a', sizeof(n));
	n[PSHM_NAME_MAX] = '\0';
	cr_expect_eq(pshm_name_check(n), 0, "exactly NAME_MAX is fine");
	n[PSHM_NAME_MAX] = 'a';
	n[PSHM_NAME_MAX + 1] = '\0';
	cr_expect_eq(pshm_name_check(n), -ENAMETOOLONG);
	char c[8];
	cr_expect_eq(pshm_name_canon("abcdefgh", c, sizeof(c)), -ERANGE);
	cr_expect_eq(pshm_name_canon("abcdef", c, sizeof(c)), 7, "'/abcdef' and NUL fit in 8");
	cr_expect_str_eq(c, "/abcdef");
	cr_expect_eq(pshm_name_canon("x", NULL, 0), -ERANGE);
	cr_expect_eq(pshm_name_canon("a/b", c, sizeof(c)), -EINVAL);
	/* 300 characters, as an attacker or a typo would give. */
	char big[301];
	memset(big, 'b', 300);
	big[300] = '\0';
	cr_expect_eq(pshm_name_check(big), -ENAMETOOLONG);
	char slash[PSHM_NAME_MAX + 2];
	slash[0] = '/';
	memset(slash + 1, 's', PSHM_NAME_MAX);
	slash[PSHM_NAME_MAX + 1] = '\0';
	cr_expect_eq(pshm_name_check(slash), 0, "the leading '/' does not count");
	char canon[PSHM_NAME_MAX + 2];
	cr_expect_eq(pshm_name_canon(slash + 1, canon, sizeof(canon)), PSHM_NAME_MAX + 1,
		     "PSHM_NAME_MAX + 2 always fits");
}

Test(name, odd_but_valid_names_are_accepted)
{
	const char *ok[] = { "x", "/x", "posix_shm", "a.b", "...", "-dash", "sem.not-a-sem",
			     "caf\xc3\xa9", "with space", "tab\there" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_expect_eq(pshm_name_check(ok[i]), 0, "name '%s'", ok[i]);
}

Test(name, strerror_gives_every_code_has_a_message)
{
	int codes[] = { 0, EINVAL, ENAMETOOLONG, ENOENT, EEXIST, EACCES, EPERM, ENOTSUP, ENOSPC,
			EFBIG, EFAULT, EBADMSG, EPROTO, EAGAIN, ETIMEDOUT, EPIPE, EMSGSIZE, ENOMEM,
			ERANGE, EBADF, EMFILE, EBUSY, EUSERS, ESTALE };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *m = pshm_strerror(-codes[i]);
		cr_assert_not_null(m);
		cr_expect_gt(strlen(m), 3);
		cr_expect_str_eq(m, pshm_strerror(codes[i]), "sign does not matter");
	}
	cr_expect_str_eq(pshm_strerror(-99999), "unknown error");
	cr_expect_str_eq(pshm_strerror(INT_MIN), "unknown error", "no overflow negating it");
	cr_expect_str_eq(pshm_strerror(INT_MAX), "unknown error");
	cr_expect_not_null(strstr(pshm_strerror(-EFAULT), "truncated"));
	cr_expect_not_null(strstr(pshm_strerror(-ENOTSUP), "not a regular file"));
	cr_expect_str_eq(pshm_version(), PSHM_VERSION_STRING);
}

Test(name, strerror_emsgsize_is_about_channels_and_boxes)
{
	/* Both return it: a message too large, a value larger than a box. */
	const char *m = pshm_strerror(-EMSGSIZE);
	cr_expect_not_null(strstr(m, "channel"), "%s", m);
	cr_expect_not_null(strstr(m, "box"), "%s", m);
}
