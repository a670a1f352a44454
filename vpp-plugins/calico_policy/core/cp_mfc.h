/*
 * Multi-field packet classifier: first match over boxes (one inclusive range per
 * dimension, up to CP_MFC_MAX_DIMS 32-bit dimensions) by a decision tree in the style of
 * HyperSplit: binary nodes split one dimension at a threshold chosen to balance the
 * rules on both sides; leaves hold at most a few rules, in priority order, with their
 * boxes inline so a leaf scan touches no other memory. The built tree is immutable.
 *
 * Lookup cost is the tree depth (O(log n) for the usual rule sets) plus a bounded leaf
 * scan, independent of the number of rules; bursts walk several packets through the tree
 * in lockstep so the dependent loads of different packets overlap.
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

/* Internal node: key[dim] < thr goes to child, else child + 1. A leaf has dim 15 and
 * `child` is its word offset in `leaves`. */
typedef struct {
  uint32_t thr;
  uint32_t info; /* dim << 28 | child (or leaf offset) */
} cp_mfc_node_t;

/* Leaf layout in `leaves` (32-bit words), columns padded to P = count rounded up to 4:
 * [count, 0, 0, 0], prio[P], then per dimension d: lo[P], span[P] with
 * span = (hi - lo) ^ CP_MFC_SIGN. Entries ascend by prio; a leaf test is the unsigned
 * (key - lo) <= hi - lo, done as a signed compare of (key - lo) ^ CP_MFC_SIGN with the
 * stored span (SSE2 and NEON have signed 32-bit vector compares: one instruction less per
 * dimension than an unsigned one), four entries at a time. */
#define CP_MFC_PAD4(n) (((n) + 3u) & ~3u)
#define CP_MFC_SIGN 0x80000000u
typedef struct {
  cp_mfc_node_t *nodes; /* nodes[0] is the root */
  uint32_t *leaves;
  uint32_t n_nodes, leaf_words;
  uint32_t min_prio; /* no entry of this tree has a lower priority */
  uint32_t n_rules;
  uint32_t depth;          /* deepest leaf */
  uint32_t pad;
  /* For burst walks: the same nodes, but a leaf loops to itself (dim 0, thr 0, child =
   * itself - 1), so every packet takes exactly `depth` branch-free steps; leafof[i] is
   * leaf i's offset in `leaves`. */
  cp_mfc_node_t *wnodes;
  uint32_t *leafof;
} cp_mfc_tree_t;

/* Rules are partitioned by which of the two address dimensions are "large" (wider than
 * CP_MFC_LARGE_SPAN): a tree whose rules are all narrow in a dimension can cut that
 * dimension without copying rules into both halves (the EffiCuts/CutSplit idea). */
#define CP_MFC_MAX_TREES 4
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
  cp_mfc_tree_t tree[CP_MFC_MAX_TREES]; /* ascending min_prio */
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

/* Leaf of tree `t` for one key. */
static inline const uint32_t *cp_mfc_leaf(const cp_mfc_tree_t *t, const uint32_t *key)
{
  const cp_mfc_node_t *nodes = t->nodes;
  uint32_t i = 0;
  for (;;) {
    uint32_t info = nodes[i].info;
    uint32_t d = info >> 28;
    if (d == CP_MFC_LEAF_DIM)
      return t->leaves + (info & CP_MFC_IDX_MASK);
    i = (info & CP_MFC_IDX_MASK) + (key[d] >= nodes[i].thr);
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
  for (uint32_t d = 0; d < n_dims; d++)
    if (key[d] - col[2 * d * P + k] > (col[(2 * d + 1) * P + k] ^ CP_MFC_SIGN))
      return 0;
  return 1;
}

#ifdef __cplusplus
}
#endif
#endif /* CP_MFC_H */
