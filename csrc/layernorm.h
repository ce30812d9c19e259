/* layernorm.h -- fused LayerNorm forward/backward and the embedding scatter-add. */
#ifndef TG_LAYERNORM_H
#define TG_LAYERNORM_H
#include <stddef.h>
#include <stdint.h>
/* x, y, dy, dx: (N, C) rows; w, b, dw, db: (C,) or NULL; mean, rstd: (N,). */
void tg_layernorm_fwd_f32(const float *x, const float *w, const float *b, float *y, float *mean,
                          float *rstd, ptrdiff_t N, ptrdiff_t C, double eps, int isa, int nthreads);
void tg_layernorm_fwd_f64(const double *x, const double *w, const double *b, double *y,
                          double *mean, double *rstd, ptrdiff_t N, ptrdiff_t C, double eps, int isa,
                          int nthreads);
int tg_layernorm_bwd_f32(const float *x, const float *w, const float *mean, const float *rstd,
                         const float *dy, float *dx, float *dw, float *db, ptrdiff_t N, ptrdiff_t C,
                         int isa, int nthreads);
int tg_layernorm_bwd_f64(const double *x, const double *w, const double *mean, const double *rstd,
                         const double *dy, double *dx, double *dw, double *db, ptrdiff_t N,
                         ptrdiff_t C, int isa, int nthreads);
/* dw (V_rows, D) += the rows of g (n, D) at ids idx (n,); every id must be in [0, V_rows). */
void tg_embedding_bwd_f32(const int64_t *idx, ptrdiff_t n, const float *g, ptrdiff_t D, float *dw,
                          int64_t V_rows, int isa, int nthreads);
void tg_embedding_bwd_f64(const int64_t *idx, ptrdiff_t n, const double *g, ptrdiff_t D,
                          double *dw, int64_t V_rows, int isa, int nthreads);
#endif
