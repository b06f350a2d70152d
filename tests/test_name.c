/*
 * test_name.c — segment names and error messages.
 */
#include <criterion/criterion.h>
#include <errno.h>
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
			      "//x", "x/" };
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
}

Test(strerror, every_code_has_a_message)
{
	int codes[] = { 0, EINVAL, ENAMETOOLONG, ENOENT, EEXIST, EACCES, EPERM, ENOTSUP, ENOSPC,
			EFBIG, EFAULT, EBADMSG, EPROTO, EAGAIN, ETIMEDOUT, EPIPE, EMSGSIZE, ENOMEM };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *m = pshm_strerror(-codes[i]);
		cr_assert_not_null(m);
		cr_expect_gt(strlen(m), 3);
		cr_expect_str_eq(m, pshm_strerror(codes[i]), "sign does not matter");
	}
	cr_expect_str_eq(pshm_strerror(-99999), "unknown error");
	cr_expect_str_eq(pshm_version(), PSHM_VERSION_STRING);
}
