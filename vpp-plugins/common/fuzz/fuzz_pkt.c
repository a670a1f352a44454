/* libFuzzer target: the packet view parser on arbitrary bytes. Besides memory safety
 * (ASan/UBSan), it checks the invariants the fast paths rely on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp/flowhash.h"
#include "cp/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 65535)
    return 0;
  /* copy into an exact-size heap buffer so ASan sees any over-read */
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf)
    return 0;
  memcpy(buf, data, size);
  cp_pkt_t p;
  int rv = cp_pkt_parse(buf, (uint32_t)size, &p);
  if (rv != p.status)
    abort();
  /* the IPv4 TCP/UDP shortcut must produce exactly the general parser's view */
  cp_pkt_t g;
  if (cp_pkt_parse_general(buf, (uint32_t)size, &g) != rv || memcmp(&g, &p, sizeof(p)))
    abort();
  /* cp_pkt_parse_outer: the same fields before `inner` over a view full of junk, and the
   * same `inner` whenever it is meaningful (an ICMP error) */
  cp_pkt_t o;
  memset(&o, 0xa5, sizeof(o));
  if (cp_pkt_parse_outer(buf, (uint32_t)size, &o) != rv ||
      memcmp(&g, &o, offsetof(cp_pkt_t, inner)) ||
      ((g.flags & CP_PKT_F_ICMP_ERROR) && memcmp(&g.inner, &o.inner, sizeof(g.inner))))
    abort();
  if (rv == CP_PKT_OK) {
    if (p.af != 4 && p.af != 6)
      abort();
    if (p.l4_offset > size)
      abort();
    if ((p.flags & CP_PKT_F_HAS_L4) && (p.flags & CP_PKT_F_LATER_FRAG))
      abort();
    if ((p.flags & CP_PKT_F_ICMP_ERROR) && (p.inner.l4_offset > size))
      abort();
    /* symmetric hash must not depend on direction */
    uint32_t h1 = cp_flow_hash_tuple(&p.src, &p.dst, p.sport, p.dport, p.proto, CP_FH_ALL, 7);
    uint32_t h2 = cp_flow_hash_tuple(&p.dst, &p.src, p.dport, p.sport, p.proto, CP_FH_ALL, 7);
    if (h1 != h2)
      abort();
  }
  free(buf);
  return 0;
}
