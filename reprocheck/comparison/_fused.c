/* One pass over two float tensors: the statistics of reprocheck.comparison._chunked.Accumulator.
 *
 * Built at install time by hatch_build.py (cc -O3 -ffp-contract=off; no Python headers:
 * loaded with ctypes by _fused.py, which falls back to the torch path where this library
 * is absent). The arithmetic is the torch path's, operation for operation, so the two
 * agree bit for bit (tests/unit/comparison/test_fused.py checks it with hypothesis):
 *
 *   err     = |c - b|                       in the tensor's own dtype (float32 or float64)
 *   exceeds = !(err <= |b * rtol| + atol)   torch.isclose's rule, rtol and atol rounded to
 *                                           the dtype first, as torch does with a Python scalar
 *   rel     = err / |b|                     0 where err is 0 (0/0 from +0 vs -0)
 *   ulp     = |ordered(c) - ordered(b)|     ordered: sign-magnitude -> two's complement,
 *                                           float64 across zero saturating at 2**63 - 1
 *
 * Only elements whose bits differ count (n_diff) and can hold a maximum; equal elements
 * add a zero ULP distance. The first position of each maximum is kept. A differing element
 * with a NaN or Inf on either side, or an overflowing difference, stops the pass
 * (nonfinite = 1): the caller takes the torch path, which handles those cases.
 *
 * The histogram has one slot per distance below 2**16, then one per power of two
 * (slot 2**16 + floor(log2(d)) - 16), as _chunked.Accumulator._count fills it.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* The main loops vectorize well on x86-64 only from AVX2 up: one build carries a version
 * per x86-64 level and the dynamic loader picks the machine's (function multiversioning;
 * hatch_build.py retries with -DRC_NO_VERSIONS where the compiler refuses it). */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(RC_NO_VERSIONS)
#define RC_VERSIONS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RC_VERSIONS
#endif

#define LIMIT 65536
#define BLOCK 1024

typedef struct {
    int64_t n_diff;
    int64_t n_exceed;
    int64_t ulp_max;
    int64_t abs_at;
    int64_t rel_at;
    int64_t nonfinite;
    double max_abs;
    double max_rel;
} rc_stats;

static inline int64_t slot_of(int64_t d)
{
    if (d < LIMIT)
        return d;
    return LIMIT + (63 - __builtin_clzll((uint64_t)d)) - 16;
}

/* ULP distance of two float32 bit patterns: ordered (two's complement) values subtract
 * exactly in int64. */
static inline int64_t ulp32(int32_t x, int32_t y)
{
    int64_t ox = x >= 0 ? (int64_t)x : -(int64_t)(x & 0x7fffffff);
    int64_t oy = y >= 0 ? (int64_t)y : -(int64_t)(y & 0x7fffffff);
    int64_t d = ox - oy;
    return d < 0 ? -d : d;
}

/* float64: magnitudes subtract (same sign) or add (across zero, saturating). */
static inline int64_t ulp64(int64_t x, int64_t y)
{
    uint64_t am = (uint64_t)x & 0x7fffffffffffffffULL;
    uint64_t bm = (uint64_t)y & 0x7fffffffffffffffULL;
    uint64_t u = ((x < 0) == (y < 0)) ? (am > bm ? am - bm : bm - am) : am + bm;
    return u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
}

/* One block of m elements is examined whole where many differ, else only its differing
 * elements (gathered by position first): both give the same numbers, equal elements
 * adding zero distances and nothing else. Per examined element k (source position at[k]):
 * err[k], rel[k] (0 where the bits are equal or err is 0) and dist[k]; the block's largest
 * err and rel are found on their bits (a non-negative float's bits order like the float). */
#define RC_ELEMENT(P, K, REAL, ABS, MAXV, ULP)                                            \
    {                                                                                         \
        int64_t p_ = (P);                                                                     \
        REAL bv = b[s + p_], cv = c[s + p_];                                                  \
        int differs = xb[p_] != yb[p_];                                                       \
        REAL e = ABS(cv - bv);                                                                \
        REAL allowed = ABS(bv * rtol) + atol;                                                 \
        REAL q = e / ABS(bv);                                                                 \
        ne += differs & !(e <= allowed);                                                      \
        bad |= differs & !(e <= MAXV);                                                        \
        err[K] = differs ? e : (REAL)0;                                                       \
        rel[K] = (differs && e != (REAL)0) ? q : (REAL)0;                                     \
        dist[K] = ULP(xb[p_], yb[p_]);                                                        \
    }
#define WHERE(K) (whole ? (K) : at[K])

#define RC_DEFINE(NAME, REAL, BITS, ABS, MAXV, ULP)                                          \
    RC_VERSIONS int NAME(const REAL *b, const REAL *c, int64_t n, REAL rtol, REAL atol,       \
                         int64_t *hist, rc_stats *out)                                      \
    {                                                                                         \
        REAL err[BLOCK], rel[BLOCK];                                                          \
        BITS err_bits[BLOCK], rel_bits[BLOCK];                                                \
        int64_t dist[BLOCK], at[BLOCK];                                                       \
        int64_t s, j, k;                                                                      \
        int64_t n_diff = 0, n_exceed = 0, ulp_max = 0, abs_at = -1, rel_at = -1;              \
        BITS best_abs = -1, best_rel = -1;                                                    \
        for (s = 0; s < n; s += BLOCK) {                                                      \
            int64_t m = n - s < BLOCK ? n - s : BLOCK, nd = 0, ne = 0, dmax = 0, used;        \
            int bad = 0, whole;                                                               \
            BITS me = 0, mr = 0;                                                              \
            const BITS *xb = (const BITS *)(b + s), *yb = (const BITS *)(c + s);              \
            for (j = 0; j < m; j++)                                                           \
                nd += xb[j] != yb[j];                                                         \
            if (nd == 0) {                                                                    \
                hist[0] += m;                                                                 \
                continue;                                                                     \
            }                                                                                 \
            whole = nd * 8 >= m;                                                              \
            if (whole) {                                                                      \
                used = m;                                                                     \
                for (k = 0; k < m; k++)                                                       \
                    RC_ELEMENT(k, k, REAL, ABS, MAXV, ULP)                                    \
            } else {                                                                          \
                used = 0;                                                                     \
                for (j = 0; j < m; j++) { /* branch-free: differences are rare here */        \
                    at[used] = j;                                                             \
                    used += xb[j] != yb[j];                                                   \
                }                                                                             \
                hist[0] += m - nd;                                                            \
                for (k = 0; k < used; k++)                                                    \
                    RC_ELEMENT(at[k], k, REAL, ABS, MAXV, ULP)                                \
            }                                                                                 \
            if (bad) {                                                                        \
                out->nonfinite = 1;                                                           \
                return 1;                                                                     \
            }                                                                                 \
            memcpy(err_bits, err, (size_t)used * sizeof(REAL));                               \
            memcpy(rel_bits, rel, (size_t)used * sizeof(REAL));                               \
            for (k = 0; k < used; k++) {                                                      \
                me = err_bits[k] > me ? err_bits[k] : me;                                     \
                mr = rel_bits[k] > mr ? rel_bits[k] : mr;                                     \
                dmax = dist[k] > dmax ? dist[k] : dmax;                                       \
            }                                                                                 \
            n_diff += nd;                                                                     \
            n_exceed += ne;                                                                   \
            ulp_max = dmax > ulp_max ? dmax : ulp_max;                                        \
            if (dmax < LIMIT)                                                                 \
                for (k = 0; k < used; k++)                                                    \
                    hist[dist[k]]++;                                                          \
            else                                                                              \
                for (k = 0; k < used; k++)                                                    \
                    hist[slot_of(dist[k])]++;                                                 \
            if (me > best_abs) {                                                              \
                for (k = 0; k < used; k++)                                                    \
                    if (xb[WHERE(k)] != yb[WHERE(k)] && err_bits[k] == me)                    \
                        break;                                                                \
                best_abs = me;                                                                \
                abs_at = s + WHERE(k);                                                        \
            }                                                                                 \
            if (mr > best_rel) {                                                              \
                for (k = 0; k < used; k++)                                                    \
                    if (xb[WHERE(k)] != yb[WHERE(k)] && rel_bits[k] == mr)                    \
                        break;                                                                \
                best_rel = mr;                                                                \
                rel_at = s + WHERE(k);                                                        \
            }                                                                                 \
        }                                                                                     \
        out->n_diff = n_diff;                                                                 \
        out->n_exceed = n_exceed;                                                             \
        out->ulp_max = ulp_max;                                                               \
        out->abs_at = abs_at;                                                                 \
        out->rel_at = rel_at;                                                                 \
        out->nonfinite = 0;                                                                   \
        {                                                                                     \
            REAL fa, fr;                                                                      \
            memcpy(&fa, &best_abs, sizeof(REAL));                                             \
            memcpy(&fr, &best_rel, sizeof(REAL));                                             \
            out->max_abs = best_abs < 0 ? -1.0 : (double)fa;                                  \
            out->max_rel = best_rel < 0 ? -1.0 : (double)fr;                                  \
        }                                                                                     \
        return 0;                                                                             \
    }

RC_DEFINE(rc_stats_f32, float, int32_t, fabsf, FLT_MAX, ulp32)
RC_DEFINE(rc_stats_f64, double, int64_t, fabs, DBL_MAX, ulp64)
