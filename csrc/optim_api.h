/* optim_api.h -- the entry points of optim.c, written once per dtype (tg_instantiate.h
 * compiles this file for float32 and float64 with tg_dtype.h's names). */

void DNAME(tg_adam)(T *p, const T *g, T *m, T *v, ptrdiff_t n, double lr, double beta1,
                    double beta2, double eps, double weight_decay, long long step, int decoupled,
                    int isa, int nthreads) {
    void (*adam)(T *, const T *, T *, T *, ptrdiff_t, ptrdiff_t, const DNAME(tg_adam_coef) *) =
        TG_PICK(tg_clamp_isa(isa), DNAME(adam));
    DNAME(tg_adam_coef) c;
    TG_ADAM_COEFS(T, c)
    TG_OPTIM_RUN(adam, p, g, m, v);
}

void DNAME(tg_sgd)(T *p, const T *g, T *buf, ptrdiff_t n, double lr, double momentum,
                   double dampening, double weight_decay, int nesterov, int first, int isa,
                   int nthreads) {
    void (*sgd)(T *, const T *, T *, ptrdiff_t, ptrdiff_t, const DNAME(tg_sgd_coef) *) =
        TG_PICK(tg_clamp_isa(isa), DNAME(sgd));
    DNAME(tg_sgd_coef) c;
    TG_SGD_COEFS(T, c)
    TG_OPTIM_RUN(sgd, p, g, buf);
}
