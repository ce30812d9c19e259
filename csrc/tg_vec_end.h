/* tg_vec_end.h -- forget one variant's names before the next variant is included. */
#undef VF32
#undef VF64
#undef VI32
#undef VI64
#undef TG_IOTA32
#undef TG_IOTA64
#undef W32
#undef W64
#undef TG_SUFFIX
#undef TG_VEC_BYTES
