/* libFuzzer target: sequences of calico_dnat API requests, random and mutated from valid
 * seeds. Input: records [u8 message index][u16 length][body]; the message id is set from
 * the index, everything else is fuzzed. Checks, besides ASan/UBSan and LeakSanitizer (a
 * fresh core per input, destroyed at the end):
 *   - every reply is a message of this plugin echoing the request's context;
 *   - a rejected request (error reply or no reply) leaves every dump unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.api_wire.h"
#include "cdn_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE 512

static const uint16_t dumps[] = {
    VL_API_CALICO_DNAT_INTERFACE_DUMP, VL_API_CALICO_DNAT_TRANSLATION_DUMP,
    VL_API_CALICO_DNAT_NODE_ADDRESS_DUMP, VL_API_CALICO_DNAT_SNAT_ADDRESS_DUMP,
    VL_API_CALICO_DNAT_SNAT_PREFIX_DUMP};

static int is_dump(uint32_t idx)
{
  for (unsigned i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++)
    if (dumps[i] == idx)
      return 1;
  return idx == VL_API_CALICO_DNAT_SESSION_DUMP;
}

/* every dump's details, concatenated: the observable configuration */
static void snapshot(cdn_api_t *api, cp_api_collect_t *c)
{
  cp_api_collect_reset(c);
  for (unsigned i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
    uint8_t m[10] = {0};
    uint16_t id = (uint16_t)(BASE + dumps[i]);
    m[0] = (uint8_t)(id >> 8);
    m[1] = (uint8_t)id;
    if (cdn_api_handle(api, m, sizeof(m), cp_api_collect_send, c) != CP_API_HANDLED)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  cdn_config_t cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.n_workers = 2;
  cfg.max_sessions = 64;
  cfg.max_translations = 64;
  cfg.max_backends = 256;
  cfg.affinity_entries = 16;
  int err = 0;
  cdn_ctx_t *core = cdn_create(&cfg, &err);
  if (!core)
    abort();
  cdn_api_t *api = cdn_api_create(core, 2, BASE);
  if (!api)
    abort();
  cp_api_collect_t out = {0}, before = {0}, after = {0};
  size_t off = 0;
  while (off + 3 <= size) {
    uint32_t idx = data[off] % VL_MSG_CALICO_DNAT_LAST;
    uint32_t len = (uint32_t)data[off + 1] << 8 | data[off + 2];
    off += 3;
    if (len > size - off)
      len = (uint32_t)(size - off);
    uint8_t *msg = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
    if (!msg)
      abort();
    memcpy(msg, data + off, len);
    off += len;
    uint16_t id = (uint16_t)(BASE + idx);
    if (len >= 2) {
      msg[0] = (uint8_t)(id >> 8);
      msg[1] = (uint8_t)id;
    }
    snapshot(api, &before);
    cp_api_collect_reset(&out);
    int rc = cdn_api_handle(api, msg, len, cp_api_collect_send, &out);
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
      if (rid < BASE || rid >= BASE + VL_MSG_CALICO_DNAT_LAST)
        abort();
      if (memcmp(r + 2, msg + 6, 4))
        abort();
      /* a non-dump reply: u16 id, u32 context, i32 retval */
      if (!is_dump(idx) && (l < 10 || r[6] | r[7] | r[8] | r[9]))
        rejected = 1;
    }
    if (bad)
      abort();
    if (rejected) {
      snapshot(api, &after);
      if (before.len != after.len || (before.len && memcmp(before.buf, after.buf, before.len)))
        abort();
    }
    free(msg);
  }
  cp_api_collect_free(&out);
  cp_api_collect_free(&before);
  cp_api_collect_free(&after);
  cdn_api_destroy(api);
  cdn_destroy(core);
  return 0;
}
