"""BERT pre-training pieces: the model's heads, weight tying, masks and segments, the loss,
metrics and schedule the pre-training run uses, and loading a pre-trained body into a classifier."""
import math

import numpy as np
import pytest

import tinynet as tn
from tinynet.backend.errors import ShapeError
from tinynet.cli.pretraining import (MaskedLMStep, PretrainingMetrics, PretrainingOutputs, no_decay_groups,
                                     pretraining_loss, warmup_linear_decay)
from tinynet.data import WordPieceTokenizer
from tinynet.models import BERTClassifier, BERTForPreTraining, build_model

TEXTS = ["The quick brown fox jumps over the lazy dog. The dog sleeps.",
         "Return a new list containing all items from the iterable in ascending order.",
         "Open the file and return a stream. Raise OSError upon failure."] * 4


def _pair(vocab=40, n=3, t=10, pad_from=7, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, size=(n, t))
    ids[:, 0] = 2
    ids[:, pad_from:] = 0
    types = np.zeros((n, t), dtype=np.int64)
    types[:, 4:pad_from] = 1
    return ids, types


def _model(**kw):
    tn.manual_seed(0)
    args = dict(max_len=16, d_model=16, n_heads=2, n_layers=2, dropout=0.0)
    args.update(kw)
    return BERTForPreTraining(40, **args)


def test_pretraining_model_shapes_and_tied_decoder():
    m = _model()
    ids, types = _pair()
    mlm, sent = m(ids, types)
    assert mlm.shape == (3, 10, 40) and sent.shape == (3, 2)
    names = dict(m.named_parameters())
    assert not any("decoder" in k for k in names)  # no weight of its own: the embedding is the decoder
    # logits = LayerNorm(GELU(W h + b)) E^T + bias, with E the token embedding
    h = m.encode(ids, types)
    t = m.mlm_norm(tn.nn.functional.gelu(m.mlm_dense(h)))
    ref = t.detach().numpy() @ m.tok_emb.weight.detach().numpy().T + m.mlm_bias.detach().numpy()
    np.testing.assert_allclose(mlm.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    # the embedding's gradient collects both uses (input lookup and output projection)
    mlm.sum().backward()
    g_both = m.tok_emb.weight.grad.detach().numpy().copy()
    m.zero_grad()
    (t.detach() @ m.tok_emb.weight.T).sum().backward()
    g_out = m.tok_emb.weight.grad.detach().numpy()
    assert np.abs(g_both - g_out).max() > 1e-6 and np.abs(g_out).max() > 0


def test_padding_never_changes_real_tokens_and_attention_mask_agrees():
    m = _model().eval()
    ids, types = _pair()
    h1 = m.encode(ids, types).detach().numpy()
    other = ids.copy()
    other[:, 7:] = 0
    h2 = m.encode(np.concatenate([other, np.zeros((3, 4), dtype=ids.dtype)], axis=1),
                  np.concatenate([types, np.zeros((3, 4), dtype=types.dtype)], axis=1)).detach().numpy()
    np.testing.assert_allclose(h1[:, :7], h2[:, :7], rtol=1e-5, atol=1e-5)
    h3 = m.encode(ids, types, attention_mask=(ids != 0).astype(np.int64)).detach().numpy()
    np.testing.assert_allclose(h1, h3, rtol=1e-6, atol=1e-6)


def test_segment_embeddings_matter_and_default_to_segment_zero():
    m = _model().eval()
    ids, types = _pair()
    with_b = m.encode(ids, types).detach().numpy()
    zeros = m.encode(ids, np.zeros_like(types)).detach().numpy()
    none = m.encode(ids).detach().numpy()
    np.testing.assert_allclose(zeros, none, rtol=1e-6, atol=1e-6)
    assert np.abs(with_b - zeros).max() > 1e-4


def test_errors_name_the_model_and_shapes():
    m = _model()
    ids, types = _pair()
    with pytest.raises(ShapeError, match="BERTForPreTraining.*token_type_ids.*shape"):
        m(ids, types[:, :5])
    with pytest.raises(ShapeError, match="max_len is 16"):
        m(np.ones((1, 20), dtype=np.int64))
    plain = BERTClassifier(40, 3, max_len=16, d_model=16, n_heads=2, n_layers=1)
    with pytest.raises(ValueError, match="type_vocab_size"):
        plain(ids, types)


def test_pretrained_body_loads_into_classifier_with_missing_and_unexpected_keys():
    m = _model()
    clf = BERTClassifier(40, 5, max_len=16, d_model=16, n_heads=2, n_layers=2, dropout=0.0, type_vocab_size=2)
    result = clf.load_state_dict(m.state_dict(), strict=False)
    assert sorted(result.missing_keys) == ["classifier.bias", "classifier.weight"]
    assert set(result.unexpected_keys) == {"mlm_bias", "mlm_dense.weight", "mlm_dense.bias", "mlm_norm.weight",
                                           "mlm_norm.bias", "sentence_head.weight", "sentence_head.bias"}
    ids, types = _pair()
    np.testing.assert_allclose(clf.eval().encode(ids, types).detach().numpy(), m.eval().encode(ids, types).detach().numpy())
    with pytest.raises(Exception, match="shape"):  # a body of another width never loads silently
        BERTClassifier(40, 5, max_len=16, d_model=8, n_heads=2, n_layers=2,
                       type_vocab_size=2).load_state_dict(m.state_dict(), strict=False)


def test_registry_builds_both_heads():
    assert isinstance(build_model("bert-pretraining", vocab_size=30, max_len=8, d_model=8, n_heads=2, n_layers=1),
                      BERTForPreTraining)
    assert isinstance(build_model("bert", vocab_size=30, num_classes=2, max_len=8, d_model=8, n_heads=2, n_layers=1,
                                  type_vocab_size=2), BERTClassifier)


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer.train(TEXTS, vocab_size=120, min_frequency=1)


def test_masked_lm_step_predicts_only_masked_positions(tok):
    tn.manual_seed(0)
    m = BERTForPreTraining(tok.vocab_size, max_len=32, d_model=16, n_heads=2, n_layers=1, dropout=0.0)
    ids = np.full((4, 24), tok.pad_id, dtype=np.int64)
    for i, text in enumerate(TEXTS[:4]):
        row = [tok.cls_id] + tok.encode(text)[:20] + [tok.sep_id]
        ids[i, :len(row)] = row
    types = np.zeros_like(ids)
    sent = np.array([0, 1, 0, 1])
    step = MaskedLMStep(tok, mlm_probability=0.3)
    masked, labels = step.mask(ids, generator=np.random.default_rng(1))
    batch = tuple(tn.tensor(a) for a in (ids, types, sent, labels))
    out, targets = step(m, batch)
    chosen = labels != -100
    assert out.mlm_logits.shape == (int(chosen.sum()), tok.vocab_size)
    np.testing.assert_array_equal(targets.detach().numpy(), ids[chosen])  # labels are the original ids
    # the rows are the MLM head applied at the chosen positions of the full forward
    full, sentence = m(batch[0], batch[1])
    np.testing.assert_allclose(out.mlm_logits.detach().numpy(), full.detach().numpy()[chosen], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.sentence_logits.detach().numpy(), sentence.detach().numpy(), rtol=1e-5, atol=1e-5)
    loss = pretraining_loss(out, targets)
    ref = (tn.nn.functional.cross_entropy(tn.tensor(full.detach().numpy()[chosen]), targets).item()
           + tn.nn.functional.cross_entropy(sentence, tn.tensor(sent)).item())
    assert abs(loss.item() - ref) < 1e-5
    # a 3-entry (training) batch is masked from tinynet's generator: reproducible by seed
    tn.manual_seed(5)
    _, t1 = step(m, batch[:3])
    tn.manual_seed(5)
    _, t2 = step(m, batch[:3])
    np.testing.assert_array_equal(t1.detach().numpy(), t2.detach().numpy())
    with pytest.raises(ValueError, match="mlm_probability"):
        MaskedLMStep(tok, mlm_probability=1.5)


def test_metrics_are_sums_over_batches():
    rng = np.random.default_rng(0)
    metric = PretrainingMetrics()
    all_logits, all_y, all_s, all_sl = [], [], [], []
    for m in (5, 7):
        logits = rng.normal(size=(m, 11)).astype(np.float32)
        y = rng.integers(0, 11, size=m)
        s_logits = rng.normal(size=(3, 2)).astype(np.float32)
        s = rng.integers(0, 2, size=3)
        metric.update(PretrainingOutputs(tn.tensor(logits), tn.tensor(s_logits), tn.tensor(s)), tn.tensor(y))
        all_logits.append(logits), all_y.append(y), all_s.append(s), all_sl.append(s_logits)
    logits, y = np.concatenate(all_logits).astype(np.float64), np.concatenate(all_y)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    nll = -logp[np.arange(len(y)), y].mean()
    got = metric.compute()
    assert got["mlm_loss"] == pytest.approx(nll, rel=1e-6)
    assert got["perplexity"] == pytest.approx(math.exp(nll), rel=1e-6)
    assert got["mlm_accuracy"] == pytest.approx((logits.argmax(1) == y).mean())
    assert got["sentence_accuracy"] == pytest.approx((np.concatenate(all_sl).argmax(1) == np.concatenate(all_s)).mean())
    metric.reset()
    assert math.isnan(metric.compute()["mlm_accuracy"])


def test_warmup_then_linear_decay_per_step():
    p = tn.nn.Parameter(tn.zeros(2))
    opt = tn.optim.AdamW([p], lr=1.0)
    sched = warmup_linear_decay(opt, warmup_steps=4, total_steps=12)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(lrs, [0.25, 0.4375, 0.625, 0.8125, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        warmup_linear_decay(opt, warmup_steps=12, total_steps=12)


def test_no_weight_decay_on_biases_and_norms():
    m = _model()
    groups = no_decay_groups(m, 0.01)
    decayed = {id(p) for p in groups[0]["params"]}
    for name, p in m.named_parameters():
        assert (id(p) in decayed) == (p.ndim >= 2), name
    assert groups[0]["weight_decay"] == 0.01 and groups[1]["weight_decay"] == 0.0


def test_pooling_argument_is_checked_and_mean_pooling_ignores_padding():
    with pytest.raises(ValueError, match="pooling must be 'cls' or 'mean'"):
        BERTClassifier(40, 3, max_len=16, d_model=16, n_heads=2, n_layers=1, pooling="max")
    tn.manual_seed(0)
    clf = BERTClassifier(40, 3, max_len=16, d_model=16, n_heads=2, n_layers=1, dropout=0.0, pooling="mean").eval()
    assert clf.pooler is None
    ids, _ = _pair()
    longer = np.concatenate([ids, np.zeros((3, 5), dtype=ids.dtype)], axis=1)
    np.testing.assert_allclose(clf(ids).detach().numpy(), clf(longer).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_trainer_scheduler_interval_is_checked():
    from tinynet.cli.trainer import Trainer

    p = tn.nn.Parameter(tn.zeros(2))
    opt = tn.optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="scheduler_interval must be 'epoch' or 'step'"):
        Trainer(tn.nn.Linear(2, 2), opt, None, [], scheduler_interval="batch")
    plateau = tn.optim.lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="ReduceLROnPlateau needs a validation loss"):
        Trainer(tn.nn.Linear(2, 2), opt, None, [], scheduler=plateau, scheduler_interval="step")
