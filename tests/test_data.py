"""tn.data: datasets, DataLoader (batching, seeding, collate), transforms, offline datasets."""
import numpy as np
import pytest

import tinynet as tn
from tinynet.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, default_collate,
                          load_digits, make_blobs, make_moons, make_regression, make_separable,
                          make_spirals, random_split)
from tinynet.data import transforms as T


def _toy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n) % 3
    return TensorDataset(x, y)


# --- datasets --------------------------------------------------------------------------

def test_tensor_dataset_items_and_dtypes():
    ds = _toy()
    assert len(ds) == 10
    x, y = ds[4]
    np.testing.assert_array_equal(x.numpy(), [12, 13, 14])
    assert y.item() == 1 and y.dtype == tn.int64 and x.dtype == tn.float32
    assert ds[-1][1].item() == 9 % 3
    with pytest.raises(IndexError, match="out of range"):
        ds[10]


def test_tensor_dataset_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_subset_concat_and_add():
    ds = _toy()
    sub = Subset(ds, [7, 2, -1])
    assert len(sub) == 3 and sub[0][1].item() == 7 % 3 and sub[2][0].numpy()[0] == 27
    cat = ds + sub
    assert isinstance(cat, ConcatDataset) and len(cat) == 13
    np.testing.assert_array_equal(cat[11][0].numpy(), ds[2][0].numpy())
    with pytest.raises(IndexError):
        Subset(ds, [10])


def test_random_split_lengths_fractions_and_seed():
    ds = _toy(101)
    a, b = random_split(ds, [0.8, 0.2], seed=3)
    assert (len(a), len(b)) == (81, 20)
    all_idx = np.concatenate([a.indices, b.indices])
    assert sorted(all_idx.tolist()) == list(range(101))
    a2, _ = random_split(ds, [0.8, 0.2], seed=3)
    np.testing.assert_array_equal(a.indices, a2.indices)
    c, d, e = random_split(ds, [50, 50, 1], seed=0)
    assert len(e) == 1
    with pytest.raises(ValueError, match="sum to"):
        random_split(ds, [50, 50])
    with pytest.raises(ValueError, match="fractions"):
        random_split(ds, [0.5, 0.6])


# --- loader ----------------------------------------------------------------------------

def test_loader_batches_cover_dataset_once():
    ds = _toy(10)
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    assert len(loader) == 3
    seen = np.concatenate([y.numpy() * 0 + x.numpy()[:, 0] / 3 for x, y in loader])
    assert sorted(seen.astype(int).tolist()) == list(range(10))
    sizes = [len(y) for _, y in DataLoader(ds, batch_size=4, drop_last=True)]
    assert sizes == [4, 4] and len(DataLoader(ds, batch_size=4, drop_last=True)) == 2


def test_loader_unshuffled_order_and_types():
    ds = _toy(5)
    (x, y), (x2, y2) = list(DataLoader(ds, batch_size=3))
    assert isinstance(x, tn.Tensor) and x.shape == (3, 3) and y.dtype == tn.int64
    np.testing.assert_array_equal(y2.numpy(), [0, 1])


@pytest.mark.parametrize("bad", [0, -1])
def test_loader_rejects_nonpositive_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(_toy(), batch_size=bad)


def test_loader_rejects_non_int_batch_size_and_workers():
    with pytest.raises(TypeError):
        DataLoader(_toy(), batch_size=2.5)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(_toy(), num_workers=2.0)


def _orders(loader, epochs=3):
    return [np.concatenate([x.numpy()[:, 0] for x, _ in loader]).tolist() for _ in range(epochs)]


def test_loader_seed_reproducible_and_independent_of_global_generator():
    ds = _toy(20)
    tn.manual_seed(1)
    a = _orders(DataLoader(ds, batch_size=6, shuffle=True, seed=5))
    tn.manual_seed(2)
    tn.randn(10)  # disturb the global generator
    b = _orders(DataLoader(ds, batch_size=6, shuffle=True, seed=5))
    assert a == b
    assert a[0] != a[1]  # the generator advances: each epoch has its own order
    c = _orders(DataLoader(ds, batch_size=6, shuffle=True, seed=6))
    assert c != a


def test_loader_without_seed_follows_manual_seed():
    ds = _toy(20)
    tn.manual_seed(7)
    a = _orders(DataLoader(ds, batch_size=5, shuffle=True))
    tn.manual_seed(7)
    b = _orders(DataLoader(ds, batch_size=5, shuffle=True))
    assert a == b


def test_loader_state_dict_resumes_the_epoch_sequence():
    ds = _toy(20)
    ref = _orders(DataLoader(ds, batch_size=6, shuffle=True, seed=0), epochs=4)
    first = DataLoader(ds, batch_size=6, shuffle=True, seed=0)
    _orders(first, epochs=2)
    state = first.state_dict()
    resumed = DataLoader(ds, batch_size=6, shuffle=True, seed=123)
    resumed.load_state_dict(state)
    assert _orders(resumed, epochs=2) == ref[2:]
    assert resumed.epoch == 4


def test_loader_state_dict_rejects_another_generator_kind():
    loader = DataLoader(_toy(), batch_size=2, shuffle=True, seed=0)
    other = np.random.Generator(np.random.MT19937(0)).bit_generator.state
    with pytest.raises(ValueError, match="MT19937"):
        loader.load_state_dict({"generator": other, "epoch": 1})


def test_fast_path_matches_per_sample_collate():
    ds = _toy(13)
    sub = random_split(ds, [9, 4], seed=0)[0]
    fast = list(DataLoader(sub, batch_size=4, shuffle=True, seed=1))
    slow = list(DataLoader(sub, batch_size=4, shuffle=True, seed=1, collate_fn=default_collate))
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype


class _DictDataset(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float32), "label": i, "name": f"s{i}", "pair": (float(i), True)}


def test_default_collate_dicts_numbers_strings_tuples():
    batch = next(iter(DataLoader(_DictDataset(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == tn.float32
    assert batch["label"].dtype == tn.int64 and batch["label"].tolist() == [0, 1, 2]
    assert batch["name"] == ["s0", "s1", "s2"]
    f, b = batch["pair"]
    assert f.dtype == tn.float32 and b.dtype == tn.bool


def test_default_collate_errors():
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="don't know how to batch"):
        default_collate([object(), object()])


def test_loader_device_move(device):
    loader = DataLoader(_toy(6), batch_size=4, device=device)
    x, y = next(iter(loader))
    assert x.device == device and y.device == device


def test_loader_transform_applies_to_inputs_with_loader_generator():
    x = np.random.default_rng(0).random((8, 1, 6, 6)).astype(np.float32)
    ds = TensorDataset(x, np.arange(8))
    aug = T.Compose([T.RandomCrop(6, padding=2), T.RandomHorizontalFlip()])
    a = [b[0].numpy() for b in DataLoader(ds, batch_size=4, shuffle=True, seed=0, transform=aug)]
    b = [b[0].numpy() for b in DataLoader(ds, batch_size=4, shuffle=True, seed=0, transform=aug)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
        assert u.dtype == np.float32 and u.shape == (4, 1, 6, 6)
    plain = np.concatenate([b[0].numpy() for b in DataLoader(ds, batch_size=4, shuffle=True, seed=0)])
    assert not np.array_equal(np.concatenate(a), plain)


# --- transforms ------------------------------------------------------------------------

def test_normalize_per_channel_and_feature():
    img = np.ones((2, 3, 2, 2), np.float32) * np.array([1, 2, 3], np.float32)[:, None, None]
    out = T.Normalize([1, 2, 3], [1, 2, 3])(img)
    np.testing.assert_allclose(out, 0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(T.Normalize(0.5, 0.5)(np.array([0.0, 1.0])), [-1, 1])
    with pytest.raises(ValueError, match="3 channels"):
        T.Normalize([0, 0], [1, 1])(img)
    with pytest.raises(ValueError, match="positive"):
        T.Normalize(0, 0)


def test_standardize_fit_apply_state():
    rng = np.random.default_rng(0)
    train = rng.normal(3, 2, size=(200, 4)).astype(np.float32)
    train[:, 3] = 5.0  # constant feature: only centred
    st = T.Standardize().fit(train)
    z = st(train)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0)[:3], 1, atol=1e-5)
    np.testing.assert_allclose(z[:, 3], 0)
    state = st.state_dict()
    assert all(isinstance(v, float) for v in state["mean"])
    st2 = T.Standardize().load_state_dict(state)
    np.testing.assert_array_equal(st2(train[:5]), z[:5])
    t = st(tn.tensor(train[:3]))
    assert isinstance(t, tn.Tensor) and t.shape == (3, 4)
    with pytest.raises(RuntimeError, match="fit"):
        T.Standardize()(train)
    imgs = rng.random((10, 2, 3, 3))
    per_channel = T.Standardize(axis=(0, 2, 3)).fit(imgs)
    np.testing.assert_allclose(per_channel(imgs).mean(axis=(0, 2, 3)), 0, atol=1e-12)


def test_random_crop_shifts_and_pads():
    img = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    batch = np.repeat(img, 64, axis=0)
    out = T.RandomCrop(5, padding=1, seed=0)(batch)
    assert out.shape == (64, 1, 5, 5)
    windows = {tuple(o.reshape(-1)) for o in out}
    assert len(windows) == 9  # every offset in {0, 1, 2}^2 drawn
    padded = np.pad(img[0, 0], 1)
    for o in out[:5]:
        assert any(np.array_equal(o[0], padded[i:i + 5, j:j + 5]) for i in range(3) for j in range(3))
    assert T.RandomCrop(3, seed=0)(img[0]).shape == (1, 3, 3)
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(9)(img)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        T.RandomCrop(3)(np.zeros((5, 5)))


def test_random_horizontal_flip_probability():
    img = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    batch = np.repeat(img, 400, axis=0)
    out = T.RandomHorizontalFlip(p=0.5, seed=0)(batch)
    flipped = np.all(out == img[..., ::-1], axis=(1, 2, 3))
    kept = np.all(out == img, axis=(1, 2, 3))
    assert np.all(flipped | kept) and 150 < flipped.sum() < 250
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img), img[..., ::-1])
    with pytest.raises(ValueError):
        T.RandomHorizontalFlip(p=2)


def test_random_rotation_matches_rot90_and_identity():
    x = np.random.default_rng(0).random((3, 2, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(T.RandomRotation((90, 90))(x), np.rot90(x, 1, axes=(-2, -1)))
    np.testing.assert_array_equal(T.RandomRotation((-90, -90))(x), np.rot90(x, -1, axes=(-2, -1)))
    np.testing.assert_allclose(T.RandomRotation(0, interpolation="bilinear")(x), x, atol=1e-6)
    out = T.RandomRotation(30, seed=0)(x)
    assert out.shape == x.shape and out.dtype == np.float32


def test_random_affine_translate_and_scale():
    img = np.zeros((1, 1, 7, 7), np.float32)
    img[0, 0, 3, 3] = 1.0
    shifted = T.RandomAffine(translate=(0.3, 0.3), seed=1)(np.repeat(img, 20, 0))
    centers = {tuple(np.argwhere(o[0] == 1)[0]) for o in shifted if o.sum() == 1}
    assert len(centers) > 1  # the dot moved, by different amounts
    zoom = T.RandomAffine(scale=(2.0, 2.0))(np.ones((1, 1, 6, 6), np.float32))
    np.testing.assert_array_equal(zoom, 1.0)  # zooming in on a constant image stays inside it
    shrink = T.RandomAffine(scale=(0.5, 0.5))(np.ones((1, 1, 8, 8), np.float32))
    assert shrink[0, 0, 0, 0] == 0 and shrink[0, 0, 4, 4] == 1  # the border is filled
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(translate=(2, 0))
    with pytest.raises(ValueError, match="positive"):
        T.RandomAffine(scale=(0, 1))


def test_transform_on_tensor_keeps_tensor_and_device(device):
    x = tn.tensor(np.ones((2, 1, 4, 4), np.float32), device=device)
    out = T.RandomRotation(10, seed=0)(x)
    assert isinstance(out, tn.Tensor) and out.device == device and out.shape == (2, 1, 4, 4)


# --- offline datasets --------------------------------------------------------------------

def test_load_digits_splits_are_disjoint_stratified_and_fixed():
    parts = [load_digits(s) for s in ("train", "val", "test")]
    assert [len(p) for p in parts] == [1258, 270, 269]
    assert sum(len(p) for p in parts) == 1797
    rows = [set(map(bytes, p.tensors[0].numpy())) for p in parts]
    total = set().union(*rows)
    assert len(total) >= 1790  # (the set has a few duplicate images)
    for p in parts:
        counts = np.bincount(p.tensors[1].numpy(), minlength=10)
        assert counts.min() >= 0.9 * counts.max()
    x, y = parts[0].tensors
    assert x.shape == (1258, 64) and x.dtype == tn.float32 and y.dtype == tn.int64
    assert 0.0 <= x.numpy().min() and x.numpy().max() <= 1.0
    again = load_digits("train")
    np.testing.assert_array_equal(again.tensors[1].numpy(), y.numpy())
    other = load_digits("train", seed=1)
    assert not np.array_equal(other.tensors[1].numpy(), y.numpy())
    img = load_digits("test", flatten=False, normalize=False)
    assert img.tensors[0].shape == (269, 1, 8, 8) and img.tensors[0].numpy().max() == 16
    assert parts[0].num_classes == 10
    with pytest.raises(ValueError, match="split"):
        load_digits("training")


def test_digits_file_matches_sklearn_loader():
    sk = pytest.importorskip("sklearn.datasets")
    bunch = sk.load_digits()
    full = load_digits("all", normalize=False)
    np.testing.assert_array_equal(full.tensors[0].numpy(), bunch.data.astype(np.float32))
    np.testing.assert_array_equal(full.tensors[1].numpy(), bunch.target)


def test_synthetic_datasets():
    m = make_moons(101, seed=0)
    assert len(m) == 101 and m.tensors[0].shape == (101, 2) and set(m.tensors[1].numpy()) == {0, 1}
    s = make_spirals(90, n_classes=3, seed=0)
    assert np.bincount(s.tensors[1].numpy()).tolist() == [30, 30, 30] and s.num_classes == 3
    r = make_regression(50, seed=0)
    assert r.tensors[0].shape == (50, 1) and r.tensors[1].shape == (50, 1) and r.tensors[1].dtype == tn.float32
    b = make_blobs(60, centers=[[-3, 0], [3, 0]], cluster_std=0.5, seed=0)
    x, y = (t.numpy() for t in b.tensors)
    assert np.all((x[:, 0] > 0) == (y == 1))
    sep = make_separable(200, margin=0.5, seed=0)
    x, y = (t.numpy() for t in sep.tensors)
    proj = x @ sep.w
    assert np.all(np.abs(proj) >= 0.5) and np.all((proj > 0) == (y == 1))
    np.testing.assert_array_equal(make_moons(50, seed=3).tensors[0].numpy(), make_moons(50, seed=3).tensors[0].numpy())


def test_tn_data_is_reachable():
    assert tn.data.DataLoader is DataLoader and tn.data.TensorDataset is TensorDataset
