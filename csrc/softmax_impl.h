/* softmax_impl.h -- softmax, log-softmax and cross-entropy, one row at a time.
 *
 * A template: softmax.c includes it six times (base / AVX2 / AVX-512, each for
 * float32 and float64), with T, V, W, DFN, VEXP, ... set by tg_dtype.h.
 *
 * Every kernel here works on ONE row of `n` logits, x[0..n). A row of a GPT's
 * logits is 65..50k numbers; a row of 1024 floats is 4 KB, which fits in the 32-48 KB
 * L1 cache many times over. So we can afford to walk over a row several times: the
 * first walk brings it from memory, the later ones read it from L1 almost for free.
 *
 * softmax(x)_i = e^(x_i) / sum_j e^(x_j)
 *
 * e^(x_i) overflows float32 as soon as x_i > 88.7, so we first subtract the row's
 * maximum m: e^(x_i - m) / sum_j e^(x_j - m) is the same number (multiply top and
 * bottom by e^-m), every exponent is now <= 0, every e^ is in (0, 1], and the sum is
 * in [1, n]. Three short passes:
 *
 *   (1) m = max_i x_i
 *   (2) e_i = e^(x_i - m), stored into y, and s = sum_i e_i
 *   (3) y_i = e_i * (1/s)
 *
 * An "online" softmax gets m and s in ONE pass (when a new maximum appears, rescale
 * the running sum by e^(m_old - m_new)), but then still needs a second pass to write
 * y, and computes two exponentials per element. With the row in L1, the extra read
 * of pass (1) is cheaper than the extra exp, so we do three passes.
 *
 * Masking: x_i = -inf gives e^(-inf - m) = exactly 0 (tg_exp.h), so masked positions
 * get probability 0. A row that is ALL -inf has m = -inf and x_i - m = -inf + inf =
 * NaN: the result is NaN, as in PyTorch (there is no distribution to return).
 */

/* Every loop below is: whole vectors of W elements, then at most one partial vector
 * for the last n % W (VLOAD_PART fills its missing lanes with a neutral value,
 * VSTORE_PART writes only the real ones; see tg_exp.h). */

/* (1) m = max_i x[i]. Four accumulators so that the max of one vector does not wait
 * for the previous one. NaNs are skipped here, but they still poison pass (2). */
static T DFN(row_max)(const T *x, ptrdiff_t n) {
    V m0 = VSPLAT(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    ptrdiff_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        m0 = VMAX(VLOAD(x + i), m0);
        m1 = VMAX(VLOAD(x + i + W), m1);
        m2 = VMAX(VLOAD(x + i + 2 * W), m2);
        m3 = VMAX(VLOAD(x + i + 3 * W), m3);
    }
    for (; i + W <= n; i += W) m0 = VMAX(VLOAD(x + i), m0);
    if (i < n) m1 = VMAX(VLOAD_PART(x + i, n - i, -INFINITY), m1);
    return HMAX(VMAX(VMAX(m0, m1), VMAX(m2, m3)));
}

/* The rows sit one after another, so x + n is the NEXT row. Pass (2) below keeps the
 * arithmetic units busy with exponentials while the memory bus would sit idle; asking
 * for the next row's lines now (and for y's, which we will write) lets them arrive
 * during the arithmetic instead of after it. A prefetch never faults: past the last
 * row it is merely wasted. Two prefetches per 2W elements: once per 64-byte line with
 * AVX-512, twice with AVX2, four times on the baseline; asking again for a line that is
 * already on its way costs little. */
#define PREFETCH_NEXT_ROW(x, out, n, i)                                 \
    do {                                                                \
        __builtin_prefetch((x) + (n) + (i), 0, 3);                      \
        __builtin_prefetch((x) + (n) + (i) + W, 0, 3);                  \
        if (out) __builtin_prefetch((out) + (n) + (i), 1, 3);           \
        if (out) __builtin_prefetch((out) + (n) + (i) + W, 1, 3);       \
    } while (0)

/* (2) sum_i e^(x[i] - m), also storing each e^(x[i] - m) into y unless y is NULL
 * (log-softmax and cross-entropy only need the sum). `out` is the row the caller will
 * write (NULL: none), for the prefetch. Two accumulators: each iteration is ~15-20
 * instructions of exp, so two are enough to hide the add latency. */
static T DFN(row_exp_sum)(const T *x, T *y, ptrdiff_t n, T m, const T *out) {
    const V vm = VSPLAT(m);
    V s0 = VSPLAT(0), s1 = VSPLAT(0);
    ptrdiff_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        PREFETCH_NEXT_ROW(x, out, n, i);
        V e0 = VEXP(VLOAD(x + i) - vm);
        V e1 = VEXP(VLOAD(x + i + W) - vm);
        if (y) {
            VSTORE(y + i, e0);
            VSTORE(y + i + W, e1);
        }
        s0 += e0;
        s1 += e1;
    }
    for (; i + W <= n; i += W) {
        V e0 = VEXP(VLOAD(x + i) - vm);
        if (y) VSTORE(y + i, e0);
        s0 += e0;
    }
    if (i < n) { /* padded with -inf: e^(-inf - m) = 0 adds nothing */
        V e1 = VEXP(VLOAD_PART(x + i, n - i, -INFINITY) - vm);
        if (y) VSTORE_PART(y + i, e1, n - i);
        s1 += e1;
    }
    return HSUM(s0 + s1);
}

/* y = softmax(x) for one row. */
static void DFN(softmax_row)(const T *x, T *y, ptrdiff_t n) {
    T m = DFN(row_max)(x, n);             /* (1) */
    T s = DFN(row_exp_sum)(x, y, n, m, y); /* (2) */
    const V inv = VSPLAT((T)1 / s);       /* (3): one division, then n multiplications */
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(y + i, VLOAD(y + i) * inv);
    if (i < n) VSTORE_PART(y + i, VLOAD_PART(y + i, n - i, 0) * inv, n - i);
}

/* y = log_softmax(x) = x - m - log(sum_j e^(x_j - m)) for one row.
 * Computed directly rather than as log(softmax(x)), which would turn a probability
 * that underflowed to 0 into -inf; here a logit of -1e4 gets the log-probability
 * -1e4 - ..., exactly as it should.
 * Memory sees one read of x (the first walk brings the row into L1, the other two read
 * it there) and one write of y. */
static void DFN(log_softmax_row)(const T *x, T *y, ptrdiff_t n) {
    T m = DFN(row_max)(x, n);
    T log_s = SLOG(DFN(row_exp_sum)(x, NULL, n, m, y));
    const V vm = VSPLAT(m), vls = VSPLAT(log_s);
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(y + i, (VLOAD(x + i) - vm) - vls);
    if (i < n) VSTORE_PART(y + i, (VLOAD_PART(x + i, n - i, 0) - vm) - vls, n - i);
}

/* A whole vector stored to p "non-temporally": straight to memory, without first
 * reading p's cache line in. An ordinary store to a line that is not in the cache
 * reads the line from memory first (to own it), then writes it back later: two trips
 * across the memory bus for one written line. A streaming store makes one. It pays
 * for a large output the next op would not find in the cache anyway; for a small one
 * it is a loss (the next op must fetch it from memory). p must be aligned to a vector. */
static inline void DFN(stream)(T *p, V v) {
#if TG_X86 && TG_DTYPE == 32 && TG_VEC_BYTES == 64
    _mm512_stream_ps(p, (__m512)v);
#elif TG_X86 && TG_DTYPE == 32 && TG_VEC_BYTES == 32
    _mm256_stream_ps(p, (__m256)v);
#elif TG_X86 && TG_DTYPE == 32
    _mm_stream_ps(p, (__m128)v);
#elif TG_X86 && TG_VEC_BYTES == 64
    _mm512_stream_pd(p, (__m512d)v);
#elif TG_X86 && TG_VEC_BYTES == 32
    _mm256_stream_pd(p, (__m256d)v);
#elif TG_X86
    _mm_stream_pd(p, (__m128d)v);
#else
    VSTORE(p, v);
#endif
}

/* log_softmax_row for a large output: the same numbers, written with streaming stores
 * (the first few up to a vector boundary and the last partial vector as usual), and the
 * next row of y is not prefetched (that would read the lines the stores avoid reading).
 * The fence at the end makes this row's streaming stores visible before anything after. */
static void DFN(log_softmax_row_stream)(const T *x, T *y, ptrdiff_t n) {
    T m = DFN(row_max)(x, n);
    T log_s = SLOG(DFN(row_exp_sum)(x, NULL, n, m, NULL));
    const V vm = VSPLAT(m), vls = VSPLAT(log_s);
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(y + i) % TG_VEC_BYTES); i++) y[i] = (x[i] - m) - log_s;
    for (; i + W <= n; i += W) DFN(stream)(y + i, (VLOAD(x + i) - vm) - vls);
    if (i < n) VSTORE_PART(y + i, (VLOAD_PART(x + i, n - i, 0) - vm) - vls, n - i);
#if TG_X86
    _mm_sfence();
#endif
}

/* sum_i a[i] * b[i] (b = NULL: sum_i a[i]), for the two backward passes. */
static T DFN(row_dot)(const T *a, const T *b, ptrdiff_t n) {
    V d0 = VSPLAT(0), d1 = VSPLAT(0);
    const V one = VSPLAT(1);
    ptrdiff_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        d0 = VFMA(VLOAD(a + i), b ? VLOAD(b + i) : one, d0);
        d1 = VFMA(VLOAD(a + i + W), b ? VLOAD(b + i + W) : one, d1);
    }
    for (; i + W <= n; i += W) d0 = VFMA(VLOAD(a + i), b ? VLOAD(b + i) : one, d0);
    if (i < n) d1 = VFMA(VLOAD_PART(a + i, n - i, 0), b ? VLOAD_PART(b + i, n - i, 0) : one, d1);
    return HSUM(d0 + d1);
}

/* Backward of softmax. With y = softmax(x) and the upstream gradient dy,
 *     dx_i = sum_j dy_j * dy_j/dx_i = sum_j dy_j * y_j * (delta_ij - y_i)
 *          = y_i * (dy_i - sum_j dy_j y_j).
 * Two passes: the dot product, then the element-wise formula. */
static void DFN(softmax_backward_row)(const T *y, const T *dy, T *dx, ptrdiff_t n) {
    const V dot = VSPLAT(DFN(row_dot)(dy, y, n));
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(dx + i, VLOAD(y + i) * (VLOAD(dy + i) - dot));
    if (i < n) {
        V yi = VLOAD_PART(y + i, n - i, 0), dyi = VLOAD_PART(dy + i, n - i, 0);
        VSTORE_PART(dx + i, yi * (dyi - dot), n - i);
    }
}

/* Backward of log-softmax. With y = log_softmax(x), softmax(x) = e^y, and
 *     dx_i = dy_i - e^(y_i) * sum_j dy_j. */
static void DFN(log_softmax_backward_row)(const T *y, const T *dy, T *dx, ptrdiff_t n) {
    const V s = VSPLAT(DFN(row_dot)(dy, NULL, n));
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(dx + i, VLOAD(dy + i) - VEXP(VLOAD(y + i)) * s);
    if (i < n) {
        V p = VEXP(VLOAD_PART(y + i, n - i, -INFINITY));
        VSTORE_PART(dx + i, VLOAD_PART(dy + i, n - i, 0) - p * s, n - i);
    }
}

/* Cross-entropy of one row against its target class t (t < 0: the row is ignored):
 *     loss = -log softmax(x)_t = log(sum_j e^(x_j - m)) - (x_t - m).
 * We return the loss and keep m and log_s = log(sum_j e^(x_j - m)) for backward.
 * (Keeping their sum, the log-sum-exp m + log_s, would be simpler but wrong for big
 * logits: at m = 1e4 a float32 has a spacing of ~1e-3, and the loss would lose all
 * its digits.) */
static T DFN(cross_entropy_row)(const T *x, ptrdiff_t n, int64_t t, T *m_out, T *log_s_out) {
    T m = DFN(row_max)(x, n);
    T log_s = SLOG(DFN(row_exp_sum)(x, NULL, n, m, NULL));
    *m_out = m;
    *log_s_out = log_s;
    return t >= 0 ? log_s - (x[t] - m) : 0;
}

/* Its gradient, in ONE pass over the row thanks to the saved m and log_s:
 *     dloss/dx_j = scale * (softmax(x)_j - [j == t]),  softmax(x)_j = e^((x_j - m) - log_s)
 * where scale = grad_loss / (number of rows that count), the 1/N of the mean. */
static void DFN(cross_entropy_backward_row)(const T *x, int64_t t, T m, T log_s, T scale,
                                            T *dx, ptrdiff_t n) {
    const V vm = VSPLAT(m), vls = VSPLAT(log_s), vscale = VSPLAT(scale);
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(dx + i, VEXP((VLOAD(x + i) - vm) - vls) * vscale);
    if (i < n) {
        V p = VEXP((VLOAD_PART(x + i, n - i, -INFINITY) - vm) - vls);
        VSTORE_PART(dx + i, p * vscale, n - i);
    }
    dx[t] -= scale;
}

/* For the tests: y = e^x element-wise, so the vector exp can be compared with NumPy. */
static void DFN(vexp)(const T *x, T *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(y + i, VEXP(VLOAD(x + i)));
    if (i < n) VSTORE_PART(y + i, VEXP(VLOAD_PART(x + i, n - i, 0)), n - i);
}
