/* The driver both API fuzzers share. An input is a sequence of records
 * [u8 message index][u16 length][body]; the message id is set from the index, everything
 * else is fuzzed. Checks, besides ASan/UBSan and LeakSanitizer:
 *   - every reply is a message of this plugin echoing the request's context;
 *   - a rejected request (error reply or no reply) leaves every dump unchanged. */
#ifndef CP_API_FUZZ_H
#define CP_API_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp/api.h"

typedef struct {
  void *api;
  uint16_t base;   /* message id base the plugin was created with */
  uint32_t n_msgs; /* messages in the plugin's table */
  int (*handle)(void *api, const uint8_t *msg, uint32_t len, cp_api_send_fn send, void *arg);
  /* every dump's details, concatenated: the observable configuration */
  void (*snapshot)(void *api, cp_api_collect_t *c);
  int (*is_dump)(uint32_t idx);
} cp_api_fuzz_t;

static void cp_api_fuzz_run(const cp_api_fuzz_t *f, const uint8_t *data, size_t size)
{
  cp_api_collect_t out = {0}, before = {0}, after = {0};
  size_t off = 0;
  while (off + 3 <= size) {
    uint32_t idx = data[off] % f->n_msgs;
    uint32_t len = (uint32_t)data[off + 1] << 8 | data[off + 2];
    off += 3;
    if (len > size - off)
      len = (uint32_t)(size - off);
    uint8_t *msg = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
    if (!msg)
      abort();
    memcpy(msg, data + off, len);
    off += len;
    uint16_t id = (uint16_t)(f->base + idx);
    if (len >= 2) {
      msg[0] = (uint8_t)(id >> 8);
      msg[1] = (uint8_t)id;
    }
    f->snapshot(f->api, &before);
    cp_api_collect_reset(&out);
    int rc = f->handle(f->api, msg, len, cp_api_collect_send, &out);
    int rejected = rc != CP_API_HANDLED;
    if (rejected && out.n_msgs)
      abort(); /* no reply means nothing sent */
    uint32_t o = 0, l = 0;
    int bad = 0;
    const uint8_t *r;
    while ((r = cp_api_batch_next(out.buf, out.len, &o, &l, &bad))) {
      if (l < 6)
        abort();
      uint16_t rid = (uint16_t)(r[0] << 8 | r[1]);
      if (rid < f->base || rid >= f->base + f->n_msgs)
        abort();
      if (memcmp(r + 2, msg + 6, 4))
        abort();
      /* a non-dump reply: u16 id, u32 context, i32 retval */
      if (!f->is_dump(idx) && (l < 10 || r[6] | r[7] | r[8] | r[9]))
        rejected = 1;
    }
    if (bad)
      abort();
    if (rejected) {
      f->snapshot(f->api, &after);
      if (before.len != after.len || (before.len && memcmp(before.buf, after.buf, before.len)))
        abort();
    }
    free(msg);
  }
  cp_api_collect_free(&out);
  cp_api_collect_free(&before);
  cp_api_collect_free(&after);
}

#endif /* CP_API_FUZZ_H */
