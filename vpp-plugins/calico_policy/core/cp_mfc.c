/* Multi-field classifier: tree construction and burst lookup. See cp_mfc.h. */
#include "cp_mfc.h"
#include "cp_mfc_isa.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#define BINTH 8        /* rules per leaf the builder aims for */
#define MAX_DEPTH 48   /* safety bound on recursion */
#define SPFAC 4        /* a multi-way cut makes at most SPFAC * n rule copies */
#define BUDGET 16      /* a single tree or a merged one: at most BUDGET copies per rule */
#define MERGE_TRIES 3    /* attempts to merge two partitions into one tree */
#define MERGE_MAX 1024   /* ... of at most this many rules */
#define HEAD_FROM 2048  /* partitioned sets of >= 2048 rules: */
#define HEAD_DIV 16     /* the first n / 16 rules form a head tree */
#define HEAD_MIN 16     /* ... of at least 16 rules */
#define HEAD_MAX 1024   /* ... and at most 1024 (halved until within budget) */
#define ABSORB_BUDGET 32 /* the head with level 1's class-0 rules: copies per rule */
#define LEVEL_DIV 4     /* with a head, rules past it up to n / 4 are partitioned apart */
#define GROUP 32       /* keys walked through the first tree in lockstep */
#define PGROUP 16      /* (key, tree) pairs walked through the later trees in lockstep */
#define CHUNK 64       /* keys prepared together; each tree walks its survivors among them */

/* Runtime choice of instruction set (cp_mfc_isa.h): this file is compiled again, with
 * x86-64 ISA flags, by cp_mfc_isa_avx2.c and cp_mfc_isa_avx512.c (CP_MFC_ISA_FN set);
 * those copies hold the lookup only, under the name CP_MFC_ISA_FN. */
#if defined(CP_MFC_ISA_FN)
#define cp_mfc_classify_burst CP_MFC_ISA_FN
#elif defined(CP_MFC_DISPATCH)
#define cp_mfc_classify_burst cp_mfc_classify_burst_sse2
#endif

#if !defined(CP_MFC_ISA_FN) /* the builder */

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
  uint32_t *info;
  uint32_t n_nodes, cap_nodes;
  uint32_t *leaves;
  uint32_t leaf_words, cap_leaf;
  uint32_t n_leaves, max_depth, max_leaf, min_depth;
  uint32_t *tmp_lo, *tmp_hi; /* scratch for split selection, n_rules each */
  uint32_t *cand, *cl, *ch;  /* candidate thresholds and their counts, 2 x n_rules + 1 */
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
    uint32_t *ni = realloc(B->info, cap * sizeof(*ni));
    if (!ni) {
      B->oom = 1;
      return UINT32_MAX;
    }
    B->info = ni;
    B->cap_nodes = cap;
  }
  uint32_t i = B->n_nodes;
  B->n_nodes += k;
  for (uint32_t j = i; j < i + k; j++) {
    for (uint32_t w = 0; w < CP_MFC_WAYS; w++)
      B->nodes[j].thr[w] = CP_MFC_THR_NONE;
    B->info[j] = 0;
  }
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
    if (k >= n) { /* padding: the point lo = 0, prio "no match" (masked off by the count) */
      prio[k] = UINT32_MAX;
      for (uint32_t d = 0; d < D; d++) {
        col[CP_MFC_LEAF_LO(k, d, D)] = 0;
        col[CP_MFC_LEAF_LO(k, d, D) + 4] = CP_MFC_SIGN; /* span 0 */
      }
      continue;
    }
    uint32_t r = rules[k];
    const cp_mfc_range_t *box = B->b->box + (size_t)r * D;
    prio[k] = B->b->prio[r];
    for (uint32_t d = 0; d < D; d++) {
      col[CP_MFC_LEAF_LO(k, d, D)] = box[d].lo;
      col[CP_MFC_LEAF_LO(k, d, D) + 4] = (box[d].hi - box[d].lo) ^ CP_MFC_SIGN;
    }
  }
  B->leaf_words += words;
  B->info[node] = CP_MFC_LEAF_DIM << 28 | off;
  B->n_leaves++;
  if (depth > B->max_depth)
    B->max_depth = depth;
  if (depth < B->min_depth)
    B->min_depth = depth;
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

/* A multi-way cut of one dimension: k intervals split by k - 1 ascending thresholds. */
typedef struct {
  uint32_t dim, k;
  uint32_t thr[CP_MFC_WAYS];
  uint64_t max, sum; /* rules in the fullest interval; rule copies over all intervals */
} split_t;

/* Greedy cover of the candidates [0, m) of one dimension by intervals holding at most T
 * rules each: an interval from candidate i (the region's low end for i = UINT32_MAX) to
 * candidate j holds cl[j] - ch[i] rules (lo < cand[j] minus hi < cand[i]); the last ends
 * at the region's high end (cl = n). Returns the number of intervals, stopping past
 * `kmax`; fills thresholds, the fullest interval and the copies when `out` is given. */
static uint32_t cover(const build_t *B, uint32_t m, uint32_t n, uint64_t T, uint32_t kmax,
                      split_t *out)
{
  uint32_t k = 0, s = UINT32_MAX; /* s: the interval's start candidate */
  uint64_t mx = 0, sum = 0;
  for (;;) {
    uint32_t h = s == UINT32_MAX ? 0 : B->ch[s];
    uint32_t e = s + 1; /* at least one candidate further (s + 1 == 0 from the low end) */
    while (e < m && (uint64_t)((e + 1 < m ? B->cl[e + 1] : n) - h) <= T)
      e++;
    uint64_t cnt = (e < m ? B->cl[e] : n) - h;
    k++;
    mx = cnt > mx ? cnt : mx;
    sum += cnt;
    if (k > kmax)
      return k;
    if (e >= m)
      break;
    if (out)
      out->thr[k - 1] = B->cand[e];
    s = e;
  }
  if (out) {
    out->k = k;
    out->max = mx;
    out->sum = sum;
  }
  return k;
}

/* Choose the cut: per dimension and number of intervals k = 2, 3, ..., CP_MFC_WAYS, the
 * least T for which a greedy cover by k intervals of at most T rules each exists (binary
 * search over T); per dimension the largest k whose rule copies stay within SPFAC * n
 * (k = 2 always); over the dimensions the least T (ties: fewer copies). Returns 0 when no
 * cut separates anything. */
static int choose_split(build_t *B, const uint32_t *rules, uint32_t n,
                        const cp_mfc_range_t *region, split_t *best)
{
  uint32_t D = B->n_dims;
  int found = 0;
  best->max = UINT64_MAX;
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
    /* candidates t in (rlo, rhi]: each lo > rlo and each hi + 1 <= rhi, ascending and
     * distinct, with cl = #(lo < t) and ch = #(hi < t) */
    uint32_t m = 0, a = 0, c = 0, il = 0, ih = 0;
    while (a < n && los[a] <= rlo)
      a++;
    for (;;) {
      uint64_t t1 = a < n ? los[a] : UINT64_MAX;
      uint64_t t2 = c < n && his[c] < rhi ? (uint64_t)his[c] + 1 : UINT64_MAX;
      uint64_t t = t1 < t2 ? t1 : t2;
      if (t == UINT64_MAX)
        break;
      while (il < n && los[il] < t)
        il++;
      while (ih < n && his[ih] < t)
        ih++;
      B->cand[m] = (uint32_t)t;
      B->cl[m] = il;
      B->ch[m] = ih;
      m++;
      while (a < n && los[a] <= t)
        a++;
      while (c < n && (uint64_t)his[c] + 1 <= t)
        c++;
    }
    if (m == 0)
      continue;
    /* per number of intervals k = 2, 3, ...: the least T with a cover of at most k
     * intervals; keep the largest k whose copies stay within SPFAC * n (k = 2 always) */
    split_t cur;
    memset(&cur, 0, sizeof(cur));
    int have = 0;
    uint64_t hi = n;
    for (uint32_t k = 2; k <= CP_MFC_WAYS; k++) {
      uint64_t lo = 1;
      if (cover(B, m, n, hi, k, NULL) > k)
        break;
      while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (cover(B, m, n, mid, k, NULL) <= k)
          hi = mid;
        else
          lo = mid + 1;
      }
      split_t s;
      memset(&s, 0, sizeof(s));
      s.dim = d;
      cover(B, m, n, lo, k, &s);
      if (s.k < 2 || s.max >= n)
        continue;
      if (have && s.sum > (uint64_t)n * SPFAC)
        break;
      if (have && s.k == cur.k)
        break; /* more intervals do not help */
      cur = s;
      have = 1;
    }
    if (!have)
      continue;
    if (cur.max < best->max || (cur.max == best->max && cur.sum < best->sum)) {
      *best = cur;
      found = 1;
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
  split_t sp;
  if (n <= BINTH || depth >= MAX_DEPTH || !choose_split(B, rules, n, region, &sp)) {
    make_leaf(B, node, rules, n, depth);
    return;
  }
  uint32_t child = new_nodes(B, sp.k);
  if (child == UINT32_MAX)
    return;
  uint32_t dim = sp.dim;
  for (uint32_t j = 0; j + 1 < sp.k; j++)
    B->nodes[node].thr[j] = (sp.thr[j] - 1) ^ CP_MFC_SIGN;
  B->info[node] = dim << 28 | child;
  /* the rules meeting each interval (a rule spanning several goes to each) */
  uint32_t *sub = malloc((size_t)n * sizeof(*sub));
  if (!sub) {
    B->oom = 1;
    return;
  }
  uint32_t saved_lo = region[dim].lo, saved_hi = region[dim].hi;
  for (uint32_t j = 0; j < sp.k; j++) {
    uint32_t ilo = j == 0 ? saved_lo : sp.thr[j - 1];
    uint32_t ihi = j + 1 == sp.k ? saved_hi : sp.thr[j] - 1;
    uint32_t m = 0;
    for (uint32_t k = 0; k < n; k++) {
      const cp_mfc_range_t *r = B->b->box + (size_t)rules[k] * D + dim;
      if (r->lo <= ihi && r->hi >= ilo)
        sub[m++] = rules[k];
    }
    region[dim].lo = ilo;
    region[dim].hi = ihi;
    build_node(B, child + j, sub, m, region, depth + 1);
    if (B->oom)
      break;
  }
  region[dim].lo = saved_lo;
  region[dim].hi = saved_hi;
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
  B.min_depth = UINT32_MAX;
  B.b = b;
  B.flags = flags;
  B.n_dims = b->n_dims;
  B.tmp_lo = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
  B.tmp_hi = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
  B.cand = malloc((2 * (size_t)n + 1) * sizeof(uint32_t));
  B.cl = malloc((2 * (size_t)n + 1) * sizeof(uint32_t));
  B.ch = malloc((2 * (size_t)n + 1) * sizeof(uint32_t));
  if (!B.tmp_lo || !B.tmp_hi || !B.cand || !B.cl || !B.ch || new_nodes(&B, 1) == UINT32_MAX)
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
  free(B.cand);
  free(B.cl);
  free(B.ch);
  size_t nbytes = ((size_t)B.n_nodes * sizeof(cp_mfc_node_t) + 63) & ~(size_t)63;
  /* the burst walk's next-node word holds a 32-bit byte offset */
  if (B.n_nodes > CP_MFC_WALK_MAX_NODES)
    B.oom = 1;
  if (!B.oom) {
    out->nodes = aligned_alloc(64, nbytes);
    out->info = malloc(B.n_nodes * sizeof(uint32_t));
    if (!out->nodes || !out->info) {
      free(out->nodes);
      free(out->info);
      B.oom = 1;
    }
  }
  if (B.oom) {
    free(B.nodes);
    free(B.info);
    free(B.leaves);
    return -B.oom;
  }
  memcpy(out->nodes, B.nodes, (size_t)B.n_nodes * sizeof(cp_mfc_node_t));
  memcpy(out->info, B.info, (size_t)B.n_nodes * sizeof(uint32_t));
  free(B.nodes);
  free(B.info);
  for (uint32_t i = 0; i < B.n_nodes; i++) {
    uint32_t info = out->info[i];
    uint32_t *w = out->nodes[i].thr;
    /* the burst walk's next-node word: 2 * dim << 27 | the first child's offset in
     * 8-byte units (4 per node) */
    w[CP_MFC_WAYS - 1] = (info >> 28) * 2u << 27 | (info & CP_MFC_IDX_MASK) * 4u;
    if (info >> 28 == CP_MFC_LEAF_DIM) {
      /* dim 0, child = itself: thr[0] is THR_NONE, rank 0 */
      w[CP_MFC_WAYS - 1] = i * 4u;
      w[1] = info & CP_MFC_IDX_MASK;
    }
  }
  out->depth = B.max_depth;
  /* the walk checks for "all keys at leaves" only past lock_depth (a check costs about
   * a fifth of a step): not worth it when the leaves are within one level */
  out->lock_depth = B.min_depth + 1 < B.max_depth ? B.min_depth : B.max_depth;
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
  t->memory_bytes += (uint64_t)nbytes + (uint64_t)B.n_nodes * sizeof(uint32_t) +
                     (uint64_t)B.leaf_words * sizeof(uint32_t);
  return 0;
}

static void tree_free(cp_mfc_tree_t *tr)
{
  free(tr->nodes);
  free(tr->info);
  free(tr->leaves);
  memset(tr, 0, sizeof(*tr));
}

/* The second head's nodes and leaves move behind tree[0]'s, in the same two arrays, its
 * next-node words and leaf offsets rebased: a burst then walks every key of a group in
 * one lockstep loop from its own root (0 or t->alt_root) over one node base. tree[0]'s
 * own nodes, info and leaves are unchanged (the single-packet walk reads them); t->alt
 * keeps its statistics and info, its nodes and leaves are NULL. */
static int merge_alt(cp_mfc_t *t)
{
  cp_mfc_tree_t *h = &t->tree[0], *a = &t->alt;
  uint32_t n0 = h->n_nodes, na = a->n_nodes, l0 = h->leaf_words, la = a->leaf_words;
  if ((uint64_t)n0 + na > CP_MFC_WALK_MAX_NODES)
    return -1;
  size_t nbytes = ((size_t)(n0 + na) * sizeof(cp_mfc_node_t) + 63) & ~(size_t)63;
  cp_mfc_node_t *nodes = aligned_alloc(64, nbytes);
  uint32_t *leaves = malloc(((size_t)l0 + la + 1) * sizeof(uint32_t));
  if (!nodes || !leaves) {
    free(nodes);
    free(leaves);
    return -1;
  }
  memcpy(nodes, h->nodes, (size_t)n0 * sizeof(cp_mfc_node_t));
  memcpy(nodes + n0, a->nodes, (size_t)na * sizeof(cp_mfc_node_t));
  memcpy(leaves, h->leaves, (size_t)l0 * sizeof(uint32_t));
  memcpy(leaves + l0, a->leaves, (size_t)la * sizeof(uint32_t));
  for (uint32_t i = 0; i < na; i++) {
    uint32_t *w = nodes[n0 + i].thr;
    w[CP_MFC_WAYS - 1] += n0 * 4u; /* the offset is in the low 27 bits, no carry out */
    if (a->info[i] >> 28 == CP_MFC_LEAF_DIM)
      w[1] += l0;
  }
  free(h->nodes);
  free(h->leaves);
  free(a->nodes);
  free(a->leaves);
  h->nodes = nodes;
  h->leaves = leaves;
  a->nodes = NULL;
  a->leaves = NULL;
  t->alt_root = n0 * 4u;
  return 0;
}

/* A partition of the rules (ascending priority) and, once built, its tree and the tree's
 * statistics. */
typedef struct {
  uint32_t *rules;
  uint32_t n;
  int built;
  uint32_t level;
  cp_mfc_tree_t tree;
  cp_mfc_t st;
} grp_t;

static void grp_free(grp_t *g)
{
  if (g->built)
    tree_free(&g->tree);
  free(g->rules);
  memset(g, 0, sizeof(*g));
}

/* Partition rules order[from..to) (ascending priority) by which of the leading words of
 * the source and destination addresses are large, then merge small partitions while the
 * merged tree stays within the replication budget (every tree walked costs a walk and a
 * leaf scan per packet). Appends the groups to grp[*n_grp...], each tagged with `level`;
 * `part` is scratch (n words), rank[i] is rule i's position in priority order. Returns 0
 * or -1 (out of memory). */
static int partition(const cp_mfc_builder_t *b, uint32_t flags, const uint32_t *order,
                     uint32_t from, uint32_t to, uint32_t *part, const uint32_t *rank,
                     const uint8_t *pcl, uint32_t pc, uint32_t level, grp_t *grp,
                     uint32_t *n_grp)
{
  uint32_t D = b->n_dims;
  uint32_t da = 0, db = D == 11 ? 4 : 1;
  uint32_t first = *n_grp, ng = *n_grp; /* this level's groups: grp[first..ng) */
  for (uint32_t g = 0; g < CP_MFC_N_SIGS; g++) {
    uint32_t m = 0;
    for (uint32_t i = from; i < to; i++) {
      if (pcl[order[i]] != pc)
        continue;
      const cp_mfc_range_t *box = b->box + (size_t)order[i] * D;
      uint32_t sig = 0;
      if (D > 1) {
        sig |= (box[da].hi - box[da].lo) > CP_MFC_LARGE_SPAN ? 1u : 0u;
        sig |= (box[db].hi - box[db].lo) > CP_MFC_LARGE_SPAN ? 2u : 0u;
      }
      if (sig == g)
        part[m++] = order[i];
    }
    if (!m)
      continue;
    memset(&grp[ng], 0, sizeof(grp[ng])); /* may hold a stale copy of a merged group */
    grp[ng].rules = malloc((size_t)m * sizeof(uint32_t));
    if (!grp[ng].rules) {
      *n_grp = ng;
      return -1;
    }
    memcpy(grp[ng].rules, part, (size_t)m * sizeof(uint32_t));
    grp[ng].n = m;
    grp[ng].level = level;
    ng++;
  }
  *n_grp = ng;
  for (uint32_t tries = 0; ng > first + 1 && tries < MERGE_TRIES;) {
    /* the smallest group with each larger one, smallest first */
    uint32_t sm = first;
    for (uint32_t g = first + 1; g < ng; g++)
      if (grp[g].n < grp[sm].n)
        sm = g;
    uint32_t oth[CP_MFC_MAX_TREES], n_oth = 0; /* the others, ascending size */
    for (uint32_t g = first; g < ng; g++) {
      if (g == sm)
        continue;
      uint32_t k = n_oth++;
      while (k > 0 && grp[oth[k - 1]].n > grp[g].n) {
        oth[k] = oth[k - 1];
        k--;
      }
      oth[k] = g;
    }
    int merged = 0;
    for (uint32_t k = 0; k < n_oth && !merged && tries < MERGE_TRIES; k++) {
      uint32_t o = oth[k];
      if (grp[sm].n + grp[o].n > MERGE_MAX)
        break;
      grp_t u;
      memset(&u, 0, sizeof(u));
      u.n = grp[sm].n + grp[o].n;
      u.level = level;
      u.rules = malloc((size_t)u.n * sizeof(uint32_t));
      if (!u.rules)
        return -1;
      for (uint32_t i = 0, j = 0, w = 0; w < u.n; w++)
        u.rules[w] = j >= grp[o].n || (i < grp[sm].n && rank[grp[sm].rules[i]] <
                                                           rank[grp[o].rules[j]])
                         ? grp[sm].rules[i++]
                         : grp[o].rules[j++];
      tries++;
      int rc = build_tree(b, flags, u.rules, u.n, (uint64_t)u.n * BUDGET + 4096, &u.tree,
                          &u.st);
      if (rc == -1) {
        free(u.rules);
        return -1;
      }
      if (rc != 0) {
        free(u.rules);
        continue;
      }
      u.built = 1;
      grp_free(&grp[sm]);
      grp_free(&grp[o]);
      uint32_t lo_i = sm < o ? sm : o, hi_i = sm < o ? o : sm;
      grp[lo_i] = u;
      grp[hi_i] = grp[--ng];
      *n_grp = ng;
      merged = 1;
    }
    if (!merged)
      break;
  }
  return 0;
}

cp_mfc_t *cp_mfc_build(const cp_mfc_builder_t *b, uint32_t flags)
{
  uint32_t n = b->n, D = b->n_dims;
  uint32_t *order = malloc((size_t)(n ? n : 1) * sizeof(*order));
  uint32_t *part = malloc((size_t)(n ? n : 1) * sizeof(*part));
  uint32_t *rank = malloc((size_t)(n ? n : 1) * sizeof(*rank));
  uint8_t *pcl = malloc(n ? n : 1);
  cp_mfc_t *t = calloc(1, sizeof(*t));
  if (!order || !part || !rank || !pcl || !t)
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
    int rc = build_tree(b, flags, order, n, (uint64_t)n * BUDGET + 4096, &tr, t);
    if (rc == 0) {
      t->tree[0] = tr;
      t->n_trees = 1;
      free(order);
      free(part);
      free(rank);
      free(pcl);
      return t;
    }
    if (rc == -1)
      goto fail;
    /* over budget: forget the partial statistics and partition */
    t->n_nodes = t->n_leaves = t->n_entries = t->max_depth = t->max_leaf = 0;
    t->memory_bytes = sizeof(*t);
  }
  for (uint32_t i = 0; i < n; i++)
    rank[order[i]] = i; /* position in priority order */
  grp_t grp[CP_MFC_MAX_TREES];
  uint32_t n_grp = 0;
  memset(grp, 0, sizeof(grp));
  /* within a level, rules are also split by their range in the last dimension (the
   * protocol in the 5-tuple and policy layouts): the two commonest single values (each
   * kept when it holds >= n / 16 rules) get partitions of their own (classes 1 and 2),
   * the rest share class 0. Each tree keeps the hull of its rules in that dimension and
   * a key outside it skips the tree: a key of another protocol does not walk the TCP or
   * UDP trees. */
  uint32_t fd = D - 1, pv[2] = {0, 0}, pn[2] = {0, 0};
  for (uint32_t r = 0; r < 2; r++) {
    /* the commonest point value (majority vote, then counted), then the next one */
    uint32_t cand = 0, cnt = 0, c = 0;
    for (uint32_t i = 0; i < n; i++) {
      const cp_mfc_range_t *x = b->box + (size_t)order[i] * D + fd;
      if (x->lo != x->hi || (r == 1 && pn[0] && x->lo == pv[0]))
        continue;
      if (!cnt)
        cand = x->lo;
      cnt = cand == x->lo ? cnt + 1 : cnt - 1;
    }
    for (uint32_t i = 0; i < n; i++) {
      const cp_mfc_range_t *x = b->box + (size_t)order[i] * D + fd;
      c += x->lo == x->hi && x->lo == cand;
    }
    pv[r] = cand;
    pn[r] = (r == 0 || !pn[0] || cand != pv[0]) && c >= n / 16 ? c : 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    const cp_mfc_range_t *x = b->box + (size_t)i * D + fd;
    pcl[i] = x->lo != x->hi ? 0 : pn[0] && x->lo == pv[0] ? 1 : pn[1] && x->lo == pv[1] ? 2 : 0;
  }
  /* the head: the first rules in priority order, of every shape, in a tree of their own,
   * walked first; a key matched there (often most keys: the first rules of a list tend to
   * be its broadest) skips every later tree, whose min_prio is past the head. With a
   * level 1 (below), the head also takes level 1's class-0 rules (other protocols than
   * the two common ones) when they at most double it and it stays within ABSORB_BUDGET
   * copies per rule: a key of another protocol is then decided by the head alone (level
   * 1's other trees do not hold its protocol, and level 2 comes after its answer when
   * that lies before n / LEVEL_DIV) */
  uint32_t H = n >= HEAD_FROM ? n / HEAD_DIV : 0, L1 = 0;
  H = H > HEAD_MAX ? HEAD_MAX : H;
  for (; H >= HEAD_MIN; H /= 2) {
    int rc = build_tree(b, flags, order, H, (uint64_t)H * BUDGET + 4096, &grp[0].tree,
                        &grp[0].st);
    if (rc == -1)
      goto fail;
    if (rc == 0) {
      grp[0].built = 1;
      grp[0].n = H;
      n_grp = 1;
      break;
    }
  }
  L1 = n_grp && n / LEVEL_DIV > H ? n / LEVEL_DIV : H;
  if (n_grp && L1 > H && pn[0]) {
    /* one attempt at a second head for the keys of other protocols: the head with level
     * 1's class-0 rules (tree[0] stays the plain head, for the keys of classes 1 and 2) */
    uint32_t m = 0, c0 = 0;
    for (uint32_t i = 0; i < L1; i++)
      if (!pcl[order[i]]) {
        part[m++] = order[i];
        c0 += i >= H;
      }
    cp_mfc_t st;
    memset(&st, 0, sizeof(st));
    int rc = 1;
    if (c0 && c0 <= H)
      rc = build_tree(b, flags, part, m, (uint64_t)m * ABSORB_BUDGET + 4096, &t->alt, &st);
    if (rc == -1)
      goto fail_grp;
    if (rc == 0) {
      t->alt.flo = INT32_MIN;
      t->alt.fhi = INT32_MAX;
      t->alt_p[0] = (int32_t)(pv[0] ^ CP_MFC_SIGN);
      t->alt_p[1] = (int32_t)((pn[1] ? pv[1] : pv[0]) ^ CP_MFC_SIGN);
      t->n_nodes += st.n_nodes;
      t->n_leaves += st.n_leaves;
      t->n_entries += st.n_entries;
      t->memory_bytes += st.memory_bytes;
    } else {
      memset(&t->alt, 0, sizeof(t->alt));
    }
  }
  if (!n_grp)
    H = L1 = 0;
  /* with a head, the rules past it up to n / LEVEL_DIV are partitioned on their own
   * (level 1) and the rest separately (level 2): the lookup walks a level's trees
   * together, and a key answered in level 1 skips level 2, whose min_prio is past it */
  for (uint32_t pc = 0; L1 > H && pc < CP_MFC_N_PCLASS; pc++)
    if (partition(b, flags, order, H, L1, part, rank, pcl, pc, 1, grp, &n_grp) != 0)
      goto fail_grp;
  for (uint32_t pc = 0; pc < CP_MFC_N_PCLASS; pc++)
    if (partition(b, flags, order, L1, n, part, rank, pcl, pc, L1 > H ? 2 : 1, grp, &n_grp) !=
        0)
      goto fail_grp;
  for (uint32_t g = 0; g < n_grp; g++) {
    if (!grp[g].built) {
      if (build_tree(b, flags, grp[g].rules, grp[g].n, UINT64_MAX, &grp[g].tree, &grp[g].st) !=
          0)
        goto fail_grp;
      grp[g].built = 1;
    }
  }
  for (uint32_t g = 0; g < n_grp; g++) {
    cp_mfc_tree_t tr = grp[g].tree;
    const cp_mfc_t *st = &grp[g].st;
    tr.level = grp[g].level;
    {
      /* the hull of the tree's rules in the last dimension, sign-flipped */
      const uint32_t *rl = grp[g].rules ? grp[g].rules : order; /* the head: order[0..H) */
      uint32_t lo = UINT32_MAX, hi = 0;
      for (uint32_t i = 0; i < grp[g].n; i++) {
        const cp_mfc_range_t *x = b->box + (size_t)rl[i] * D + fd;
        lo = x->lo < lo ? x->lo : lo;
        hi = x->hi > hi ? x->hi : hi;
      }
      tr.flo = (int32_t)(lo ^ CP_MFC_SIGN);
      tr.fhi = (int32_t)(hi ^ CP_MFC_SIGN);
    }
    t->n_nodes += st->n_nodes;
    t->n_leaves += st->n_leaves;
    t->n_entries += st->n_entries;
    t->max_depth = st->max_depth > t->max_depth ? st->max_depth : t->max_depth;
    t->max_leaf = st->max_leaf > t->max_leaf ? st->max_leaf : t->max_leaf;
    t->memory_bytes += st->memory_bytes;
    grp[g].built = 0; /* now owned by t */
    free(grp[g].rules);
    grp[g].rules = NULL;
    /* insert keeping ascending (level, min_prio) */
    uint32_t k = t->n_trees++;
    while (k > 0 && (t->tree[k - 1].level > tr.level ||
                     (t->tree[k - 1].level == tr.level && t->tree[k - 1].min_prio > tr.min_prio))) {
      t->tree[k] = t->tree[k - 1];
      k--;
    }
    t->tree[k] = tr;
  }
  free(order);
  free(part);
  free(rank);
  free(pcl);
  if (t->alt.n_nodes && merge_alt(t) != 0) {
    cp_mfc_free(t);
    return NULL;
  }
  return t;
fail_grp:
  for (uint32_t g = 0; g < n_grp; g++)
    grp_free(&grp[g]);
fail:
  free(order);
  free(part);
  free(rank);
  free(pcl);
  cp_mfc_free(t);
  return NULL;
}

void cp_mfc_free(cp_mfc_t *t)
{
  if (!t)
    return;
  for (uint32_t k = 0; k < t->n_trees; k++)
    tree_free(&t->tree[k]);
  tree_free(&t->alt);
  free(t);
}

#endif /* the builder */

/* ---- lookup ------------------------------------------------------------------------ */

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

#if !defined(__SSE2__)
/* Child rank of a key at a node without SIMD: the number of thresholds <= key. */
static inline uint32_t node_rank(const cp_mfc_node_t *nd, v4i k)
{
  uint32_t c = 0;
  while (c < CP_MFC_WAYS - 1 && k[0] > (int32_t)nd->thr[c])
    c++;
  return c;
}
#endif

/* The node at `off` (in 8-byte units: 4 per node) of a tree's node array. */
static inline const cp_mfc_node_t *node_at(const char *nb, size_t off)
{
  return (const cp_mfc_node_t *)(const void *)(nb + off * 8);
}

/* A walk's end: the leaf of the node at `off` (a leaf keeps its leaf offset in slot 1),
 * its first two cache lines prefetched for the scan. */
static inline const uint32_t *reach_leaf(const cp_mfc_tree_t *tr, const char *nb, size_t off)
{
  const uint32_t *leaf = tr->leaves + node_at(nb, off)->thr[1];
  __builtin_prefetch(leaf);
  __builtin_prefetch(leaf + 16);
  return leaf;
}

/* One walk step from the node at `off` (in 8-byte units: 4 per node): the offset of the
 * child the key goes to. The next-node word is the first child's offset with 2 * dim in
 * its top 5 bits, so both the node and the key dimension are addressed by scaled index
 * (x8) and the child's offset is the first's plus 4 * rank = 2 * (2 * rank). */
static inline size_t walk_step(const char *nb, size_t off, const v4i *key)
{
  const cp_mfc_node_t *nd = node_at(nb, off);
  uint32_t w = nd->thr[CP_MFC_WAYS - 1];
  const v4i *kp = (const v4i *)(const void *)((const char *)key + (size_t)(w >> 27) * 8);
#if defined(__AVX2__)
  /* one 8-lane compare of the 32-byte node; the rank is the run of low set bits among
   * the 7 threshold slots (thresholds ascend; a leaf's slots past the first are not
   * thresholds, but its slot 0 never compares true, so its rank is 0) */
  __m256i kk = _mm256_broadcastsi128_si256(*(const __m128i *)(const void *)kp);
  __m256i th = _mm256_load_si256((const __m256i *)(const void *)nd);
#if defined(__AVX512VL__)
  /* AVX-512VL: the compare writes a mask register, the 8th slot masked off in it */
  uint32_t m = (uint32_t)_mm256_mask_cmpgt_epi32_mask(0x7f, kk, th);
#else
  uint32_t m = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(kk, th))) & 0x7fu;
#endif
  return (size_t)(w & 0x07ffffffu) + (size_t)__builtin_ctz(m + 1) * 4;
#elif defined(__SSE2__)
  __m128i kk = (__m128i)*kp;
  const __m128i *th = (const __m128i *)nd->thr;
  __m128i c0 = _mm_cmpgt_epi32(kk, _mm_load_si128(th));
  __m128i c1 = _mm_cmpgt_epi32(kk, _mm_load_si128(th + 1));
  /* 2 mask bits per slot (the last slot is the next-node word, not a threshold): the
   * rank's first clear bit is at 2 * rank */
  uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_packs_epi32(c0, c1)) & 0x3fffu;
  return (size_t)(w & 0x07ffffffu) + (size_t)__builtin_ctz(m + 1) * 2;
#else
  return (size_t)(w & 0x07ffffffu) + (size_t)node_rank(nd, *kp) * 4;
#endif
}

/* Walk g keys in lockstep through tree `tr` from their positions idx[] (offsets in
 * `nodes` in 8-byte units: no scaling per step): `lo` rounds of one branch-free step per
 * key (leaves loop to themselves), so the loads of different keys overlap and nothing
 * mispredicts, then until every key is at its leaf or `hi` rounds. */
static inline void walk_lockstep(const cp_mfc_tree_t *tr, const v4i *const *key, size_t *idx,
                                 uint32_t g, uint32_t lo, uint32_t hi, const uint32_t **leaf)
{
  const char *nb = (const char *)tr->nodes;
  uint32_t s = 0;
  /* the keys of a round unrolled by 4: less loop overhead per step (2-3 % on every set;
   * the later trees' pair walk, groups of PGROUP, is slower so) */
  for (; s < lo; s++)
#pragma GCC unroll 4
    for (uint32_t j = 0; j < g; j++)
      idx[j] = walk_step(nb, idx[j], key[j]);
  /* then stop as soon as every key is at its leaf */
  for (; s < hi; s++) {
    size_t live = 0;
    for (uint32_t j = 0; j < g; j++)
      live |= node_at(nb, idx[j])->thr[CP_MFC_WAYS - 1] ^ idx[j];
    if (!live)
      break;
    for (uint32_t j = 0; j < g; j++)
      idx[j] = walk_step(nb, idx[j], key[j]);
  }
  for (uint32_t j = 0; j < g; j++)
    leaf[j] = reach_leaf(tr, nb, idx[j]);
}

/* Walk g keys through one tree from its root. key[j] points at the j-th key walked (a
 * burst's keys minus those already decided). */
static inline void walk_group(const cp_mfc_tree_t *tr, const v4i *const *key, uint32_t g,
                              const uint32_t **leaf)
{
  size_t idx[GROUP];
  for (uint32_t j = 0; j < GROUP; j++)
    idx[j] = 0;
  walk_lockstep(tr, key, idx, g, tr->lock_depth, tr->depth, leaf);
}

/* Walk g (key, tree) pairs in lockstep, each through its own tree (trees past the first:
 * a key undecided after the first tree walks them all, and their walks overlap): at
 * least `lo` rounds, then until every pair is at its leaf or `hi` rounds. */
static inline void walk_pairs(const cp_mfc_t *t, const v4i *const *key, const uint8_t *tr,
                              uint32_t g, uint32_t lo, uint32_t hi, const uint32_t **leaf)
{
  const char *nb[GROUP];
  size_t idx[GROUP];
  for (uint32_t j = 0; j < g; j++) {
    nb[j] = (const char *)t->tree[tr[j]].nodes;
    idx[j] = 0;
  }
  uint32_t s = 0;
  for (; s < lo; s++)
    for (uint32_t j = 0; j < g; j++)
      idx[j] = walk_step(nb[j], idx[j], key[j]);
  for (; s < hi; s++) {
    size_t live = 0;
    for (uint32_t j = 0; j < g; j++)
      live |= node_at(nb[j], idx[j])->thr[CP_MFC_WAYS - 1] ^ idx[j];
    if (!live)
      break;
    for (uint32_t j = 0; j < g; j++)
      idx[j] = walk_step(nb[j], idx[j], key[j]);
  }
  for (uint32_t j = 0; j < g; j++)
    leaf[j] = reach_leaf(&t->tree[tr[j]], nb[j], idx[j]);
}

static inline uint32_t leaf_first_prio(const uint32_t *leaf, const v4i *key, const uint32_t D)
{
  uint32_t cnt = leaf[0], P = CP_MFC_PAD4(cnt);
  const uint32_t *prio = leaf + 4, *grp = leaf + 4 + P;
  /* a group of 4 entries is one block: constant offsets per dimension */
  for (uint32_t base = 0; base < P; base += 4, grp += 8 * D) {
    v4i miss = {0, 0, 0, 0};
    /* every dimension, no early exit after the addresses: the unrolled compares cost
     * less than that branch's mispredictions (policy8) */
    for (uint32_t d = 0; d < D; d++)
      /* key' - lo = (key - lo) ^ SIGN, compared signed with span' */
      miss |= (v4i)((v4u)key[d] - load4(grp + 8 * d)) > (v4i)load4(grp + 8 * d + 4);
    /* a padding entry (last group only) that matches yields prio UINT32_MAX: no match */
    uint32_t hit = hit_mask((v4u)miss);
    if (hit)
      return prio[base + (uint32_t)__builtin_ctz(hit)];
  }
  return UINT32_MAX;
}

/* The trees past the first, for the keys of a chunk: every (undecided key, tree whose
 * min_prio is past the key's best so far) pair of one level, walked together PGROUP at a
 * time whatever their trees (a key undecided by the first tree usually walks all of the
 * level's trees: their walks overlap instead of following one another). Out of line:
 * most chunks need little of it, and the first tree's loop keeps its registers. */
static inline void later_trees_impl(const cp_mfc_t *t, const v4i *const *key,
                                    const uint8_t *alt, uint32_t g, const uint32_t D,
                                    uint32_t *best, const int has_alt)
{
  /* one level of trees at a time (see cp_mfc_build): a key answered in a level skips the
   * next levels' trees, whose min_prio lie past its answer */
  uint32_t left[CHUNK]; /* the keys a tree of the level can improve (t0 has the least min_prio) */
  uint32_t lefta[CHUNK]; /* keys that walked t->alt: level 1 holds nothing more for them */
  uint32_t m = 0, ma = 0;
  if (has_alt) {
    for (uint32_t j = 0; j < g; j++) {
      uint32_t c = best[j] > t->tree[1].min_prio;
      left[m] = j;
      lefta[ma] = j;
      m += c & (alt[j] ^ 1u);
      ma += c & alt[j];
    }
  } else {
    for (uint32_t j = 0; j < g; j++) {
      left[m] = j;
      m += best[j] > t->tree[1].min_prio;
    }
  }
  for (uint32_t t0 = 1, t1; t0 < t->n_trees && (m || ma); t0 = t1) {
    for (t1 = t0 + 1; t1 < t->n_trees && t->tree[t1].level == t->tree[t0].level; t1++)
      ;
    if (t0 > 1) {
      /* the previous level's keys that this level can still improve, and the keys that
       * skipped level 1 */
      uint32_t m2 = 0;
      for (uint32_t i = 0; i < m; i++) {
        left[m2] = left[i];
        m2 += best[left[i]] > t->tree[t0].min_prio;
      }
      if (has_alt) {
        for (uint32_t i = 0; i < ma; i++) {
          left[m2] = lefta[i];
          m2 += best[lefta[i]] > t->tree[t0].min_prio;
        }
        ma = 0;
      }
      m = m2;
      if (!m)
        break; /* later levels' min_prio are larger still */
    }
    const v4i *pk[CHUNK * CP_MFC_N_SIGS * CP_MFC_N_PCLASS];
    uint32_t pw[CHUNK * CP_MFC_N_SIGS * CP_MFC_N_PCLASS];
    uint8_t pt[CHUNK * CP_MFC_N_SIGS * CP_MFC_N_PCLASS];
    uint32_t np = 0, lo = UINT32_MAX, hi = 0;
    for (uint32_t tr = t0; tr < t1; tr++) {
      const cp_mfc_tree_t *tree = &t->tree[tr];
      uint32_t before = np;
      for (uint32_t i = 0; i < m; i++) {
        uint32_t j = left[i];
        pk[np] = key[j];
        pw[np] = j;
        pt[np] = (uint8_t)tr;
        int32_t kf = key[j][D - 1][0]; /* the flipped key's last dimension */
        np += (best[j] > tree->min_prio) & (kf >= tree->flo) & (kf <= tree->fhi);
      }
      if (np != before) {
        lo = tree->lock_depth < lo ? tree->lock_depth : lo;
        hi = tree->depth > hi ? tree->depth : hi;
      }
    }
    for (uint32_t s = 0; s < np; s += PGROUP) {
      uint32_t n = np - s < PGROUP ? np - s : PGROUP;
      const uint32_t *leaf[GROUP];
      walk_pairs(t, pk + s, pt + s, n, lo, hi, leaf);
      for (uint32_t i = 0; i < n; i++) {
        uint32_t p = leaf_first_prio(leaf[i], pk[s + i], D);
        uint32_t j = pw[s + i];
        best[j] = p < best[j] ? p : best[j];
      }
    }
  }
}

/* Sign-flip a key and broadcast each dimension to a vector of its own. */
static inline void prepare_key(const uint32_t *kj, v4i *bj, const uint32_t D)
{
  uint32_t d = 0;
#if defined(__SSE2__)
  /* four dimensions per vector: one load and flip, then a shuffle per broadcast */
  for (; d + 4 <= D; d += 4) {
    __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(kj + d)),
                              _mm_set1_epi32((int32_t)CP_MFC_SIGN));
    bj[d] = (v4i)_mm_shuffle_epi32(v, 0x00);
    bj[d + 1] = (v4i)_mm_shuffle_epi32(v, 0x55);
    bj[d + 2] = (v4i)_mm_shuffle_epi32(v, 0xaa);
    bj[d + 3] = (v4i)_mm_shuffle_epi32(v, 0xff);
  }
#endif
  for (; d < D; d++) {
    int32_t v = (int32_t)(kj[d] ^ CP_MFC_SIGN);
    bj[d] = (v4i){v, v, v, v};
  }
}

static __attribute__((noinline)) void later_trees(const cp_mfc_t *t, const v4i *const *key,
                                                  uint32_t g, const uint32_t D, uint32_t *best)
{
  later_trees_impl(t, key, NULL, g, D, best, 0);
}

static __attribute__((noinline)) void later_trees_alt(const cp_mfc_t *t,
                                                      const v4i *const *key,
                                                      const uint8_t *alt, uint32_t g,
                                                      const uint32_t D, uint32_t *best)
{
  later_trees_impl(t, key, alt, g, D, best, 1);
}

/* Walk g keys in lockstep through the two heads, which share one node array (alt's
 * behind tree[0]'s, see merge_alt): key j starts at root[j] (0 or t->alt_root); every
 * key takes the same branch-free steps, the deeper head's depth (leaves loop to
 * themselves), so a group with keys of both heads overlaps as many loads as one with
 * keys of one. */
static inline void walk_roots(const cp_mfc_t *t, const v4i *const *key, const size_t *root,
                              uint32_t g, uint32_t lo, uint32_t hi, const uint32_t **leaf)
{
  size_t idx[GROUP];
  for (uint32_t j = 0; j < g; j++)
    idx[j] = root[j];
  walk_lockstep(&t->tree[0], key, idx, g, lo, hi, leaf);
}

/* Two heads: keys of the two common protocols (t->alt_p) walk the plain head tree[0],
 * the others t->alt (the head with level 1's other-protocol rules), in the same groups
 * of GROUP keys (in burst order) and the same lockstep loop, each from its own root.
 * Out of line: the usual one-head loop keeps its registers. */
static __attribute__((noinline)) void chunk_two_heads(const cp_mfc_t *t, const uint32_t *k0,
                                                      uint32_t g, const uint32_t D,
                                                      int32_t *results)
{
  uint32_t best[CHUNK];
  v4i kb[CHUNK * CP_MFC_MAX_DIMS];
  const v4i *key[CHUNK];
  uint8_t alt[CHUNK]; /* 1: the key walked t->alt instead of tree[0] */
  size_t root[CHUNK];
  const cp_mfc_tree_t *h = &t->tree[0], *a = &t->alt;
  /* the rounds of a group with keys of both heads (all in lockstep: such a group rarely
   * has every key at a leaf early), of one with only tree[0]'s, of one with only alt's */
  uint32_t hi2 = h->depth > a->depth ? h->depth : a->depth;
  for (uint32_t j = 0; j < g; j++) {
    key[j] = kb + j * D;
    prepare_key(k0 + (size_t)j * D, kb + j * D, D);
    int32_t kf = key[j][D - 1][0];
    uint32_t x = (kf != t->alt_p[0]) & (kf != t->alt_p[1]);
    alt[j] = (uint8_t)x;
    root[j] = (size_t)(0u - x) & t->alt_root;
  }
  for (uint32_t b0 = 0; b0 < g; b0 += GROUP) {
    uint32_t n = g - b0 < GROUP ? g - b0 : GROUP;
    const uint32_t *leaf[GROUP];
    uint32_t na = 0;
    for (uint32_t i = b0; i < b0 + n; i++)
      na += alt[i];
    uint32_t lo = na == 0 ? h->lock_depth : na == n ? a->lock_depth : hi2;
    uint32_t hi = na == 0 ? h->depth : na == n ? a->depth : hi2;
    walk_roots(t, key + b0, root + b0, n, lo, hi, leaf);
    for (uint32_t i = 0; i < n; i++)
      best[b0 + i] = leaf_first_prio(leaf[i], key[b0 + i], D);
  }
  /* level 1 holds nothing more for the keys that walked t->alt (its other trees hold
   * only the two common protocols): they join at level 2 */
  later_trees_alt(t, key, alt, g, D, best);
  for (uint32_t j = 0; j < g; j++)
    results[j] = best[j] == UINT32_MAX ? -1 : (int32_t)best[j];
}

/* Trees ascend by min_prio: a key whose best match so far is at or before a tree's
 * min_prio cannot improve there, so it does not walk that tree (nor any later one).
 * Keys are first sign-flipped and broadcast, once per dimension, for the node and leaf
 * compares of every tree. A chunk holds up to CHUNK keys: the first tree walks them
 * GROUP at a time; the later trees walk (key, tree) pairs of the whole chunk PGROUP at
 * a time, so the few keys left after a head tree (often 1-3 of 16) are walked together
 * with those of the chunk's other keys, through all their trees at once. */
static inline void classify_chunk(const cp_mfc_t *t, const uint32_t *k0, uint32_t g,
                                  const uint32_t D, int32_t *results)
{
  if (t->alt.n_nodes) {
    chunk_two_heads(t, k0, g, D, results);
    return;
  }
  uint32_t best[CHUNK];
  v4i kb[CHUNK * CP_MFC_MAX_DIMS];
  const v4i *key[CHUNK];
  /* the first tree (every key walks it), one group of GROUP keys at a time */
  for (uint32_t b0 = 0; b0 < g; b0 += GROUP) {
    uint32_t n = g - b0 < GROUP ? g - b0 : GROUP;
    for (uint32_t j = b0; j < b0 + n; j++) {
      key[j] = kb + j * D;
      prepare_key(k0 + (size_t)j * D, kb + j * D, D);
    }
    const uint32_t *leaf[GROUP];
    walk_group(&t->tree[0], key + b0, n, leaf);
    for (uint32_t i = 0; i < n; i++)
      best[b0 + i] = leaf_first_prio(leaf[i], key[b0 + i], D);
  }
  /* the later trees: every (undecided key, tree whose min_prio is past the key's best so
   * far) pair, walked together PGROUP at a time whatever their trees (the later trees' min_prio
   * lie close together, right after the first tree's rules, so a key undecided by the
   * first tree usually walks all of them: their walks overlap instead of following one
   * another) */
  if (t->n_trees > 1)
    later_trees(t, key, g, D, best);
  for (uint32_t j = 0; j < g; j++)
    results[j] = best[j] == UINT32_MAX ? -1 : (int32_t)best[j];
}

void cp_mfc_classify_burst(const cp_mfc_t *t, const uint32_t *keys, uint32_t n,
                           int32_t *results)
{
  const uint32_t D = t->n_dims;
  for (uint32_t base = 0; base < n; base += CHUNK) {
    uint32_t g = n - base < CHUNK ? n - base : CHUNK;
    const uint32_t *k0 = keys + (size_t)base * D;
    /* constant dimension counts let the compiler unroll the leaf tests */
    if (D == 5)
      classify_chunk(t, k0, g, 5, results + base);
    else if (D == 11)
      classify_chunk(t, k0, g, 11, results + base);
    else
      classify_chunk(t, k0, g, D, results + base);
  }
}
