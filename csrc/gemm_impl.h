/* gemm_impl.h -- C (+)= A @ B, fast: the Goto/BLIS algorithm, written once for every ISA.
 *
 * Compiled by gemm.c once per (ISA, dtype) through tg_instantiate.h, with GEMM_MR and
 * GEMM_NV (the register tile: rows, and vectors per row) and the block sizes GEMM_MC,
 * GEMM_KC, GEMM_PANEL_BYTES set. Every name gets the suffix _<f32|f64>_<isa>, e.g.
 * micro_kernel_f32_avx512 (look for it in `objdump -d`).
 *
 * ===================================================================================
 * 1. The naive version, and why it is slow
 * ===================================================================================
 *
 *     for (i = 0; i < M; i++)                      // tg_gemm_naive_f32 in gemm.c
 *         for (k = 0; k < K; k++)
 *             for (j = 0; j < N; j++)
 *                 C[i][j] += A[i][k] * B[k][j];
 *
 * 2*M*N*K floating-point operations (flops): a multiply and an add per innermost step.
 * A CPU core with AVX-512 and two FMA units can start two fused multiply-adds (FMA)
 * per cycle, each on 16 floats: 2 * 16 * 2 = 64 flops per cycle, ~260 GFLOP/s at 4 GHz. The innermost loop above does two loads (C[i][j], B[k][j])
 * and one store per FMA, so it is limited by memory traffic, not by arithmetic --
 * and when B no longer fits in a cache (4 MB for n = 1024 in float32) every pass over
 * it comes from the slower levels below:
 *
 *     level        size (a typical core)  latency     what we keep there
 *     registers    32 x 64 bytes          0           the MR x NR tile of C
 *     L1 cache     48 KB                  ~5 cycles   a KC x NR sliver of B
 *     L2 cache     2 MB                   ~15 cycles  an MC x KC block of A
 *     L3 / DRAM    shared                 50-300      the K x nc panel of B, and C
 *
 * The remedy is to *reuse* each number many times once it is close to the core.
 * A (M, K) @ (K, N) product does 2*M*N*K flops on M*K + K*N + M*N numbers: for
 * n = 1024 that is 2 billion flops on 3 million numbers, ~700 flops per number. The
 * naive loop reuses nothing; the blocked one below reuses at every level.
 *
 * ===================================================================================
 * 2. The micro-kernel: a register tile of C
 * ===================================================================================
 *
 * The innermost piece computes an MR x NR tile of C (8 x 32 floats for AVX-512) that
 * lives in registers for the whole loop over k:
 *
 *     for k in 0..kc:                          acc[i][:]   (MR rows x NR columns)
 *         b = B[k, 0:NR]                       NR/W vector loads       (2 zmm)
 *         for i in 0..MR:                      MR broadcasts of A[i, k]
 *             acc[i][:] += A[i, k] * b         MR*NR/W FMAs            (16 zmm FMAs)
 *
 * Per k: 2 + 8 loads feed 16 FMAs, and C is not touched at all until the end. The
 * 16 accumulators are independent, which matters because an FMA takes 4 cycles to
 * produce its result: with 2 FMA units, 2 * 4 = 8 FMAs must be in flight at all times,
 * so at least 8 independent accumulators are needed to keep both units busy. 16 of
 * the 32 zmm registers hold C, 2 hold the row of B, and one takes each broadcast
 * (`vbroadcastss`, a plain load, then used by both FMAs of its row; folding it into
 * each FMA as `(mem){1to16}` would load it twice). For AVX2 (16 ymm registers of 8 floats)
 * the tile is 6 x 16 (12 accumulators), for the 16-byte baseline 4 x 8.
 * The arithmetic intensity of the micro-kernel is MR*NR FMAs per (MR + NR) numbers
 * loaded: 256 / 40 = 6.4 FMAs per number, against 1/2 for the naive loop.
 *
 * What GCC makes of it (`objdump -d` on the built module, micro_kernel_f32_avx512),
 * one step of k, nothing else in the loop:
 *
 *     vmovups      (%rdx),%zmm1              b0 = B[k, 0:16]
 *     vmovups      0x40(%rdx),%zmm0          b1 = B[k, 16:32]
 *     sub          $-0x80,%rdx               b += NR
 *     add          $0x20,%rax                a += MR
 *     vbroadcastss -0x20(%rax),%zmm18        A[0, k] in all 16 lanes
 *     vfmadd231ps  %zmm18,%zmm1,%zmm17       acc[0][0] += A[0, k] * b0
 *     vfmadd231ps  %zmm18,%zmm0,%zmm16       acc[0][1] += A[0, k] * b1
 *     ...                                    (7 more rows: broadcast, 2 FMAs)
 *     cmp / jne
 *
 * ===================================================================================
 * 3. Packing: give the micro-kernel contiguous, aligned memory
 * ===================================================================================
 *
 * The micro-kernel wants, for each k, the MR numbers A[i0:i0+MR, k] next to each
 * other and the NR numbers B[k, j0:j0+NR] next to each other. Whatever the strides
 * of A and B (row-major, transposed, sliced, reversed), we copy ("pack") them once
 * into that order:
 *
 *     packed A block (MC x KC):  strips of MR rows,   each laid out [k][MR]
 *     packed B panel (K x nc):   strips of NR columns, each laid out [k][NR]
 *
 * so that the micro-kernel reads both with unit stride, from 64-byte aligned memory,
 * never crossing a page mid-strip. Strips at the edges are padded with zeros: the
 * micro-kernel always computes a full MR x NR tile and never branches; only the copy
 * of the result into C is cut to the valid rows and columns. Packing costs O(M*K +
 * K*N) copies against O(M*N*K) flops, and the strides of the caller's arrays never
 * reach the hot loop: this is why gemm() accepts any view without copying it first.
 *
 * ===================================================================================
 * 4. Cache blocking: which block lives in which cache
 * ===================================================================================
 *
 *     for jc in 0..N step nc:                   B panel K x nc        -> L3 (or L2)
 *       pack B[:, jc:jc+nc], in KC-row blocks of NR-strips
 *       for ic in 0..M step MC:                 (the rows: shared out among threads)
 *         for pc in 0..K step KC:
 *           pack A[ic:ic+MC, pc:pc+KC]          A block MC x KC       -> L2
 *           for jr in 0..nc step NR:            B sliver KC x NR      -> L1
 *             for ir in 0..MC step MR:          A strip MR x KC streams from L2
 *               micro_kernel: C[ir:ir+MR, jr:jr+NR] += A strip @ B sliver
 *
 * KC: the B sliver KC x NR is reused by every A strip of the block, so it must stay
 *     in L1 (48 KB) beside the A strip streaming through: KC * 32 floats * 4 bytes
 *     = 32 KB for KC = 256. (A core with a 32 KB L1 is filled by that sliver, yet a
 *     smaller KC is no better there: more k-blocks, each loading and storing the C
 *     tile again. So one KC serves both kinds of core.)
 * MC: the A block is read once per B sliver, so it must stay in L2 (2 MB):
 *     MC * KC * 4 bytes = 192 KB for MC = 192. Each A number brought from L2 then
 *     feeds 2*NR flops, few enough bytes per cycle for L2 to deliver.
 * nc: the B panel is read once per A block; each B number brought from L3 feeds
 *     2*MC flops. The panel holds all of K (so that the threads meet only twice per
 *     panel, see 5.) for as many columns as fit in GEMM_PANEL_BYTES.
 * C: its MR x NR tile is read and written once per KC block. Its rows are far apart
 *     (a row of C is N numbers), so the micro-kernel prefetches them when it starts.
 * The values were tuned with benchmarks/kernels.py; they are macros in gemm.c.
 *
 * ===================================================================================
 * 5. Threads
 * ===================================================================================
 *
 * One OpenMP parallel region per call. Each thread takes rows of C, packs their A blocks
 * into its own buffer and multiplies. The rows are not cut into equal static halves
 * but taken from a shared counter, big chunks first and small ones at the end: on a
 * shared machine one core often runs slower than the other, and a static split would
 * make the fast one wait. The B panel every thread needs is
 *   - small (K x N up to 1M numbers): each thread packs into its own copy, so the
 *     threads never wait for each other, and no cache line has to travel from one
 *     core to the other (which costs more than copying it). Taking rows, each would
 *     pack all of B. If A is read in place (section 3), the threads take COLUMNS
 *     instead, strips of NR from the same kind of counter, and each packs only the
 *     strips it takes: nothing is packed twice and there is no A to pack (faster than
 *     taking rows and packing A, benchmarks/README.md). A packed A would be packed again for every
 *     piece of columns, so with one each thread takes a single piece, its share.
 *   - large: packed once, together (each thread its share of the strips), with a
 *     barrier before anyone reads it and another before the next panel overwrites it.
 * When M is too short to share (a few rows, many columns), the threads split the
 * columns too. Small products run on one thread: waking a second one costs
 * microseconds, more than a 64 x 64 product takes.
 * A batch of many small products (attention's heads) runs one product per thread.
 *
 * ===================================================================================
 * 6. A few rows (generation)
 * ===================================================================================
 *
 * With a KV cache, each new token is ONE row through every weight: x (1, K) @ W.T.
 * Everything above would pack all of W to use each number once. Section 6 of the code
 * skips packing: each output is dot(row of x, row of W), W read where it lies, once.
 * Attention's p @ V (V stored row by row) gets the same treatment, as a weighted sum of
 * V's rows; and a batch of such products (one per head) runs on one thread when the
 * whole batch is smaller than the work that pays for waking a second one.
 * (Does the AVX-512 target reach the function GCC outlines for the parallel region,
 * gemm_f32_avx512._omp_fn.0? Yes: objdump shows it inlined gemm_thread_f32_avx512,
 * which GCC only does into a function of the same target; the FMAs themselves live
 * in micro_kernel_f32_avx512 in any case.)
 *
 * ===================================================================================
 * 7. The fused epilogue: what follows a Linear layer, done as C is written
 * ===================================================================================
 *
 * A Linear layer is rarely alone: the MLP's c_fc is followed by a bias and GELU, every
 * projection onto the residual stream by the add x + y. Run as separate kernels, each
 * reads all of C from memory and writes it back. tg_gemm_fused does them on each MR x NR
 * tile right after its last k-block, while the tile is in L1 (section "the fused
 * epilogue" in the code): + bias, + residual, a copy of the pre-activation (the
 * backward's GELU' needs it), then GELU -- gelu.c's own kernel, called once per tile, so
 * the numbers are the unfused ones bit for bit. With GELU, each tile is computed into
 * a small local buffer (as edge tiles always are), finished there, and copied out.
 */

/* tg_dtype.h's names under this file's own: here W is a weight matrix, so the vector
 * type and its lanes are VT and VW. */
#define VT V
#define VW W
/* x in every lane. (tg_vec.h's splat computes 0 + x, which is not x for x = -0.0, so
 * the compiler must add before it broadcasts; x - 0 is exactly x, and it folds away.) */
#define SPLATV(x) ((T)(x) - (VT){0})
#define GEMM_ARGS DNAME(tg_gemm_args)
#define MR GEMM_MR
#define NV GEMM_NV
#define NR (GEMM_NV * VW)

/* ---- packing ------------------------------------------------------------------------- */

/* Rows [0, mc) x columns [0, kc) of A (A[i, k] at a[i*rsa + k*csa]) into strips of MR
 * rows, each laid out [k][MR]: ap[strip * MR*kc + k*MR + i]. Rows past mc are zeros. */
static void DFN(pack_a)(ptrdiff_t mc, ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa,
                       T *restrict ap) {
    for (ptrdiff_t i0 = 0; i0 < mc; i0 += MR) {
        const T *s = a + i0 * rsa;
        T *restrict d = ap + i0 * kc;
        ptrdiff_t mr = mc - i0 < MR ? mc - i0 : MR;
        if (mr == MR && csa == 1) {
            /* A row-major (each row contiguous): read MR rows side by side, a transpose.
             * (Only built with GEMM_A_IN_PLACE 0: otherwise such an A is read in place.) */
            for (ptrdiff_t k = 0; k < kc; k++)
                for (int i = 0; i < MR; i++) d[k * MR + i] = s[i * rsa + k];
        } else if (mr == MR && rsa == 1) {
            /* A column-major (a transposed view such as X.T): a straight copy */
            for (ptrdiff_t k = 0; k < kc; k++)
                for (int i = 0; i < MR; i++) d[k * MR + i] = s[k * csa + i];
        } else {
            /* any strides, and the last strip: zeros below the edge */
            for (ptrdiff_t k = 0; k < kc; k++)
                for (int i = 0; i < MR; i++) d[k * MR + i] = i < mr ? s[i * rsa + k * csa] : 0;
        }
    }
}

/* Strips [s0, s1) of the NR-column strips of B's rows [0, kc) x columns [0, nc)
 * (B[k, j] at b[k*rsb + j*csb]), each laid out [k][NR]: bp[strip * NR*kc + k*NR + j].
 * Columns past nc are zeros. */
static void DFN(pack_b)(ptrdiff_t kc, ptrdiff_t nc, const T *b, ptrdiff_t rsb, ptrdiff_t csb,
                       T *restrict bp, ptrdiff_t s0, ptrdiff_t s1) {
    for (ptrdiff_t s = s0; s < s1; s++) {
        ptrdiff_t j0 = s * NR;
        const T *src = b + j0 * csb;
        T *restrict d = bp + j0 * kc;
        ptrdiff_t nr = nc - j0 < NR ? nc - j0 : NR;
        if (nr == NR && csb == 1) {
            /* B row-major: each k copies NR contiguous numbers, NV vectors */
            for (ptrdiff_t k = 0; k < kc; k++)
                for (int v = 0; v < NV; v++) VSTORE(d + k * NR + v * VW, VLOAD(src + k * rsb + v * VW));
        } else if (nr == NR && rsb == 1) {
            /* B column-major (a transposed view such as W.T, in x @ W.T): each column of
             * B is a row of W. VW x VW tiles: VW vector loads along the columns, one
             * transpose in registers (tg_vec.h), VW vector stores along the rows. */
            ptrdiff_t k = 0;
            for (; k + VW <= kc; k += VW)
                for (int v = 0; v < NV; v++) {
                    VT r[VW];
                    _Pragma("GCC unroll 16") for (int jj = 0; jj < VW; jj++)
                        r[jj] = VLOAD(src + (v * VW + jj) * csb + k);
                    VTRANSPOSE(r); /* r[kk] = B[k + kk, j0 + v*VW ... + VW] */
                    _Pragma("GCC unroll 16") for (int kk = 0; kk < VW; kk++)
                        VSTORE(d + (k + kk) * NR + v * VW, r[kk]);
                }
            for (; k < kc; k++) /* the last kc % VW rows */
                for (int j = 0; j < NR; j++) d[k * NR + j] = src[j * csb + k];
        } else {
            for (ptrdiff_t k = 0; k < kc; k++)
                for (int j = 0; j < NR; j++) d[k * NR + j] = j < nr ? src[k * rsb + j * csb] : 0;
        }
    }
}

/* ---- the micro-kernel ---------------------------------------------------------------- */

/* C[0:MR, 0:NR] (+)= A strip @ B sliver, over kc steps of k.
 * a: A[i, k] at a[i*ars + k*acs]; b: packed [kc][NR]; c: rows ldc apart; add = 1 for C +=.
 * The loops over i and v have constant trip counts, so the compiler unrolls them
 * completely and `acc` becomes MR*NV named registers. Two copies are compiled (below):
 * A packed ([k][MR]: ars = 1, acs = MR) and A read in place from its rows (acs = 1). */
static inline __attribute__((always_inline)) void DFN(micro_body)(ptrdiff_t kc, const T *restrict a,
                                                                 ptrdiff_t ars, ptrdiff_t acs,
                                                                 const T *restrict b, T *restrict c,
                                                                 ptrdiff_t ldc, int add) {
    VT acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = (VT){0};
#if GEMM_PF_C
    /* Ask for the C tile now (into L2), so that it has arrived by the time the loop
     * ends: its rows are far apart in memory, which the hardware prefetcher does not
     * guess. Then, GEMM_PF_LATE steps before the end, into L1: any earlier and the
     * B sliver and A strips streaming through L1 would push it out again. */
    for (int i = 0; i < MR; i++) {
        __builtin_prefetch(c + i * ldc, 1, GEMM_PF_C_LEVEL);
        __builtin_prefetch(c + i * ldc + NR - 1, 1, GEMM_PF_C_LEVEL);
    }
#endif
    /* the loop over k, in two phases: up to k_late, then C is called into L1, then the rest */
    ptrdiff_t k = 0, k_late = kc - GEMM_PF_LATE;
    for (int phase = 0; phase < 2; phase++) {
        for (; k < (phase == 0 ? k_late : kc); k++) {
            VT bk[NV]; /* B[k, 0:NR] */
            for (int v = 0; v < NV; v++) bk[v] = VLOAD(b + v * VW);
            for (int i = 0; i < MR; i++) {
                VT aik = SPLATV(a[i * ars]); /* A[i, k] in every lane */
                for (int v = 0; v < NV; v++) acc[i][v] += aik * bk[v];
            }
            a += acs;
            b += NR;
        }
#if GEMM_PF_LATE
        if (phase == 0)
            for (int i = 0; i < MR; i++) {
                __builtin_prefetch(c + i * ldc, 1, 3);
                __builtin_prefetch(c + i * ldc + NR - 1, 1, 3);
            }
#endif
    }
    if (add) {
        for (int i = 0; i < MR; i++)
            for (int v = 0; v < NV; v++)
                VSTORE(c + i * ldc + v * VW, VLOAD(c + i * ldc + v * VW) + acc[i][v]);
    } else {
        for (int i = 0; i < MR; i++)
            for (int v = 0; v < NV; v++) VSTORE(c + i * ldc + v * VW, acc[i][v]);
    }
}

/* A packed by pack_a: strips [kc][MR] */
__attribute__((noinline)) static void DFN(micro_kernel)(ptrdiff_t kc, const T *restrict a,
                                                       const T *restrict b, T *restrict c,
                                                       ptrdiff_t ldc, int add) {
    DFN(micro_body)(kc, a, 1, MR, b, c, ldc, add);
}

/* A row-major, read where it lies: row i of the strip starts at a + i*lda. The MR
 * broadcasts of a step come from MR rows instead of one packed line; that costs the
 * load units nothing they are short of, and saves pack_a's transpose (see row_block). */
__attribute__((noinline)) static void DFN(micro_kernel_rows)(ptrdiff_t kc, const T *restrict a,
                                                            ptrdiff_t lda, const T *restrict b,
                                                            T *restrict c, ptrdiff_t ldc, int add) {
    DFN(micro_body)(kc, a, lda, 1, b, c, ldc, add);
}

/* ---- the fused epilogue -------------------------------------------------------------- */

/* What a fused product (tg_gemm_fused) does to a piece of C after its last k-block: rows
 * [i0, i0+mr) x columns [j0, j0+nr) of C, at c (rows ldc apart). Called on each MR x NR
 * tile right after the micro-kernel stored it, so the tile is still in L1: the bias, the
 * residual and GELU cost no trip to memory of their own (the unfused path writes C, then
 * reads and writes it again for each). The order and arithmetic are the unfused path's:
 * C + bias, + residual, a copy kept (the backward's GELU' needs it), then gelu.c's own
 * kernel on each row. */
static inline int DFN(has_epilogue)(const GEMM_ARGS *p) {
    return p->bias || p->resid || p->pre || p->act;
}

static inline void DFN(add_row)(T *restrict y, const T *restrict x, ptrdiff_t n) {
    ptrdiff_t j = 0;
    for (; j + VW <= n; j += VW) VSTORE(y + j, VLOAD(y + j) + VLOAD(x + j));
    for (; j < n; j++) y[j] += x[j];
}

/* c: the piece, rows ldp apart (C itself, ldp = ldc; or macro_kernel's tile buffer). */
static void DFN(epilogue)(const GEMM_ARGS *p, T *c, ptrdiff_t ldp, ptrdiff_t i0, ptrdiff_t j0,
                          ptrdiff_t mr, ptrdiff_t nr) {
    for (ptrdiff_t i = 0; i < mr; i++) {
        T *row = c + i * ldp;
        ptrdiff_t at = (i0 + i) * p->ldc + j0; /* where this row piece is in resid and pre */
        if (p->bias) DFN(add_row)(row, p->bias + j0, nr);
        if (p->resid) DFN(add_row)(row, p->resid + at, nr);
        if (p->pre) __builtin_memcpy(p->pre + at, row, (size_t)nr * sizeof(T));
        if (p->act && ldp != nr) p->act(row, row, nr, p->act_tanh);
    }
    if (p->act && ldp == nr) p->act(c, c, mr * nr, p->act_tanh); /* rows side by side: one call */
}

/* ---- the macro-kernel: one A block against strips [js0, js1) of the B panel ---------- */

/* C[0:mc, js0*NR : min(js1*NR, nc)] (+)= A block @ B panel (rows ic.., columns jc.. of
 * the whole C; ep: the fused epilogue's product, at its last k-block, else NULL). The A block is packed (ap,
 * strips of MR*kc numbers) or, when a_rows is set, read in place from rows lda apart;
 * then only a short last strip (fewer than MR rows) is packed, at ap. Full tiles are
 * written straight into C; an edge tile goes through a local MR x NR buffer, of which
 * only the valid mr x nr part is copied out. */
static void DFN(macro_kernel)(ptrdiff_t mc, ptrdiff_t nc, ptrdiff_t kc, const T *ap,
                             const T *a_rows, ptrdiff_t lda, const T *bp, ptrdiff_t js0,
                             ptrdiff_t js1, T *c, ptrdiff_t ldc, int add, const GEMM_ARGS *ep,
                             ptrdiff_t ic, ptrdiff_t jc) {
    T tile[MR * NR] __attribute__((aligned(64)));
    for (ptrdiff_t js = js0; js < js1; js++) { /* B sliver stays in L1 ... */
        ptrdiff_t j0 = js * NR;
        ptrdiff_t nr = nc - j0 < NR ? nc - j0 : NR;
        const T *b = bp + j0 * kc;
        for (ptrdiff_t i0 = 0; i0 < mc; i0 += MR) { /* ... while the A strips stream by */
            ptrdiff_t mr = mc - i0 < MR ? mc - i0 : MR;
            /* An edge tile, and with GELU in the epilogue every tile, is computed into the
             * local buffer: GELU then runs once over its MR x NR numbers side by side
             * (one call instead of one per row), before the tile is copied out to C. */
            int in_place = a_rows && mr == MR, edge = mr < MR || nr < NR;
            int via_tile = edge || (ep && ep->act);
            T *cij = c + i0 * ldc + j0, *dst = via_tile ? tile : cij;
            ptrdiff_t ldd = via_tile ? NR : ldc;
            int add_here = via_tile ? 0 : add;
            if (in_place)
                DFN(micro_kernel_rows)(kc, a_rows + i0 * lda, lda, b, dst, ldd, add_here);
            else
                DFN(micro_kernel)(kc, a_rows ? ap : ap + i0 * kc, b, dst, ldd, add_here);
            if (!via_tile) {
                if (ep) DFN(epilogue)(ep, cij, ldc, ic + i0, jc + j0, mr, nr); /* last k-block */
                continue;
            }
            if (add) /* the earlier k-blocks' sums, already in C */
                for (ptrdiff_t i = 0; i < mr; i++)
                    for (ptrdiff_t j = 0; j < nr; j++) tile[i * NR + j] += cij[i * ldc + j];
            if (ep) DFN(epilogue)(ep, tile, NR, ic + i0, jc + j0, mr, nr);
            if (!edge) {
                for (int i = 0; i < MR; i++)
                    for (int v = 0; v < NV; v++)
                        VSTORE(cij + i * ldc + v * VW, VLOAD(tile + i * NR + v * VW));
            } else {
                for (ptrdiff_t i = 0; i < mr; i++)
                    for (ptrdiff_t j = 0; j < nr; j++) cij[i * ldc + j] = tile[i * NR + j];
            }
        }
    }
}

/* ---- the loops around the macro-kernel ----------------------------------------------- */

/* Read A in place instead of packing it? Only a row-major A (csa = 1) can be: each
 * row of an A block is then kc contiguous numbers, and the micro-kernel's MR broadcasts
 * per step come from MR such rows. */
static inline int DFN(a_in_place)(const GEMM_ARGS *p) {
    return GEMM_A_IN_PLACE && p->csa == 1;
}

/* One block of rows, over all of K: C[ic:ic+mc, jc + strips js0..js1] (+)= A[ic:ic+mc, :] @ B
 * panel. The panel holds all of K for columns jc..jc+nc, as consecutive KC-row blocks of
 * NR-strips; `ncpad` is nc rounded up to whole strips. */
static void DFN(row_block)(const GEMM_ARGS *p, const T *panel, ptrdiff_t ncpad, T *ap,
                          ptrdiff_t ic, ptrdiff_t mc, ptrdiff_t jc, ptrdiff_t nc, ptrdiff_t js0,
                          ptrdiff_t js1) {
    for (ptrdiff_t pc = 0; pc < p->K; pc += GEMM_KC) {
        ptrdiff_t kc = p->K - pc < GEMM_KC ? p->K - pc : GEMM_KC;
        int add = p->accumulate || pc > 0; /* the first k-block sets C, later ones add */
        const GEMM_ARGS *ep = pc + kc == p->K && DFN(has_epilogue)(p) ? p : NULL;
        const T *a = p->a + ic * p->rsa + pc * p->csa;
        if (DFN(a_in_place)(p)) { /* pack only the short last strip, if any */
            ptrdiff_t full = mc / MR * MR;
            if (full < mc) DFN(pack_a)(mc - full, kc, a + full * p->rsa, p->rsa, 1, ap);
            DFN(macro_kernel)(mc, nc, kc, ap, a, p->rsa, panel + pc * ncpad, js0, js1,
                             p->c + ic * p->ldc + jc, p->ldc, add, ep, ic, jc);
        } else {
            DFN(pack_a)(mc, kc, a, p->rsa, p->csa, ap);
            DFN(macro_kernel)(mc, nc, kc, ap, NULL, 0, panel + pc * ncpad, js0, js1,
                             p->c + ic * p->ldc + jc, p->ldc, add, ep, ic, jc);
        }
    }
}

/* Split `n` items as evenly as possible into `parts`; part p gets [lo, hi). */
static inline void DFN(share)(ptrdiff_t n, int parts, int p, ptrdiff_t *lo, ptrdiff_t *hi) {
    *lo = n * p / parts;
    *hi = n * (p + 1) / parts;
}

/* The next piece of work, taken from the shared counter *next: the first of `count`
 * items (MR-strips of rows, or NR-strips of columns), or -1 when none are left. A piece
 * is about 1/(2*nt) of what remains, between lo and hi items: big pieces first, small
 * ones at the end, so that the threads finish together even when one core runs slower
 * than the other (on a shared machine, it often does). */
static ptrdiff_t DFN(take)(ptrdiff_t *next, ptrdiff_t total, int nt, ptrdiff_t lo, ptrdiff_t hi,
                          ptrdiff_t *count) {
    ptrdiff_t s = __atomic_load_n(next, __ATOMIC_RELAXED), n;
    do {
        if (s >= total) return -1;
        n = nt == 1 ? hi : (total - s) / (2 * nt);
        n = n < lo ? lo : (n > hi ? hi : n);
        n = n < total - s ? n : total - s;
    } while (!__atomic_compare_exchange_n(next, &s, s + n, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    *count = n;
    return s;
}

/* Pack strips [s0, s1) of the panel's columns, all k-blocks, into bp. */
static void DFN(pack_strips)(const GEMM_ARGS *p, T *bp, ptrdiff_t jc, ptrdiff_t nc,
                            ptrdiff_t ncpad, ptrdiff_t s0, ptrdiff_t s1) {
    for (ptrdiff_t pc = 0; pc < p->K; pc += GEMM_KC) {
        ptrdiff_t kc = p->K - pc < GEMM_KC ? p->K - pc : GEMM_KC;
        DFN(pack_b)(kc, nc, p->b + pc * p->rsb + jc * p->csb, p->rsb, p->csb, bp + pc * ncpad, s0, s1);
    }
}

/* What thread `tid` of a team of nt does. bp: the B panel buffer, shared by the team or
 * this thread's own (private_b); ap: this thread's own A block; next: the work counters,
 * one per panel, shared, all 0 on entry; nc_max: the panel width; split_cols: the threads
 * share out the columns (strips of NR) instead of the rows. With nt == 1 there are no
 * barriers, so this also runs inside somebody else's parallel loop (gemm_batched). */
static void DFN(gemm_thread)(const GEMM_ARGS *p, T *bp, T *ap, ptrdiff_t *next, int tid, int nt,
                            ptrdiff_t nc_max, int split_cols, int private_b) {
    const ptrdiff_t M = p->M, N = p->N, ms = (M + MR - 1) / MR;
    int shared_b = nt > 1 && !private_b;
    for (ptrdiff_t jc = 0; jc < N; jc += nc_max, next++) {
        ptrdiff_t nc = N - jc < nc_max ? N - jc : nc_max;
        ptrdiff_t nstrips = (nc + NR - 1) / NR, ncpad = nstrips * NR, s, count;

        /* 1. pack B[:, jc:jc+nc], unless each thread packs only the columns it takes
         * (private panel, columns shared out: step 2). Shared: each packs its share of
         * the strips, then waits for the others. Private: each packs all of them. */
        if (shared_b) {
            ptrdiff_t lo, hi;
            DFN(share)(nstrips, nt, tid, &lo, &hi);
            DFN(pack_strips)(p, bp, jc, nc, ncpad, lo, hi);
            _Pragma("omp barrier") /* the whole panel is packed */
        } else if (!split_cols) {
            DFN(pack_strips)(p, bp, jc, nc, ncpad, 0, nstrips);
        }

        /* 2. multiply: columns or rows, as they come */
        if (split_cols) {
            /* with A read in place a piece may be small; a packed A is packed again for
             * every piece, so then each thread takes one piece (its share) */
            ptrdiff_t lo = DFN(a_in_place)(p) ? 1 : (nstrips + nt - 1) / nt;
            while ((s = DFN(take)(next, nstrips, nt, lo, nstrips, &count)) >= 0) {
                /* the strips [s, s + count) of the shared panel; or, private, a panel of
                 * their own: columns jp.. of width np, packed from the START of this
                 * thread's buffer. (Packed at their place in the whole panel instead,
                 * a thread would first touch another part of its buffer whenever the
                 * pieces fall differently: ~1 MB of fresh pages at a random call.) */
                ptrdiff_t jp = shared_b ? jc : jc + s * NR, s0 = shared_b ? s : 0;
                ptrdiff_t np = shared_b ? nc : (nc - s * NR < count * NR ? nc - s * NR : count * NR);
                ptrdiff_t ldp = shared_b ? ncpad : count * NR;
                if (!shared_b) DFN(pack_strips)(p, bp, jp, np, ldp, 0, count);
                for (ptrdiff_t ic = 0; ic < M; ic += GEMM_MC)
                    DFN(row_block)(p, bp, ldp, ap, ic, M - ic < GEMM_MC ? M - ic : GEMM_MC, jp, np,
                                  s0, s0 + count);
            }
        } else {
            while ((s = DFN(take)(next, ms, nt, GEMM_MIN_STRIPS, GEMM_MC / MR, &count)) >= 0) {
                ptrdiff_t ic = s * MR, mc = (s + count) * MR < M ? count * MR : M - ic;
                DFN(row_block)(p, bp, ncpad, ap, ic, mc, jc, nc, 0, nstrips);
            }
        }
        if (shared_b && jc + nc < N) { /* (after the last panel, the region's end waits) */
            _Pragma("omp barrier") /* everyone is done with the panel: it may be overwritten */
        }
    }
}

/* The panel width: the B panel holds all of K for nc_max columns, at most
 * GEMM_PANEL_BYTES (so that huge matrices are cut into column panels). */
static ptrdiff_t DFN(panel_width)(const GEMM_ARGS *p) {
    ptrdiff_t w = (ptrdiff_t)(GEMM_PANEL_BYTES / sizeof(T)) / p->K / NR * NR;
    ptrdiff_t npad = (p->N + NR - 1) / NR * NR;
    return w < NR ? NR : (w > npad ? npad : w);
}

/* Buffer sizes, in elements, rounded to whole cache lines: the B panel, one A block. */
static void DFN(buffer_sizes)(const GEMM_ARGS *p, ptrdiff_t nc_max, size_t *nb, size_t *na) {
    ptrdiff_t kc = p->K < GEMM_KC ? p->K : GEMM_KC;
    ptrdiff_t mc = p->M < GEMM_MC ? p->M : GEMM_MC;
    size_t line = 64 / sizeof(T);
    *nb = ((size_t)(p->K * nc_max) + line - 1) / line * line;
    *na = ((size_t)(kc * ((mc + MR - 1) / MR * MR)) + line - 1) / line * line;
}

/* ---- 6. a few rows: generation's matrix-vector products ---------------------------------
 * Generating with a KV cache feeds ONE new token per step through every Linear layer:
 * A is (1, K), and B is the weight W (N, K) read transposed (B[k, j] = W[j, k], so
 * rsb = 1). Packing would copy all of W to use each number once, and the MR-row
 * micro-kernel would compute MR - 1 rows of nothing. Instead each output is a dot
 * product of a row of A with a row of W, read where it lies: W streams through the
 * cache once, the few rows of A stay in L1, and the time is the memory floor (bytes of W
 * / bandwidth). The columns (rows of W) are split between threads. */
#ifndef GEMV_MAX_M
#define GEMV_MAX_M 4
#endif
#ifndef GEMV_MIN_BYTES_PER_THREAD /* below this much of W per thread, one thread */
#define GEMV_MIN_BYTES_PER_THREAD (256.0 * 1024.0)
#endif

/* sum_k x[k] * y[k], with four independent vector accumulators (see reduce_impl.h) */
static T DFN(dot)(const T *x, const T *y, ptrdiff_t n) {
    VT s0 = SPLATV(0), s1 = SPLATV(0), s2 = SPLATV(0), s3 = SPLATV(0);
    ptrdiff_t k = 0;
    for (; k + 4 * VW <= n; k += 4 * VW) {
        s0 += VLOAD(x + k) * VLOAD(y + k);
        s1 += VLOAD(x + k + VW) * VLOAD(y + k + VW);
        s2 += VLOAD(x + k + 2 * VW) * VLOAD(y + k + 2 * VW);
        s3 += VLOAD(x + k + 3 * VW) * VLOAD(y + k + 3 * VW);
    }
    for (; k + VW <= n; k += VW) s0 += VLOAD(x + k) * VLOAD(y + k);
    VT v = (s0 + s1) + (s2 + s3);
    /* the lanes' sum as a tree (8 + 4 + 2 + 1 adds for 16 lanes, 4 steps deep) rather
     * than 16 additions in a chain: for a head of 32 numbers (q . k in attention) the
     * chain would take longer than the products */
    T lanes[VW];
    for (int l = 0; l < VW; l++) lanes[l] = v[l];
    for (int w = VW / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) lanes[l] += lanes[l + w];
    T s = lanes[0];
    for (; k < n; k++) s += x[k] * y[k]; /* the tail that does not fill a vector */
    return s;
}

static void DFN(gemv_cols)(const GEMM_ARGS *p, ptrdiff_t j0, ptrdiff_t j1) {
    for (ptrdiff_t j = j0; j < j1; j++) {
        const T *w = p->b + j * p->csb; /* row j of W: column j of B, contiguous */
        for (ptrdiff_t i = 0; i < p->M; i++) {
            T s = DFN(dot)(p->a + i * p->rsa, w, p->K);
            T *c = p->c + i * p->ldc + j;
            *c = p->accumulate ? *c + s : s;
        }
    }
}

/* The other layout: B stored row by row (csb = 1), as V is in attention's p @ V. Then
 * row i of C is a weighted sum of rows of B, c_i = sum_k a[i, k] * B[k, :], computed
 * along the row (vectorised over the columns j) so that B is again read where it lies.
 * The sum over k runs in order, one rounding per step, as in the dot products above. */
static void DFN(gemv_rows)(const GEMM_ARGS *p, ptrdiff_t j0, ptrdiff_t j1) {
    for (ptrdiff_t i = 0; i < p->M; i++) {
        T *c = p->c + i * p->ldc;
        if (!p->accumulate)
            for (ptrdiff_t j = j0; j < j1; j++) c[j] = 0;
        for (ptrdiff_t k = 0; k < p->K; k++) {
            const T aik = p->a[i * p->rsa + k * p->csa];
            const T *b = p->b + k * p->rsb;
            const VT va = SPLATV(aik);
            ptrdiff_t j = j0;
            for (; j + VW <= j1; j += VW) VSTORE(c + j, VLOAD(c + j) + va * VLOAD(b + j));
            for (; j < j1; j++) c[j] += aik * b[j];
        }
    }
}

static void DFN(gemv)(const GEMM_ARGS *p, int nthreads) {
    double bytes = (double)p->N * (double)p->K * (double)sizeof(T);
    int nt = nthreads;
    void (*cols)(const GEMM_ARGS *, ptrdiff_t, ptrdiff_t) =
        p->rsb == 1 && p->csa == 1 ? DFN(gemv_cols) : DFN(gemv_rows);
    if (bytes < (double)nt * GEMV_MIN_BYTES_PER_THREAD) nt = (int)(bytes / GEMV_MIN_BYTES_PER_THREAD);
    if (nt <= 1) {
        cols(p, 0, p->N);
        return;
    }
    _Pragma("omp parallel num_threads(nt)") {
        int k = omp_get_num_threads(), t = omp_get_thread_num();
        cols(p, p->N * t / k, p->N * (t + 1) / k);
    }
}

/* Section 6 takes x @ W^T (B read by columns, rsb = 1: gemv_cols) and x @ V (B read by
 * rows, csb = 1: gemv_rows) when A has at most GEMV_MAX_M rows. */
static int DFN(few_rows)(const GEMM_ARGS *p) {
    return p->M <= GEMV_MAX_M && ((p->rsb == 1 && p->csa == 1) || p->csb == 1);
}

/* C (+)= A @ B with up to nthreads threads. Returns 0, or -1 if out of memory. */
static int DFN(gemm)(const GEMM_ARGS *p, int nthreads) {
    if (DFN(few_rows)(p)) { /* section 6: few rows */
        DFN(gemv)(p, nthreads);
        if (DFN(has_epilogue)(p)) DFN(epilogue)(p, p->c, p->ldc, 0, 0, p->M, p->N);
        return 0;
    }
    double flops = 2.0 * (double)p->M * (double)p->N * (double)p->K;
    int nt = nthreads;
    if (flops < (double)nt * GEMM_MIN_FLOPS_PER_THREAD) /* too little work to wake threads */
        nt = (int)(flops / GEMM_MIN_FLOPS_PER_THREAD);
    if (nt < 1) nt = 1;
    ptrdiff_t nc_max = DFN(panel_width)(p), npanels = (p->N + nc_max - 1) / nc_max;
    /* rows are shared out as they come; but with fewer than 4 strips of rows per thread,
     * the threads split the columns instead */
    int split_cols = nt > 1 && (p->M + MR - 1) / MR < 4 * nt;
    /* small panels: each thread packs its own copy, and the threads never wait for each
     * other; large ones: packed once, together (see section 5) */
    int private_b = nt > 1 && (double)p->K * (double)p->N <= GEMM_PRIVATE_B_MAX;
    /* A private panel costs each thread all of B (K x N) when the rows are shared out,
     * but only its share of B plus all of A (M x K) when the columns are: split the
     * columns when A costs nothing to pack (read in place), or when B is wider than A
     * is tall (N > M: a weight gradient dW = dY^T X with few outputs). */
    if (private_b && (p->N > p->M || DFN(a_in_place)(p))) split_cols = 1;
    size_t nb, na, nbt;
    DFN(buffer_sizes)(p, nc_max, &nb, &na);
    nbt = private_b ? (size_t)nt * nb : nb;
    void *raw;
    T *bp = (T *)tg_alloc64((nbt + (size_t)nt * na) * sizeof(T) + (size_t)npanels * sizeof(ptrdiff_t), &raw);
    if (!bp) return -1;
    ptrdiff_t *next = (ptrdiff_t *)(bp + nbt + (size_t)nt * na); /* the row counters */
    for (ptrdiff_t i = 0; i < npanels; i++) next[i] = 0;
    if (nt == 1) {
        DFN(gemm_thread)(p, bp, bp + nb, next, 0, 1, nc_max, 0, 0);
    } else {
        _Pragma("omp parallel num_threads(nt)") {
            int team = omp_get_num_threads(), tid = omp_get_thread_num(); /* may be < nt */
            T *my_b = private_b ? bp + (size_t)tid * nb : bp;
            DFN(gemm_thread)(p, my_b, bp + nbt + (size_t)tid * na, next, tid, team, nc_max,
                            split_cols, private_b);
        }
    }
    free(raw);
    return 0;
}

/* `batch` products of one shape: matrix q reads A at a + a_off[q], B at b + b_off[q],
 * writes C at c + q * c_step. Many small products: one thread each, single-threaded
 * GEMMs side by side (attention's (B*n_head, T, T) batches). A few large ones: one
 * after another, each threaded inside. */
static int DFN(gemm_batched)(ptrdiff_t batch, const GEMM_ARGS *proto, const ptrdiff_t *a_off,
                            const ptrdiff_t *b_off, ptrdiff_t c_step, int nthreads) {
    double flops = 2.0 * (double)proto->M * (double)proto->N * (double)proto->K;
    /* the whole batch too small to wake threads for (generation: one query row per head) */
    if ((double)batch * flops < (double)nthreads * GEMM_MIN_FLOPS_PER_THREAD)
        nthreads = (int)((double)batch * flops / GEMM_MIN_FLOPS_PER_THREAD);
    if (nthreads < 1) nthreads = 1;
    /* a few rows each: section 6, product by product (it threads inside if worth it) */
    int per_matrix = nthreads > 1 && batch >= nthreads && !DFN(few_rows)(proto) &&
                     (batch % nthreads == 0 || batch >= 4 * nthreads ||
                      flops < 4.0 * GEMM_MIN_FLOPS_PER_THREAD);
    int err = 0;
    if (!per_matrix) {
        for (ptrdiff_t q = 0; q < batch && !err; q++) {
            GEMM_ARGS p = *proto;
            p.a += a_off[q];
            p.b += b_off[q];
            p.c += q * c_step;
            err = DFN(gemm)(&p, nthreads);
        }
        return err;
    }
    ptrdiff_t nc_max = DFN(panel_width)(proto), npanels = (proto->N + nc_max - 1) / nc_max;
    size_t nb, na;
    DFN(buffer_sizes)(proto, nc_max, &nb, &na);
    _Pragma("omp parallel num_threads(nthreads)") {
        void *raw; /* this thread's own buffers: B panel, A block, row counters */
        T *bp = (T *)tg_alloc64((nb + na) * sizeof(T) + (size_t)npanels * sizeof(ptrdiff_t), &raw);
        ptrdiff_t *next = bp ? (ptrdiff_t *)(bp + nb + na) : NULL;
        _Pragma("omp for schedule(static)") for (ptrdiff_t q = 0; q < batch; q++) {
            if (!bp) continue;
            GEMM_ARGS p = *proto;
            p.a += a_off[q];
            p.b += b_off[q];
            p.c += q * c_step;
            for (ptrdiff_t i = 0; i < npanels; i++) next[i] = 0;
            DFN(gemm_thread)(&p, bp, bp + nb, next, 0, 1, nc_max, 0, 0);
        }
        if (!bp) {
            _Pragma("omp atomic write") err = -1;
        }
        free(raw);
    }
    return err;
}

/* MR, NR, MC, KC, GEMM_PANEL_BYTES of this variant (for tests and lessons). */
static void DFN(blocking)(ptrdiff_t out[5]) {
    out[0] = MR;
    out[1] = NR;
    out[2] = GEMM_MC;
    out[3] = GEMM_KC;
    out[4] = GEMM_PANEL_BYTES;
}

/* ---- the peak: what the FMA units can do when nothing waits on memory -------------------- */

/* GEMM_PEAK_ACC independent chains acc = acc * x + y; returns the flops done. */
static double DFN(fma_peak)(ptrdiff_t iters) {
    VT acc[GEMM_PEAK_ACC];
    VT x = SPLATV((T)0.999999), y = SPLATV((T)1e-6);
    for (int i = 0; i < GEMM_PEAK_ACC; i++) acc[i] = SPLATV((T)i);
    for (ptrdiff_t it = 0; it < iters; it++)
        for (int i = 0; i < GEMM_PEAK_ACC; i++) acc[i] = acc[i] * x + y;
    VT s = acc[0];
    for (int i = 1; i < GEMM_PEAK_ACC; i++) s += acc[i];
    volatile T sink = s[0]; /* keep the loop from being optimized away */
    (void)sink;
    return 2.0 * GEMM_PEAK_ACC * VW * (double)iters;
}

#undef VT
#undef VW
#undef SPLATV
#undef GEMM_ARGS
#undef MR
#undef NV
#undef NR
