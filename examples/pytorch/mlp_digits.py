"""A plain PyTorch training script: an MLP on scikit-learn's 8x8 digits.

Written for PyTorch; tinynet runs it with ``import torch`` changed to ``import tinynet as torch``
(and likewise for the other torch imports). ``run(epochs)`` returns the final test accuracy.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split
from sklearn.datasets import load_digits


class Net(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.fc2 = nn.Linear(hidden, 10)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)


def run(epochs=15, seed=0, log=print):
    torch.manual_seed(seed)
    digits = load_digits()
    X = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.long)
    full = TensorDataset(X, y)
    train_set, test_set = random_split(full, [0.8, 0.2], generator=torch.Generator().manual_seed(42))
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        running = 0.0
        for data, target in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(data), target)
            loss.backward()
            optimizer.step()
            running += loss.item() * data.size(0)
        scheduler.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                pred = model(data).argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        acc = correct / len(test_loader.dataset)
        log('epoch {} loss {:.4f} acc {:.3f} lr {:.4f}'.format(epoch, running / len(train_set), acc,
                                                             scheduler.get_last_lr()[0]))
    return acc


if __name__ == "__main__":
    run()
