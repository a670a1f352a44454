/* Multi-field classifier: tree construction and burst lookup. See cp_mfc.h. */
#include "cp_mfc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BINTH 8        /* rules per leaf the builder aims for */
#define MAX_DEPTH 48   /* safety bound on recursion */
#define GROUP 16       /* packets walked through the tree in lockstep */

struct cp_mfc_builder {
  uint32_t n_dims;
  uint32_t n, cap;
  uint32_t *prio;
  cp_mfc_range_t *box; /* n * n_dims */
};

cp_mfc_builder_t *cp_mfc_builder_create(uint32_t n_dims)
{
  if (n_dims == 0 || n_dims > CP_MFC_MAX_DIMS)
    return NULL;
  cp_mfc_builder_t *b = calloc(1, sizeof(*b));
  if (b)
    b->n_dims = n_dims;
  return b;
}

void cp_mfc_builder_destroy(cp_mfc_builder_t *b)
{
  if (!b)
    return;
  free(b->prio);
  free(b->box);
  free(b);
}

uint32_t cp_mfc_builder_count(const cp_mfc_builder_t *b)
{
  return b->n;
}

int cp_mfc_builder_add(cp_mfc_builder_t *b, uint32_t prio, const cp_mfc_range_t *box)
{
  for (uint32_t d = 0; d < b->n_dims; d++)
    if (box[d].lo > box[d].hi)
      return -1;
  if (b->n == b->cap) {
    uint32_t cap = b->cap ? b->cap * 2 : 64;
    uint32_t *np = realloc(b->prio, cap * sizeof(*np));
    if (!np)
      return -1;
    b->prio = np;
    cp_mfc_range_t *nb = realloc(b->box, (size_t)cap * b->n_dims * sizeof(*nb));
    if (!nb)
      return -1;
    b->box = nb;
    b->cap = cap;
  }
  b->prio[b->n] = prio;
  memcpy(b->box + (size_t)b->n * b->n_dims, box, b->n_dims * sizeof(*box));
  b->n++;
  return 0;
}

/* ---- build ------------------------------------------------------------------------- */

typedef struct {
  const cp_mfc_builder_t *b;
  uint32_t flags;
  uint32_t n_dims;
  const uint32_t *order; /* rule indexes sorted by (prio, insertion) */
  cp_mfc_node_t *nodes;
  uint32_t n_nodes, cap_nodes;
  uint32_t *leaves;
  uint32_t leaf_words, cap_leaf;
  uint32_t n_leaves, max_depth, max_leaf;
  uint32_t *tmp_lo, *tmp_hi; /* scratch for split selection, 2 x n_rules */
  uint64_t entries, max_entries; /* leaf entries so far; budget (rule copies) */
  int oom;                       /* 1: out of memory, 2: over the entry budget */
} build_t;

static void sort_u32(uint32_t *a, uint32_t n)
{
  /* introsort-free quicksort with median of three and insertion sort for small runs;
   * the depth is bounded because we recurse into the smaller side only */
  while (n > 16) {
    uint32_t x = a[0], y = a[n / 2], z = a[n - 1];
    uint32_t piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    uint32_t i = 0, j = n - 1;
    for (;;) {
      while (a[i] < piv)
        i++;
      while (a[j] > piv)
        j--;
      if (i >= j)
        break;
      uint32_t t = a[i];
      a[i] = a[j];
      a[j] = t;
      i++;
      j--;
    }
    uint32_t left = j + 1;
    if (left < n - left) {
      sort_u32(a, left);
      a += left;
      n -= left;
    } else {
      sort_u32(a + left, n - left);
      n = left;
    }
  }
  for (uint32_t i = 1; i < n; i++) {
    uint32_t v = a[i], j = i;
    while (j > 0 && a[j - 1] > v) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = v;
  }
}

static uint32_t new_nodes(build_t *B, uint32_t k)
{
  if (B->n_nodes + k > B->cap_nodes) {
    uint32_t cap = B->cap_nodes ? B->cap_nodes * 2 : 1024;
    while (cap < B->n_nodes + k)
      cap *= 2;
    cp_mfc_node_t *nn = realloc(B->nodes, cap * sizeof(*nn));
    if (!nn) {
      B->oom = 1;
      return UINT32_MAX;
    }
    B->nodes = nn;
    B->cap_nodes = cap;
  }
  uint32_t i = B->n_nodes;
  B->n_nodes += k;
  return i;
}

static void make_leaf(build_t *B, uint32_t node, const uint32_t *rules, uint32_t n,
                      uint32_t depth)
{
  uint32_t D = B->n_dims, P = CP_MFC_PAD4(n);
  uint32_t words = 4 + P * (1 + 2 * D);
  B->entries += n;
  if (B->entries > B->max_entries) {
    B->oom = 2;
    return;
  }
  if (B->leaf_words + words > B->cap_leaf) {
    uint32_t cap = B->cap_leaf ? B->cap_leaf * 2 : 4096;
    while (cap < B->leaf_words + words)
      cap *= 2;
    uint32_t *nl = realloc(B->leaves, (size_t)cap * sizeof(*nl));
    if (!nl) {
      B->oom = 1;
      return;
    }
    B->leaves = nl;
    B->cap_leaf = cap;
  }
  uint32_t off = B->leaf_words;
  uint32_t *w = B->leaves + off;
  memset(w, 0, (size_t)words * sizeof(*w));
  w[0] = n;
  uint32_t *prio = w + 4, *col = w + 4 + P;
  for (uint32_t k = 0; k < P; k++) {
    if (k >= n) { /* padding: lo = max, span 0 (masked off by the count too) */
      prio[k] = UINT32_MAX;
      for (uint32_t d = 0; d < D; d++) {
        col[2 * d * P + k] = UINT32_MAX;
        col[(2 * d + 1) * P + k] = CP_MFC_SIGN;
      }
      continue;
    }
    uint32_t r = rules[k];
    const cp_mfc_range_t *box = B->b->box + (size_t)r * D;
    prio[k] = B->b->prio[r];
    for (uint32_t d = 0; d < D; d++) {
      col[2 * d * P + k] = box[d].lo;
      col[(2 * d + 1) * P + k] = (box[d].hi - box[d].lo) ^ CP_MFC_SIGN;
    }
  }
  B->leaf_words += words;
  B->nodes[node].thr = 0;
  B->nodes[node].info = CP_MFC_LEAF_DIM << 28 | off;
  B->n_leaves++;
  if (depth > B->max_depth)
    B->max_depth = depth;
  if (n > B->max_leaf)
    B->max_leaf = n;
}

static int covers(const cp_mfc_range_t *box, const cp_mfc_range_t *region, uint32_t D)
{
  for (uint32_t d = 0; d < D; d++)
    if (box[d].lo > region[d].lo || box[d].hi < region[d].hi)
      return 0;
  return 1;
}

/* Choose the split (dim, thr) minimising max(#left, #right) (ties: the sum). Returns 0
 * when no threshold separates anything. */
static int choose_split(build_t *B, const uint32_t *rules, uint32_t n,
                        const cp_mfc_range_t *region, uint32_t *dim_out, uint32_t *thr_out)
{
  uint32_t D = B->n_dims;
  uint64_t best = UINT64_MAX;
  int found = 0;
  for (uint32_t d = 0; d < D; d++) {
    uint32_t rlo = region[d].lo, rhi = region[d].hi;
    if (rlo == rhi)
      continue;
    uint32_t *los = B->tmp_lo, *his = B->tmp_hi;
    for (uint32_t k = 0; k < n; k++) {
      const cp_mfc_range_t *r = B->b->box + (size_t)rules[k] * D + d;
      los[k] = r->lo > rlo ? r->lo : rlo;
      his[k] = r->hi < rhi ? r->hi : rhi;
    }
    sort_u32(los, n);
    sort_u32(his, n);
    /* candidates: t in (rlo, rhi]; left = lo < t, right = hi >= t */
    uint32_t il = 0, ih = 0; /* counts of los < t, his < t */
    uint32_t a = 0, c = 0;
    for (;;) {
      /* next candidate: smallest of los[a] (> rlo) and his[c] + 1 (<= rhi) */
      while (a < n && los[a] <= rlo)
        a++;
      while (c < n && his[c] >= rhi)
        c = n; /* his sorted: every later hi is rhi too */
      uint64_t t1 = a < n ? los[a] : UINT64_MAX;
      uint64_t t2 = c < n ? (uint64_t)his[c] + 1 : UINT64_MAX;
      uint64_t t = t1 < t2 ? t1 : t2;
      if (t == UINT64_MAX)
        break;
      while (il < n && los[il] < t)
        il++;
      while (ih < n && his[ih] < t)
        ih++;
      uint32_t L = il, R = n - ih;
      uint64_t mx = L > R ? L : R;
      uint64_t cost = mx << 32 | (uint64_t)(L + R);
      if (mx < n && cost < best) {
        best = cost;
        *dim_out = d;
        *thr_out = (uint32_t)t;
        found = 1;
      }
      while (a < n && los[a] <= t)
        a++;
      while (c < n && (uint64_t)his[c] + 1 <= t)
        c++;
    }
  }
  return found;
}

static void build_node(build_t *B, uint32_t node, uint32_t *rules, uint32_t n,
                       cp_mfc_range_t *region, uint32_t depth)
{
  uint32_t D = B->n_dims;
  if (B->oom)
    return;
  if (B->flags & CP_MFC_F_FIRST_MATCH_ONLY) {
    for (uint32_t k = 0; k < n; k++)
      if (covers(B->b->box + (size_t)rules[k] * D, region, D)) {
        n = k + 1;
        break;
      }
  }
  uint32_t dim = 0, thr = 0;
  if (n <= BINTH || depth >= MAX_DEPTH || !choose_split(B, rules, n, region, &dim, &thr)) {
    make_leaf(B, node, rules, n, depth);
    return;
  }
  uint32_t child = new_nodes(B, 2);
  if (child == UINT32_MAX)
    return;
  B->nodes[node].thr = thr;
  B->nodes[node].info = dim << 28 | child;
  /* partition into left/right copies (a rule straddling thr goes to both) */
  uint32_t *sub = malloc((size_t)n * sizeof(*sub));
  if (!sub) {
    B->oom = 1;
    return;
  }
  uint32_t m = 0;
  for (uint32_t k = 0; k < n; k++)
    if (B->b->box[(size_t)rules[k] * D + dim].lo < thr)
      sub[m++] = rules[k];
  uint32_t saved_lo = region[dim].lo, saved_hi = region[dim].hi;
  region[dim].hi = thr - 1;
  build_node(B, child, sub, m, region, depth + 1);
  region[dim].hi = saved_hi;
  m = 0;
  for (uint32_t k = 0; k < n; k++)
    if (B->b->box[(size_t)rules[k] * D + dim].hi >= thr)
      sub[m++] = rules[k];
  region[dim].lo = thr;
  build_node(B, child + 1, sub, m, region, depth + 1);
  region[dim].lo = saved_lo;
  free(sub);
}

/* Stable merge sort of rule indexes by priority (bottom-up, O(n log n)). */
static int sort_by_prio(uint32_t *order, uint32_t n, const uint32_t *prio)
{
  uint32_t *tmp = malloc((size_t)(n ? n : 1) * sizeof(*tmp));
  if (!tmp)
    return -1;
  uint32_t *src = order, *dst = tmp;
  for (uint32_t w = 1; w < n; w *= 2) {
    for (uint32_t lo = 0; lo < n; lo += 2 * w) {
      uint32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      uint32_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        dst[k++] = prio[src[j]] < prio[src[i]] ? src[j++] : src[i++];
      while (i < mid)
        dst[k++] = src[i++];
      while (j < hi)
        dst[k++] = src[j++];
    }
    uint32_t *t = src;
    src = dst;
    dst = t;
  }
  if (src != order)
    memcpy(order, src, (size_t)n * sizeof(*order));
  free(tmp);
  return 0;
}

/* Build one tree over rules[0..n) (ascending priority). 0, -1 (out of memory) or -2 (more
 * than max_entries rule copies in the leaves). */
static int build_tree(const cp_mfc_builder_t *b, uint32_t flags, uint32_t *rules, uint32_t n,
                      uint64_t max_entries, cp_mfc_tree_t *out, cp_mfc_t *t)
{
  build_t B;
  memset(&B, 0, sizeof(B));
  B.max_entries = max_entries;
  B.b = b;
  B.flags = flags;
  B.n_dims = b->n_dims;
  B.tmp_lo = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
  B.tmp_hi = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
  if (!B.tmp_lo || !B.tmp_hi || new_nodes(&B, 1) == UINT32_MAX)
    B.oom = 1;
  cp_mfc_range_t region[CP_MFC_MAX_DIMS];
  for (uint32_t d = 0; d < b->n_dims; d++) {
    region[d].lo = 0;
    region[d].hi = UINT32_MAX;
  }
  if (!B.oom)
    build_node(&B, 0, rules, n, region, 0);
  free(B.tmp_lo);
  free(B.tmp_hi);
  if (B.oom) {
    free(B.nodes);
    free(B.leaves);
    return -B.oom;
  }
  cp_mfc_node_t *nn = realloc(B.nodes, B.n_nodes * sizeof(*nn));
  out->nodes = nn ? nn : B.nodes;
  out->wnodes = malloc(B.n_nodes * sizeof(cp_mfc_node_t));
  out->leafof = malloc(B.n_nodes * sizeof(uint32_t));
  if (!out->wnodes || !out->leafof) {
    free(out->nodes);
    free(B.leaves);
    free(out->wnodes);
    free(out->leafof);
    return -1;
  }
  for (uint32_t i = 0; i < B.n_nodes; i++) {
    cp_mfc_node_t nd = out->nodes[i];
    out->leafof[i] = 0;
    if (nd.info >> 28 == CP_MFC_LEAF_DIM) {
      out->leafof[i] = nd.info & CP_MFC_IDX_MASK;
      nd.thr = 0;
      nd.info = (i - 1) & CP_MFC_IDX_MASK; /* dim 0; unused for a root leaf (depth 0) */
    }
    out->wnodes[i] = nd;
  }
  out->depth = B.max_depth;
  uint32_t *nl = realloc(B.leaves, (size_t)(B.leaf_words ? B.leaf_words : 1) * sizeof(*nl));
  out->leaves = nl ? nl : B.leaves;
  out->n_nodes = B.n_nodes;
  out->leaf_words = B.leaf_words;
  out->n_rules = n;
  out->min_prio = n ? b->prio[rules[0]] : UINT32_MAX;
  t->n_nodes += B.n_nodes;
  t->n_leaves += B.n_leaves;
  t->n_entries += (uint32_t)B.entries;
  if (B.max_depth > t->max_depth)
    t->max_depth = B.max_depth;
  if (B.max_leaf > t->max_leaf)
    t->max_leaf = B.max_leaf;
  t->memory_bytes += (uint64_t)B.n_nodes * (2 * sizeof(cp_mfc_node_t) + sizeof(uint32_t)) +
                     (uint64_t)B.leaf_words * sizeof(uint32_t);
  return 0;
}

cp_mfc_t *cp_mfc_build(const cp_mfc_builder_t *b, uint32_t flags)
{
  uint32_t n = b->n, D = b->n_dims;
  uint32_t *order = malloc((size_t)(n ? n : 1) * sizeof(*order));
  uint32_t *part = malloc((size_t)(n ? n : 1) * sizeof(*part));
  cp_mfc_t *t = calloc(1, sizeof(*t));
  if (!order || !part || !t)
    goto fail;
  for (uint32_t i = 0; i < n; i++)
    order[i] = i;
  /* priorities are usually already ascending in insertion order: sort only if not */
  int sorted = 1;
  for (uint32_t i = 1; i < n && sorted; i++)
    sorted = b->prio[i - 1] <= b->prio[i];
  if (!sorted && sort_by_prio(order, n, b->prio) != 0)
    goto fail;
  t->n_dims = D;
  t->n_rules = n;
  t->memory_bytes = sizeof(*t);
  /* one tree when rules replicate little (one walk per lookup); else partitioned trees */
  {
    cp_mfc_tree_t tr;
    memset(&tr, 0, sizeof(tr));
    int rc = build_tree(b, flags, order, n, (uint64_t)n * 16 + 4096, &tr, t);
    if (rc == 0) {
      t->tree[0] = tr;
      t->n_trees = 1;
      free(order);
      free(part);
      return t;
    }
    if (rc == -1)
      goto fail;
    /* over budget: forget the partial statistics and partition */
    t->n_nodes = t->n_leaves = t->n_entries = t->max_depth = t->max_leaf = 0;
    t->memory_bytes = sizeof(*t);
  }
  /* partition dims: the leading word of the source and destination addresses */
  uint32_t da = 0, db = D == 11 ? 4 : 1;
  uint32_t counts[CP_MFC_MAX_TREES] = {0};
  for (uint32_t i = 0; i < n; i++) {
    const cp_mfc_range_t *box = b->box + (size_t)order[i] * D;
    uint32_t sig = 0;
    if (D > 1) {
      sig |= (box[da].hi - box[da].lo) > CP_MFC_LARGE_SPAN ? 1u : 0u;
      sig |= (box[db].hi - box[db].lo) > CP_MFC_LARGE_SPAN ? 2u : 0u;
    }
    counts[sig]++;
  }
  /* stable bucket by signature; each bucket keeps ascending priority */
  uint32_t start[CP_MFC_MAX_TREES], fill[CP_MFC_MAX_TREES];
  for (uint32_t g = 0, acc = 0; g < CP_MFC_MAX_TREES; g++) {
    start[g] = fill[g] = acc;
    acc += counts[g];
  }
  for (uint32_t i = 0; i < n; i++) {
    const cp_mfc_range_t *box = b->box + (size_t)order[i] * D;
    uint32_t sig = 0;
    if (D > 1) {
      sig |= (box[da].hi - box[da].lo) > CP_MFC_LARGE_SPAN ? 1u : 0u;
      sig |= (box[db].hi - box[db].lo) > CP_MFC_LARGE_SPAN ? 2u : 0u;
    }
    part[fill[sig]++] = order[i];
  }
  for (uint32_t g = 0; g < CP_MFC_MAX_TREES; g++) {
    if (!counts[g])
      continue;
    cp_mfc_tree_t tr;
    memset(&tr, 0, sizeof(tr));
    if (build_tree(b, flags, part + start[g], counts[g], UINT64_MAX, &tr, t) != 0)
      goto fail;
    /* insert keeping ascending min_prio */
    uint32_t k = t->n_trees++;
    while (k > 0 && t->tree[k - 1].min_prio > tr.min_prio) {
      t->tree[k] = t->tree[k - 1];
      k--;
    }
    t->tree[k] = tr;
  }
  free(order);
  free(part);
  return t;
fail:
  free(order);
  free(part);
  cp_mfc_free(t);
  return NULL;
}

void cp_mfc_free(cp_mfc_t *t)
{
  if (!t)
    return;
  for (uint32_t k = 0; k < t->n_trees; k++) {
    free(t->tree[k].nodes);
    free(t->tree[k].leaves);
    free(t->tree[k].wnodes);
    free(t->tree[k].leafof);
  }
  free(t);
}

/* ---- lookup ------------------------------------------------------------------------ */

/* Walk g keys through one tree: `depth` rounds of one branch-free step per key (leaves
 * loop to themselves), so the loads of different keys overlap and nothing mispredicts.
 * key[j] points at the j-th key walked (a burst's keys minus those already decided). */
static inline void walk_group(const cp_mfc_tree_t *tr, const uint32_t *const *key, uint32_t g,
                              const uint32_t **leaf)
{
  const cp_mfc_node_t *wn = tr->wnodes;
  uint32_t idx[GROUP];
  for (uint32_t j = 0; j < GROUP; j++)
    idx[j] = 0;
  for (uint32_t s = 0; s < tr->depth; s++)
    for (uint32_t j = 0; j < g; j++) {
      cp_mfc_node_t nd = wn[idx[j]];
      idx[j] = (nd.info & CP_MFC_IDX_MASK) + (key[j][nd.info >> 28] >= nd.thr);
    }
  for (uint32_t j = 0; j < g; j++)
    leaf[j] = tr->leaves + tr->leafof[idx[j]];
}

/* Leaf scan, four entries at a time with vector compares (GCC/clang vector extensions:
 * SSE2 on x86-64, NEON on arm64, scalar elsewhere); the first matching entry wins. */
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef float v4f __attribute__((vector_size(16)));

static inline v4u load4(const uint32_t *p)
{
  v4u v;
  memcpy(&v, p, sizeof(v));
  return v;
}

/* Bit i set when lane i of `miss` is zero (lanes are all-ones or zero). */
static inline uint32_t hit_mask(v4u miss)
{
#if defined(__SSE2__)
  return ~(uint32_t)__builtin_ia32_movmskps((v4f)miss) & 0xfu;
#else
  return (~miss[0] & 1u) | (~miss[1] & 2u) | (~miss[2] & 4u) | (~miss[3] & 8u);
#endif
}

static inline uint32_t leaf_first_prio(const uint32_t *leaf, const uint32_t *key,
                                       const uint32_t D)
{
  uint32_t cnt = leaf[0], P = CP_MFC_PAD4(cnt);
  const uint32_t *prio = leaf + 4, *col = leaf + 4 + P;
  const v4u sign = {CP_MFC_SIGN, CP_MFC_SIGN, CP_MFC_SIGN, CP_MFC_SIGN};
  for (uint32_t base = 0; base < P; base += 4) {
    v4u miss = {0, 0, 0, 0};
    for (uint32_t d = 0; d < D; d++) {
      v4u k = {key[d], key[d], key[d], key[d]};
      v4i diff = (v4i)((k - load4(col + 2 * d * P + base)) ^ sign);
      miss |= (v4u)(diff > (v4i)load4(col + (2 * d + 1) * P + base));
      /* most entries of a leaf fail on the addresses (dims 0 and 1): stop early then */
      if (d == 1 && hit_mask(miss) == 0)
        break;
    }
    /* padding entries never match: lo = UINT32_MAX, span = 0 (a key of UINT32_MAX in
     * every dimension would, so mask them off by the count) */
    uint32_t hit = hit_mask(miss);
    hit &= cnt - base >= 4 ? 0xfu : (1u << (cnt - base)) - 1;
    if (hit)
      return prio[base + (uint32_t)__builtin_ctz(hit)];
  }
  return UINT32_MAX;
}

/* Trees ascend by min_prio: a key whose best match so far is at or before a tree's
 * min_prio cannot improve there, so it does not walk that tree (nor any later one). */
static inline void classify_group(const cp_mfc_t *t, const uint32_t *k0, uint32_t g,
                                  const uint32_t D, int32_t *results)
{
  uint32_t best[GROUP];
  const uint32_t *key[GROUP];
  uint32_t who[GROUP];
  for (uint32_t j = 0; j < g; j++)
    best[j] = UINT32_MAX;
  for (uint32_t tr = 0; tr < t->n_trees; tr++) {
    const cp_mfc_tree_t *tree = &t->tree[tr];
    uint32_t m = 0;
    for (uint32_t j = 0; j < g; j++) {
      key[m] = k0 + (size_t)j * D;
      who[m] = j;
      m += best[j] > tree->min_prio;
    }
    if (m == 0)
      break;
    const uint32_t *leaf[GROUP];
    walk_group(tree, key, m, leaf);
    for (uint32_t i = 0; i < m; i++) {
      uint32_t p = leaf_first_prio(leaf[i], key[i], D);
      uint32_t j = who[i];
      best[j] = p < best[j] ? p : best[j];
    }
  }
  for (uint32_t j = 0; j < g; j++)
    results[j] = best[j] == UINT32_MAX ? -1 : (int32_t)best[j];
}

void cp_mfc_classify_burst(const cp_mfc_t *t, const uint32_t *keys, uint32_t n,
                           int32_t *results)
{
  const uint32_t D = t->n_dims;
  for (uint32_t base = 0; base < n; base += GROUP) {
    uint32_t g = n - base < GROUP ? n - base : GROUP;
    const uint32_t *k0 = keys + (size_t)base * D;
    /* constant dimension counts let the compiler unroll the leaf tests */
    if (D == 5)
      classify_group(t, k0, g, 5, results + base);
    else if (D == 11)
      classify_group(t, k0, g, 11, results + base);
    else
      classify_group(t, k0, g, D, results + base);
  }
}
