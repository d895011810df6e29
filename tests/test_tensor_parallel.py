"""Tensor parallelism (Megatron-LM style) over real MPI processes: ``mpiexec -n 1/2/3`` from pytest.

The checks run inside the MPI jobs (tests/distributed/tensor_parallel_check.py), in float64:

- the four region Functions (copy / reduce / scatter / gather) forward and backward against NumPy;
- ColumnParallelLinear (gather_output True and False) and RowParallelLinear
  (input_is_parallel False and True) against nn.Linear: initial values from the same seed,
  from_linear shards, outputs, the input's gradient, weight-shard and bias gradients,
  to_linear round trips; gradcheck and gradgradcheck through all four region Functions;
  each layer's communication (gather_output=True: one all-gather forward; the input's
  gradient: one all-reduce; a row split: one all-reduce forward, and one all-gather
  backward when fed the full input); the split MLP makes one all-reduce each way;
- TensorParallelDecoderBlock against TransformerDecoderBlock (batch-first and
  sequence-first, with a key_padding_mask): outputs, input gradients, every parameter's
  gradient against the matching slice of the full gradient; exactly 2 all-reduces (and no
  all-gather) in forward and 2 in backward, counted by wrapping the collectives; a per-head
  float attn_mask and its gradient; with dropout, the replicated output agrees across ranks;
- GPTMini.parallelize_tensor(): logits, loss and every gradient equal the unsplit model's
  over 4 SGD-with-momentum steps, the shards still equal the unsplit weights' slices after
  them, to_block() gathers each block back to the unsplit one (generator untouched), a
  2-block model makes 4 all-reduces each way, and generate() agrees;
- the error paths (sizes not divisible by the world size, wrong input features or dtype,
  wrong module kinds, a model without blocks, parallelizing twice).

``-n 3`` is the uneven world size (the check scales its sizes with the world size).
Here, without a process group, the layers must refuse with a clear error.
"""
from __future__ import annotations

import shutil

import pytest

import tinynet as tn
import tinynet.distributed as dist
import tinynet.nn as nn
import tinynet.nn.parallel as P
from tinynet.models.gpt import GPTMini

pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None or not dist.is_available(),
                                reason="needs the distributed extra (pip install \"tinynet[distributed]\")")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tensor_parallel_equals_the_unsplit_model(mpirun, n):
    proc = mpirun(n, "tensor_parallel_check.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("tensor parallel checks passed") == n, proc.stdout + proc.stderr


def test_without_a_process_group_the_layers_say_how_to_start_one():
    if dist.is_initialized():
        pytest.skip("a process group is initialized in this pytest process")
    for build, name in ((lambda: P.ColumnParallelLinear(4, 4), "ColumnParallelLinear(4\u21924)"),
                        (lambda: P.RowParallelLinear.from_linear(nn.Linear(4, 2)), "RowParallelLinear(4\u21922)"),
                        (lambda: P.TensorParallelDecoderBlock(8, 2), "TensorParallelDecoderBlock(d_model=8, nhead=2"),
                        (lambda: P.parallelize_tensor(nn.TransformerDecoderBlock(8, 2)), "TensorParallelDecoderBlock"),
                        (lambda: GPTMini(11, context=4, d_model=8, n_heads=2, n_layers=1).parallelize_tensor(),
                         "GPTMini.parallelize_tensor"),
                        (lambda: P.scatter_to_tensor_parallel_region(tn.ones(2, 4)),
                         "scatter_to_tensor_parallel_region")):
        with pytest.raises(RuntimeError, match="init_process_group") as info:
            build()
        assert name in str(info.value) and "not initialized" in str(info.value)
    with pytest.raises(TypeError, match="from_block: expected an nn.TransformerDecoderBlock"):
        P.TensorParallelDecoderBlock.from_block(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="parallelize_tensor: expected an nn.Module"):
        P.parallelize_tensor("gpt")
