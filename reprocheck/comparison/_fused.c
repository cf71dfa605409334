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
#define SMALL 256 /* distances below this are counted in four small histograms first */

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

static inline int64_t slot_of(uint64_t d)
{
    if (d < LIMIT)
        return (int64_t)d;
    return LIMIT + (63 - __builtin_clzll(d)) - 16;
}

/* ULP distance of two float32 bit patterns: their ordered (two's complement) values. */
static inline uint32_t ulp32(int32_t x, int32_t y)
{
    int32_t ox = x >= 0 ? x : -(x & 0x7fffffff);
    int32_t oy = y >= 0 ? y : -(y & 0x7fffffff);
    /* The true difference is below 2**32: unsigned arithmetic holds it. */
    return ox >= oy ? (uint32_t)ox - (uint32_t)oy : (uint32_t)oy - (uint32_t)ox;
}

/* float64: magnitudes subtract (same sign) or add (across zero, saturating). */
static inline uint64_t ulp64(int64_t x, int64_t y)
{
    uint64_t am = (uint64_t)x & 0x7fffffffffffffffULL;
    uint64_t bm = (uint64_t)y & 0x7fffffffffffffffULL;
    uint64_t u = ((x < 0) == (y < 0)) ? (am > bm ? am - bm : bm - am) : am + bm;
    return u > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : u;
}

/* The kernel, once per dtype (_fused_kernel.h is a template of it). */
#define NAME rc_stats_f32
#define REAL float
#define BITS int32_t
#define DIST uint32_t
#define ABS fabsf
#define MAXV FLT_MAX
#define ULP ulp32
#include "_fused_kernel.h"

#define NAME rc_stats_f64
#define REAL double
#define BITS int64_t
#define DIST uint64_t
#define ABS fabs
#define MAXV DBL_MAX
#define ULP ulp64
#include "_fused_kernel.h"

/* For ascending ranks, the slot holding each (the first whose cumulative count exceeds it,
 * slot 0 counting `zeros` more): what torch.searchsorted(cumsum(hist), rank, right=True)
 * gives, in one pass and no allocation. A rank past the last count gets nslots. */
void rc_slots_of_ranks(const int64_t *hist, int64_t nslots, int64_t zeros, const int64_t *ranks,
                       int64_t n, int64_t *out)
{
    int64_t slot = 0, i = 0, cumulative = zeros + (nslots > 0 ? hist[0] : 0);
    for (i = 0; i < n; i++) {
        while (slot < nslots && cumulative <= ranks[i]) {
            slot++;
            if (slot < nslots)
                cumulative += hist[slot];
        }
        out[i] = slot;
    }
}
