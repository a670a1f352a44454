#include "cp/flowhash.h"

uint32_t cp_flow_hash_pkt(const cp_pkt_t *p, uint32_t fields, uint64_t seed)
{
  return cp_flow_hash(p, fields, seed);
}

void cp_flow_hash_burst(const cp_pkt_t *p, uint32_t n, uint32_t fields, uint64_t seed,
                        uint32_t *out)
{
  for (uint32_t i = 0; i < n; i++)
    out[i] = cp_flow_hash(&p[i], fields, seed);
}
