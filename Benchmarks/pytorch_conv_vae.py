#!/usr/bin/env python3
"""The default conv VAE of `vae train --architecture conv` in PyTorch: the speed and quality
reference for README's conv tables. Same layers, PyTorch's default initialization, Bernoulli
likelihood, Adam 1e-3, batch 128, on Debian's Fashion-MNIST (dataset-fashion-mnist).

  python3 Benchmarks/pytorch_conv_vae.py --steps 100     # seconds per epoch (468 steps), extrapolated
  python3 Benchmarks/pytorch_conv_vae.py --epochs 10     # test −ELBO with z = μ and with a sampled z
  python3 Benchmarks/pytorch_conv_vae.py --evaluate runs/fashion-mnist-conv   # a swift-vae conv checkpoint, evaluated here
"""
import argparse, gzip, json, os, struct, time
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

ROOT = "/usr/share/datasets/fashion-mnist"


def images(name):
    with gzip.open(f"{ROOT}/{name}-images-idx3-ubyte.gz") as f:
        return torch.from_numpy(np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255)


def safetensors_header(path, data=False):
    """The JSON header of a .safetensors file (its "__metadata__" holds a swift-vae checkpoint's
    model and training), and with `data` the bytes after it."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        return (header, f.read()) if data else header


def safetensors(path):
    """The float32 tensors of a .safetensors file (a swift-vae checkpoint), by name."""
    header, data = safetensors_header(path, data=True)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        start, end = entry["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[start:end], np.float32).reshape(entry["shape"]).copy())
    return tensors


class ConvVAE(nn.Module):
    def __init__(self, latent=20):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(64 * 7 * 7, 256), nn.ReLU())
        self.mu, self.logvar = nn.Linear(256, latent), nn.Linear(256, latent)
        self.dec = nn.Sequential(nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                 nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def terms(self, x, sample=True):
        h = self.enc(x)
        mu, lv = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu) if sample else mu
        rec = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="none").sum((1, 2, 3))
        kl = -0.5 * (1 + lv - mu * mu - lv.exp()).sum(1)
        return rec, kl

    def load_swift_vae(self, path):
        """Copies the parameters of a swift-vae conv checkpoint (`vae train --architecture conv`,
        default shape) into this model: its names mapped to this model's layers, shapes checked."""
        if os.path.isdir(path):
            path = os.path.join(path, "model.safetensors")
        tensors = safetensors(path)
        layers = {"encoder.conv.0": self.enc[0], "encoder.conv.1": self.enc[2], "encoder.dense": self.enc[5], "mean": self.mu,
                  "logvar": self.logvar, "decoder.dense": self.dec[0], "decoder.expand": self.dec[2],
                  "decoder.deconv.0": self.dec[5], "decoder.deconv.1": self.dec[7]}
        for name, layer in layers.items():
            for part in ("weight", "bias"):
                value, target = tensors.pop(f"{name}.{part}", None), getattr(layer, part)
                if value is None or value.shape != target.shape:
                    raise SystemExit(f"{path}: {name}.{part} is {None if value is None else tuple(value.shape)}, "
                                     f"expected {tuple(target.shape)} (the default conv VAE)")
                with torch.no_grad():
                    target.copy_(value)
        extra = [n for n in tensors if not n.startswith(("optimizer.", "metrics."))]
        if extra:
            print(f"note: {path} also holds {', '.join(sorted(extra)[:6])}")


def test_elbo(model, test):
    """Test −ELBO in nats per example: (one sampled z, z = μ), in batches of 500."""
    with torch.no_grad():
        sampled = sum((r + k).sum().item() for r, k in (model.terms(test[i:i + 500]) for i in range(0, len(test), 500))) / len(test)
        mean = sum((r + k).sum().item() for r, k in (model.terms(test[i:i + 500], sample=False) for i in range(0, len(test), 500))) / len(test)
    return sampled, mean


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--epochs", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--evaluate", help="a swift-vae conv checkpoint (file or run folder) to evaluate instead of training")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train, test = images("train"), images("t10k")
    model = ConvVAE()
    if a.evaluate:
        model.load_swift_vae(a.evaluate)
        sampled, mean = test_elbo(model, test)
        print(f"{a.evaluate} in PyTorch {torch.__version__}: test −ELBO {sampled:.2f} (sampled z), {mean:.4f} (z = μ)")
        return
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    steps_per_epoch = len(train) // 128

    def step(xb):
        rec, kl = model.terms(xb)
        loss = (rec + kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    if a.steps:
        order = torch.randperm(len(train))
        for i in range(10):  # warm-up
            step(train[order[i * 128:(i + 1) * 128]])
        start = time.perf_counter()
        for i in range(a.steps):
            j = i % steps_per_epoch
            step(train[order[j * 128:(j + 1) * 128]])
        per_step = (time.perf_counter() - start) / a.steps
        print(f"pytorch {torch.__version__} conv VAE: {per_step * 1e3:.2f} ms per step, {per_step * steps_per_epoch:.2f} s per epoch "
              f"({steps_per_epoch} steps of 128, {a.threads} threads)")
    for epoch in range(a.epochs):
        order = torch.randperm(len(train))
        start = time.perf_counter()
        for j in range(steps_per_epoch):
            step(train[order[j * 128:(j + 1) * 128]])
        seconds = time.perf_counter() - start
        sampled, mean = test_elbo(model, test)
        print(f"epoch {epoch + 1}: test −ELBO {sampled:.2f} (sampled z), {mean:.2f} (z = μ); {seconds:.1f} s")


if __name__ == "__main__":
    main()
