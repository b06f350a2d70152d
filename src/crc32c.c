/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of boxes. The same function as iSCSI, ext4 and SSE4.2's crc32
 * instruction: crc32c("123456789") == 0xE3069283.
 *
 * Two implementations with one result: a byte-wise table in portable C,
 * and on x86-64 the SSE4.2 instruction, chosen at run time. The table is
 * built by the compiler (constant expressions below), so there is no
 * initialisation and no global mutable state.
 */
#include <string.h>

#include "internal.h"

#define P 0x82F63B78u
#define B1(c) (((c) >> 1) ^ (((c) & 1u) ? P : 0u))
#define B8(c) B1(B1(B1(B1(B1(B1(B1(B1((uint32_t)(c)))))))))
#define T4(i) B8(i), B8((i) + 1), B8((i) + 2), B8((i) + 3)
#define T16(i) T4(i), T4((i) + 4), T4((i) + 8), T4((i) + 12)
#define T64(i) T16(i), T16((i) + 16), T16((i) + 32), T16((i) + 48)

static const uint32_t table[256] = { T64(0), T64(64), T64(128), T64(192) };

uint32_t pshm__crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t c = ~crc;
	for (; len && ((uintptr_t)p & 7); len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8); /* aligned by now; memcpy keeps it strict-aliasing clean */
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; len; len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

uint32_t pshm__crc32c(uint32_t crc, const void *data, size_t len)
{
	/* __builtin_cpu_supports reads a table libgcc/compiler-rt fills before
	 * main(): cheap, and safe to call from any thread. */
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_hw(crc, data, len);
	return pshm__crc32c_sw(crc, data, len);
}
#else
uint32_t pshm__crc32c(uint32_t crc, const void *data, size_t len)
{
	return pshm__crc32c_sw(crc, data, len);
}
#endif
