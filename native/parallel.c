// The thread pool of parallel.h. Workers start on first use and sleep on a condition variable between jobs; the
// calling (JS) thread runs the first part itself and waits for the rest. One job at a time: JS calls the kernels
// from one thread, and a job is finished before its call returns.
#include "parallel.h"
#include <pthread.h>
#include <stdint.h>

#define MAX_THREADS 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static int threads = 1, started = 0, pending = 0;
static unsigned long generation = 0;
static struct { nestar_range_fn fn; void *ctx; size_t n; int parts; } job;

static void run_part(nestar_range_fn fn, void *ctx, size_t n, int parts, int id) {
  const size_t lo = n / parts * id + (n % parts < (size_t)id ? n % parts : (size_t)id);
  const size_t len = n / parts + ((size_t)id < n % parts ? 1 : 0);
  if (len) fn(ctx, lo, lo + len);
}

static void *worker(void *arg) {
  const int id = (int)(intptr_t)arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&mu);
  for (;;) {
    while (generation == seen) pthread_cond_wait(&go, &mu);
    seen = generation;
    if (id >= job.parts) continue;
    const nestar_range_fn fn = job.fn;
    void *ctx = job.ctx;
    const size_t n = job.n;
    const int parts = job.parts;
    pthread_mutex_unlock(&mu);
    run_part(fn, ctx, n, parts, id);
    pthread_mutex_lock(&mu);
    if (--pending == 0) pthread_cond_signal(&done);
  }
  return NULL;
}

void nestar_parallel_for(size_t n, size_t grain, nestar_range_fn fn, void *ctx) {
  int parts = threads;
  if (grain && n / grain < (size_t)parts) parts = (int)(n / grain);
  if (parts <= 1) {
    if (n) fn(ctx, 0, n);
    return;
  }
  pthread_mutex_lock(&mu);
  while (started < parts - 1) {
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, worker, (void *)(intptr_t)(started + 1)) != 0) {
      pthread_attr_destroy(&at);
      break;
    }
    pthread_attr_destroy(&at);
    started++;
  }
  if (parts > started + 1) parts = started + 1; // a worker could not be started: fewer parts
  job.fn = fn;
  job.ctx = ctx;
  job.n = n;
  job.parts = parts;
  pending = parts - 1;
  generation++;
  pthread_cond_broadcast(&go);
  pthread_mutex_unlock(&mu);
  run_part(fn, ctx, n, parts, 0);
  pthread_mutex_lock(&mu);
  while (pending > 0) pthread_cond_wait(&done, &mu);
  pthread_mutex_unlock(&mu);
}

void nestar_set_pool_threads(int n) {
  threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
}

int nestar_pool_threads(void) { return threads; }
