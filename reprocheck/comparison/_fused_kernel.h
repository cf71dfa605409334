/* The comparison kernel for one dtype: included by _fused.c once per dtype, with NAME,
 * REAL (the float type), BITS (the signed integer of its width), DIST (the unsigned one),
 * ABS, MAXV (its largest finite value) and ULP (distance of two bit patterns) defined.
 *
 * Blocks of BLOCK elements: where at least one in eight differs the block is examined
 * whole (vectorized; equal elements add a zero distance and nothing else), else only its
 * differing elements, found eight at a time and examined by position. A block is first
 * counted (vectorized) after a block with many differences, gathered directly after one
 * with few: sparse differences cost one pass. Either way, per
 * examined element k: the error and relative error (0 where the bits are equal, or the
 * error is 0) kept as bits, whose integer maximum is the float maximum (non-negative
 * floats order like their bits), and the ULP distance, counted into the histogram. */

/* Element P of the block, examined as the K-th. */
#define EXAMINE(P, K)                                                                      \
    do {                                                                                   \
        const int64_t p_ = (P);                                                            \
        const REAL bv = bs[p_], cv = cs[p_];                                               \
        const int differs = xb[p_] != yb[p_];                                              \
        const REAL e = ABS(cv - bv);                                                       \
        const REAL allowed = ABS(bv * rtol) + atol;                                        \
        const REAL q = e / ABS(bv);                                                        \
        const REAL ev = differs ? e : (REAL)0;                                             \
        const REAL rv = (differs && e != (REAL)0) ? q : (REAL)0;                           \
        BITS eb, rb;                                                                       \
        DIST d = ULP(xb[p_], yb[p_]);                                                      \
        memcpy(&eb, &ev, sizeof eb);                                                       \
        memcpy(&rb, &rv, sizeof rb);                                                       \
        ne += differs & !(e <= allowed);                                                   \
        bad |= differs & !(e <= MAXV);                                                     \
        err_bits[K] = eb;                                                                  \
        rel_bits[K] = rb;                                                                  \
        dist[K] = d;                                                                       \
        me = eb > me ? eb : me;                                                            \
        mr = rb > mr ? rb : mr;                                                            \
        dmax = d > dmax ? d : dmax;                                                        \
    } while (0)

/* The positions of the block's differing elements into at[0..used), eight equal
 * elements skipped at a time. */
#define GATHER()                                                                           \
    do {                                                                                   \
        for (j = 0; j + 8 <= m; j += 8) {                                                  \
            if (memcmp(xb + j, yb + j, 8 * sizeof(BITS)) == 0)                             \
                continue;                                                                  \
            for (k = j; k < j + 8; k++) { /* branch-free */                                \
                at[used] = k;                                                              \
                used += xb[k] != yb[k];                                                    \
            }                                                                              \
        }                                                                                  \
        for (; j < m; j++) {                                                               \
            at[used] = j;                                                                  \
            used += xb[j] != yb[j];                                                        \
        }                                                                                  \
    } while (0)

/* Position of the K-th examined element in its block. */
#define WHERE(K) (whole ? (K) : at[K])

RC_VERSIONS int NAME(const REAL *b, const REAL *c, int64_t n, REAL rtol, REAL atol,
                     int64_t *hist, rc_stats *out)
{
    BITS err_bits[BLOCK], rel_bits[BLOCK];
    DIST dist[BLOCK];
    int64_t at[BLOCK];
    int64_t s, j, k;
    int64_t n_diff = 0, n_exceed = 0, ulp_max = 0, abs_at = -1, rel_at = -1;
    BITS best_abs = -1, best_rel = -1;
    int sparse = 0; /* how the last block looked: few differences (gathered) or many */
    int64_t small[4][SMALL]; /* distances of blocks whose largest is below SMALL */

    memset(small, 0, sizeof small);

    for (s = 0; s < n; s += BLOCK) {
        const int64_t m = n - s < BLOCK ? n - s : BLOCK;
        const REAL *bs = b + s, *cs = c + s;
        const BITS *xb = (const BITS *)bs, *yb = (const BITS *)cs;
        int64_t nd = 0, ne = 0, used = 0;
        int bad = 0, whole;
        BITS me = 0, mr = 0;
        DIST dmax = 0;

        if (sparse) { /* the last block had few differences: gather this one's directly */
            GATHER();
            nd = used;
        } else {
            for (j = 0; j < m; j++)
                nd += xb[j] != yb[j];
        }
        if (nd == 0) {
            hist[0] += m;
            continue;
        }
        whole = nd * 8 >= m;
        sparse = !whole;
        if (whole) {
            used = m;
            for (k = 0; k < m; k++)
                EXAMINE(k, k);
        } else {
            if (used == 0) { /* counted, not gathered: gather now */
                GATHER();
            }
            hist[0] += m - nd;
            for (k = 0; k < used; k++)
                EXAMINE(at[k], k);
        }
        if (bad) {
            out->nonfinite = 1;
            return 1;
        }
        n_diff += nd;
        n_exceed += ne;
        ulp_max = (int64_t)dmax > ulp_max ? (int64_t)dmax : ulp_max;
        if (dmax < SMALL) { /* four copies: runs of one distance do not wait on each other */
            for (k = 0; k + 4 <= used; k += 4) {
                small[0][dist[k]]++;
                small[1][dist[k + 1]]++;
                small[2][dist[k + 2]]++;
                small[3][dist[k + 3]]++;
            }
            for (; k < used; k++)
                small[0][dist[k]]++;
        } else if (dmax < LIMIT) {
            for (k = 0; k < used; k++)
                hist[dist[k]]++;
        } else {
            for (k = 0; k < used; k++)
                hist[slot_of(dist[k])]++;
        }
        if (me > best_abs) { /* the first differing element holding the block's maximum */
            for (k = 0; k < used; k++)
                if (xb[WHERE(k)] != yb[WHERE(k)] && err_bits[k] == me)
                    break;
            best_abs = me;
            abs_at = s + WHERE(k);
        }
        if (mr > best_rel) {
            for (k = 0; k < used; k++)
                if (xb[WHERE(k)] != yb[WHERE(k)] && rel_bits[k] == mr)
                    break;
            best_rel = mr;
            rel_at = s + WHERE(k);
        }
    }
    for (k = 0; k < SMALL; k++)
        hist[k] += small[0][k] + small[1][k] + small[2][k] + small[3][k];
    out->n_diff = n_diff;
    out->n_exceed = n_exceed;
    out->ulp_max = ulp_max;
    out->abs_at = abs_at;
    out->rel_at = rel_at;
    out->nonfinite = 0;
    {
        REAL fa, fr;
        memcpy(&fa, &best_abs, sizeof fa);
        memcpy(&fr, &best_rel, sizeof fr);
        out->max_abs = best_abs < 0 ? -1.0 : (double)fa;
        out->max_rel = best_rel < 0 ? -1.0 : (double)fr;
    }
    return 0;
}

#undef EXAMINE
#undef GATHER
#undef WHERE
#undef NAME
#undef REAL
#undef BITS
#undef DIST
#undef ABS
#undef MAXV
#undef ULP
