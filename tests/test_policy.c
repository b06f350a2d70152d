/* SPDX-License-Identifier: MIT */
/*
 * test_policy.c — pshm_seg_check(): which PSHM_ALLOW_* flag an open lacks,
 * for every combination of owner (ours, another user's) and mode (private,
 * group/other-writable) and of the flags given, as root and as nobody.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"

TestSuite(policy, TH_FIXTURE, .timeout = 30);

#define F PSHM_ALLOW_FOREIGN
#define W PSHM_ALLOW_SHARED_WRITE

static const unsigned given[] = { 0, F, W, F | W };

/* A regular file @name with @mode, owned by nobody when @foreign. */
static void plant(const char *name, mode_t mode, bool foreign)
{
	th_write_file(name, "x", 1, mode);
	char p[300];
	th_path(name, p, sizeof(p));
	cr_assert_eq(chmod(p, mode), 0);
	if (foreign) {
		uid_t uid;
		gid_t gid;
		th_nobody(&uid, &gid);
		cr_assert_eq(chown(p, uid, gid), 0, "chown: %s", strerror(errno));
	}
}

/* What pshm_seg_check() must say for a segment that needs @need. */
static void expect_check(const char *name, unsigned need)
{
	for (size_t i = 0; i < sizeof(given) / sizeof(given[0]); i++) {
		unsigned missing = 0xdead;
		int r = pshm_seg_check(name, given[i], &missing);
		unsigned want = need & ~given[i];
		cr_expect_eq(r, want ? -EPERM : 0, "need %#x given %#x: %d", need, given[i], r);
		cr_expect_eq(missing, want, "need %#x given %#x: missing %#x", need, given[i],
			     missing);
		cr_expect_eq(pshm_seg_check(name, given[i], NULL), r, "NULL @missing");
		/* The check and the open agree. */
		pshm_seg *s;
		int o = pshm_seg_open(name, given[i] | PSHM_RDONLY, &s);
		cr_expect_eq(o == -EPERM, r == -EPERM, "open says %d, check %d", o, r);
		if (o == 0)
			pshm_seg_close(s);
	}
}

Test(policy, check_every_owner_mode_and_flag)
{
	if (!th_is_root())
		th_skip("needs root to give a segment to another user");
	struct {
		mode_t mode;
		bool foreign;
		unsigned need;
	} cases[] = {
		{ 0600, false, 0 },
		{ 0644, false, 0 },
		{ 0660, false, W },
		{ 0602, false, W },
		{ 0666, false, W },
		{ 0600, true, F },
		{ 0644, true, F },
		{ 0620, true, F | W },
		{ 0666, true, F | W },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *n = th_name("chk");
		plant(n, cases[i].mode, cases[i].foreign);
		expect_check(n, cases[i].need);
	}
}

Test(policy, check_lookup_errors)
{
	unsigned missing = 0xdead;
	cr_expect_eq(pshm_seg_check(th_name("none"), 0, &missing), -ENOENT);
	cr_expect_eq(missing, 0);
	cr_expect_eq(pshm_seg_check("a/b", 0, &missing), -EINVAL);
	cr_expect_eq(pshm_seg_check(NULL, 0, &missing), -EINVAL);
	char longname[PSHM_NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_expect_eq(pshm_seg_check(longname, 0, &missing), -ENAMETOOLONG);
	const char *n = th_name("ok");
	plant(n, 0600, false);
	cr_expect_eq(pshm_seg_check(n, 1u << 20, &missing), -EINVAL, "unknown flag");
	cr_expect_eq(pshm_seg_check(n, PSHM_RDONLY | PSHM_NOMAP | PSHM_BOX_UNCHECKED |
					   PSHM_OPEN_EXISTING, &missing), 0,
		     "every flag of the library is accepted");

	char p[300], q[300];
	const char *l = th_name("link");
	cr_assert_eq(symlink(th_path(n, q, sizeof(q)), th_path(l, p, sizeof(p))), 0);
	missing = 0xdead;
	cr_expect_eq(pshm_seg_check(l, 0, &missing), -ENOTSUP, "a symlink is never followed");
	cr_expect_eq(missing, 0);
	const char *d = th_name("dir");
	cr_assert_eq(mkdir(th_path(d, p, sizeof(p)), 0700), 0);
	cr_expect_eq(pshm_seg_check(d, 0, &missing), -ENOTSUP);
}

/* As nobody, the names in @arg (root's 0600, root's 0666, nobody's own
 * 0600 and 0660): bit i of the exit status set when case i failed. */
static int check_as_nobody(void *arg)
{
	const char **n = arg;
	int bad = 0;
	unsigned m = 0xdead;
	if (pshm_seg_check(n[0], 0, &m) != -EPERM || m != F)
		bad |= 1;
	if (pshm_seg_check(n[1], F, &m) != -EPERM || m != W)
		bad |= 2;
	if (pshm_seg_check(n[1], 0, &m) != -EPERM || m != (F | W))
		bad |= 4;
	if (pshm_seg_check(n[1], F | W, &m) != 0 || m != 0)
		bad |= 8;
	if (pshm_seg_check(n[2], 0, &m) != 0 || m != 0)
		bad |= 16;
	if (pshm_seg_check(n[3], 0, &m) != -EPERM || m != W)
		bad |= 32;
	return bad;
}

Test(policy, check_as_nobody_sees_root_as_foreign)
{
	if (!th_is_root())
		th_skip("needs root to play another user");
	const char *n[4] = { th_name("root600"), th_name("root666"), th_name("own600"),
			     th_name("own660") };
	plant(n[0], 0600, false);
	plant(n[1], 0666, false);
	plant(n[2], 0600, true);
	plant(n[3], 0660, true);
	cr_expect_eq(th_as_nobody(check_as_nobody, n), 0);
}
