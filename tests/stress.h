/*
 * stress.h — concurrent scenarios shared by the Criterion tests and the
 * ThreadSanitizer driver (tests/tsan_main.c). Plain C, no Criterion: each
 * returns 0 when every check held, or -1 with a message in @err.
 */
#ifndef PSHM_TEST_STRESS_H
#define PSHM_TEST_STRESS_H

#include <stddef.h>

/* One scenario, for the driver's table. */
struct stress_case {
	const char *name;
	int (*run)(char *err, size_t errlen);
};

/* Every scenario that runs with threads (the TSan subset), NULL-terminated
 * list defined in tsan_main.c from the declarations below. */

#endif
