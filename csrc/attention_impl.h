/* attention_impl.h -- fused attention, forward and backward: FlashAttention on a CPU.
 *
 * A template: attention.c includes it six times (base / AVX2 / AVX-512, each for
 * float32 and float64) with T, V, W, DFN, VEXP, ... set by tg_dtype.h and the register
 * tile ATT_MR x ATT_NV set per ISA. Every name gets the suffix _<f32|f64>_<isa>,
 * e.g. forward_block_f32_avx512 (look for it in `objdump -d`).
 *
 * Shapes, for one head n (N = batch * heads of them): q (nT, D), k and v (nS, D),
 * out (nT, D), lse (nT,). nT queries, nS keys, D features. Where head n's rows are
 * is each tensor's tg_att_view (attention.h): one after the other for (N, T, D) arrays,
 * or inside the GPT's packed (B, T, 3C) query|key|value activations, read in place.
 *
 * ====================================================================================
 * 1. The textbook version, and what is wrong with it
 * ====================================================================================
 *
 *     S = scale * Q K^T            (nT, nS)   every query against every key
 *     S[i, j] = -inf  if j > i + offset       (causal: a token may not look ahead)
 *     P = softmax(S), row by row   (nT, nS)
 *     O = P V                      (nT, D)
 *
 * (reference.attention_forward, line by line.) At nT = nS = 1024, S and P are 4 MB
 * each per head -- 48 MB for GPT-2's 12 heads -- and the backward keeps P and makes
 * dP and dS of the same size. Worse than the memory is the traffic: S is written out
 * to RAM, read back by the softmax, P written, read back by the product. The FMA units
 * spend most of their time waiting for memory.
 *
 * ====================================================================================
 * 2. Online softmax: O without ever holding a whole row of S
 * ====================================================================================
 *
 * Take the keys in blocks of ATT_BC. Each query keeps a running maximum m, a running
 * sum l = sum_j e^(S_ij - m) and an unnormalised output o = sum_j e^(S_ij - m) v_j.
 * When the scores s_1..s_Bc of the next key block arrive:
 *
 *     m_new = max(m, max_j s_j)
 *     alpha = e^(m - m_new)                   <= 1: the old terms were computed with
 *     l     = alpha * l + sum_j e^(s_j - m_new)     a maximum that was too small, and
 *     o     = alpha * o + sum_j e^(s_j - m_new) v_j  alpha corrects all of them at once
 *
 * After the last block o / l is exactly softmax(S_i) V, and m + log(l) is the row's
 * log-sum-exp, lse_i. Only one block of scores (ATT_BR x ATT_BC = 16 KB in float32)
 * exists at any time, and it never leaves the L1 cache. Causal: key blocks entirely
 * in the future of every query of the block are never computed (half of them); only
 * the blocks on the diagonal need the -inf mask.
 *
 * ====================================================================================
 * 3. Backward: recompute instead of store
 * ====================================================================================
 *
 * With dO the gradient of the output, the textbook backward (reference.py) is
 *
 *     dV = P^T dO                        (nS, D)
 *     dP = dO V^T                        (nT, nS)
 *     dS = P * (dP - rowsum(dO * O))     (nT, nS)   softmax's backward; note that
 *                                                   rowsum(P * dP) = rowsum(dO * O)
 *     dQ = scale * dS K                  (nT, D)
 *     dK = scale * dS^T Q                (nS, D)
 *
 * Forward kept only lse (nT numbers, not nT x nS), and that is enough to rebuild any
 * block of P directly: P_ij = e^(S_ij - lse_i), no running max needed. So backward
 * walks the same blocks again: for each key block j (which owns its rows of dK and
 * dV), for each query block i that may see it, recompute S_ij and P_ij, then dP_ij
 * and dS_ij, and add the pair's share to dV_j, dK_j and dQ_i. Five block products
 * per block pair (forward: two); the nT x nS matrices never exist.
 *
 * ====================================================================================
 * 4. Queries along the vector lanes
 * ====================================================================================
 *
 * Every block here is stored TRANSPOSED, with the ATT_BR queries of a block along the
 * vector lanes: scores S^T (keys x queries), output O^T (D x queries). Why:
 *   - one query's softmax runs down a COLUMN of S^T. So m, l, alpha, lse and
 *     rowsum(dO * O) are rows of ATT_BR lanes, and the max, the exp, the sums and the
 *     rescaling are plain vertical vector operations: no horizontal sums, no
 *     shuffles. Each vector lane runs the online softmax of one query.
 *   - the block products then have the shape the register tile wants (section 5):
 *     the vector operand is Q^T, dO^T or a row of P^T (queries contiguous), and the
 *     broadcast operand is a row of K or a column of V, read in place. Only Q and dO
 *     are transposed: once per query block (forward) or once per head (backward),
 *     and every key block reuses the copy.
 * Two products (dV += P^T dO and dK += dS^T Q) have D along the lanes instead: there D
 * is padded to whole vectors (a padded copy of Q and dO only when D % W != 0).
 *
 * ====================================================================================
 * 5. The register tile (the idea of gemm_impl.h's micro-kernel)
 * ====================================================================================
 *
 *     C[r, lanes] (+)= sum_k A[r, k] * B[k, lanes]      r < ATT_MR, nv vectors of lanes
 *
 * ATT_MR x nv accumulators live in registers for the whole loop over k; each step
 * loads nv vectors of B and broadcasts ATT_MR numbers of A, feeding ATT_MR * nv
 * independent FMAs (enough to cover the FMA latency). A is read IN PLACE at
 * a[r*ars + k*acs] -- a broadcast can come from any address -- so a row of K
 * (acs = 1), a column of V (acs = D) or a row of P^T all serve without packing.
 * (gemm.c's micro-kernel wants A packed as [k][MR], and it is private to gemm.c; our
 * operands are already where a broadcast finds them, so packing would be pure cost.)
 * AVX-512: 4 rows x 4 vectors of 16 floats = 16 accumulators; a 64 x 64 block of
 * scores is 16 such tiles, each a loop of D steps of 16 FMAs.
 *
 * ====================================================================================
 * 6. Threads (OpenMP, nthreads from the caller)
 * ====================================================================================
 *
 * Forward: every (head, query block) is independent -- it writes its own rows of out
 * and lse -- so threads take them one at a time, heaviest first (under the causal
 * mask the last query block of a head sees the most keys).
 * Backward: a key block owns its rows of dK and dV, but every key block adds to every
 * dQ_i. With enough heads each thread takes whole heads: nothing is shared, nothing
 * locked. With fewer heads than that, the threads split the key blocks of a head
 * (heavy and light ones alternately), each adds into its own dQ^T buffer, and after
 * a barrier the buffers are summed in a fixed order, so the result never depends on
 * timing. Either way every thread has its own scratch memory (attention.c sizes it).
 */

#define ATT_BCAST(x) ((T)(x) - (V){0}) /* x in every lane (exact even for -0.0) */
/* Unroll a loop over the W rows of a tile: then r[ii] has a constant index and stays in
 * a register (a variable index would put the whole tile on the stack). */
#define ATT_UNROLL _Pragma("GCC unroll 16")

/* ---- 1. the register tile -------------------------------------------------------- */

/* C[r, 0:nv*W] (op)= sum_{kk < kc} A[r, kk] * B[kk, 0:nv*W] for rows r < mr <= ATT_MR
 * and kc >= 1 (every caller has at least one key, query or feature).
 * A[r, kk] is a[r*ars + kk*acs]; B's rows are ldb apart, C's ldc apart.
 * op: ATT_STORE C = acc, ATT_ADD C += acc, ATT_RESCALE C = C * lane_scale + acc (the
 * online softmax's alpha, one number per lane). `nv` is a constant in each caller
 * below, so both inner loops unroll and `acc` becomes ATT_MR * nv registers. Rows past
 * mr repeat row mr - 1 (valid memory; their results are simply not stored). */
static inline __attribute__((always_inline)) void DFN(tile_body)(
    const int nv, ptrdiff_t mr, ptrdiff_t kc, const T *a, ptrdiff_t ars, ptrdiff_t acs,
    const T *b, ptrdiff_t ldb, T *c, ptrdiff_t ldc, const T *lane_scale, int op) {
    V acc[ATT_MR][ATT_NV];
    ptrdiff_t row[ATT_MR]; /* where row r of A starts */
    for (int r = 0; r < ATT_MR; r++) {
        row[r] = (r < mr ? r : mr - 1) * ars;
        for (int x = 0; x < nv; x++) acc[r][x] = (V){0};
    }
    do { /* kc >= 1 steps (a do-while: GCC then keeps acc in registers throughout) */
        V bk[ATT_NV]; /* B[kk, :] */
        for (int x = 0; x < nv; x++) bk[x] = VLOAD(b + x * W);
        for (int r = 0; r < ATT_MR; r++) {
            V ark = ATT_BCAST(a[row[r]]); /* A[r, kk] in every lane */
            for (int x = 0; x < nv; x++) acc[r][x] = VFMA(ark, bk[x], acc[r][x]);
        }
        a += acs;
        b += ldb;
    } while (--kc > 0);
    for (int r = 0; r < ATT_MR; r++) {
        if (r < mr) {
            T *cr = c + r * ldc;
            for (int x = 0; x < nv; x++) {
                V res = acc[r][x];
                if (op == ATT_ADD) res += VLOAD(cr + x * W);
                /* (every ATT_RESCALE passes lane_scale; the test only keeps GCC from warning
                 * about the NULL that the other ops' calls pass, in its constant-propagated
                 * copies of this function) */
                else if (op == ATT_RESCALE && lane_scale) res = VFMA(VLOAD(cr + x * W), VLOAD(lane_scale + x * W), res);
                VSTORE(cr + x * W, res);
            }
        }
    }
}

#define ATT_TILE_PARAMS                                                                       \
    ptrdiff_t mr, ptrdiff_t kc, const T *a, ptrdiff_t ars, ptrdiff_t acs, const T *b,          \
        ptrdiff_t ldb, T *c, ptrdiff_t ldc, const T *lane_scale, int op
#define ATT_TILE_ARGS mr, kc, a, ars, acs, b, ldb, c, ldc, lane_scale, op
__attribute__((noinline)) static void DFN(tile_nv1)(ATT_TILE_PARAMS) { DFN(tile_body)(1, ATT_TILE_ARGS); }
__attribute__((noinline)) static void DFN(tile_nv2)(ATT_TILE_PARAMS) { DFN(tile_body)(2, ATT_TILE_ARGS); }
#if ATT_NV >= 3
__attribute__((noinline)) static void DFN(tile_nv3)(ATT_TILE_PARAMS) { DFN(tile_body)(3, ATT_TILE_ARGS); }
#endif
#if ATT_NV >= 4
__attribute__((noinline)) static void DFN(tile_nv4)(ATT_TILE_PARAMS) { DFN(tile_body)(4, ATT_TILE_ARGS); }
#endif

/* ---- 2. a block product: tiles of ATT_MR rows x ATT_NV vectors --------------------- */

/* One register tile of nv = 1 .. ATT_NV vectors (the functions above). */
static inline void DFN(tile)(ptrdiff_t nv, ATT_TILE_PARAMS) {
    switch (nv) {
#if ATT_NV >= 4
    case 4: DFN(tile_nv4)(ATT_TILE_ARGS); break;
#endif
#if ATT_NV >= 3
    case 3: DFN(tile_nv3)(ATT_TILE_ARGS); break;
#endif
    case 2: DFN(tile_nv2)(ATT_TILE_ARGS); break;
    default: DFN(tile_nv1)(ATT_TILE_ARGS); break;
    }
}

/* C (m x nvec*W) (op)= A (m x kc) @ B (kc x nvec*W), A and C as in tile_body. For each
 * strip of lanes (its kc x ATT_NV*W sliver of B stays in L1) the row tiles stream by. */
static void DFN(block_product)(ptrdiff_t m, ptrdiff_t nvec, ptrdiff_t kc, const T *a,
                               ptrdiff_t ars, ptrdiff_t acs, const T *b, ptrdiff_t ldb, T *c,
                               ptrdiff_t ldc, const T *lane_scale, int op) {
    for (ptrdiff_t x0 = 0; x0 < nvec; x0 += ATT_NV) {
        ptrdiff_t nv = nvec - x0 < ATT_NV ? nvec - x0 : ATT_NV;
        const T *bx = b + x0 * W, *ls = lane_scale ? lane_scale + x0 * W : NULL;
        for (ptrdiff_t r0 = 0; r0 < m; r0 += ATT_MR) {
            ptrdiff_t mr = m - r0 < ATT_MR ? m - r0 : ATT_MR;
            DFN(tile)(nv, mr, kc, a + r0 * ars, ars, acs, bx, ldb, c + r0 * ldc + x0 * W, ldc, ls, op);
        }
    }
}

/* ---- 2b. the same products, leaving out the future -------------------------------- *
 *
 * In a block of keys j0 + jj and queries i0 + i, key jj is visible to query i when
 * i >= jj + shift, shift = j0 - i0 - offset (ATT_NO_MASK when nothing is masked).
 * On the diagonal about half of the block is in the future, and its probabilities are
 * exactly 0. The three shapes of product below leave out the tiles, and the stretches
 * of k, that could only meet such zeros: at T = 64 (one block per head, on the
 * diagonal) that is 3/8 of attention's multiply-adds. The results are the same, because
 * what is left out would have added 0 * x. */
#define ATT_NO_MASK (-(PTRDIFF_MAX / 4))

/* The first vector of queries that any of the keys [r0, r0 + ATT_MR) is visible to. */
static inline ptrdiff_t DFN(first_vec)(ptrdiff_t r0, ptrdiff_t shift) {
    return r0 + shift <= 0 ? 0 : (r0 + shift) / W;
}

/* S^T = K Q^T and dP^T = V dO^T: rows are keys, lanes are queries. Each row tile starts
 * at the first vector of queries its keys are visible to; the vectors before it are
 * not computed (and not read by anything below). Always ATT_STORE. */
static void DFN(product_keys_by_queries)(ptrdiff_t m, ptrdiff_t nvec, ptrdiff_t kc, const T *a,
                                         ptrdiff_t ars, ptrdiff_t acs, const T *b, ptrdiff_t ldb,
                                         T *c, ptrdiff_t ldc, ptrdiff_t shift) {
    for (ptrdiff_t r0 = 0; r0 < m; r0 += ATT_MR) {
        ptrdiff_t mr = m - r0 < ATT_MR ? m - r0 : ATT_MR;
        for (ptrdiff_t x0 = DFN(first_vec)(r0, shift); x0 < nvec; x0 += ATT_NV) {
            ptrdiff_t nv = nvec - x0 < ATT_NV ? nvec - x0 : ATT_NV;
            DFN(tile)(nv, mr, kc, a + r0 * ars, ars, acs, b + x0 * W, ldb, c + r0 * ldc + x0 * W,
                      ldc, NULL, ATT_STORE);
        }
    }
}

/* O^T (op)= V^T P^T and dQ^T += K^T dS^T: lanes are queries, k runs over the keys.
 * Vector x of queries sees the keys [0, (x + 1) * W - shift) only, so the keys are cut
 * into stretches, each multiplied into the vectors that see it: [0, k_0) into all,
 * [k_0, k_1) into vectors 1.., and so on. The first stretch does `op` (the online
 * softmax's rescale), the later ones add. A vector that sees no key at all here is left
 * alone, which is what its rescale would do: online_softmax gives it alpha = 1. */
static void DFN(product_by_visible_keys)(ptrdiff_t m, ptrdiff_t nvec, ptrdiff_t kc, const T *a,
                                         ptrdiff_t ars, ptrdiff_t acs, const T *b, ptrdiff_t ldb,
                                         T *c, ptrdiff_t ldc, const T *lane_scale, int op,
                                         ptrdiff_t shift) {
    ptrdiff_t k0 = 0; /* the keys before k0 are done */
    for (ptrdiff_t x = 0; x < nvec && k0 < kc; x++) {
        ptrdiff_t k1 = (x + 1) * W - shift; /* vector x sees the keys [0, k1) */
        if (k1 > kc) k1 = kc;
        if (k1 <= k0) continue;
        DFN(block_product)(m, nvec - x, k1 - k0, a + k0 * acs, ars, acs, b + k0 * ldb + x * W, ldb,
                           c + x * W, ldc, lane_scale ? lane_scale + x * W : NULL,
                           k0 == 0 ? op : ATT_ADD);
        k0 = k1;
    }
}

/* dV += P^T dO and dK += dS^T Q: rows are keys, k runs over the queries. The keys
 * [r0, r0 + ATT_MR) are visible to the queries from r0 + shift on: each row tile starts
 * its k there. Always ATT_ADD. */
static void DFN(product_by_visible_queries)(ptrdiff_t m, ptrdiff_t nvec, ptrdiff_t kc,
                                            const T *a, ptrdiff_t ars, ptrdiff_t acs, const T *b,
                                            ptrdiff_t ldb, T *c, ptrdiff_t ldc, ptrdiff_t shift) {
    for (ptrdiff_t x0 = 0; x0 < nvec; x0 += ATT_NV) {
        ptrdiff_t nv = nvec - x0 < ATT_NV ? nvec - x0 : ATT_NV;
        for (ptrdiff_t r0 = 0; r0 < m; r0 += ATT_MR) {
            ptrdiff_t mr = m - r0 < ATT_MR ? m - r0 : ATT_MR, ks = r0 + shift > 0 ? r0 + shift : 0;
            if (ks >= kc) continue; /* (these keys are in the future of every query here) */
            DFN(tile)(nv, mr, kc - ks, a + r0 * ars + ks * acs, ars, acs, b + ks * ldb + x0 * W, ldb,
                      c + r0 * ldc + x0 * W, ldc, NULL, ATT_ADD);
        }
    }
}

/* ---- 3. the pieces both directions share ------------------------------------------ */

/* The causal mask on a block of scores S^T (nk keys x `lanes` queries, rows ATT_BR
 * apart): key j0 + jj is in the future of query i0 + i when j0 + jj > i0 + i + offset,
 * i.e. when i < jj + shift with shift = j0 - i0 - offset. Those scores become -inf. */
static void DFN(mask_future)(T *sT, ptrdiff_t nk, ptrdiff_t lanes, ptrdiff_t shift) {
    for (ptrdiff_t jj = 0; jj < nk; jj++) {
        ptrdiff_t end = jj + shift < lanes ? jj + shift : lanes;
        /* (from the first vector product_keys_by_queries computed for this row) */
        for (ptrdiff_t i = DFN(first_vec)(jj / ATT_MR * ATT_MR, shift) * W; i < end; i++)
            sT[jj * ATT_BR + i] = -INFINITY;
    }
}

/* Q^T (times `mul`) of the queries [i0, i0 + nq) of one head, as D rows of ATT_BR
 * lanes; lanes past nq are 0. q: nq rows of D, `ld` elements apart.
 * The naive version is one line, qT[d * ATT_BR + i] = q[i * ld + d] * mul, but it
 * stores every number to a different row of qT. Instead: W x W tiles, W row loads,
 * one transpose in registers (VTRANSPOSE, tg_vec.h), W row stores. D % W is left
 * over for the one-line version. */
static void DFN(transpose_block)(const T *q, ptrdiff_t ld, ptrdiff_t nq, ptrdiff_t D, T mul,
                                 T *qT) {
    const ptrdiff_t Dv = D / W * W; /* the features in whole tiles */
    for (ptrdiff_t i0 = 0; i0 < ATT_BR; i0 += W) {
        const ptrdiff_t ni = nq - i0 >= W ? W : (nq > i0 ? nq - i0 : 0); /* rows in the tile */
        for (ptrdiff_t d0 = 0; d0 < Dv; d0 += W) {
            V r[W];
            ATT_UNROLL for (int ii = 0; ii < W; ii++) r[ii] = ii < ni ? VLOAD(q + (i0 + ii) * ld + d0) : VSPLAT(0);
            VTRANSPOSE(r); /* r[dd] = feature d0 + dd of the W queries */
            ATT_UNROLL for (int dd = 0; dd < W; dd++) VSTORE(qT + (d0 + dd) * ATT_BR + i0, r[dd] * VSPLAT(mul));
        }
        for (ptrdiff_t d = Dv; d < D; d++)
            for (ptrdiff_t ii = 0; ii < W; ii++)
                qT[d * ATT_BR + i0 + ii] = ii < ni ? q[(i0 + ii) * ld + d] * mul : 0;
    }
}

/* The way back: rows [0, nq) of `out` (`ld` apart, D features) = the D rows of ATT_BR
 * lanes in xT, lane i times scale[i] (NULL: times 1), by the same W x W tiles. */
static void DFN(untranspose_block)(const T *xT, const T *scale, ptrdiff_t nq, ptrdiff_t D,
                                   T *out, ptrdiff_t ld) {
    const ptrdiff_t Dv = D / W * W;
    for (ptrdiff_t i0 = 0; i0 < nq; i0 += W) {
        const ptrdiff_t ni = nq - i0 < W ? nq - i0 : W;
        const V si = scale ? VLOAD(scale + i0) : VSPLAT(1);
        for (ptrdiff_t d0 = 0; d0 < Dv; d0 += W) {
            V r[W];
            ATT_UNROLL for (int dd = 0; dd < W; dd++) r[dd] = VLOAD(xT + (d0 + dd) * ATT_BR + i0) * si;
            VTRANSPOSE(r); /* r[ii] = query i0 + ii, features d0 .. d0 + W */
            ATT_UNROLL for (int ii = 0; ii < W; ii++)
                if (ii < ni) VSTORE(out + (i0 + ii) * ld + d0, r[ii]);
        }
        for (ptrdiff_t ii = 0; ii < ni; ii++)
            for (ptrdiff_t d = Dv; d < D; d++)
                out[(i0 + ii) * ld + d] = xT[d * ATT_BR + i0 + ii] * (scale ? scale[i0 + ii] : 1);
    }
}

/* ---- 4. forward ------------------------------------------------------------------- */

/* One online-softmax step (section 2) for the nk_all keys of a block, all lanes at once:
 * turns the scores sT into e^(s - m_new) in place and updates m, l; alpha receives
 * e^(m_old - m_new). A lane whose scores are all -inf so far (a query that sees no
 * key yet) keeps m = -inf and subtracts 0 instead, so that e^(-inf - -inf) = NaN never
 * happens: its p and alpha are e^-inf = 0. */
static void DFN(online_softmax)(T *sT, ptrdiff_t nk_all, ptrdiff_t nvec, ptrdiff_t mask_shift,
                                T *m, T *l, T *alpha) {
    for (ptrdiff_t x = 0; x < nvec; x++) {
        /* the keys this vector of queries may see (section 2b); the rest are -inf for it */
        ptrdiff_t nk = (x + 1) * W - mask_shift < nk_all ? (x + 1) * W - mask_shift : nk_all;
        if (nk <= 0) { /* none: m, l and O stay as they are */
            VSTORE(alpha + x * W, VSPLAT(1));
            continue;
        }
        V m_old = VLOAD(m + x * W), m_new = m_old;
        for (ptrdiff_t jj = 0; jj < nk; jj++) m_new = VMAX(VLOAD(sT + jj * ATT_BR + x * W), m_new);
        V shift = VSELECT(m_new == VSPLAT(-INFINITY), VSPLAT(0), m_new);
        V a = VEXP(m_old - shift), s0 = VSPLAT(0), s1 = VSPLAT(0);
        ptrdiff_t jj = 0;
        for (; jj + 2 <= nk; jj += 2) { /* two sums: the adds need not wait for each other */
            T *s = sT + jj * ATT_BR + x * W;
            V p0 = VEXP(VLOAD(s) - shift), p1 = VEXP(VLOAD(s + ATT_BR) - shift);
            VSTORE(s, p0);
            VSTORE(s + ATT_BR, p1);
            s0 += p0;
            s1 += p1;
        }
        if (jj < nk) {
            T *s = sT + jj * ATT_BR + x * W;
            V p0 = VEXP(VLOAD(s) - shift);
            VSTORE(s, p0);
            s0 += p0;
        }
        VSTORE(l + x * W, VFMA(VLOAD(l + x * W), a, s0 + s1));
        VSTORE(m + x * W, m_new);
        VSTORE(alpha + x * W, a);
    }
}

/* The queries [i0, i0 + ATT_BR) of head n against every key they may see.
 * ws: this thread's scratch, laid out as attention.c's att_forward_elems says. */
static void DFN(forward_block)(const DNAME(att_args) * p, ptrdiff_t n, ptrdiff_t i0, T *ws) {
    const ptrdiff_t nT = p->nT, nS = p->nS, D = p->D, BR = ATT_BR;
    const ptrdiff_t nq = nT - i0 < BR ? nT - i0 : BR; /* queries in this block */
    const ptrdiff_t nvec = (nq + W - 1) / W, lanes = nvec * W; /* the vectors holding them */
    const ptrdiff_t ldq = p->vq.ld, ldk = p->vk.ld, ldv = p->vv.ld, ldo = p->vo.ld;
    const T *k = p->k + ATT_HEAD(p->vk, n), *v = p->v + ATT_HEAD(p->vv, n);
    T *qT = ws;                 /* (D, BR)  Q^T * scale      */
    T *sT = qT + D * BR;        /* (BC, BR) scores, then P^T */
    T *oT = sT + ATT_BC * BR;   /* (D, BR)  O^T accumulator  */
    T *m = oT + D * BR, *l = m + BR, *alpha = l + BR; /* (BR,) each */

    /* Folding the scale into Q^T saves a multiply per score. */
    DFN(transpose_block)(p->q + ATT_HEAD(p->vq, n) + i0 * ldq, ldq, nq, D, (T)p->scale, qT);
    for (ptrdiff_t i = 0; i < BR; i++) m[i] = -INFINITY, l[i] = 0;
    for (ptrdiff_t e = 0; e < D * BR; e++) oT[e] = 0;

    /* The last query of the block, i0 + nq - 1, may look at keys up to i0 + nq - 1 +
     * offset: the key blocks past that are skipped, and so are the keys past it within
     * the last block (they are in everybody's future). */
    ptrdiff_t kend = nS;
    if (p->causal && i0 + nq + p->offset < nS) kend = i0 + nq + p->offset;
    for (ptrdiff_t j0 = 0; j0 < kend; j0 += ATT_BC) {
        ptrdiff_t nk = kend - j0 < ATT_BC ? kend - j0 : ATT_BC;
        const ptrdiff_t shift = p->causal ? j0 - i0 - p->offset : ATT_NO_MASK;
        /* S^T = K_j (scale Q^T): (nk, D) @ (D, lanes); K_j's rows are read in place */
        DFN(product_keys_by_queries)(nk, nvec, D, k + j0 * ldk, ldk, 1, qT, BR, sT, BR, shift);
        if (p->causal) DFN(mask_future)(sT, nk, lanes, shift);
        DFN(online_softmax)(sT, nk, nvec, shift, m, l, alpha);
        /* O^T = alpha * O^T + V_j^T P^T: (D, nk) @ (nk, lanes); V_j^T[d, jj] = v[jj*ldv + d] */
        DFN(product_by_visible_keys)(D, nvec, nk, v + j0 * ldv, 1, ldv, sT, BR, oT, BR, alpha,
                                     ATT_RESCALE, shift);
    }

    /* out = O / l, lse = m + log(l). l = 0 only for a query that saw no key at all:
     * out 0 and lse -inf there (PyTorch gives NaN; we document the convention). */
    T *out = p->out + ATT_HEAD(p->vo, n) + i0 * ldo, *lse = p->lse + n * nT + i0;
    T *inv = alpha; /* (BR,) 1 / l, in alpha's place (no longer needed) */
    for (ptrdiff_t i = 0; i < BR; i++) {
        T li = l[i];
        inv[i] = li == 0 ? (T)0 : (T)1 / li;
        if (i < nq) lse[i] = li == 0 ? (T)-INFINITY : m[i] + SLOG(li);
    }
    DFN(untranspose_block)(oT, inv, nq, D, out, ldo); /* out[i, d] = oT[d, i] * inv[i] */
}

/* Work item w of the forward (last query blocks first: they see the most keys), on
 * the scratch ws of the thread that runs it. */
static void DFN(forward_item)(const DNAME(att_args) * p, ptrdiff_t w, T *ws) {
    const ptrdiff_t nqb = (p->nT + ATT_BR - 1) / ATT_BR;
    DFN(forward_block)(p, w % p->N, (nqb - 1 - w / p->N) * ATT_BR, ws);
}

static int DFN(forward)(const DNAME(att_args) * p, int nt) {
    const ptrdiff_t items = p->N * ((p->nT + ATT_BR - 1) / ATT_BR);
    const size_t wsz = att_forward_elems(p->D);
    void *raw;
    T *ws = (T *)att_alloc64((size_t)nt * wsz * sizeof(T), &raw);
    if (!ws) return -1;
    if (nt > 1) { /* (one thread: no OpenMP region, whose set-up alone costs ~0.3 us) */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (ptrdiff_t w = 0; w < items; w++)
            DFN(forward_item)(p, w, ws + (size_t)omp_get_thread_num() * wsz);
    } else {
        for (ptrdiff_t w = 0; w < items; w++) DFN(forward_item)(p, w, ws);
    }
    free(raw);
    return 0;
}

/* ---- 5. backward ------------------------------------------------------------------ */

/* Everything the key blocks of head n read, made once per head (and thread):
 * Q^T * scale and dO^T block by block, lse (+inf on padding lanes and on queries that
 * saw no key, so that their P = e^(s - inf) = 0), rowsum(dO * O), a zeroed dQ^T, and
 * for D % W != 0 copies of Q and dO with rows padded to whole vectors. */
static void DFN(backward_pack)(const DNAME(att_args) * p, ptrdiff_t n, T *ws,
                               const att_layout *L, ptrdiff_t ldr) {
    const ptrdiff_t nT = p->nT, D = p->D, BR = ATT_BR, nqb = (nT + BR - 1) / BR;
    const ptrdiff_t ldq = p->vq.ld, ldo = p->vo.ld; /* out and dout share a view */
    const T *q = p->q + ATT_HEAD(p->vq, n), *dO = p->dout + ATT_HEAD(p->vo, n);
    const T *o = p->o + ATT_HEAD(p->vo, n);
    const T *lse = p->lse_in + n * nT;
    T *lsep = ws + L->lse, *dvec = ws + L->dvec, *dqT = ws + L->dqT;
    const ptrdiff_t Dv = D / W * W;
    for (ptrdiff_t b = 0; b < nqb; b++) {
        ptrdiff_t i0 = b * BR, nq = nT - i0 < BR ? nT - i0 : BR;
        DFN(transpose_block)(q + i0 * ldq, ldq, nq, D, (T)p->scale, ws + L->qT + b * D * BR);
        /* dO^T, and with it dvec_i = rowsum(dO * O)_i = sum over d of dO[i, d] * O[i, d]:
         * transposed, both are rows of W queries, and the sum runs down the features as
         * vertical vector operations, d in the same order as the one-line version */
        T *doT = ws + L->doT + b * D * BR;
        for (ptrdiff_t it = 0; it < BR; it += W) {
            const ptrdiff_t ni = nq - it >= W ? W : (nq > it ? nq - it : 0);
            const T *dOi = dO + (i0 + it) * ldo, *oi = o + (i0 + it) * ldo;
            V acc = VSPLAT(0);
            for (ptrdiff_t d0 = 0; d0 < Dv; d0 += W) {
                V g[W], y[W]; /* rows of dO and O, then their transposes */
                ATT_UNROLL for (int ii = 0; ii < W; ii++) {
                    g[ii] = ii < ni ? VLOAD(dOi + ii * ldo + d0) : VSPLAT(0);
                    y[ii] = ii < ni ? VLOAD(oi + ii * ldo + d0) : VSPLAT(0);
                }
                VTRANSPOSE(g);
                VTRANSPOSE(y);
                ATT_UNROLL for (int dd = 0; dd < W; dd++) {
                    VSTORE(doT + (d0 + dd) * BR + it, g[dd]);
                    acc += g[dd] * y[dd];
                }
            }
            for (ptrdiff_t d = Dv; d < D; d++) /* the last D % W features, lane by lane */
                for (ptrdiff_t ii = 0; ii < W; ii++) {
                    T g = ii < ni ? dOi[ii * ldo + d] : 0;
                    doT[d * BR + it + ii] = g;
                    acc[ii] += g * (ii < ni ? oi[ii * ldo + d] : 0);
                }
            VSTORE(dvec + i0 + it, acc);
        }
    }
    for (ptrdiff_t i = 0; i < nqb * BR; i++)
        lsep[i] = i < nT && lse[i] != -INFINITY ? lse[i] : (T)INFINITY;
    for (ptrdiff_t e = 0; e < nqb * D * BR; e++) dqT[e] = 0;
    if (ldr != D) {
        T *qr = ws + L->qrow, *dr = ws + L->dorow;
        for (ptrdiff_t i = 0; i < nT; i++)
            for (ptrdiff_t d = 0; d < ldr; d++) {
                qr[i * ldr + d] = d < D ? q[i * ldq + d] : 0;
                dr[i * ldr + d] = d < D ? dO[i * ldo + d] : 0;
            }
    }
}

/* The keys [j0, j0 + ATT_BC) of head n: their rows of dK and dV, and their share of
 * dQ^T (added into ws's dQ^T). qrow/dorow: Q and dO with rows ldqr and ldor apart. */
static void DFN(backward_key_block)(const DNAME(att_args) * p, ptrdiff_t n, ptrdiff_t j0,
                                    T *ws, const att_layout *L, const T *qrow, ptrdiff_t ldqr,
                                    const T *dorow, ptrdiff_t ldor) {
    const ptrdiff_t nT = p->nT, nS = p->nS, D = p->D, BR = ATT_BR;
    const ptrdiff_t nk = nS - j0 < ATT_BC ? nS - j0 : ATT_BC; /* keys in this block */
    const ptrdiff_t Dw = (D + W - 1) / W * W, nvecD = Dw / W;  /* D in whole vectors */
    const ptrdiff_t ldk = p->vk.ld, ldv = p->vv.ld;
    const T *k = p->k + ATT_HEAD(p->vk, n) + j0 * ldk, *v = p->v + ATT_HEAD(p->vv, n) + j0 * ldv;
    T *sT = ws + L->sT, *dpT = ws + L->dpT; /* (BC, BR): P^T, and dP^T then dS^T */
    T *dk = ws + L->dk, *dv = ws + L->dv;   /* (nk, Dw): this block's dK, dV */
    for (ptrdiff_t e = 0; e < nk * Dw; e++) dk[e] = 0, dv[e] = 0;

    /* The first query that may see key j0 is j0 - offset: earlier query blocks skip. */
    ptrdiff_t ifirst = p->causal && j0 - p->offset > 0 ? j0 - p->offset : 0;
    for (ptrdiff_t i0 = ifirst / BR * BR; i0 < nT; i0 += BR) {
        const ptrdiff_t nq = nT - i0 < BR ? nT - i0 : BR;
        const ptrdiff_t nvec = (nq + W - 1) / W, lanes = nvec * W;
        const T *qT = ws + L->qT + i0 * D, *doT = ws + L->doT + i0 * D;
        const T *lse = ws + L->lse + i0, *dvec = ws + L->dvec + i0;
        T *dqT = ws + L->dqT + i0 * D;

        /* (section 2b: the products and loops leave out what is in the future) */
        const ptrdiff_t shift = p->causal ? j0 - i0 - p->offset : ATT_NO_MASK;
        /* S^T = K_j (scale Q_i^T), masked; P^T = e^(S^T - lse): forward's P, rebuilt */
        DFN(product_keys_by_queries)(nk, nvec, D, k, ldk, 1, qT, BR, sT, BR, shift);
        if (p->causal) DFN(mask_future)(sT, nk, lanes, shift);
        for (ptrdiff_t jj = 0; jj < nk; jj++)
            for (ptrdiff_t x = DFN(first_vec)(jj / ATT_MR * ATT_MR, shift); x < nvec; x++) {
                T *s = sT + jj * BR + x * W;
                VSTORE(s, VEXP(VLOAD(s) - VLOAD(lse + x * W)));
            }
        /* dP^T = V_j dO_i^T: (nk, D) @ (D, lanes) */
        DFN(product_keys_by_queries)(nk, nvec, D, v, ldv, 1, doT, BR, dpT, BR, shift);
        /* dS^T = P^T * (dP^T - rowsum(dO * O)), in place of dP^T */
        for (ptrdiff_t jj = 0; jj < nk; jj++)
            for (ptrdiff_t x = DFN(first_vec)(jj / ATT_MR * ATT_MR, shift); x < nvec; x++) {
                T *ds = dpT + jj * BR + x * W;
                VSTORE(ds, VLOAD(sT + jj * BR + x * W) * (VLOAD(ds) - VLOAD(dvec + x * W)));
            }
        /* dV_j += P_ij^T dO_i and dK_j += dS_ij^T Q_i: (nk, nq) @ (nq, Dw), D on the lanes */
        DFN(product_by_visible_queries)(nk, nvecD, nq, sT, BR, 1, dorow + i0 * ldor, ldor, dv, Dw, shift);
        DFN(product_by_visible_queries)(nk, nvecD, nq, dpT, BR, 1, qrow + i0 * ldqr, ldqr, dk, Dw, shift);
        /* dQ_i^T += K_j^T dS_ij^T: (D, nk) @ (nk, lanes); K_j^T[d, jj] = k[jj*ldk + d] */
        DFN(product_by_visible_keys)(D, nvec, nk, k, 1, ldk, dpT, BR, dqT, BR, NULL, ATT_ADD, shift);
    }
    /* dk and dv have k's and v's views */
    T *dk_out = p->dk + ATT_HEAD(p->vk, n) + j0 * ldk, *dv_out = p->dv + ATT_HEAD(p->vv, n) + j0 * ldv;
    const T scale = (T)p->scale;
    for (ptrdiff_t jj = 0; jj < nk; jj++)
        for (ptrdiff_t d = 0; d < D; d++) {
            dk_out[jj * ldk + d] = dk[jj * Dw + d] * scale;
            dv_out[jj * ldv + d] = dv[jj * Dw + d];
        }
}

/* dQ of the queries [i0, i0 + nq) of head n = scale * the sum of `nbuf` dQ^T buffers
 * (the scratch of nbuf threads, wsz elements apart), added in a fixed order. */
static void DFN(backward_write_dq)(const DNAME(att_args) * p, ptrdiff_t n, ptrdiff_t i0,
                                   const T *ws0, size_t wsz, int nbuf, const att_layout *L) {
    const ptrdiff_t nT = p->nT, D = p->D, nq = nT - i0 < ATT_BR ? nT - i0 : ATT_BR;
    const T scale = (T)p->scale;
    const ptrdiff_t ldq = p->vq.ld; /* dq has q's view */
    T *dq = p->dq + ATT_HEAD(p->vq, n) + i0 * ldq;
    const T *dqT = ws0 + L->dqT + i0 * D; /* (D, BR) of the first buffer */
    if (nbuf == 1) { /* one buffer: times scale, transposed back (the by-heads case) */
        T sc[ATT_BR] __attribute__((aligned(64)));
        for (ptrdiff_t i = 0; i < ATT_BR; i++) sc[i] = scale;
        DFN(untranspose_block)(dqT, sc, nq, D, dq, ldq);
        return;
    }
    for (ptrdiff_t d = 0; d < D; d++)
        for (ptrdiff_t i = 0; i < nq; i++) {
            T s = 0;
            for (int u = 0; u < nbuf; u++) s += dqT[u * wsz + d * ATT_BR + i];
            dq[i * ldq + d] = s * scale;
        }
}

/* All of head n's backward on one thread, with its scratch w (by_heads below). */
static void DFN(backward_head)(const DNAME(att_args) * p, ptrdiff_t n, T *w, const att_layout *L,
                               ptrdiff_t ldr, ptrdiff_t ldqr, ptrdiff_t ldor) {
    const ptrdiff_t nS = p->nS, D = p->D, nqb = (p->nT + ATT_BR - 1) / ATT_BR;
    DFN(backward_pack)(p, n, w, L, ldr);
    const T *qrow = ldr != D ? w + L->qrow : p->q + ATT_HEAD(p->vq, n);
    const T *dorow = ldr != D ? w + L->dorow : p->dout + ATT_HEAD(p->vo, n);
    for (ptrdiff_t j0 = 0; j0 < nS; j0 += ATT_BC)
        DFN(backward_key_block)(p, n, j0, w, L, qrow, ldqr, dorow, ldor);
    for (ptrdiff_t b = 0; b < nqb; b++) DFN(backward_write_dq)(p, n, b * ATT_BR, w, (size_t)L->total, 1, L);
}

static int DFN(backward)(const DNAME(att_args) * p, int nt, int by_heads) {
    const ptrdiff_t nT = p->nT, nS = p->nS, D = p->D;
    const ptrdiff_t nqb = (nT + ATT_BR - 1) / ATT_BR, nkb = (nS + ATT_BC - 1) / ATT_BC;
    const ptrdiff_t ldr = D % W ? (D + W - 1) / W * W : D; /* padded copies' row stride */
    /* Q and dO rows are read in place when D is whole vectors, else from padded copies */
    const ptrdiff_t ldqr = ldr != D ? ldr : p->vq.ld, ldor = ldr != D ? ldr : p->vo.ld;
    const att_layout L = att_backward_layout(nT, D, W);
    const size_t wsz = (size_t)L.total;
    void *raw;
    T *ws = (T *)att_alloc64((size_t)nt * wsz * sizeof(T), &raw);
    if (!ws) return -1;
    if (by_heads && nt > 1) { /* each thread takes whole heads */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (ptrdiff_t n = 0; n < p->N; n++)
            DFN(backward_head)(p, n, ws + (size_t)omp_get_thread_num() * wsz, &L, ldr, ldqr, ldor);
    } else if (by_heads) { /* one thread: no OpenMP region */
        for (ptrdiff_t n = 0; n < p->N; n++) DFN(backward_head)(p, n, ws, &L, ldr, ldqr, ldor);
    } else { /* the threads share each head's key blocks */
#pragma omp parallel num_threads(nt)
        {
            const int tid = omp_get_thread_num(), team = omp_get_num_threads();
            T *w = ws + (size_t)tid * wsz;
            for (ptrdiff_t n = 0; n < p->N; n++) {
                DFN(backward_pack)(p, n, w, &L, ldr);
                const T *qrow = ldr != D ? w + L.qrow : p->q + ATT_HEAD(p->vq, n);
                const T *dorow = ldr != D ? w + L.dorow : p->dout + ATT_HEAD(p->vo, n);
                for (ptrdiff_t jb = 0; jb < nkb; jb++)
                    if (att_snake_owner(jb, team) == tid)
                        DFN(backward_key_block)(p, n, jb * ATT_BC, w, &L, qrow, ldqr, dorow, ldor);
#pragma omp barrier
                for (ptrdiff_t b = tid; b < nqb; b += team)
                    DFN(backward_write_dq)(p, n, b * ATT_BR, ws, wsz, team, &L);
#pragma omp barrier
            }
        }
    }
    free(raw);
    return 0;
}

#undef ATT_BCAST
#undef ATT_UNROLL
#undef ATT_NO_MASK
#undef ATT_TILE_PARAMS
#undef ATT_TILE_ARGS
