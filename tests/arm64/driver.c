/* driver.c -- run the C kernels on cases written by make_cases.py and compare with
 * the NumPy twins' outputs. Built for arm64 (NEON) by .ci/portability.sh and run under
 * qemu-aarch64; it builds on x86-64 too. Exit status 0 only if every case passes.
 *
 *     driver CASEDIR          reads CASEDIR/cases.txt (format: see make_cases.py)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "gelu.h"
#include "gemm.h"
#include "layernorm.h"
#include "optim.h"
#include "reduce.h"
#include "softmax.h"
#include "tg_isa.h"

static const char *dir;

/* A whole file into memory; *bytes receives its size. */
static void *load(const char *name, size_t *bytes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(n > 0 ? (size_t)n : 1);
    if (n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(2); }
    fclose(f);
    *bytes = (size_t)n;
    return p;
}

#define MAXA 8
typedef struct {
    char kernel[64];
    int f64, nt;
    double tol, p[16];
    int nin, nout;
    void *in[MAXA], *exp[MAXA], *got[MAXA];
    size_t in_n[MAXA], out_n[MAXA]; /* bytes */
} Case;

/* Run one kernel: inputs are copied first, since the optimizer updates write in place. */
static int run(Case *c) {
    const int isa = tg_best_isa(), nt = c->nt, f = c->f64;
    const double *p = c->p;
    void **I = c->in, **O = c->got;
    const char *k = c->kernel;
#define CALL(fn, ...) (f ? fn##_f64(__VA_ARGS__) : fn##_f32(__VA_ARGS__))
#define N_(i) ((ptrdiff_t)p[i])
    if (!strcmp(k, "dot")) {
        if (f) *(double *)O[0] = tg_dot_f64(I[0], I[1], N_(0), isa);
        else *(float *)O[0] = tg_dot_f32(I[0], I[1], N_(0), isa);
    } else if (!strcmp(k, "add")) CALL(tg_add, I[0], I[1], O[0], N_(0), isa, nt);
    else if (!strcmp(k, "gelu") || !strcmp(k, "gelu_tanh"))
        CALL(tg_gelu, I[0], O[0], N_(0), (int)p[1], isa, nt);
    else if (!strcmp(k, "gelu_backward")) CALL(tg_gelu_backward, I[0], I[1], O[0], N_(0), (int)p[1], isa, nt);
    else if (!strcmp(k, "adamw")) {
        memcpy(O[0], I[0], c->out_n[0]); memcpy(O[1], I[2], c->out_n[1]); memcpy(O[2], I[3], c->out_n[2]);
        CALL(tg_adam, O[0], I[1], O[1], O[2], N_(0), p[1], p[2], p[3], p[4], p[5], (long long)p[6], 1, isa, nt);
    } else if (!strcmp(k, "sgd")) {
        memcpy(O[0], I[0], c->out_n[0]); memcpy(O[1], I[2], c->out_n[1]);
        CALL(tg_sgd, O[0], I[1], O[1], N_(0), p[1], p[2], p[3], p[4], (int)p[5], 0, isa, nt);
    } else if (!strcmp(k, "colsum")) CALL(tg_colsum, I[0], N_(0), N_(1), N_(1), O[0], 0, isa, nt);
    else if (!strcmp(k, "softmax")) CALL(tg_softmax, I[0], O[0], N_(0), N_(1), isa, nt);
    else if (!strcmp(k, "log_softmax")) CALL(tg_log_softmax, I[0], O[0], N_(0), N_(1), isa, nt);
    else if (!strcmp(k, "softmax_backward")) CALL(tg_softmax_backward, I[0], I[1], O[0], N_(0), N_(1), isa, nt);
    else if (!strcmp(k, "layernorm_fwd"))
        CALL(tg_layernorm_fwd, I[0], I[1], I[2], O[0], O[1], O[2], N_(0), N_(1), p[2], isa, nt);
    else if (!strcmp(k, "layernorm_bwd")) {
        if (CALL(tg_layernorm_bwd, I[0], I[1], I[2], I[3], I[4], O[0], O[1], O[2], N_(0), N_(1), isa, nt)) return 1;
    } else if (!strcmp(k, "embedding_bwd")) {
        memset(O[0], 0, c->out_n[0]);
        CALL(tg_embedding_bwd, I[0], N_(0), I[1], N_(1), O[0], (int64_t)p[2], isa, nt);
    } else if (!strcmp(k, "gemm")) {
        if (CALL(tg_gemm, N_(0), N_(1), N_(2), I[0], N_(2), 1, I[1], N_(1), 1, O[0], N_(1), 0, isa, nt)) return 1;
    } else if (!strcmp(k, "gemm_wt")) { /* x (M, K) @ W.T, W (N, K) row-major: the few-rows path */
        if (CALL(tg_gemm, N_(0), N_(1), N_(2), I[0], N_(2), 1, I[1], 1, N_(2), O[0], N_(1), 0, isa, nt)) return 1;
    } else if (!strcmp(k, "attention_fwd")) {
        if (CALL(tg_attention_forward, I[0], I[1], I[2], O[0], O[1], N_(0), N_(1), N_(2), N_(3), (int)p[4], 0, p[5], isa, nt)) return 1;
    } else if (!strcmp(k, "attention_bwd")) {
        if (CALL(tg_attention_backward, I[0], I[1], I[2], I[3], I[4], I[5], O[0], O[1], O[2], N_(0), N_(1), N_(2), N_(3), (int)p[4], 0, p[5], isa, nt)) return 1;
    } else {
        fprintf(stderr, "unknown kernel %s\n", k);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s CASEDIR\n", argv[0]); return 2; }
    dir = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/cases.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); return 2; }
    int ncase = 0, nfail = 0;
    char dt[8], name[256];
    Case c;
    while (fscanf(f, "%63s %7s %d %lf", c.kernel, dt, &c.nt, &c.tol) == 4) {
        int np;
        c.f64 = !strcmp(dt, "f64");
        if (fscanf(f, "%d", &np) != 1) return 2;
        for (int i = 0; i < np; i++) if (fscanf(f, "%lf", &c.p[i]) != 1) return 2;
        if (fscanf(f, "%d", &c.nin) != 1) return 2;
        for (int i = 0; i < c.nin; i++) {
            if (fscanf(f, "%255s", name) != 1) return 2;
            c.in[i] = load(name, &c.in_n[i]);
        }
        if (fscanf(f, "%d", &c.nout) != 1) return 2;
        for (int i = 0; i < c.nout; i++) {
            if (fscanf(f, "%255s", name) != 1) return 2;
            c.exp[i] = load(name, &c.out_n[i]);
            c.got[i] = calloc(c.out_n[i] + 1, 1);
        }
        int bad = run(&c);
        double worst = 0;
        for (int i = 0; i < c.nout && !bad; i++) {
            size_t n = c.out_n[i] / (c.f64 ? 8 : 4);
            for (size_t j = 0; j < n; j++) {
                double e = c.f64 ? ((double *)c.exp[i])[j] : ((float *)c.exp[i])[j];
                double g = c.f64 ? ((double *)c.got[i])[j] : ((float *)c.got[i])[j];
                double err = fabs(g - e) / (1 + fabs(e));
                if (!(err <= c.tol)) bad = 1; /* NaN fails too */
                if (err > worst || err != err) worst = err;
            }
        }
        ncase++;
        if (bad) {
            nfail++;
            printf("FAIL %s %s threads=%d worst rel err %.3g > %.3g\n", c.kernel, dt, c.nt, worst, c.tol);
        }
        for (int i = 0; i < c.nin; i++) free(c.in[i]);
        for (int i = 0; i < c.nout; i++) { free(c.exp[i]); free(c.got[i]); }
    }
    fclose(f);
    printf("%d cases, %d failed (isa %d, openmp %d)\n", ncase, nfail, tg_best_isa(), TG_HAVE_OPENMP);
    return nfail || ncase == 0;
}
