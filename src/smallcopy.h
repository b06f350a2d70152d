/* SPDX-License-Identifier: MIT */
/*
 * smallcopy.h — copies and clears of up to 64 bytes, inline.
 *
 * Two fixed-size moves that may overlap, instead of a call into the C
 * library: a 64-byte channel message takes four such operations (two
 * copies in, one out, one wipe), and on a round trip each sits between a
 * message's arrival and the reply to it (figures: bench/RESULTS.md,
 * "Measurements behind the code"). Also used by the
 * benchmark's ring-raw floor (bench/hw.c), so that it copies as pshm does.
 */
#ifndef PSHM_SMALLCOPY_H
#define PSHM_SMALLCOPY_H

#include <stddef.h>
#include <string.h>

/* Copy @n bytes, @n <= 64 (callers check; larger sizes are not copied
 * whole). @d and @s do not overlap; with @n == 0 neither is touched. */
static inline void pshm__copy_small(unsigned char *d, const unsigned char *s, size_t n)
{
	if (n >= 32) {
		memcpy(d, s, 32);
		memcpy(d + n - 32, s + n - 32, 32);
	} else if (n >= 16) {
		memcpy(d, s, 16);
		memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else if (n) {
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	}
}

/* Copy @n bytes of any size: inline up to 64, memcpy() above. */
static inline void pshm__copy_out(void *d, const void *s, size_t n)
{
	if (n <= 64)
		pshm__copy_small(d, s, n);
	else
		memcpy(d, s, n);
}

/* Zero @n bytes of any size: inline up to 64, memset() above. */
static inline void pshm__clear(unsigned char *d, size_t n)
{
	if (n > 64) {
		memset(d, 0, n);
	} else if (n >= 32) {
		memset(d, 0, 32);
		memset(d + n - 32, 0, 32);
	} else if (n >= 16) {
		memset(d, 0, 16);
		memset(d + n - 16, 0, 16);
	} else if (n >= 8) {
		memset(d, 0, 8);
		memset(d + n - 8, 0, 8);
	} else if (n >= 4) {
		memset(d, 0, 4);
		memset(d + n - 4, 0, 4);
	} else if (n) {
		d[0] = 0;
		d[n / 2] = 0;
		d[n - 1] = 0;
	}
}

#endif
