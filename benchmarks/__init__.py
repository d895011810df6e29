"""tinynet's benchmark suite (not part of the installed package; needs the repo checkout).

``python -m benchmarks`` (or ``tinynet bench`` from a checkout) runs the reference
workloads W1–W5 of shared/anchors.md and op microbenchmarks on every available device,
against PyTorch where it is installed, and writes a Markdown table, a JSON file and PNG
plots. ``benchmarks/bench_overhead.py`` measures per-op Python overhead. Timings live
here, never in test asserts.
"""
