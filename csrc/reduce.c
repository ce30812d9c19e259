/* reduce.c -- the ISA x dtype copies of reduce_impl.h, and the entry points that pick one. */
#include <stdlib.h>

#include "reduce.h"
#include "tg_isa.h"

/* ---- many arrays at once: the gradients of a whole model --------------------------- *
 *
 * Gradient clipping needs the length of every gradient, then scales them all. One call
 * per array (a GPT has dozens) leaves the second core idle, and most arrays are too
 * small to be worth a parallel region of their own. So the arrays are cut into chunks
 * of TG_FOREACH_CHUNK numbers, and one parallel loop runs over all the chunks of all
 * the arrays. The chunks are fixed by the sizes alone, and each array's chunk sums are
 * added in order afterwards: the sums do not depend on the number of threads. */
#define TG_FOREACH_CHUNK 16384

/* chunk c covers x[t[c]][start[c] : start[c] + len[c]]. Returns the number of chunks, or -1. */
static ptrdiff_t tg_foreach_chunks(const ptrdiff_t *n, ptrdiff_t count, ptrdiff_t **t,
                                   ptrdiff_t **start, ptrdiff_t **len) {
    ptrdiff_t total = 0;
    for (ptrdiff_t a = 0; a < count; a++) total += (n[a] + TG_FOREACH_CHUNK - 1) / TG_FOREACH_CHUNK;
    *t = malloc((size_t)(3 * total + 1) * sizeof(ptrdiff_t));
    if (!*t) return -1;
    *start = *t + total;
    *len = *start + total;
    ptrdiff_t c = 0;
    for (ptrdiff_t a = 0; a < count; a++)
        for (ptrdiff_t s = 0; s < n[a]; s += TG_FOREACH_CHUNK, c++) {
            (*t)[c] = a;
            (*start)[c] = s;
            (*len)[c] = n[a] - s < TG_FOREACH_CHUNK ? n[a] - s : TG_FOREACH_CHUNK;
        }
    return total;
}

#define TG_TEMPLATE "reduce_impl.h"
#define TG_API "reduce_api.h"
#include "tg_instantiate.h"
