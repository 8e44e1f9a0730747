/* Callgrind's client requests, for bench/peers/callgrind.py (built with gcc by bench/counts.py).
   Under valgrind they switch instrumentation on and off and dump the count; elsewhere they do nothing. */
#include <valgrind/callgrind.h>

void bench_start(void) {
    CALLGRIND_ZERO_STATS;
    CALLGRIND_START_INSTRUMENTATION;
}

void bench_stop(void) {
    CALLGRIND_STOP_INSTRUMENTATION;
    CALLGRIND_DUMP_STATS_AT("bench");
}
