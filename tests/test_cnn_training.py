"""CNNs learn: LeNet and ResNetSmall on the 8x8 digits, the `tinynet train --model cnn` command, the GPU path.

Small models and few epochs (the full acceptance run, >= 98 % test accuracy, is
``tinynet train --model cnn --dataset digits``; see the closing note / README).
"""
import json
import math
import os

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn.functional as F
import tinynet.optim as optim
from tinynet.data import DataLoader, load_digits
from tinynet.data.transforms import RandomAffine
from tinynet.models import LeNet, ResNetSmall, build_model

CHANCE = math.log(10)   # cross-entropy of a uniform guess over 10 classes


def _accuracy(model, ds):
    model.eval()
    with tn.no_grad():
        x, y = ds.tensors
        pred = model(x).numpy().argmax(1)
    model.train()
    return float((pred == y.numpy()).mean())


def _train(model, loader, epochs, lr):
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        total, n = 0.0, 0
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            n += len(y)
        losses.append(total / n)
    return losses


def test_lenet_learns_digits():
    tn.manual_seed(0)
    train, test = load_digits("train", flatten=False), load_digits("test", flatten=False)
    model = LeNet(1, 10, input_size=8, channels=(8, 16), hidden=32)
    losses = _train(model, DataLoader(train, 64, shuffle=True, seed=0), epochs=4, lr=1e-2)
    assert losses[0] < CHANCE + 0.2
    assert losses[-1] < 0.35 * CHANCE, losses           # well below chance
    assert losses[-1] < losses[0]
    assert _accuracy(model, test) > 0.85


def test_lenet_with_batch_augmentation_still_learns():
    """The per-batch augmentation of the cnn recipe (DataLoader transform) keeps labels valid."""
    tn.manual_seed(1)
    train = load_digits("train", flatten=False)
    aug = RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), interpolation="bilinear")
    loader = DataLoader(train, 64, shuffle=True, seed=1, transform=aug)
    x0, _ = next(iter(loader))
    assert x0.shape == (64, 1, 8, 8) and x0.dtype == tn.float32
    model = LeNet(1, 10, input_size=8, channels=(8, 16), hidden=32)
    losses = _train(model, loader, epochs=4, lr=1e-2)
    assert losses[-1] < 0.6 * CHANCE, losses          # augmented batches are harder: slower, but learning


def test_resnet_small_learns_digits():
    tn.manual_seed(0)
    train = load_digits("train", flatten=False)
    model = ResNetSmall(1, 10, widths=(8, 16))
    losses = _train(model, DataLoader(train, 64, shuffle=True, seed=0), epochs=3, lr=1e-2)
    assert losses[-1] < 0.35 * CHANCE, losses
    model.eval()   # running statistics are used in eval mode and must give sane predictions
    assert _accuracy(model, load_digits("test", flatten=False)) > 0.8


def test_lenet_on_28x28_shapes():
    """The same class works for MNIST-sized images (two poolings: 28 -> 7)."""
    model = LeNet(1, 10, input_size=28, channels=(4, 8), hidden=0)
    assert model(tn.randn(2, 1, 28, 28)).shape == (2, 10)
    assert model.classifier[-1].in_features == 8 * 7 * 7
    assert build_model("cnn", input_size=8)(tn.randn(3, 64)).shape == (3, 10)   # flat pixels accepted


def test_one_training_step_on_cuda_matches_cpu():
    """The GPU path end to end (simulated without a GPU): same gradients as on cpu."""
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("no cuda device (real or simulated)")
    tn.manual_seed(0)
    model = ResNetSmall(1, 3, widths=(2, 4)).to(tn.float64)
    x = tn.randn(2, 1, 4, 4, dtype=tn.float64)
    y = tn.tensor([0, 2])
    grads = {}
    for dev in ("cpu", "cuda"):
        model.to(dev)
        model.zero_grad()
        loss = F.cross_entropy(model(x.to(dev)), y.to(dev))
        loss.backward()
        grads[dev] = {n: p.grad.numpy() for n, p in model.named_parameters()}
    for name, g in grads["cpu"].items():
        np.testing.assert_allclose(grads["cuda"][name], g, rtol=1e-9, atol=1e-12, err_msg=name)


def test_cli_trains_cnn_and_evaluates(tmp_path, capsys):
    from tinynet.cli.main import main

    out = str(tmp_path / "cnn")
    code = main(["train", "--model", "cnn", "--dataset", "digits", "--epochs", "2", "--channels", "8,16",
                 "--cnn-hidden", "32", "--cnn-dropout", "0", "--no-augment", "--lr", "5e-3", "--scheduler", "none",
                 "--no-progress", "--out", out])
    assert code == 0
    with open(os.path.join(out, "metrics.json")) as f:
        doc = json.load(f)
    assert doc["config"]["model"] == "cnn" and doc["config"]["augment"] is False
    assert doc["test"]["accuracy"] > 0.6
    assert main(["evaluate", os.path.join(out, "checkpoint.safetensors"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["accuracy"] == pytest.approx(doc["test"]["accuracy"])


def test_cnn_recipe_defaults_augment_each_training_batch():
    from tinynet.cli.common import apply_defaults
    from tinynet.cli.main import build_parser
    from tinynet.cli.recipes import get

    args = build_parser().parse_args(["train", "--model", "cnn"])
    args.dataset = "digits"
    apply_defaults(args, get("cnn"))
    setup = get("cnn").build(args)
    assert isinstance(setup.train_loader.transform, RandomAffine)
    assert setup.val_loader.transform is None and setup.test_loader.transform is None
    assert isinstance(setup.model, LeNet) and setup.model.input_size == (8, 8)
    x, y = next(iter(setup.train_loader))
    assert x.shape == (32, 1, 8, 8)
    args.upsample = 2
    assert get("resnet").build(args).train_loader.dataset.tensors[0].shape[-2:] == (16, 16)


def test_cli_resnet_and_mnist_dataset_errors(tmp_path, capsys):
    from tinynet.cli.main import main

    assert main(["train", "--model", "resnet", "--dataset", "mnist", "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "r")]) == 2
    assert "--mnist-dir" in capsys.readouterr().err
