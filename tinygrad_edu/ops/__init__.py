"""The differentiable operations of the Tensor engine, one `Function` each.

    elementwise.py  + - * / ** exp log sqrt relu sigmoid tanh gelu where maximum
    reduce.py       sum mean max var
    movement.py     reshape permute/transpose getitem cat stack expand
    matmul.py       matmul, linear (x @ W.T + b), and linear fused with what follows it:
                    GELU (linear_gelu), the residual add (linear with residual=);
                    the MLP block (Linear, GELU, Linear) as one op
    nn_ops.py       softmax log_softmax cross_entropy masked_fill embedding
                    layer_norm dropout
    attention.py    fused scaled-dot-product attention (FlashAttention's online softmax)

Each file reads top to bottom as forward/backward pairs with the math and the
shapes in comments. Hot loops go through `kernels.ops` (compiled or reference).
"""
