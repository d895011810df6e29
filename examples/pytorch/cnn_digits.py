"""A convolutional network in the style of PyTorch's MNIST example, on scikit-learn's digits.

Conv2d, max pooling, Dropout, ``torch.flatten``, ``log_softmax`` + ``nll_loss``, Adadelta and
StepLR. Written for PyTorch; tinynet runs it with only the imports changed. ``run(epochs)``
returns the final test accuracy.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset
from sklearn.datasets import load_digits


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(16 * 3 * 3, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def run(epochs=4, seed=1, log=print):
    torch.manual_seed(seed)
    digits = load_digits()
    images = torch.from_numpy(digits.images).float().unsqueeze(1) / 16.0
    images = (images - 0.5) / 0.5
    labels = torch.from_numpy(digits.target).long()
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    train_idx, test_idx = perm[:1400], perm[1400:]
    train_loader = DataLoader(TensorDataset(images[train_idx], labels[train_idx]), batch_size=32, shuffle=True)
    test_loader = DataLoader(TensorDataset(images[test_idx], labels[test_idx]), batch_size=200)
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(1, epochs + 1):
        model.train()
        for data, target in train_loader:
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for data, target in test_loader:
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction='sum').item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(test_loader.dataset)
        acc = correct / len(test_loader.dataset)
        log('Epoch {}: test loss {:.4f}, accuracy {}/{} ({:.0f}%)'.format(
            epoch, test_loss, correct, len(test_loader.dataset), 100. * acc))
        scheduler.step()
    return acc


if __name__ == "__main__":
    run()
