/* Readers follow a published table while a writer swaps and retires tables.
 * Under ASan a premature free shows as a use-after-free; the value check catches a
 * torn or half-built table. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cp/epoch.h"
#include "cp_test.h"

#define N_READERS 3
#define TABLE_WORDS 64

typedef struct {
  uint64_t gen;
  uint64_t w[TABLE_WORDS];
} table_t;

static cp_epoch_t *dom;
static void *_Atomic current;
static atomic_int stop;
static atomic_int bad;
static atomic_long freed;

static void free_table(void *obj, void *ctx)
{
  (void)ctx;
  table_t *t = obj;
  for (int i = 0; i < TABLE_WORDS; i++)
    t->w[i] = 0xdeadbeef; /* poison: a reader still holding it would notice */
  free(t);
  atomic_fetch_add(&freed, 1);
}

static table_t *make(uint64_t gen)
{
  table_t *t = malloc(sizeof(*t));
  t->gen = gen;
  for (int i = 0; i < TABLE_WORDS; i++)
    t->w[i] = gen * 1000 + (uint64_t)i;
  return t;
}

static void *reader(void *arg)
{
  uint32_t idx = (uint32_t)(uintptr_t)arg;
  cp_epoch_reader_t *r = cp_epoch_reader(dom, idx);
  while (!atomic_load(&stop)) {
    cp_epoch_enter_r(cp_epoch_global(dom), r);
    for (int rep = 0; rep < 8; rep++) {
      table_t *t = cp_epoch_deref(&current);
      for (int i = 0; i < TABLE_WORDS; i++)
        if (t->w[i] != t->gen * 1000 + (uint64_t)i)
          atomic_fetch_add(&bad, 1);
    }
    cp_epoch_exit_r(r);
  }
  return NULL;
}

static void test_readers_never_see_freed_or_partial_tables(void)
{
  atomic_store(&freed, 0);
  dom = cp_epoch_create(N_READERS);
  CHECK(dom != NULL);
  atomic_store(&current, make(1));
  pthread_t th[N_READERS];
  for (uintptr_t i = 0; i < N_READERS; i++)
    pthread_create(&th[i], NULL, reader, (void *)i);
  for (uint64_t g = 2; g < 1500; g++) {
    void *old = cp_epoch_publish(dom, &current, make(g));
    if (g % 2)
      CHECK_EQ(cp_epoch_retire(dom, old, free_table, NULL), 0);
    else {
      cp_epoch_synchronize(dom);
      free_table(old, NULL);
    }
    cp_epoch_reclaim(dom);
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < N_READERS; i++)
    pthread_join(th[i], NULL);
  cp_epoch_reclaim(dom);
  CHECK_EQ(cp_epoch_pending(dom), 0);
  CHECK_EQ(atomic_load(&bad), 0);
  CHECK_EQ(atomic_load(&freed), 1498);
  free_table(atomic_load(&current), NULL);
  cp_epoch_destroy(dom);
}

static void test_reclaim_waits_for_an_active_reader(void)
{
  cp_epoch_t *e = cp_epoch_create(2);
  void *_Atomic slot = make(1);
  cp_epoch_enter(e, 0); /* reader 0 holds generation 1 */
  void *old = cp_epoch_publish(e, &slot, make(2));
  CHECK_EQ(cp_epoch_retire(e, old, free_table, NULL), 0);
  CHECK_EQ(cp_epoch_reclaim(e), 0); /* still held */
  CHECK_EQ(cp_epoch_pending(e), 1);
  cp_epoch_exit(e, 0);
  CHECK_EQ(cp_epoch_reclaim(e), 1);
  cp_epoch_enter(e, 1); /* entering after the retire does not block reclamation */
  old = cp_epoch_publish(e, &slot, make(3));
  cp_epoch_exit(e, 1);
  cp_epoch_enter(e, 1);
  CHECK_EQ(cp_epoch_retire(e, old, free_table, NULL), 0);
  CHECK_EQ(cp_epoch_reclaim(e), 0); /* reader 1 entered before this retire */
  cp_epoch_exit(e, 1);
  CHECK_EQ(cp_epoch_reclaim(e), 1);
  free_table(atomic_load(&slot), NULL);
  cp_epoch_destroy(e);
  CHECK(cp_epoch_create(0) == NULL);
}

int main(void)
{
  RUN(test_reclaim_waits_for_an_active_reader);
  RUN(test_readers_never_see_freed_or_partial_tables);
  TEST_MAIN_END();
}
