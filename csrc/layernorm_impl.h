/* layernorm_impl.h -- LayerNorm forward/backward and the embedding scatter-add,
 * written once for every ISA x dtype (see tg_dtype.h for T, V, W, VLOAD, ...).
 *
 * LayerNorm works row by row on (N, C): each row of C numbers is read while it sits
 * in L1 cache, in two short passes (mean; variance and output) instead of the five
 * separate NumPy passes of the reference twin (mean, subtract, square, mean, scale).
 */

/* Forward for rows [r0, r1): y = (x - mean) * rstd * w + b, saving mean and rstd. */
static void DFN(layernorm_fwd_rows)(const T *x, const T *w, const T *b, T *y, T *mean, T *rstd,
                                    ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t C, T eps) {
    for (ptrdiff_t r = r0; r < r1; r++) {
        const T *xr = x + r * C;
        T *yr = y + r * C;
        /* pass 1: the mean */
        V acc = VSPLAT(0);
        ptrdiff_t c = 0;
        for (; c + W <= C; c += W) acc += VLOAD(xr + c);
        T s = HSUM(acc);
        for (; c < C; c++) s += xr[c];
        const T m = s / (T)C;
        /* pass 2: the variance, around the mean (two passes: no cancellation) */
        const V vm = VSPLAT(m);
        acc = VSPLAT(0);
        for (c = 0; c + W <= C; c += W) {
            V d = VLOAD(xr + c) - vm;
            acc += d * d;
        }
        T ss = HSUM(acc);
        for (; c < C; c++) ss += (xr[c] - m) * (xr[c] - m);
        const T rs = (T)1 / (T)sqrt((double)(ss / (T)C + eps));
        mean[r] = m;
        rstd[r] = rs;
        /* pass 3 (the row is still in L1): normalise, scale, shift */
        const V vrs = VSPLAT(rs);
        for (c = 0; c + W <= C; c += W) {
            V v = (VLOAD(xr + c) - vm) * vrs;
            if (w) v = v * VLOAD(w + c);
            if (b) v = v + VLOAD(b + c);
            VSTORE(yr + c, v);
        }
        for (; c < C; c++) {
            T v = (xr[c] - m) * rs;
            if (w) v *= w[c];
            if (b) v += b[c];
            yr[c] = v;
        }
    }
}

/* Backward for rows [r0, r1). With xhat = (x - mean) * rstd and dxhat = dy * w:
 *     dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
 * and this thread's share of dw += dy * xhat, db += dy goes into dw_part, db_part. */
static void DFN(layernorm_bwd_rows)(const T *x, const T *w, const T *mean, const T *rstd,
                                    const T *dy, T *dx, T *dw_part, T *db_part,
                                    ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t C) {
    for (ptrdiff_t r = r0; r < r1; r++) {
        const T *xr = x + r * C, *dyr = dy + r * C;
        T *dxr = dx + r * C;
        const V vm = VSPLAT(mean[r]), vrs = VSPLAT(rstd[r]);
        /* pass 1: the two row means, and the parameter gradients */
        V a1 = VSPLAT(0), a2 = VSPLAT(0);
        ptrdiff_t c = 0;
        for (; c + W <= C; c += W) {
            V xh = (VLOAD(xr + c) - vm) * vrs, g = VLOAD(dyr + c);
            V dxh = w ? g * VLOAD(w + c) : g;
            a1 += dxh;
            a2 += dxh * xh;
            if (dw_part) VSTORE(dw_part + c, VLOAD(dw_part + c) + g * xh);
            VSTORE(db_part + c, VLOAD(db_part + c) + g);
        }
        T s1 = HSUM(a1), s2 = HSUM(a2);
        for (ptrdiff_t k = c; k < C; k++) {
            T xh = (xr[k] - mean[r]) * rstd[r], g = dyr[k];
            T dxh = w ? g * w[k] : g;
            s1 += dxh;
            s2 += dxh * xh;
            if (dw_part) dw_part[k] += g * xh;
            db_part[k] += g;
        }
        const T m1 = s1 / (T)C, m2 = s2 / (T)C;
        /* pass 2: dx */
        const V vm1 = VSPLAT(m1), vm2 = VSPLAT(m2);
        for (c = 0; c + W <= C; c += W) {
            V xh = (VLOAD(xr + c) - vm) * vrs, g = VLOAD(dyr + c);
            V dxh = w ? g * VLOAD(w + c) : g;
            VSTORE(dxr + c, vrs * (dxh - vm1 - xh * vm2));
        }
        for (; c < C; c++) {
            T xh = (xr[c] - mean[r]) * rstd[r], g = dyr[c];
            T dxh = w ? g * w[c] : g;
            dxr[c] = rstd[r] * (dxh - m1 - xh * m2);
        }
    }
}

/* Embedding backward: dw[idx[i], :] += g[i, :] for the i whose id lies in [v0, v1).
 * Each thread owns a range of vocabulary rows, so no two threads write one row and
 * repeated ids accumulate in index order (deterministic). */
static void DFN(embedding_bwd_range)(const int64_t *idx, ptrdiff_t n, const T *g, ptrdiff_t D,
                                     T *dw, int64_t v0, int64_t v1) {
    for (ptrdiff_t i = 0; i < n; i++) {
        const int64_t v = idx[i];
        if (v < v0 || v >= v1) continue;
        T *row = dw + v * D;
        const T *gi = g + i * D;
        ptrdiff_t c = 0;
        for (; c + W <= D; c += W) VSTORE(row + c, VLOAD(row + c) + VLOAD(gi + c));
        for (; c < D; c++) row[c] += gi[c];
    }
}
