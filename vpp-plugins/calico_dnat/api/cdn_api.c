/* calico_dnat API message handlers (see cdn_api.h). */
#include "cdn_api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.api_wire.h"
#include "cp/flowhash.h"

struct cdn_api {
  cdn_ctx_t *core;
  uint32_t n_workers;
  uint16_t base;
  cp_api_ifset_t ifs; /* interfaces the feature is enabled on */
  struct {
    uint8_t af;
    cp_addr_t a;
  } node[CDN_MAX_NODE_ADDRS];
  uint32_t n_node;
  uint8_t snat_set[2]; /* [0] IPv4, [1] IPv6 */
  cp_addr_t snat[2];
  struct {
    uint8_t kind, af, len;
    cp_addr_t a;
  } pfx[2 * CDN_MAX_PREFIXES];
  uint32_t n_pfx;
};

typedef struct {
  cdn_api_t *a;
  cp_api_send_fn send;
  void *arg;
  uint32_t context;
} req_t;

static const char *const msg_name_crc[] = {
#define X(n) VL_API_##n##_CRC,
  X(CALICO_DNAT_GET_VERSION) X(CALICO_DNAT_GET_VERSION_REPLY)
  X(CALICO_DNAT_INTERFACE_ENABLE_DISABLE) X(CALICO_DNAT_INTERFACE_ENABLE_DISABLE_REPLY)
  X(CALICO_DNAT_INTERFACE_DUMP) X(CALICO_DNAT_INTERFACE_DETAILS)
  X(CALICO_DNAT_TRANSLATION_UPDATE) X(CALICO_DNAT_TRANSLATION_UPDATE_REPLY)
  X(CALICO_DNAT_TRANSLATION_DEL) X(CALICO_DNAT_TRANSLATION_DEL_REPLY)
  X(CALICO_DNAT_TRANSLATION_DUMP) X(CALICO_DNAT_TRANSLATION_DETAILS)
  X(CALICO_DNAT_NODE_ADDRESS_ADD_DEL) X(CALICO_DNAT_NODE_ADDRESS_ADD_DEL_REPLY)
  X(CALICO_DNAT_NODE_ADDRESS_DUMP) X(CALICO_DNAT_NODE_ADDRESS_DETAILS)
  X(CALICO_DNAT_SNAT_ADDRESS_SET) X(CALICO_DNAT_SNAT_ADDRESS_SET_REPLY)
  X(CALICO_DNAT_SNAT_ADDRESS_DUMP) X(CALICO_DNAT_SNAT_ADDRESS_DETAILS)
  X(CALICO_DNAT_SNAT_PREFIX_ADD_DEL) X(CALICO_DNAT_SNAT_PREFIX_ADD_DEL_REPLY)
  X(CALICO_DNAT_SNAT_PREFIX_DUMP) X(CALICO_DNAT_SNAT_PREFIX_DETAILS)
  X(CALICO_DNAT_SESSION_DUMP) X(CALICO_DNAT_SESSION_DETAILS)
  X(CALICO_DNAT_SESSION_PURGE) X(CALICO_DNAT_SESSION_PURGE_REPLY)
#undef X
};
_Static_assert(sizeof(msg_name_crc) / sizeof(msg_name_crc[0]) == VL_MSG_CALICO_DNAT_LAST,
               "every message of calico_dnat.api is listed");

uint32_t cdn_api_msg_count(void)
{
  return VL_MSG_CALICO_DNAT_LAST;
}

const char *cdn_api_msg_name_crc(uint32_t i)
{
  return i < VL_MSG_CALICO_DNAT_LAST ? msg_name_crc[i] : NULL;
}

uint16_t cdn_api_msg_id_base(const cdn_api_t *a)
{
  return a->base;
}

cdn_api_t *cdn_api_create(cdn_ctx_t *core, uint32_t n_workers, uint16_t msg_id_base)
{
  if (!core || n_workers == 0 || n_workers > CDN_MAX_WORKERS)
    return NULL;
  cdn_api_t *a = calloc(1, sizeof(*a));
  if (!a)
    return NULL;
  a->core = core;
  a->n_workers = n_workers;
  a->base = msg_id_base;
  return a;
}

void cdn_api_destroy(cdn_api_t *a)
{
  if (!a)
    return;
  cp_api_ifset_free(&a->ifs);
  free(a);
}

void cdn_api_set_interface_fn(cdn_api_t *a, cp_api_interface_fn fn, void *arg)
{
  a->ifs.fn = fn;
  a->ifs.arg = arg;
}

/* ---- replies ---------------------------------------------------------------------------- */

static int32_t rv_from_core(int rc)
{
  if (rc >= 0)
    return CP_API_OK;
  switch (-rc) {
  case EINVAL:
    return CP_API_E_INVALID_VALUE;
  case EEXIST:
    return CP_API_E_ENTRY_ALREADY_EXISTS;
  case ENOENT:
    return CP_API_E_NO_SUCH_ENTRY;
  case ENOSPC:
    return CP_API_E_TABLE_TOO_BIG;
  case EAFNOSUPPORT:
    return CP_API_E_INVALID_ADDRESS_FAMILY;
  default:
    return CP_API_E_UNSPECIFIED;
  }
}

/* context + retval replies (every autoreply has this layout) */
static void send_rv(req_t *r, uint32_t reply_index, int32_t rv)
{
  vl_api_calico_dnat_translation_del_reply_t m;
  m._vl_msg_id = (u16)(r->a->base + reply_index);
  m.context = r->context;
  m.retval = rv;
  uint32_t len = vl_api_calico_dnat_translation_del_reply_t_encode(&m);
  r->send(r->arg, &m, len);
}

static int valid_bool(uint8_t b)
{
  return b <= 1;
}

static int valid_proto(uint8_t p)
{
  return p == CP_IPPROTO_TCP || p == CP_IPPROTO_UDP || p == CP_IPPROTO_SCTP;
}

static int addr_in(const vl_api_address_t *w, uint8_t *af, cp_addr_t *out)
{
  return cp_api_addr_from_wire(w->af, w->un.ip6, af, out);
}

static void addr_out(uint8_t af, const cp_addr_t *a, vl_api_address_t *w)
{
  uint8_t waf;
  cp_api_addr_to_wire(af, a, &waf, w->un.ip6);
  w->af = (vl_api_address_family_t)waf;
}

/* ---- interfaces -------------------------------------------------------------------------- */

static int32_t h_interface_enable_disable(req_t *r,
                                          vl_api_calico_dnat_interface_enable_disable_t *mp)
{
  cdn_api_t *a = r->a;
  if (!valid_bool(mp->is_enable) || !valid_bool(mp->is_pod))
    return CP_API_E_INVALID_VALUE;
  if (mp->sw_if_index == CDN_INVALID_ID)
    return CP_API_E_INVALID_SW_IF_INDEX;
  return cp_api_ifset_set(&a->ifs, mp->sw_if_index, mp->is_enable,
                          mp->is_enable && mp->is_pod ? CDN_API_IF_POD : 0);
}

static void h_interface_dump(req_t *r)
{
  for (uint32_t i = 0; i < r->a->ifs.n; i++) {
    vl_api_calico_dnat_interface_details_t d;
    d._vl_msg_id = (u16)(r->a->base + VL_API_CALICO_DNAT_INTERFACE_DETAILS);
    d.context = r->context;
    d.sw_if_index = r->a->ifs.v[i];
    d.is_pod = (r->a->ifs.flags[i] & CDN_API_IF_POD) != 0;
    uint32_t len = vl_api_calico_dnat_interface_details_t_encode(&d);
    r->send(r->arg, &d, len);
  }
}

/* ---- translations ------------------------------------------------------------------------ */

static int32_t h_translation_update(req_t *r, vl_api_calico_dnat_translation_update_t *mp,
                                    uint32_t *id)
{
  cdn_translation_t t;
  memset(&t, 0, sizeof(t));
  int32_t rv = addr_in(&mp->vip, &t.af, &t.vip);
  if (rv)
    return rv;
  if (!valid_proto(mp->proto))
    return CP_API_E_INVALID_PROTOCOL;
  if (mp->kind > CALICO_DNAT_VIP_NODE_PORT)
    return CP_API_E_INVALID_VALUE;
  if (mp->flags & ~(CALICO_DNAT_TRANSLATION_F_EXT_LOCAL | CALICO_DNAT_TRANSLATION_F_INT_LOCAL |
                    CALICO_DNAT_TRANSLATION_F_AFFINITY))
    return CP_API_E_INVALID_VALUE;
  if (mp->hash_fields & ~(u32)CP_FH_ALL)
    return CP_API_E_INVALID_VALUE;
  if (mp->port == 0)
    return CP_API_E_INVALID_VALUE;
  if (mp->n_backends > CDN_MAX_BACKENDS_PER_XLAT)
    return CP_API_E_LIMIT_EXCEEDED;
  if (mp->kind == CALICO_DNAT_VIP_NODE_PORT)
    memset(&t.vip, 0, sizeof(t.vip));
  t.port = mp->port;
  t.proto = mp->proto;
  t.kind = mp->kind;
  t.flags = mp->flags;
  t.hash_fields = mp->hash_fields;
  t.affinity_timeout_s = mp->affinity_timeout_s;
  t.n_backends = mp->n_backends;
  cdn_backend_t *be = calloc(mp->n_backends ? mp->n_backends : 1, sizeof(*be));
  if (!be)
    return CP_API_E_UNSPECIFIED;
  for (uint32_t i = 0; i < mp->n_backends; i++) {
    const vl_api_calico_dnat_backend_t *w = &mp->backends[i];
    rv = addr_in(&w->addr, &be[i].af, &be[i].addr);
    if (!rv && be[i].af != t.af)
      rv = CP_API_E_INVALID_ADDRESS_FAMILY;
    if (!rv && (w->flags & ~(CALICO_DNAT_BACKEND_F_LOCAL | CALICO_DNAT_BACKEND_F_TERMINATING |
                             CALICO_DNAT_BACKEND_F_NO_NAT)))
      rv = CP_API_E_INVALID_VALUE;
    if (!rv && w->port == 0)
      rv = CP_API_E_INVALID_VALUE;
    if (rv) {
      free(be);
      return rv;
    }
    be[i].port = w->port;
    be[i].weight = w->weight;
    be[i].flags = w->flags;
  }
  t.backends = be;
  rv = rv_from_core(cdn_translation_update(r->a->core, &t, id));
  free(be);
  return rv;
}

static void send_translation_details(req_t *r, uint32_t id)
{
  cdn_translation_t t;
  int n = cdn_translation_get(r->a->core, id, &t, NULL, 0);
  if (n < 0)
    return;
  size_t len = sizeof(vl_api_calico_dnat_translation_details_t) +
               (size_t)n * sizeof(vl_api_calico_dnat_backend_t);
  vl_api_calico_dnat_translation_details_t *d = calloc(1, len);
  cdn_backend_t *be = calloc(n ? (size_t)n : 1, sizeof(*be));
  if (d && be && cdn_translation_get(r->a->core, id, &t, be, (uint32_t)n) == n) {
    d->_vl_msg_id = (u16)(r->a->base + VL_API_CALICO_DNAT_TRANSLATION_DETAILS);
    d->context = r->context;
    d->id = id;
    addr_out(t.af, &t.vip, &d->vip);
    d->port = t.port;
    d->proto = (vl_api_ip_proto_t)t.proto;
    d->kind = (vl_api_calico_dnat_vip_kind_t)t.kind;
    d->flags = (vl_api_calico_dnat_translation_flags_t)t.flags;
    d->hash_fields = (vl_api_calico_dnat_hash_fields_t)t.hash_fields;
    d->affinity_timeout_s = t.affinity_timeout_s;
    d->n_backends = (u32)n;
    for (int i = 0; i < n; i++) {
      addr_out(be[i].af, &be[i].addr, &d->backends[i].addr);
      d->backends[i].port = be[i].port;
      d->backends[i].weight = be[i].weight;
      d->backends[i].flags = (vl_api_calico_dnat_backend_flags_t)be[i].flags;
    }
    uint32_t wl = vl_api_calico_dnat_translation_details_t_encode(d);
    r->send(r->arg, d, wl);
  }
  free(be);
  free(d);
}

static void h_translation_dump(req_t *r)
{
  for (uint32_t id = cdn_translation_next(r->a->core, CDN_INVALID_ID); id != CDN_INVALID_ID;
       id = cdn_translation_next(r->a->core, id))
    send_translation_details(r, id);
}

/* ---- node addresses, SNAT ------------------------------------------------------------------ */

static int32_t h_node_address_add_del(req_t *r, vl_api_calico_dnat_node_address_add_del_t *mp)
{
  cdn_api_t *a = r->a;
  uint8_t af;
  cp_addr_t addr;
  if (!valid_bool(mp->is_add))
    return CP_API_E_INVALID_VALUE;
  int32_t rv = addr_in(&mp->addr, &af, &addr);
  if (rv)
    return rv;
  uint32_t i = 0;
  while (i < a->n_node && !(a->node[i].af == af && !memcmp(&a->node[i].a, &addr, sizeof(addr))))
    i++;
  if (mp->is_add) {
    if (i < a->n_node)
      return CP_API_E_ENTRY_ALREADY_EXISTS;
    if (a->n_node == CDN_MAX_NODE_ADDRS)
      return CP_API_E_LIMIT_EXCEEDED;
    rv = rv_from_core(cdn_node_addr_add(a->core, af, &addr));
    if (!rv) {
      a->node[a->n_node].af = af;
      a->node[a->n_node].a = addr;
      a->n_node++;
    }
    return rv;
  }
  if (i == a->n_node)
    return CP_API_E_NO_SUCH_ENTRY;
  rv = rv_from_core(cdn_node_addr_del(a->core, af, &addr));
  if (!rv) {
    a->node[i] = a->node[a->n_node - 1];
    a->n_node--;
  }
  return rv;
}

static void h_node_address_dump(req_t *r)
{
  for (uint32_t i = 0; i < r->a->n_node; i++) {
    vl_api_calico_dnat_node_address_details_t d;
    d._vl_msg_id = (u16)(r->a->base + VL_API_CALICO_DNAT_NODE_ADDRESS_DETAILS);
    d.context = r->context;
    addr_out(r->a->node[i].af, &r->a->node[i].a, &d.addr);
    uint32_t len = vl_api_calico_dnat_node_address_details_t_encode(&d);
    r->send(r->arg, &d, len);
  }
}

static int32_t h_snat_address_set(req_t *r, vl_api_calico_dnat_snat_address_set_t *mp)
{
  cdn_api_t *a = r->a;
  uint8_t af;
  cp_addr_t addr;
  if (!valid_bool(mp->is_set))
    return CP_API_E_INVALID_VALUE;
  int32_t rv = addr_in(&mp->addr, &af, &addr);
  if (rv)
    return rv;
  uint32_t k = af == 6;
  if (!mp->is_set && !a->snat_set[k])
    return CP_API_E_NO_SUCH_ENTRY;
  rv = rv_from_core(cdn_snat_addr_set(a->core, af, mp->is_set ? &addr : NULL));
  if (!rv) {
    a->snat_set[k] = mp->is_set;
    a->snat[k] = addr;
  }
  return rv;
}

static void h_snat_address_dump(req_t *r)
{
  for (uint32_t k = 0; k < 2; k++) {
    if (!r->a->snat_set[k])
      continue;
    vl_api_calico_dnat_snat_address_details_t d;
    d._vl_msg_id = (u16)(r->a->base + VL_API_CALICO_DNAT_SNAT_ADDRESS_DETAILS);
    d.context = r->context;
    addr_out(k ? 6 : 4, &r->a->snat[k], &d.addr);
    uint32_t len = vl_api_calico_dnat_snat_address_details_t_encode(&d);
    r->send(r->arg, &d, len);
  }
}

static int32_t h_snat_prefix_add_del(req_t *r, vl_api_calico_dnat_snat_prefix_add_del_t *mp)
{
  cdn_api_t *a = r->a;
  uint8_t af;
  cp_addr_t addr;
  if (!valid_bool(mp->is_add))
    return CP_API_E_INVALID_VALUE;
  if (mp->kind > CALICO_DNAT_SNAT_EXCLUDE)
    return CP_API_E_INVALID_VALUE;
  int32_t rv = addr_in(&mp->prefix.address, &af, &addr);
  if (rv)
    return rv;
  uint8_t len = mp->prefix.len;
  if (len > (af == 6 ? 128 : 32))
    return CP_API_E_INVALID_VALUE;
  if (!cp_api_prefix_is_canonical(&addr, af, len))
    return CP_API_E_INVALID_VALUE_2;
  uint32_t i = 0, n_kind = 0;
  for (uint32_t j = 0; j < a->n_pfx; j++)
    n_kind += a->pfx[j].kind == mp->kind;
  while (i < a->n_pfx &&
         !(a->pfx[i].kind == mp->kind && a->pfx[i].af == af && a->pfx[i].len == len &&
           !memcmp(&a->pfx[i].a, &addr, sizeof(addr))))
    i++;
  if (mp->is_add) {
    if (i < a->n_pfx)
      return CP_API_E_ENTRY_ALREADY_EXISTS;
    if (n_kind == CDN_MAX_PREFIXES)
      return CP_API_E_LIMIT_EXCEEDED;
    rv = rv_from_core(cdn_snat_prefix_add(a->core, mp->kind, af, &addr, len));
    if (!rv) {
      a->pfx[a->n_pfx].kind = mp->kind;
      a->pfx[a->n_pfx].af = af;
      a->pfx[a->n_pfx].len = len;
      a->pfx[a->n_pfx].a = addr;
      a->n_pfx++;
    }
    return rv;
  }
  if (i == a->n_pfx)
    return CP_API_E_NO_SUCH_ENTRY;
  rv = rv_from_core(cdn_snat_prefix_del(a->core, mp->kind, af, &addr, len));
  if (!rv) {
    memmove(&a->pfx[i], &a->pfx[i + 1], (a->n_pfx - i - 1) * sizeof(a->pfx[0]));
    a->n_pfx--;
  }
  return rv;
}

static void h_snat_prefix_dump(req_t *r)
{
  for (uint32_t i = 0; i < r->a->n_pfx; i++) {
    vl_api_calico_dnat_snat_prefix_details_t d;
    d._vl_msg_id = (u16)(r->a->base + VL_API_CALICO_DNAT_SNAT_PREFIX_DETAILS);
    d.context = r->context;
    d.kind = (vl_api_calico_dnat_snat_prefix_kind_t)r->a->pfx[i].kind;
    addr_out(r->a->pfx[i].af, &r->a->pfx[i].a, &d.prefix.address);
    d.prefix.len = r->a->pfx[i].len;
    uint32_t len = vl_api_calico_dnat_snat_prefix_details_t_encode(&d);
    r->send(r->arg, &d, len);
  }
}

/* ---- sessions ------------------------------------------------------------------------------ */

static int addr_eq(uint8_t af, const cp_addr_t *x, uint8_t faf, const cp_addr_t *y)
{
  return af == faf && !memcmp(x, y, sizeof(*x));
}

/* The session filter shared by dump and purge (calico_dnat_session_filter). */
typedef struct {
  uint8_t f, want_af, proto, faf;
  cp_addr_t fa;
  cdn_translation_t t;
} sess_filter_t;

static int filter_init(cdn_api_t *a, sess_filter_t *x, uint8_t f, uint8_t af, uint8_t proto,
                       uint32_t translation_id, const vl_api_address_t *address)
{
  memset(x, 0, sizeof(*x));
  x->f = f;
  x->proto = proto;
  if (f & ~(CALICO_DNAT_SESSION_FILTER_AF | CALICO_DNAT_SESSION_FILTER_PROTO |
            CALICO_DNAT_SESSION_FILTER_TRANSLATION | CALICO_DNAT_SESSION_FILTER_ADDRESS))
    return CP_API_E_INVALID_VALUE;
  if ((f & CALICO_DNAT_SESSION_FILTER_AF) && af > ADDRESS_IP6)
    return CP_API_E_INVALID_ADDRESS_FAMILY;
  x->want_af = af == ADDRESS_IP6 ? 6 : 4;
  if ((f & CALICO_DNAT_SESSION_FILTER_ADDRESS) && addr_in(address, &x->faf, &x->fa))
    return CP_API_E_INVALID_ADDRESS_FAMILY;
  if ((f & CALICO_DNAT_SESSION_FILTER_TRANSLATION) &&
      cdn_translation_get(a->core, translation_id, &x->t, NULL, 0) < 0)
    return CP_API_E_NO_SUCH_ENTRY;
  return CP_API_OK;
}

static int filter_match(const sess_filter_t *x, const cdn_session_info_t *s)
{
  const cdn_translation_t *t = &x->t;
  if ((x->f & CALICO_DNAT_SESSION_FILTER_AF) && s->af != x->want_af)
    return 0;
  if ((x->f & CALICO_DNAT_SESSION_FILTER_PROTO) && s->proto != x->proto)
    return 0;
  if ((x->f & CALICO_DNAT_SESSION_FILTER_TRANSLATION) &&
      (s->proto != t->proto || s->vip_port != t->port || s->af != t->af ||
       (t->kind != CDN_VIP_NODE_PORT && memcmp(&s->vip, &t->vip, sizeof(s->vip)))))
    return 0;
  if ((x->f & CALICO_DNAT_SESSION_FILTER_ADDRESS) &&
      !(addr_eq(s->af, &s->client, x->faf, &x->fa) || addr_eq(s->af, &s->vip, x->faf, &x->fa) ||
        addr_eq(s->af, &s->backend, x->faf, &x->fa) || addr_eq(s->af, &s->snat, x->faf, &x->fa)))
    return 0;
  return 1;
}

static int h_session_dump(req_t *r, vl_api_calico_dnat_session_dump_t *mp)
{
  cdn_api_t *a = r->a;
  sess_filter_t flt;
  if (filter_init(a, &flt, mp->filter, mp->af, mp->proto, mp->translation_id, &mp->address))
    return -1;
  uint32_t sent = 0;
  for (uint32_t w = 0; w < a->n_workers; w++) {
    for (uint32_t i = cdn_session_next(a->core, w, CDN_INVALID_ID); i != CDN_INVALID_ID;
         i = cdn_session_next(a->core, w, i)) {
      if (mp->max_sessions && sent == mp->max_sessions)
        return 0;
      cdn_session_info_t s;
      if (cdn_session_get(a->core, w, i, &s) < 0 || !filter_match(&flt, &s))
        continue;
      vl_api_calico_dnat_session_details_t d;
      memset(&d, 0, sizeof(d));
      d._vl_msg_id = (u16)(a->base + VL_API_CALICO_DNAT_SESSION_DETAILS);
      d.context = r->context;
      d.worker = w;
      d.index = i;
      d.proto = (vl_api_ip_proto_t)s.proto;
      addr_out(s.af, &s.client, &d.client);
      d.client_port = s.client_port;
      addr_out(s.af, &s.vip, &d.vip);
      d.vip_port = s.vip_port;
      addr_out(s.af, &s.backend, &d.backend);
      d.backend_port = s.backend_port;
      addr_out(s.af, &s.snat, &d.snat);
      d.snat_port = s.snat_port;
      d.backend_id = s.backend_id;
      d.expires_ms = s.expires_ms;
      d.tcp_state = s.tcp_state;
      d.verdict = s.verdict;
      d.flags = s.flags;
      uint32_t len = vl_api_calico_dnat_session_details_t_encode(&d);
      r->send(r->arg, &d, len);
      sent++;
    }
  }
  return 0;
}

static int32_t h_session_purge(cdn_api_t *a, vl_api_calico_dnat_session_purge_t *mp,
                               uint32_t *n_purged)
{
  sess_filter_t flt;
  int32_t rv = filter_init(a, &flt, mp->filter, mp->af, mp->proto, mp->translation_id,
                           &mp->address);
  if (rv)
    return rv;
  uint32_t n = 0;
  for (uint32_t w = 0; w < a->n_workers; w++) {
    if (!mp->filter) {
      n += cdn_sessions_flush(a->core, w);
      continue;
    }
    for (uint32_t i = cdn_session_next(a->core, w, CDN_INVALID_ID); i != CDN_INVALID_ID;
         i = cdn_session_next(a->core, w, i)) {
      cdn_session_info_t s;
      if (cdn_session_get(a->core, w, i, &s) == 0 && filter_match(&flt, &s))
        n += cdn_session_delete(a->core, w, i) == 0;
    }
  }
  *n_purged = n;
  return CP_API_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* Copy the request (the handlers convert in place) and check its layout: rv becomes
 * CP_API_E_INVALID_ARGUMENT when the length does not match, CP_API_E_UNSPECIFIED when
 * out of memory, and mp is then NULL. */
#define DECODE(T, mp, msg, len, rv)                                                               \
  T *mp = NULL;                                                                                   \
  int32_t rv = CP_API_E_INVALID_ARGUMENT;                                                         \
  if (len >= sizeof(T) && len <= CP_API_MAX_MSG) {                                                \
    mp = malloc(len);                                                                             \
    rv = CP_API_E_UNSPECIFIED;                                                                    \
    if (mp) {                                                                                     \
      memcpy(mp, msg, len);                                                                       \
      rv = CP_API_OK;                                                                             \
      if (T##_decode(mp, len)) {                                                                  \
        free(mp);                                                                                 \
        mp = NULL;                                                                                \
        rv = CP_API_E_INVALID_ARGUMENT;                                                           \
      }                                                                                           \
    }                                                                                             \
  }

int cdn_api_handle(cdn_api_t *a, const uint8_t *msg, uint32_t len, cp_api_send_fn send,
                   void *arg)
{
  /* every request starts with u16 id, u32 client_index, u32 context */
  if (!msg || len < 10)
    return CP_API_NO_REPLY_SHORT;
  uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
  if (id < a->base)
    return CP_API_NO_REPLY_UNKNOWN;
  uint32_t idx = (uint32_t)(id - a->base);
  req_t r = {a, send, arg, 0};
  memcpy(&r.context, msg + 6, 4);
  r.context = cp_api_swap32(r.context);

  switch (idx) {
  case VL_API_CALICO_DNAT_GET_VERSION: {
    int ok = len == sizeof(vl_api_calico_dnat_get_version_t);
    vl_api_calico_dnat_get_version_reply_t m;
    m._vl_msg_id = (u16)(a->base + VL_API_CALICO_DNAT_GET_VERSION_REPLY);
    m.context = r.context;
    m.retval = ok ? CP_API_OK : CP_API_E_INVALID_ARGUMENT;
    m.major = ok ? VL_API_CALICO_DNAT_API_VERSION_MAJOR : 0;
    m.minor = ok ? VL_API_CALICO_DNAT_API_VERSION_MINOR : 0;
    uint32_t l = vl_api_calico_dnat_get_version_reply_t_encode(&m);
    send(arg, &m, l);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_DNAT_INTERFACE_ENABLE_DISABLE: {
    DECODE(vl_api_calico_dnat_interface_enable_disable_t, mp, msg, len, rv);
    if (mp)
      rv = h_interface_enable_disable(&r, mp);
    free(mp);
    send_rv(&r, VL_API_CALICO_DNAT_INTERFACE_ENABLE_DISABLE_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_DNAT_TRANSLATION_UPDATE: {
    uint32_t tid = CDN_INVALID_ID;
    DECODE(vl_api_calico_dnat_translation_update_t, mp, msg, len, rv);
    if (mp)
      rv = h_translation_update(&r, mp, &tid);
    free(mp);
    vl_api_calico_dnat_translation_update_reply_t m;
    m._vl_msg_id = (u16)(a->base + VL_API_CALICO_DNAT_TRANSLATION_UPDATE_REPLY);
    m.context = r.context;
    m.retval = rv;
    m.id = rv ? CDN_INVALID_ID : tid;
    uint32_t l = vl_api_calico_dnat_translation_update_reply_t_encode(&m);
    send(arg, &m, l);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_DNAT_TRANSLATION_DEL: {
    int32_t rv = CP_API_E_INVALID_ARGUMENT;
    if (len == sizeof(vl_api_calico_dnat_translation_del_t)) {
      vl_api_calico_dnat_translation_del_t m;
      memcpy(&m, msg, len);
      vl_api_calico_dnat_translation_del_t_decode(&m, len);
      rv = rv_from_core(cdn_translation_del(a->core, m.id));
    }
    send_rv(&r, VL_API_CALICO_DNAT_TRANSLATION_DEL_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_DNAT_NODE_ADDRESS_ADD_DEL: {
    int32_t rv = CP_API_E_INVALID_ARGUMENT;
    if (len == sizeof(vl_api_calico_dnat_node_address_add_del_t)) {
      vl_api_calico_dnat_node_address_add_del_t m;
      memcpy(&m, msg, len);
      vl_api_calico_dnat_node_address_add_del_t_decode(&m, len);
      rv = h_node_address_add_del(&r, &m);
    }
    send_rv(&r, VL_API_CALICO_DNAT_NODE_ADDRESS_ADD_DEL_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_DNAT_SNAT_ADDRESS_SET: {
    int32_t rv = CP_API_E_INVALID_ARGUMENT;
    if (len == sizeof(vl_api_calico_dnat_snat_address_set_t)) {
      vl_api_calico_dnat_snat_address_set_t m;
      memcpy(&m, msg, len);
      vl_api_calico_dnat_snat_address_set_t_decode(&m, len);
      rv = h_snat_address_set(&r, &m);
    }
    send_rv(&r, VL_API_CALICO_DNAT_SNAT_ADDRESS_SET_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_DNAT_SNAT_PREFIX_ADD_DEL: {
    int32_t rv = CP_API_E_INVALID_ARGUMENT;
    if (len == sizeof(vl_api_calico_dnat_snat_prefix_add_del_t)) {
      vl_api_calico_dnat_snat_prefix_add_del_t m;
      memcpy(&m, msg, len);
      vl_api_calico_dnat_snat_prefix_add_del_t_decode(&m, len);
      rv = h_snat_prefix_add_del(&r, &m);
    }
    send_rv(&r, VL_API_CALICO_DNAT_SNAT_PREFIX_ADD_DEL_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_DNAT_SESSION_PURGE: {
    int32_t rv = CP_API_E_INVALID_ARGUMENT;
    uint32_t n = 0;
    if (len == sizeof(vl_api_calico_dnat_session_purge_t)) {
      vl_api_calico_dnat_session_purge_t m;
      memcpy(&m, msg, sizeof(m));
      vl_api_calico_dnat_session_purge_t_decode(&m, len);
      rv = h_session_purge(a, &m, &n);
    }
    vl_api_calico_dnat_session_purge_reply_t m;
    m._vl_msg_id = (u16)(a->base + VL_API_CALICO_DNAT_SESSION_PURGE_REPLY);
    m.context = r.context;
    m.retval = rv;
    m.n_purged = n;
    uint32_t l = vl_api_calico_dnat_session_purge_reply_t_encode(&m);
    send(arg, &m, l);
    return CP_API_HANDLED;
  }
  /* dumps: VPP sends no reply to a malformed dump, only the details of a good one */
  case VL_API_CALICO_DNAT_INTERFACE_DUMP:
    if (len != sizeof(vl_api_calico_dnat_interface_dump_t))
      return CP_API_NO_REPLY_DUMP;
    h_interface_dump(&r);
    return CP_API_HANDLED;
  case VL_API_CALICO_DNAT_TRANSLATION_DUMP:
    if (len != sizeof(vl_api_calico_dnat_translation_dump_t))
      return CP_API_NO_REPLY_DUMP;
    h_translation_dump(&r);
    return CP_API_HANDLED;
  case VL_API_CALICO_DNAT_NODE_ADDRESS_DUMP:
    if (len != sizeof(vl_api_calico_dnat_node_address_dump_t))
      return CP_API_NO_REPLY_DUMP;
    h_node_address_dump(&r);
    return CP_API_HANDLED;
  case VL_API_CALICO_DNAT_SNAT_ADDRESS_DUMP:
    if (len != sizeof(vl_api_calico_dnat_snat_address_dump_t))
      return CP_API_NO_REPLY_DUMP;
    h_snat_address_dump(&r);
    return CP_API_HANDLED;
  case VL_API_CALICO_DNAT_SNAT_PREFIX_DUMP:
    if (len != sizeof(vl_api_calico_dnat_snat_prefix_dump_t))
      return CP_API_NO_REPLY_DUMP;
    h_snat_prefix_dump(&r);
    return CP_API_HANDLED;
  case VL_API_CALICO_DNAT_SESSION_DUMP: {
    if (len != sizeof(vl_api_calico_dnat_session_dump_t))
      return CP_API_NO_REPLY_DUMP;
    vl_api_calico_dnat_session_dump_t m;
    memcpy(&m, msg, len);
    vl_api_calico_dnat_session_dump_t_decode(&m, len);
    return h_session_dump(&r, &m) ? CP_API_NO_REPLY_DUMP : CP_API_HANDLED;
  }
  default:
    return CP_API_NO_REPLY_UNKNOWN; /* replies, details, or not ours */
  }
}

int cdn_api_handle_batch(cdn_api_t *a, const uint8_t *blob, uint32_t len, cp_api_send_fn send,
                         void *arg)
{
  uint32_t off = 0, l = 0;
  int bad = 0, no_reply = 0;
  const uint8_t *m;
  while ((m = cp_api_batch_next(blob, len, &off, &l, &bad)))
    no_reply += cdn_api_handle(a, m, l, send, arg) != CP_API_HANDLED;
  return bad ? -1 : no_reply;
}
