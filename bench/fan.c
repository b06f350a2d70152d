/* SPDX-License-Identifier: MIT */
/* placeholder: replaced below */
#include "bench.h"
const struct transport fan_transports[] = {{0}};
