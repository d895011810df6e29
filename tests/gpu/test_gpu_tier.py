"""The GPU tier: training, optimizer state and checkpoints on device "cuda".

Run with ``pytest -m gpu`` (see tests/gpu/README.md). On a machine with a GPU and CuPy
these run on the real device; in CI (no GPU) the suite's conftest switches on the
simulated GPU (``TINYNET_CUDA_SIM=1``) and the same tests run there. With neither, every
test here is skipped and the reason is printed (``-ra``).

Together with the ``device``-parametrized tests that conftest marks ``gpu`` on "cuda"
(the op registry, torch parity, layers), this is the whole GPU check.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim

pytestmark = pytest.mark.gpu

if "cuda" not in tn.backend.available_devices():
    pytest.skip(f"no GPU and no simulated GPU: {tn.backend.cuda_unavailable_reason()} "
                "(install the cuda12 extra on a GPU machine, or set TINYNET_CUDA_SIM=1)", allow_module_level=True)

KIND = "real GPU" if tn.cuda.is_available() else "simulated GPU"


def test_device_housekeeping():
    x = tn.ones(256, 256, device="cuda")
    tn.cuda.synchronize()
    used = tn.cuda.memory_allocated()
    assert isinstance(used, int) and used >= 0
    assert tn.cuda.memory_reserved() >= used
    if tn.cuda.is_available():  # the real CuPy pool holds at least this array
        assert used >= x.nbytes
    del x
    tn.cuda.empty_cache()
    assert tn.cuda.device_count() == (1 if tn.cuda.is_available() else 0)


@pytest.mark.parametrize("pin_memory", [False, True])
def test_loader_moves_batches_to_cuda(pin_memory):
    """Batches arrive on cuda, equal to the host data, in order, pinned staging or not."""
    x = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    y = np.arange(50, dtype=np.int64)
    loader = tn.data.DataLoader(tn.data.TensorDataset(x, y), batch_size=16, device="cuda",
                                pin_memory=pin_memory)
    seen = []
    for xb, yb in loader:
        assert xb.device == "cuda" and yb.device == "cuda" and xb.dtype == tn.float32
        seen.append((xb.numpy(), yb.numpy()))
    np.testing.assert_array_equal(np.concatenate([a for a, _ in seen]), x)
    np.testing.assert_array_equal(np.concatenate([b for _, b in seen]), y)


def _mlp():
    tn.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def test_mlp_trains_on_digits_on_cuda():
    """A few Adam steps on the digits data, batches moved to cuda by the DataLoader."""
    data = tn.data.load_digits("train")
    loader = tn.data.DataLoader(data, batch_size=64, shuffle=True, seed=0, device="cuda")
    model = _mlp().to("cuda")
    opt = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step, (x, y) in enumerate(loader):
        assert x.device == "cuda" and y.device == "cuda"
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step == 7:
            break
    assert all(p.device == "cuda" and p.grad.device == "cuda" for p in model.parameters())
    assert np.mean(losses[-3:]) < losses[0] - 0.1, f"loss did not fall on the {KIND}: {losses}"
    # Optimizer state lives on the parameters' device.
    state = opt.state_dict()
    tensors = []

    def collect(obj):
        if isinstance(obj, tn.Tensor):
            tensors.append(obj)
        elif isinstance(obj, dict):
            for v in obj.values():
                collect(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                collect(v)
    collect(state)
    assert tensors and all(t.device == "cuda" for t in tensors)


def test_checkpoint_from_cuda_loads_on_cpu_and_back(tmp_path):
    model = _mlp().to("cuda")
    x = tn.randn(5, 64)
    expected = model(x.to("cuda")).detach().cpu().numpy()
    path = tmp_path / "model.safetensors"
    tn.save(model.state_dict(), str(path))

    on_cpu = tn.load(str(path), map_location="cpu")
    assert all(t.device == "cpu" for t in on_cpu.values())
    cpu_model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    cpu_model.load_state_dict(on_cpu)
    np.testing.assert_allclose(cpu_model(x).detach().numpy(), expected, rtol=1e-5, atol=1e-6)

    path_cpu = tmp_path / "from_cpu.safetensors"
    tn.save(cpu_model.state_dict(), str(path_cpu))
    back = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).to("cuda")
    back.load_state_dict(tn.load(str(path_cpu), map_location="cuda"))
    assert all(p.device == "cuda" for p in back.parameters())
    np.testing.assert_allclose(back(x.to("cuda")).detach().cpu().numpy(), expected, rtol=1e-5, atol=1e-6)
