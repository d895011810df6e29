"""A variational autoencoder in the style of PyTorch's VAE example, on scikit-learn's digits.

The reparameterisation trick with ``torch.randn_like``, ``F.binary_cross_entropy(...,
reduction='sum')`` plus the KL term, Adam. ``run(epochs)`` returns the final average loss
per sample on the test images.
"""
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F
from sklearn.datasets import load_digits


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc21 = nn.Linear(128, 8)
        self.fc22 = nn.Linear(128, 8)
        self.fc3 = nn.Linear(8, 128)
        self.fc4 = nn.Linear(128, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def run(epochs=5, seed=1, log=print):
    torch.manual_seed(seed)
    images = torch.tensor(load_digits().data / 16.0, dtype=torch.float32)
    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images[:1500]), batch_size=64,
                                               shuffle=True)
    test_images = images[1500:]
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, epochs + 1):
        model.train()
        train_loss = 0
        for batch_idx, (data,) in enumerate(train_loader):
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            recon, mu, logvar = model(test_images)
            test_loss = loss_function(recon, test_images, mu, logvar).item() / len(test_images)
        log('====> Epoch: {} Average loss: {:.4f} test {:.4f}'.format(epoch, train_loss / 1500, test_loss))
    return test_loss


if __name__ == "__main__":
    run()
