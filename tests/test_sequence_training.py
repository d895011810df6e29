"""Small sequence models learn their tasks (fast versions of the acceptance runs)."""
import numpy as np

import tinynet as tn
import tinynet.functional as F
import tinynet.optim as optim
from tinynet.cli.recipes.sequence import exact_match_accuracy
from tinynet.data.text import CharTokenizer, TextWindowDataset, parens_task, pydoc_corpus, sort_task
from tinynet.models import BERTClassifier, GPTMini, LSTMLanguageModel


def _batches(rng, n, size):
    while True:
        yield rng.integers(0, n, size)


def test_gpt_learns_to_sort_short_sequences():
    tn.manual_seed(0)
    task = sort_task(2000, length=4, num_digits=4, seed=0)
    val = sort_task(200, length=4, num_digits=4, seed=1)
    V = task.tokenizer.vocab_size
    model = GPTMini(V, context=8, d_model=32, n_heads=2, n_layers=1)
    opt = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    rng = np.random.default_rng(0)
    idx_iter = _batches(rng, len(task.inputs), 64)
    for _ in range(150):
        idx = next(idx_iter)
        logits = model(tn.tensor(task.inputs[idx]))
        loss = F.cross_entropy(logits.reshape(-1, V), tn.tensor(task.targets[idx]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = exact_match_accuracy(model, val.dataset(), val.prompt_len, val.answer_len)
    assert acc >= 0.9, f"exact-sequence accuracy {acc:.3f}"


def test_bert_learns_balanced_parentheses():
    tn.manual_seed(0)
    task = parens_task(2000, max_len=8, seed=0)
    val = parens_task(300, max_len=8, seed=1)
    model = BERTClassifier(task.tokenizer.vocab_size, 2, max_len=9, d_model=64, n_heads=2, n_layers=2,
                           dropout=0.0, pad_id=task.tokenizer.pad_id)
    opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    rng = np.random.default_rng(0)
    idx_iter = _batches(rng, len(task.inputs), 64)
    for _ in range(200):
        idx = next(idx_iter)
        loss = F.cross_entropy(model(tn.tensor(task.inputs[idx])), tn.tensor(task.targets[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with tn.no_grad():
        pred = model(tn.tensor(val.inputs)).numpy().argmax(1)
    acc = (pred == val.targets).mean()
    assert acc >= 0.9, f"parens accuracy {acc:.3f}"


def test_lstm_language_model_loss_falls_on_pydoc():
    tn.manual_seed(0)
    train, _ = pydoc_corpus()
    train = train[:20000]
    tok = CharTokenizer.from_text(train)
    ds = TextWindowDataset(tok.encode(train), context=32, stride=7)
    model = LSTMLanguageModel(tok.vocab_size, embed_dim=16, hidden_size=64)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(60):
        x, y = ds.take(rng.integers(0, len(ds), 32))
        loss = F.cross_entropy(model(x).reshape(-1, tok.vocab_size), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.75 * np.mean(losses[:5]), (losses[:5], losses[-10:])
    text = tok.decode(model.generate([tok.encode("The ")], 20, seed=0).numpy()[0])
    assert text.startswith("The ") and len(text) == 24


def test_cli_trains_gpt_and_generates_from_the_checkpoint(tmp_path, capsys):
    from tinynet.cli.main import main

    out = tmp_path / "run"
    rc = main(["train", "--model", "gpt", "--dataset", "sort", "--epochs", "1", "--task-samples", "200",
               "--task-length", "4", "--d-model", "16", "--n-heads", "2", "--n-layers", "1", "--out", str(out),
               "--no-progress"])
    assert rc == 0
    capsys.readouterr()
    rc = main(["generate", str(out / "checkpoint.safetensors"), "--prompt", "3120|", "--tokens", "4",
               "--temperature", "0"])
    assert rc == 0
    text = capsys.readouterr().out.strip()
    assert text.startswith("3120|") and len(text) == 9 and set(text[5:]) <= set("0123456789|")
    assert main(["generate", str(tmp_path / "missing.safetensors")]) == 1
