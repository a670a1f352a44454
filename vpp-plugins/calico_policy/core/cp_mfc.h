/*
 * Multi-field packet classifier: first match over boxes (one inclusive range per
 * dimension, up to CP_MFC_MAX_DIMS 32-bit dimensions) by decision trees: HyperSplit-style
 * cuts at rule endpoints, but multi-way (a node cuts one dimension into up to 8
 * intervals); leaves hold at most a few rules, in priority order, with their boxes
 * inline so a leaf scan touches no other memory. Sets that replicate too much in one tree
 * are split into a head tree (their first rules) and partitions by priority level,
 * protocol class and address shape. The built trees are immutable.
 *
 * Lookup cost is the trees' depth (a few levels for the usual rule sets) plus bounded
 * leaf scans, independent of the number of rules; bursts walk 32 packets through a tree
 * in lockstep so the dependent loads of different packets overlap, and a packet matched
 * in an earlier tree skips the trees whose rules all come after its match.
 *
 * The calico_policy engine builds one per (program, address family); the benchmark uses
 * it directly over ClassBench 5-tuples, next to rte_acl.
 */
#ifndef CP_MFC_H
#define CP_MFC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CP_MFC_MAX_DIMS 11
#define CP_MFC_LEAF_DIM 15u
#define CP_MFC_IDX_MASK 0x0fffffffu

typedef struct {
  uint32_t lo, hi; /* inclusive */
} cp_mfc_range_t;

/* Internal node: cuts one dimension into up to CP_MFC_WAYS intervals by up to
 * CP_MFC_WAYS - 1 ascending thresholds t_0 < t_1 < ...; a key goes to child
 * `child + #{j : key[dim] >= t_j}` (children are adjacent). Thresholds are stored as
 * (t_j - 1) ^ CP_MFC_SIGN, so "key >= t_j" is the signed compare
 * (key ^ CP_MFC_SIGN) > stored_j, four at a time with one vector compare; unused slots
 * hold CP_MFC_THR_NONE, which no key exceeds. The last slot is not a threshold but the
 * burst walk's next-node word (see below), so a walk step reads one 32-byte node and
 * nothing else. `info[i]` is dim << 28 | child; a leaf has dim CP_MFC_LEAF_DIM and
 * `child` is its word offset in `leaves`.
 *
 * Burst walks: thr[CP_MFC_WAYS - 1] is the first child's offset in `nodes` in 8-byte
 * units (child * 4) with 2 * dim in its top 5 bits, so a step addresses the node and the
 * key dimension by scaled index; a leaf loops to itself (its own offset, dim 0): a leaf's thr[0] is CP_MFC_THR_NONE, so its rank
 * is 0 whatever the other slots hold, and its thr[1] is its offset in `leaves`. Every
 * packet takes exactly `depth` branch-free steps (or stops early once every key of the
 * group is at a leaf). A tree has at most CP_MFC_WALK_MAX_NODES nodes. */
#define CP_MFC_WAYS 8
#define CP_MFC_WALK_MAX_NODES (1u << 25)
#define CP_MFC_THR_NONE 0x7fffffffu
typedef struct {
  uint32_t thr[CP_MFC_WAYS];
} cp_mfc_node_t;

/* Leaf layout in `leaves` (32-bit words), entries padded to P = count rounded up to 4:
 * [count, 0, 0, 0], prio[P], then one block of 8 * D words per group of 4 entries: per
 * dimension d, lo[4], span'[4] with span' = (hi - lo) ^ CP_MFC_SIGN. lo <= key <= hi is
 * the unsigned key - lo <= hi - lo, which is the signed (key' - lo) <= span' with key' =
 * key ^ CP_MFC_SIGN (SSE2 and NEON have signed 32-bit vector compares only): a subtract
 * and a compare per dimension, four entries at a time at constant offsets in the block.
 * Entries ascend by prio; padding entries are the point 0 with prio UINT32_MAX ("no
 * match"), in the last group only, and lie past `count`. */
#define CP_MFC_PAD4(n) (((n) + 3u) & ~3u)
/* word of entry k's lo in dimension d, from the first block (span' is 4 words on) */
#define CP_MFC_LEAF_LO(k, d, D) (((k) >> 2) * 8u * (D) + 8u * (d) + ((k) & 3u))
#define CP_MFC_SIGN 0x80000000u
typedef struct {
  cp_mfc_node_t *nodes; /* nodes[0] is the root (64-byte aligned) */
  uint32_t *info;       /* per node: dim << 28 | child, or LEAF_DIM << 28 | leaf offset */
  uint32_t *leaves;
  uint32_t n_nodes, leaf_words;
  uint32_t min_prio; /* no entry of this tree has a lower priority */
  uint32_t n_rules;
  uint32_t depth;     /* deepest leaf (nodes on the way) */
  uint32_t lock_depth; /* burst walks: steps taken before checking for early exit */
  uint32_t level;      /* 0: head (or the only tree); trees of one level are walked together */
  int32_t flo, fhi;    /* hull of the rules in the last dimension, ^ CP_MFC_SIGN */
} cp_mfc_tree_t;

/* Rules are partitioned by which of the two address dimensions are "large" (wider than
 * CP_MFC_LARGE_SPAN): a tree whose rules are all narrow in a dimension can cut that
 * dimension without copying rules into both halves (the EffiCuts/CutSplit idea). */
#define CP_MFC_N_SIGS 4   /* address-shape partitions */
#define CP_MFC_N_PCLASS 3  /* classes by the last dimension (protocol): 2 common values, rest */
#define CP_MFC_MAX_TREES 25 /* a head tree, then per level (2) and class one per partition */
#define CP_MFC_LARGE_SPAN 0x00ffffffu

typedef struct cp_mfc {
  uint32_t n_dims;
  uint32_t n_rules;
  uint32_t n_trees;
  uint32_t n_nodes; /* totals over the trees */
  uint32_t n_leaves;
  uint32_t max_depth;
  uint32_t max_leaf;
  uint32_t n_entries; /* leaf entries (rules times their copies) */
  cp_mfc_tree_t tree[CP_MFC_MAX_TREES]; /* ascending level, then min_prio */
  /* Bursts only (tree[] alone is a complete classifier): the head's rules and level 1's
   * class-0 rules (other protocols, wildcards) in one tree, walked instead of tree[0] by
   * keys whose last dimension is neither of the two common values alt_p[] (flipped);
   * those keys then skip level 1 (its other trees hold only those two values). alt.n_nodes
   * is 0 when there is none. */
  cp_mfc_tree_t alt;
  int32_t alt_p[2];
  uint32_t alt_root; /* alt's root in tree[0].nodes (8-byte units): its nodes and leaves
                       * follow tree[0]'s in the same arrays (bursts only) */
  uint64_t memory_bytes;
} cp_mfc_t;

typedef struct cp_mfc_builder cp_mfc_builder_t;

enum {
  /* Every lookup wants the first match from priority 0 with no other predicate: rules
   * shadowed inside a node's region by an earlier rule covering it are dropped. */
  CP_MFC_F_FIRST_MATCH_ONLY = 1u << 0,
};

cp_mfc_builder_t *cp_mfc_builder_create(uint32_t n_dims);
void cp_mfc_builder_destroy(cp_mfc_builder_t *b);
/* Add a box with priority `prio` (lower wins; ties keep insertion order). Returns 0, or
 * -1 when a range is inverted or memory is short. */
int cp_mfc_builder_add(cp_mfc_builder_t *b, uint32_t prio, const cp_mfc_range_t *box);
uint32_t cp_mfc_builder_count(const cp_mfc_builder_t *b);
/* Build the tree (the builder stays usable). NULL on allocation failure. */
cp_mfc_t *cp_mfc_build(const cp_mfc_builder_t *b, uint32_t flags);
void cp_mfc_free(cp_mfc_t *t);

/* First match for n keys (key i at keys + i * n_dims): its prio, or -1. */
void cp_mfc_classify_burst(const cp_mfc_t *t, const uint32_t *keys, uint32_t n,
                           int32_t *results);

/* The instruction set cp_mfc_classify_burst runs with: "build" (one lookup, compiled for
 * the build's target: -march=native, or not x86-64), else "sse2", "avx2" or "avx512", the
 * best this CPU runs unless one was selected. cp_mfc_isa_select(name) forces one (tests
 * and benchmarks compare them; NULL returns to the best): 0, or -1 when this build or
 * this CPU has no such lookup. Process-wide; safe while other threads classify. */
const char *cp_mfc_isa(void);
int cp_mfc_isa_select(const char *name);

/* Leaf of tree `t` for one key. */
static inline const uint32_t *cp_mfc_leaf(const cp_mfc_tree_t *t, const uint32_t *key)
{
  uint32_t i = 0;
  for (;;) {
    uint32_t info = t->info[i];
    uint32_t d = info >> 28;
    if (d == CP_MFC_LEAF_DIM)
      return t->leaves + (info & CP_MFC_IDX_MASK);
    int32_t k = (int32_t)(key[d] ^ CP_MFC_SIGN);
    const uint32_t *thr = t->nodes[i].thr;
    uint32_t c = 0;
    while (c < CP_MFC_WAYS - 1 && k > (int32_t)thr[c])
      c++;
    i = (info & CP_MFC_IDX_MASK) + c;
  }
}

/* Leaf accessors: entries in a leaf, the priority of entry k, does entry k contain key? */
static inline uint32_t cp_mfc_leaf_count(const uint32_t *leaf)
{
  return leaf[0];
}

static inline uint32_t cp_mfc_leaf_prio(const uint32_t *leaf, uint32_t k)
{
  return leaf[4 + k];
}

static inline int cp_mfc_leaf_match(const uint32_t *leaf, uint32_t k, const uint32_t *key,
                                    uint32_t n_dims)
{
  uint32_t P = CP_MFC_PAD4(leaf[0]);
  const uint32_t *col = leaf + 4 + P;
  for (uint32_t d = 0; d < n_dims; d++) {
    uint32_t kf = key[d] ^ CP_MFC_SIGN;
    uint32_t lo = CP_MFC_LEAF_LO(k, d, n_dims);
    if ((int32_t)(kf - col[lo]) > (int32_t)col[lo + 4])
      return 0;
  }
  return 1;
}

#ifdef __cplusplus
}
#endif
#endif /* CP_MFC_H */
