/*
 * Epoch-based reclamation (quiescent-state RCU) for read-mostly tables.
 *
 * Readers (one slot per worker) bracket each batch with cp_epoch_enter/exit and
 * read shared tables through pointers loaded with cp_epoch_deref. A writer builds
 * a new table, publishes it with cp_epoch_publish, and either waits for the
 * readers (cp_epoch_synchronize) or hands the old table to cp_epoch_retire, whose
 * objects cp_epoch_reclaim frees once no reader can still hold them. Readers never
 * lock, never wait and never see a half-built table.
 */
#ifndef CP_EPOCH_H
#define CP_EPOCH_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  alignas(64) _Atomic uint64_t epoch; /* 0: quiescent, else the epoch seen at enter */
} cp_epoch_reader_t;

typedef void (*cp_epoch_free_fn)(void *obj, void *ctx);

typedef struct cp_epoch cp_epoch_t;

cp_epoch_t *cp_epoch_create(uint32_t n_readers);
/* Frees every retired object, then the domain. No reader may be inside. */
void cp_epoch_destroy(cp_epoch_t *e);
uint32_t cp_epoch_n_readers(const cp_epoch_t *e);
cp_epoch_reader_t *cp_epoch_reader(cp_epoch_t *e, uint32_t idx);
_Atomic uint64_t *cp_epoch_global(cp_epoch_t *e);

static inline void cp_epoch_enter_r(_Atomic uint64_t *global, cp_epoch_reader_t *r)
{
  atomic_store_explicit(&r->epoch, atomic_load_explicit(global, memory_order_relaxed),
                        memory_order_relaxed);
  /* the store must be visible before any shared pointer is loaded */
  atomic_thread_fence(memory_order_seq_cst);
}

static inline void cp_epoch_exit_r(cp_epoch_reader_t *r)
{
  atomic_store_explicit(&r->epoch, 0, memory_order_release);
}

static inline void *cp_epoch_deref(void *_Atomic const *slot)
{
  return atomic_load_explicit((void *_Atomic *)slot, memory_order_acquire);
}

/* Exported forms (bindings, callers that do not inline). */
void cp_epoch_enter(cp_epoch_t *e, uint32_t reader);
void cp_epoch_exit(cp_epoch_t *e, uint32_t reader);

/* Store `obj` into `slot` (release) and return the previous value. */
void *cp_epoch_publish(cp_epoch_t *e, void *_Atomic *slot, void *obj);
/* Wait until every reader inside a section begun before this call has left it. */
void cp_epoch_synchronize(cp_epoch_t *e);
/* Defer free_fn(obj, ctx) until no reader can hold obj. 0 on success, -1 on ENOMEM
 * (then the call synchronizes and frees at once: nothing leaks). */
int cp_epoch_retire(cp_epoch_t *e, void *obj, cp_epoch_free_fn free_fn, void *ctx);
/* Free what is safe now, without waiting; returns how many objects were freed. */
uint32_t cp_epoch_reclaim(cp_epoch_t *e);
/* Objects retired and not yet freed. */
uint32_t cp_epoch_pending(cp_epoch_t *e);

#ifdef __cplusplus
}
#endif
#endif /* CP_EPOCH_H */
