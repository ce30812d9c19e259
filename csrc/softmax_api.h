/* softmax_api.h -- the public entry points of softmax.c, written once per dtype
 * (tg_instantiate.h compiles this file for float32 and float64 with tg_dtype.h's names).
 *
 * Each entry point picks the ISA variant once, then hands rows to threads. Rows are
 * independent, so threads never share an output: a static split gives each thread
 * one contiguous block of rows. TG_PARALLEL_FOR (tg_isa.h) is that split, without
 * entering OpenMP at all when one thread will do. */

void TG_CAT(tg_softmax, DSFX)(const T *x, T *y, ptrdiff_t rows, ptrdiff_t cols, int isa,
                                   int nthreads) {
    void (*row)(const T *, T *, ptrdiff_t) = TG_PICK(tg_clamp_isa(isa), DNAME(softmax_row));
    int nt = tg_threads_for(rows * cols, rows, nthreads);
    TG_PARALLEL_FOR(nt, for (ptrdiff_t r = 0; r < rows; r++)
                            row(x + r * cols, y + r * cols, cols););
}

void TG_CAT(tg_log_softmax, DSFX)(const T *x, T *y, ptrdiff_t rows, ptrdiff_t cols,
                                       int isa, int nthreads) {
    void (*row)(const T *, T *, ptrdiff_t) = TG_PICK(tg_clamp_isa(isa), DNAME(log_softmax_row));
    int nt = tg_threads_for(rows * cols, rows, nthreads);
    TG_PARALLEL_FOR(nt, for (ptrdiff_t r = 0; r < rows; r++)
                            row(x + r * cols, y + r * cols, cols););
}

/* The same, with streaming stores for y (softmax_impl.h, log_softmax_row_stream): for an
 * output too large to stay in the cache for the next op (compiled.py decides). */
void TG_CAT(tg_log_softmax_stream, DSFX)(const T *x, T *y, ptrdiff_t rows, ptrdiff_t cols,
                                         int isa, int nthreads) {
    void (*row)(const T *, T *, ptrdiff_t) =
        TG_PICK(tg_clamp_isa(isa), DNAME(log_softmax_row_stream));
    int nt = tg_threads_for(rows * cols, rows, nthreads);
    TG_PARALLEL_FOR(nt, for (ptrdiff_t r = 0; r < rows; r++)
                            row(x + r * cols, y + r * cols, cols););
}

void TG_CAT(tg_softmax_backward, DSFX)(const T *y, const T *dy, T *dx, ptrdiff_t rows,
                                            ptrdiff_t cols, int isa, int nthreads) {
    void (*row)(const T *, const T *, T *, ptrdiff_t) =
        TG_PICK(tg_clamp_isa(isa), DNAME(softmax_backward_row));
    int nt = tg_threads_for(rows * cols, rows, nthreads);
    TG_PARALLEL_FOR(nt, for (ptrdiff_t r = 0; r < rows; r++)
                            row(y + r * cols, dy + r * cols, dx + r * cols, cols););
}

void TG_CAT(tg_log_softmax_backward, DSFX)(const T *y, const T *dy, T *dx, ptrdiff_t rows,
                                                ptrdiff_t cols, int isa, int nthreads) {
    void (*row)(const T *, const T *, T *, ptrdiff_t) =
        TG_PICK(tg_clamp_isa(isa), DNAME(log_softmax_backward_row));
    int nt = tg_threads_for(rows * cols, rows, nthreads);
    TG_PARALLEL_FOR(nt, for (ptrdiff_t r = 0; r < rows; r++)
                            row(y + r * cols, dy + r * cols, dx + r * cols, cols););
}

/* The loss of each counted row is summed in double: a mean over 100k rows in float
 * would lose digits to the running sum long before any single loss is wrong. */
double TG_CAT(tg_cross_entropy, DSFX)(const T *logits, const int64_t *targets,
                                           int64_t ignore_index, T *row_max, T *row_log_sum,
                                           ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t *n_valid,
                                           int isa, int nthreads) {
    T (*row)(const T *, ptrdiff_t, int64_t, T *, T *) =
        TG_PICK(tg_clamp_isa(isa), DNAME(cross_entropy_row));
    int nt = tg_threads_for(rows * cols, rows, nthreads);
    double total = 0;
    ptrdiff_t count = 0;
    /* What TG_PARALLEL_FOR does (tg_isa.h: no OpenMP region for one thread), written
     * out because this loop needs a reduction clause: the loop once, pasted twice. */
#define TG_CE_ROWS                                                                     \
    for (ptrdiff_t r = 0; r < rows; r++) {                                             \
        int64_t t = targets[r] == ignore_index ? -1 : targets[r]; /* -1: not counted */ \
        total += row(logits + r * cols, cols, t, row_max + r, row_log_sum + r);        \
        count += t >= 0;                                                               \
    }
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : total, count)
        TG_CE_ROWS
    } else {
        TG_CE_ROWS
    }
#undef TG_CE_ROWS
    *n_valid = count;
    return total;
}

void TG_CAT(tg_cross_entropy_backward, DSFX)(const T *logits, const int64_t *targets,
                                                  int64_t ignore_index, const T *row_max,
                                                  const T *row_log_sum, T scale, T *dlogits,
                                                  ptrdiff_t rows, ptrdiff_t cols, int isa,
                                                  int nthreads) {
    void (*row)(const T *, int64_t, T, T, T, T *, ptrdiff_t) =
        TG_PICK(tg_clamp_isa(isa), DNAME(cross_entropy_backward_row));
    int nt = tg_threads_for(rows * cols, rows, nthreads);
    TG_PARALLEL_FOR(nt, for (ptrdiff_t r = 0; r < rows; r++) {
        T *dx = dlogits + r * cols;
        if (targets[r] == ignore_index) { /* an ignored row has no gradient */
            for (ptrdiff_t j = 0; j < cols; j++) dx[j] = 0;
        } else {
            row(logits + r * cols, targets[r], row_max[r], row_log_sum[r], scale, dx, cols);
        }
    });
}

/* Element-wise: split into chunks of whole vectors, one per thread. */
void TG_CAT(tg_vexp, DSFX)(const T *x, T *y, ptrdiff_t n, int isa, int nthreads) {
    void (*fn)(const T *, T *, ptrdiff_t) = TG_PICK(tg_clamp_isa(isa), DNAME(vexp));
    int nt = tg_threads_for(n, n, nthreads);
    ptrdiff_t chunk = ((n + nt - 1) / nt + 63) / 64 * 64;
    TG_PARALLEL_FOR(nt, for (ptrdiff_t i0 = 0; i0 < n; i0 += chunk)
                            fn(x + i0, y + i0, n - i0 < chunk ? n - i0 : chunk););
}
