"""Which kernel serves which size on which device: every size threshold in one place.

Two kinds of choice, each a table keyed by kernel family:

* ``<DEVICE>_KERNEL_MIN_ELEMENTS``: the functional layer runs the fused kernel (rather than
  NumPy/CuPy array expressions) on arrays of at least this many elements. Read through the
  device's kernel table as ``device.kernels.KERNEL_MIN_ELEMENTS[family]``.
* ``CPU_PARALLEL_MIN_ELEMENTS``: a cpu kernel runs its parallel (``prange``) variant instead
  of its serial loop from this many elements up (waking the thread pool costs tens of
  microseconds, more on a busy machine). CUDA kernels have one variant.

Each value carries its measured reason in one line; how each was measured, with the
figures, is in ``benchmarks/NOTES.md`` ("Device policy"). Tests move a threshold with
``monkeypatch.setitem`` to exercise both sides of it.
"""

#: Fused kernel vs array expressions on "cpu".
CPU_KERNEL_MIN_ELEMENTS = {
    "relu": 1 << 16,     # below, NumPy's maximum() beats Numba's dispatch plus a thread launch
    "softmax": 0,        # softmax/log-softmax/cross-entropy rows: one pass beats NumPy's 5-8 at every size
    "im2col": 1 << 22,   # conv2d per-image tiles, by C*kh*kw*N*OH*OW: 2 threads lose at 1.8M, win from 5M (34 vs 61 ms)
    "attention": 1 << 14,  # by L*S per head: below 128x128 the unfused op's matmuls win (T=64: 10 vs 6.6 ms)
}

#: Fused kernel vs array expressions on "cuda": a launch is cheaper than CuPy's several.
CUDA_KERNEL_MIN_ELEMENTS = {
    "relu": 0,
    "softmax": 0,
    "im2col": 1 << 62,   # conv2d: the GPU keeps one batch-wide GEMM (cuBLAS wants large products)
    "attention": 0,      # by L*S per head: three launches, no stored (B, H, L, S) probabilities
}

#: Serial loop vs parallel loop of a cpu kernel, by elements touched per call.
CPU_PARALLEL_MIN_ELEMENTS = {
    "relu": 1 << 16,        # the relu kernel is only called from its KERNEL_MIN up: always parallel there
    "gelu": 1 << 16,        # erf/exp per element: compute-bound, parallel pays early
    "softmax": 1 << 18,     # row kernels: memory-bound rows, parallel pays from ~256K elements
    "layer_norm": 1 << 20,  # two passes per row, vectorised: serial wins up to ~1M elements
    "pooling": 1 << 16,     # 2x2 max pooling on 2 threads: 25K px serial 0.03 ms vs 0.09; 100K: 0.43 vs 0.22
    "optim": 1 << 16,       # fused optimizer updates: one pass per parameter tensor
    "im2col": 1 << 22,      # im2col/col2im are memory-bound: parallel breaks even at ~4M entries on 2 cores
    "quantize": 1 << 20,    # float32 -> uint8 rounding, one pass per element: parallel only for large inputs
    "int8": 1 << 24,        # int8 GEMM by multiply-adds M*O*K: 64x512x512 (16.8M) serial 0.34 ms, parallel 0.47
    "attention": 1 << 14,   # fused attention, by B*H*L*S: 16K scores (0.5M multiply-adds at d=32) outweigh a wake-up
}
