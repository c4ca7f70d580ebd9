// A small persistent thread pool for the native pack's element-wise and row-wise kernels (native/parallel.c).
#ifndef NESTAR_PARALLEL_H
#define NESTAR_PARALLEL_H
#include <stddef.h>

typedef void (*nestar_range_fn)(void *ctx, size_t lo, size_t hi);

// Runs fn over [0, n) split into contiguous parts, one per thread, each at least `grain` long (fewer threads when
// n is small; in the calling thread alone for one). Parts never overlap, so element-wise results do not depend on
// the thread count.
void nestar_parallel_for(size_t n, size_t grain, nestar_range_fn fn, void *ctx);
void nestar_set_pool_threads(int n);
int nestar_pool_threads(void);

#endif
