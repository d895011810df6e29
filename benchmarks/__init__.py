"""tinynet's benchmark suite, installed with the package as ``tinynet.benchmarks``.

``tinynet bench`` (or ``python -m benchmarks`` from a source checkout) runs the reference
workloads W1–W8 (an MLP, a CNN, GPT-mini, a tiny MLP that measures per-op overhead, one
large Linear layer, and three public programs' shapes: the pytorch/examples MNIST CNN,
nanoGPT's character-level CPU configuration and the word-level LSTM language model; each
with its peak memory per framework) and op microbenchmarks on every available device, against PyTorch
where it is installed, and writes a Markdown table, a JSON file and PNG plots.
``bench_overhead.py`` measures per-op Python overhead. Timings live here, never in test
asserts. tinynet itself never imports this package (it imports PyTorch when run).
"""
