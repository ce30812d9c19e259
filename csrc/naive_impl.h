/* naive_impl.h -- the plain-C rung of every kernel family, written once for T = float
 * and T = double (naive.c compiles it for both; tg_dtype.h gives T, DNAME, SEXP, SLOG,
 * SSQRT).
 *
 * Each function is its NumPy twin in reference.py written as loops over numbers: one
 * thread, no vectors, no blocking. The fast kernels (softmax_impl.h, layernorm_impl.h,
 * gelu_impl.h, attention_impl.h, optim_impl.h) compute the same things; what they add
 * is SIMD lanes, cache blocking and threads. Lesson 10 times the three rungs. */

/* ---- softmax and log-softmax: one row at a time ---------------------------------------- */

/* x, y: (rows, cols). Per row: m = max_j x[j]; y[j] = e^(x[j] - m) / sum_k e^(x[k] - m),
 * or, for log-softmax, y[j] = (x[j] - m) - log sum_k e^(x[k] - m). Subtracting m keeps
 * every exponent <= 0 (no overflow); an all -inf row gives NaN, as in the twin. */
void DNAME(tg_softmax_naive)(const T *x, T *y, ptrdiff_t rows, ptrdiff_t cols, int log_form) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * cols; /* (cols,) */
        T *yr = y + r * cols;
        T m = -INFINITY;
        for (ptrdiff_t j = 0; j < cols; j++) m = xr[j] > m ? xr[j] : m;
        T sum = 0;
        for (ptrdiff_t j = 0; j < cols; j++) {
            yr[j] = SEXP(xr[j] - m); /* kept, so that each e^ is computed once */
            sum += yr[j];
        }
        if (log_form) {
            T log_sum = SLOG(sum);
            for (ptrdiff_t j = 0; j < cols; j++) yr[j] = (xr[j] - m) - log_sum;
        } else {
            for (ptrdiff_t j = 0; j < cols; j++) yr[j] = yr[j] / sum;
        }
    }
}

/* ---- cross-entropy ---------------------------------------------------------------------- */

/* logits (rows, cols), targets (rows,). Per counted row: -log p[t] = log sum_j e^(x[j] - m)
 * - (x[t] - m). row_max[r] = m and row_log_sum[r] = log sum_j e^(x[j] - m) are kept for
 * the backward. The losses add up in double (a float sum over many rows loses digits). */
double DNAME(tg_cross_entropy_naive)(const T *logits, const int64_t *targets,
                                     int64_t ignore_index, T *row_max, T *row_log_sum,
                                     ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t *n_valid) {
    double total = 0;
    ptrdiff_t count = 0;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = logits + r * cols; /* (cols,) */
        T m = -INFINITY;
        for (ptrdiff_t j = 0; j < cols; j++) m = xr[j] > m ? xr[j] : m;
        T sum = 0;
        for (ptrdiff_t j = 0; j < cols; j++) sum += SEXP(xr[j] - m);
        row_max[r] = m;
        row_log_sum[r] = SLOG(sum);
        if (targets[r] == ignore_index) continue;
        total += (double)(row_log_sum[r] - (xr[targets[r]] - m));
        count++;
    }
    *n_valid = count;
    return total;
}

/* dlogits[r, j] = scale * (p[j] - (j == t)), p = e^((x[j] - m) - log_sum) the softmax
 * rebuilt from what the forward kept; an ignored row gets 0. */
void DNAME(tg_cross_entropy_backward_naive)(const T *logits, const int64_t *targets,
                                            int64_t ignore_index, const T *row_max,
                                            const T *row_log_sum, T scale, T *dlogits,
                                            ptrdiff_t rows, ptrdiff_t cols) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = logits + r * cols; /* (cols,) */
        T *dr = dlogits + r * cols;
        int64_t t = targets[r];
        for (ptrdiff_t j = 0; j < cols; j++) {
            if (t == ignore_index) {
                dr[j] = 0;
                continue;
            }
            T p = SEXP((xr[j] - row_max[r]) - row_log_sum[r]);
            dr[j] = p * scale - (j == t ? scale : 0);
        }
    }
}

/* ---- LayerNorm -------------------------------------------------------------------------- */

/* x, y (N, C); w, b (C,) or NULL; mean, rstd (N,).
 * Per row: mean, var = mean((x - mean)^2), rstd = 1 / sqrt(var + eps),
 * y = (x - mean) * rstd * w + b. */
void DNAME(tg_layernorm_fwd_naive)(const T *x, const T *w, const T *b, T *y, T *mean, T *rstd,
                                   ptrdiff_t N, ptrdiff_t C, double eps) {
    for (ptrdiff_t n = 0; n < N; n++) {
        const T *xn = x + n * C; /* (C,) */
        T *yn = y + n * C;
        T m = 0;
        for (ptrdiff_t c = 0; c < C; c++) m += xn[c];
        m = m / (T)C;
        T var = 0;
        for (ptrdiff_t c = 0; c < C; c++) var += (xn[c] - m) * (xn[c] - m);
        var = var / (T)C;
        T s = (T)1 / SSQRT(var + (T)eps);
        for (ptrdiff_t c = 0; c < C; c++) {
            T o = (xn[c] - m) * s; /* xhat: mean 0, variance 1 */
            if (w) o = o * w[c];
            if (b) o = o + b[c];
            yn[c] = o;
        }
        mean[n] = m;
        rstd[n] = s;
    }
}

/* With xhat = (x - mean) * rstd and dxhat = dy * w (dy if no weight):
 *   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (N, C)
 *   dw = sum over rows of dy * xhat,  db = sum over rows of dy        (C,) */
void DNAME(tg_layernorm_bwd_naive)(const T *x, const T *w, const T *mean, const T *rstd,
                                   const T *dy, T *dx, T *dw, T *db, ptrdiff_t N, ptrdiff_t C) {
    for (ptrdiff_t c = 0; c < C; c++) {
        if (dw) dw[c] = 0;
        db[c] = 0;
    }
    for (ptrdiff_t n = 0; n < N; n++) {
        const T *xn = x + n * C, *dyn = dy + n * C; /* (C,) */
        T *dxn = dx + n * C;
        T mean_dxhat = 0, mean_dxhat_xhat = 0;
        for (ptrdiff_t c = 0; c < C; c++) {
            T xhat = (xn[c] - mean[n]) * rstd[n];
            T dxhat = w ? dyn[c] * w[c] : dyn[c];
            mean_dxhat += dxhat;
            mean_dxhat_xhat += dxhat * xhat;
        }
        mean_dxhat = mean_dxhat / (T)C;
        mean_dxhat_xhat = mean_dxhat_xhat / (T)C;
        for (ptrdiff_t c = 0; c < C; c++) {
            T xhat = (xn[c] - mean[n]) * rstd[n];
            T dxhat = w ? dyn[c] * w[c] : dyn[c];
            dxn[c] = rstd[n] * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
            if (dw) dw[c] += dyn[c] * xhat;
            db[c] += dyn[c];
        }
    }
}

/* ---- GELU (computed in double, rounded once to T, as the twin does) --------------------- */

#ifndef TG_NAIVE_GELU_ONCE /* (scalar helpers in double: the same for both dtypes) */
#define TG_NAIVE_GELU_ONCE
#define TG_SQRT_2_OVER_PI 0.7978845608028654 /* sqrt(2 / pi) */
#define TG_SQRT_1_OVER_2 0.7071067811865476  /* 1 / sqrt(2) */
#define TG_INV_SQRT_2PI 0.3989422804014327   /* 1 / sqrt(2 pi) */

/* sigmoid(2u) = (1 + tanh u) / 2, as 1/(1 + e) or e/(1 + e) with e = e^(-2|u|) <= 1:
 * no cancellation for u << 0 and no overflow. */
static double tg_naive_sigmoid2(double u) {
    double e = exp(-2.0 * fabs(u));
    return (u >= 0 ? 1.0 : e) / (1.0 + e);
}

/* Phi(x), the standard normal CDF: erfc(-x / sqrt 2) / 2 (no 1 - 1 cancellation at x << 0);
 * tanh form: sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). */
static double tg_naive_phi(double x, int tanh_form) {
    if (tanh_form) return tg_naive_sigmoid2(TG_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
    return 0.5 * erfc(-x * TG_SQRT_1_OVER_2);
}
#endif

/* y = x * Phi(x) for n elements. */
void DNAME(tg_gelu_naive)(const T *x, T *y, ptrdiff_t n, int tanh_form) {
    for (ptrdiff_t i = 0; i < n; i++) {
        double xi = x[i];
        y[i] = (T)(xi * tg_naive_phi(xi, tanh_form));
    }
}

/* dx = dy * GELU'(x):
 *   exact: GELU'(x) = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi)
 *   tanh:  GELU'(x) = s + x s (1 - s) 2 du/dx, s = sigmoid(2u), du/dx = sqrt(2/pi)(1 + 3 0.044715 x^2) */
void DNAME(tg_gelu_backward_naive)(const T *x, const T *dy, T *dx, ptrdiff_t n, int tanh_form) {
    for (ptrdiff_t i = 0; i < n; i++) {
        double xi = x[i], grad;
        if (tanh_form) {
            double u = TG_SQRT_2_OVER_PI * (xi + 0.044715 * xi * xi * xi);
            double s = tg_naive_sigmoid2(u), one_minus_s = tg_naive_sigmoid2(-u);
            double du = TG_SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * xi * xi);
            grad = s + xi * s * one_minus_s * 2.0 * du;
        } else {
            grad = tg_naive_phi(xi, 0) + xi * exp(-0.5 * xi * xi) * TG_INV_SQRT_2PI;
        }
        dx[i] = (T)((double)dy[i] * grad);
    }
}

/* ---- a Linear layer with its epilogue: + bias, + residual, GELU ------------------------- */

/* x (N, K), w (M, K) (PyTorch's layout: M outputs of K inputs), bias (M,) or NULL, resid
 * (N, M) or NULL:
 *     h[n, m] = sum_k x[n, k] w[m, k] + bias[m] + resid[n, m]
 * pre (N, M) gets h when not NULL; y (N, M) = GELU(h) (act 1: exact, 2: tanh form) or h
 * (act 0). One output at a time: its sum over k, then what follows the sum. The fast
 * GEMM (gemm_impl.h, the fused epilogue) does the same on each tile of C. */
void DNAME(tg_linear_naive)(const T *x, const T *w, const T *bias, const T *resid, T *pre, T *y,
                            ptrdiff_t N, ptrdiff_t K, ptrdiff_t M, int act) {
    for (ptrdiff_t n = 0; n < N; n++) {
        for (ptrdiff_t m = 0; m < M; m++) {
            T h = 0;
            for (ptrdiff_t k = 0; k < K; k++) h += x[n * K + k] * w[m * K + k];
            if (bias) h += bias[m];
            if (resid) h += resid[n * M + m];
            if (pre) pre[n * M + m] = h;
            y[n * M + m] = act ? (T)((double)h * tg_naive_phi(h, act == 2)) : h;
        }
    }
}

/* ---- attention, with the online softmax ------------------------------------------------- */

/* q (N, nT, D), k and v (N, nS, D) -> out (N, nT, D), lse (N, nT). Query i of head n
 * sees key j when j < nS and (not causal or j <= i + causal_offset).
 *
 * The twin builds the whole row of probabilities P[i, :] = softmax(scale q_i . k_j) and
 * then sums P[i, j] v_j. Here each key is visited once and P is never stored: the
 * *online softmax* keeps, for query i, the running maximum m of the scores seen so far,
 * the running sum l of e^(score - m), and the running sum acc of e^(score - m) v_j.
 * When a new score s raises the maximum to m', everything summed so far was scaled by
 * e^(-m) and must be rescaled by e^(m - m') -- one multiplication of l and acc:
 *
 *     m' = max(m, s);  alpha = e^(m - m');  p = e^(s - m')
 *     l = l * alpha + p;  acc = acc * alpha + p v_j;  m = m'
 *
 * At the end out = acc / l and lse = m + log l. (The fast kernel does the same with
 * blocks of 64 keys instead of one, attention_impl.h.) A query that sees no key gets
 * out 0 and lse -inf. Returns -1 if the (D,) accumulator cannot be allocated. */
int DNAME(tg_attention_forward_naive)(const T *q, const T *k, const T *v, T *out, T *lse,
                                      ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D,
                                      int causal, ptrdiff_t causal_offset, double scale) {
    T *acc = (T *)malloc((size_t)(D > 0 ? D : 1) * sizeof(T)); /* (D,) */
    if (!acc) return -1;
    for (ptrdiff_t n = 0; n < N; n++) {
        const T *qn = q + n * nT * D, *kn = k + n * nS * D, *vn = v + n * nS * D;
        for (ptrdiff_t i = 0; i < nT; i++) {
            const T *qi = qn + i * D; /* (D,) */
            ptrdiff_t last = causal ? i + causal_offset : nS - 1; /* the last key it sees */
            if (last > nS - 1) last = nS - 1;
            T m = -INFINITY, l = 0;
            for (ptrdiff_t d = 0; d < D; d++) acc[d] = 0;
            for (ptrdiff_t j = 0; j <= last; j++) {
                const T *kj = kn + j * D, *vj = vn + j * D; /* (D,) each */
                T s = 0;
                for (ptrdiff_t d = 0; d < D; d++) s += qi[d] * kj[d];
                s = s * (T)scale;
                T m_new = s > m ? s : m;
                T alpha = SEXP(m - m_new); /* e^(-inf) = 0 at the first key */
                T p = SEXP(s - m_new);
                l = l * alpha + p;
                for (ptrdiff_t d = 0; d < D; d++) acc[d] = acc[d] * alpha + p * vj[d];
                m = m_new;
            }
            T *oi = out + (n * nT + i) * D;
            for (ptrdiff_t d = 0; d < D; d++) oi[d] = l > 0 ? acc[d] / l : 0;
            lse[n * nT + i] = l > 0 ? m + SLOG(l) : -INFINITY;
        }
    }
    free(acc);
    return 0;
}

/* The gradients, one (query, key) pair at a time, with P rebuilt from lse (no row of P
 * is ever stored either): for each query i, with d_i = dout_i . out_i,
 *
 *     p = e^(scale q_i . k_j - lse_i)        P[i, j]
 *     dv_j += p dout_i                       dv = P^T dout
 *     ds = p (dout_i . v_j - d_i)            softmax's backward: dS = P (dP - d)
 *     dq_i += scale ds k_j                   dq = scale dS k
 *     dk_j += scale ds q_i                   dk = scale dS^T q
 *
 * dq (N, nT, D), dk and dv (N, nS, D) are written (zeroed first). */
void DNAME(tg_attention_backward_naive)(const T *q, const T *k, const T *v, const T *out,
                                        const T *lse, const T *dout, T *dq, T *dk, T *dv,
                                        ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D,
                                        int causal, ptrdiff_t causal_offset, double scale) {
    for (ptrdiff_t e = 0; e < N * nT * D; e++) dq[e] = 0;
    for (ptrdiff_t e = 0; e < N * nS * D; e++) dk[e] = dv[e] = 0;
    for (ptrdiff_t n = 0; n < N; n++) {
        for (ptrdiff_t i = 0; i < nT; i++) {
            const T *qi = q + (n * nT + i) * D, *oi = out + (n * nT + i) * D; /* (D,) */
            const T *doi = dout + (n * nT + i) * D;
            T *dqi = dq + (n * nT + i) * D;
            T lse_i = lse[n * nT + i];
            if (lse_i == -INFINITY) continue; /* it saw no key: no gradient */
            T d_i = 0;
            for (ptrdiff_t d = 0; d < D; d++) d_i += doi[d] * oi[d];
            ptrdiff_t last = causal ? i + causal_offset : nS - 1;
            if (last > nS - 1) last = nS - 1;
            for (ptrdiff_t j = 0; j <= last; j++) {
                const T *kj = k + (n * nS + j) * D, *vj = v + (n * nS + j) * D; /* (D,) */
                T *dkj = dk + (n * nS + j) * D, *dvj = dv + (n * nS + j) * D;
                T s = 0, dp = 0;
                for (ptrdiff_t d = 0; d < D; d++) s += qi[d] * kj[d];
                T p = SEXP(s * (T)scale - lse_i);
                for (ptrdiff_t d = 0; d < D; d++) {
                    dvj[d] += p * doi[d];
                    dp += doi[d] * vj[d];
                }
                T ds = p * (dp - d_i) * (T)scale;
                for (ptrdiff_t d = 0; d < D; d++) {
                    dqi[d] += ds * kj[d];
                    dkj[d] += ds * qi[d];
                }
            }
        }
    }
}

/* ---- optimizers: one element at a time ------------------------------------------------- */

/* Adam (decoupled = 0: weight decay added to the gradient) or AdamW (decoupled = 1: the
 * weight itself shrinks), in place on p, m, v (n,), with the scalar coefficients made in
 * double once and rounded to T, in PyTorch's order of operations:
 *   g = g + wd p  |  p = p (1 - lr wd)
 *   m = m + (1 - beta1) (g - m)          running mean of g
 *   v = v beta2 + (1 - beta2) g g        running mean of g^2
 *   p = p - lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps) */
void DNAME(tg_adam_naive)(T *p, const T *g, T *m, T *v, ptrdiff_t n, double lr, double beta1,
                          double beta2, double eps, double weight_decay, long long step,
                          int decoupled) {
    const T l2 = (T)weight_decay, decay = (T)(1.0 - lr * weight_decay);
    const T one_minus_beta1 = (T)(1.0 - beta1), b2 = (T)beta2, one_minus_beta2 = (T)(1.0 - beta2);
    const T bc2_sqrt = (T)sqrt(1.0 - pow(beta2, (double)step)), e = (T)eps;
    const T neg_step_size = (T)(-(lr / (1.0 - pow(beta1, (double)step))));
    for (ptrdiff_t i = 0; i < n; i++) {
        T pi = p[i], gi = g[i], mi = m[i], vi = v[i];
        if (weight_decay != 0 && !decoupled) gi = gi + l2 * pi;
        if (weight_decay != 0 && decoupled) pi = pi * decay;
        mi = mi + one_minus_beta1 * (gi - mi);
        vi = vi * b2 + one_minus_beta2 * gi * gi;
        T denom = SSQRT(vi) / bc2_sqrt + e;
        p[i] = pi + neg_step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

/* SGD in place on p and buf (n,):
 *   d = g + wd p;  buf = first ? d : buf momentum + (1 - dampening) d   (if buf)
 *   d = nesterov ? d + momentum buf : buf;  p = p - lr d */
void DNAME(tg_sgd_naive)(T *p, const T *g, T *buf, ptrdiff_t n, double lr, double momentum,
                         double dampening, double weight_decay, int nesterov, int first) {
    const T l2 = (T)weight_decay, mom = (T)momentum, one_minus_dampening = (T)(1.0 - dampening);
    const T neg_lr = (T)(-lr);
    for (ptrdiff_t i = 0; i < n; i++) {
        T pi = p[i], d = g[i];
        if (weight_decay != 0) d = d + l2 * pi;
        if (buf) {
            T b = first ? d : buf[i] * mom + one_minus_dampening * d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[i] = pi + neg_lr * d;
    }
}
