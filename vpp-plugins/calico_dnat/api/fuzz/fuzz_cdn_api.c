/* libFuzzer target: sequences of calico_dnat API requests, random and mutated from valid
 * seeds, through the shared driver (cp_api_fuzz.h: input format and checks); a fresh
 * core per input, destroyed at the end (LeakSanitizer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.api_wire.h"
#include "cdn_api.h"
#include "cp_api_fuzz.h"

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

static int handle(void *api, const uint8_t *msg, uint32_t len, cp_api_send_fn send, void *arg)
{
  return cdn_api_handle((cdn_api_t *)api, msg, len, send, arg);
}

static void snapshot_any(void *api, cp_api_collect_t *c) { snapshot((cdn_api_t *)api, c); }

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
  cp_api_fuzz_t f = {api, BASE, VL_MSG_CALICO_DNAT_LAST, handle, snapshot_any, is_dump};
  cp_api_fuzz_run(&f, data, size);
  cdn_api_destroy(api);
  cdn_destroy(core);
  return 0;
}
