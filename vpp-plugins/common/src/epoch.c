/* Epoch-based reclamation; see cp/epoch.h. Writers serialize on a mutex. */
#include "cp/epoch.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

typedef struct {
  void *obj;
  cp_epoch_free_fn fn;
  void *ctx;
  uint64_t epoch; /* freed once every reader is quiescent or at/after this epoch */
} cp_retired_t;

struct cp_epoch {
  _Atomic uint64_t global;
  uint32_t n_readers;
  cp_epoch_reader_t *readers;
  pthread_mutex_t lock;
  cp_retired_t *retired;
  uint32_t n_retired, cap_retired;
};

cp_epoch_t *cp_epoch_create(uint32_t n_readers)
{
  if (n_readers == 0 || n_readers > 4096)
    return NULL;
  cp_epoch_t *e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  e->readers = aligned_alloc(64, sizeof(cp_epoch_reader_t) * n_readers);
  if (!e->readers) {
    free(e);
    return NULL;
  }
  for (uint32_t i = 0; i < n_readers; i++)
    atomic_init(&e->readers[i].epoch, 0);
  atomic_init(&e->global, 1);
  e->n_readers = n_readers;
  pthread_mutex_init(&e->lock, NULL);
  return e;
}

void cp_epoch_destroy(cp_epoch_t *e)
{
  if (!e)
    return;
  for (uint32_t i = 0; i < e->n_retired; i++)
    e->retired[i].fn(e->retired[i].obj, e->retired[i].ctx);
  free(e->retired);
  pthread_mutex_destroy(&e->lock);
  free(e->readers);
  free(e);
}

uint32_t cp_epoch_n_readers(const cp_epoch_t *e) { return e->n_readers; }

cp_epoch_reader_t *cp_epoch_reader(cp_epoch_t *e, uint32_t idx)
{
  return idx < e->n_readers ? &e->readers[idx] : NULL;
}

_Atomic uint64_t *cp_epoch_global(cp_epoch_t *e) { return &e->global; }

void cp_epoch_enter(cp_epoch_t *e, uint32_t reader)
{
  cp_epoch_enter_r(&e->global, &e->readers[reader]);
}

void cp_epoch_exit(cp_epoch_t *e, uint32_t reader) { cp_epoch_exit_r(&e->readers[reader]); }

void *cp_epoch_publish(cp_epoch_t *e, void *_Atomic *slot, void *obj)
{
  (void)e;
  return atomic_exchange_explicit(slot, obj, memory_order_acq_rel);
}

/* Advance the epoch; returns the new value. Readers entering from now on see
 * everything published before the call. */
static uint64_t advance(cp_epoch_t *e)
{
  uint64_t ne = atomic_fetch_add_explicit(&e->global, 1, memory_order_seq_cst) + 1;
  atomic_thread_fence(memory_order_seq_cst);
  return ne;
}

static int reader_clear(cp_epoch_t *e, uint32_t i, uint64_t target)
{
  uint64_t r = atomic_load_explicit(&e->readers[i].epoch, memory_order_acquire);
  return r == 0 || r >= target;
}

void cp_epoch_synchronize(cp_epoch_t *e)
{
  uint64_t target = advance(e);
  for (uint32_t i = 0; i < e->n_readers; i++)
    while (!reader_clear(e, i, target))
      sched_yield();
}

int cp_epoch_retire(cp_epoch_t *e, void *obj, cp_epoch_free_fn free_fn, void *ctx)
{
  if (!obj)
    return 0;
  uint64_t target = advance(e);
  pthread_mutex_lock(&e->lock);
  if (e->n_retired == e->cap_retired) {
    uint32_t cap = e->cap_retired ? e->cap_retired * 2 : 16;
    cp_retired_t *n = realloc(e->retired, sizeof(*n) * cap);
    if (!n) {
      pthread_mutex_unlock(&e->lock);
      cp_epoch_synchronize(e);
      free_fn(obj, ctx);
      return -1;
    }
    e->retired = n;
    e->cap_retired = cap;
  }
  e->retired[e->n_retired++] = (cp_retired_t){obj, free_fn, ctx, target};
  pthread_mutex_unlock(&e->lock);
  return 0;
}

uint32_t cp_epoch_reclaim(cp_epoch_t *e)
{
  uint64_t min_active = UINT64_MAX;
  for (uint32_t i = 0; i < e->n_readers; i++) {
    uint64_t r = atomic_load_explicit(&e->readers[i].epoch, memory_order_acquire);
    if (r && r < min_active)
      min_active = r;
  }
  uint32_t freed = 0, keep = 0;
  pthread_mutex_lock(&e->lock);
  for (uint32_t i = 0; i < e->n_retired; i++) {
    cp_retired_t *r = &e->retired[i];
    if (r->epoch <= min_active) {
      r->fn(r->obj, r->ctx);
      freed++;
    } else {
      e->retired[keep++] = *r;
    }
  }
  e->n_retired = keep;
  pthread_mutex_unlock(&e->lock);
  return freed;
}

uint32_t cp_epoch_pending(cp_epoch_t *e)
{
  pthread_mutex_lock(&e->lock);
  uint32_t n = e->n_retired;
  pthread_mutex_unlock(&e->lock);
  return n;
}
