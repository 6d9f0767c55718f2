#!/usr/bin/env python3
"""Checks swift-vae's gradients against float64 PyTorch, batch by batch.

`vae gradients` writes a checkpoint's training-loss gradients on the first batches of the data,
with each batch and the noise of its sampled z; this script rebuilds the same model in PyTorch
(the built-in MLP or conv, any sizes; ReLU, LeakyReLU, sigmoid, tanh, softplus; Bernoulli or
fixed-σ Gaussian; closed-form or Monte-Carlo KL), loads the checkpoint, and recomputes each
batch's gradients in float64 and, as the yardstick of float32 rounding, in float32.

  vae gradients --checkpoint RUN --split train --batches 50 --seed 1 --backend cpu --out /tmp/g-cpu
  vae gradients --checkpoint RUN --split train --batches 50 --seed 1 --backend opencl --out /tmp/g-opencl
  python3 Benchmarks/gradient_audit.py --checkpoint RUN /tmp/g-cpu /tmp/g-opencl

Per parameter and per dump (and for PyTorch float32 on the first dump's batches), over batches:
  bias  the mean over batches and elements of (gradient − float64), over the rms of the
        float64 gradient averaged over batches: a systematic error, the kind that steers
        training (a biased sum shows here);
  R     Σ_elements mean² / Σ_elements (variance / batches): about 1 when the error averages
        out, far above 1 when it does not (at R > 10 the row is marked *);
  err   the median over batches of rms(gradient − float64) / rms(float64 gradient).
Float32 implementations are not exact: compare each row with PyTorch float32's.
"""
import argparse, glob, json, math, os, sys
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_conv_vae import safetensors, safetensors_header  # noqa: E402


ACTIVATIONS = {"relu": nn.ReLU, "leaky-relu": lambda: nn.LeakyReLU(0.01), "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
               "softplus": nn.Softplus, "identity": nn.Identity}


class Twin(nn.Module):
    """The built-in model of a swift-vae checkpoint's "model" metadata, with its parameter names."""

    def __init__(self, m):
        super().__init__()
        if m["activation"] not in ACTIVATIONS:
            raise SystemExit(f"activation {m['activation']} is not one this script rebuilds ({', '.join(ACTIVATIONS)})")
        act = ACTIVATIONS[m["activation"]]
        self.named = {}
        latent = m["latentSize"]
        if m["architecture"] == "mlp":
            widths = [m["inputSize"]] + m["hiddenSizes"]
            enc = [(f"encoder.{i}", nn.Linear(widths[i], widths[i + 1])) for i in range(len(m["hiddenSizes"]))]
            back = [latent] + m["hiddenSizes"][::-1]
            dec = [(f"decoder.{i}", nn.Linear(back[i], back[i + 1])) for i in range(len(m["hiddenSizes"]))]
            top = widths[-1]
            self.encoder = nn.Sequential(*[x for name, layer in enc for x in (self.name(name, layer), act())])
            self.decoder = nn.Sequential(*[x for name, layer in dec for x in (self.name(name, layer), act())],
                                         self.name("output", nn.Linear(back[-1], m["inputSize"])))
        elif m["architecture"] == "conv":
            c, h, w = m["imageShape"]
            k, pad, chans = m["kernelSize"], (m["kernelSize"] - 1) // 2, [c] + m["convChannels"]
            sizes = [(h, w)]
            for _ in m["convChannels"]:
                sizes.append(tuple((s + 2 * pad - k) // 2 + 1 for s in sizes[-1]))
            enc = []
            for i in range(len(m["convChannels"])):
                enc += [self.name(f"encoder.conv.{i}", nn.Conv2d(chans[i], chans[i + 1], k, 2, pad)), act()]
            features = chans[-1] * sizes[-1][0] * sizes[-1][1]
            top = m["denseWidth"]
            self.encoder = nn.Sequential(*enc, nn.Flatten(), self.name("encoder.dense", nn.Linear(features, top)), act())
            dec = [self.name("decoder.dense", nn.Linear(latent, top)), act(), self.name("decoder.expand", nn.Linear(top, features)), act(),
                   nn.Unflatten(1, (chans[-1],) + sizes[-1])]
            for i, layer in enumerate(reversed(range(len(m["convChannels"])))):
                (ih, iw), (th, tw) = sizes[layer + 1], sizes[layer]
                restore = tuple(t - ((s - 1) * 2 - 2 * pad + k) for s, t in ((ih, th), (iw, tw)))
                dec.append(self.name(f"decoder.deconv.{i}", nn.ConvTranspose2d(chans[layer + 1], chans[layer], k, 2, pad, output_padding=restore)))
                if layer != 0:
                    dec.append(act())
            self.decoder = nn.Sequential(*dec)
        else:
            raise SystemExit(f"architecture {m['architecture']} is not one this script rebuilds (mlp, conv)")
        self.mean, self.logvar = self.name("mean", nn.Linear(top, latent)), self.name("logvar", nn.Linear(top, latent))

    def name(self, name, layer):
        self.named[name] = layer
        return layer

    def load(self, tensors, path):
        for name, layer in self.named.items():
            for part in ("weight", "bias"):
                value, target = tensors.get(f"{name}.{part}"), getattr(layer, part)
                if value is None or tuple(value.shape) != tuple(target.shape):
                    raise SystemExit(f"{path}: {name}.{part} is {None if value is None else tuple(value.shape)}, expected {tuple(target.shape)}")
                with torch.no_grad():
                    target.copy_(value.to(target.dtype))

    def parameter(self, name):
        layer, part = name.rsplit(".", 1)
        return getattr(self.named[layer], part)


def loss(model, m, t, x, eps):
    """The batch mean of reconstruction + β·KL, as swift-vae's training loss (one z per example)."""
    h = model.encoder(x)
    mu, lv = model.mean(h), model.logvar(h)
    z = mu + torch.exp(0.5 * lv) * eps
    out = model.decoder(z).reshape(x.shape[0], -1)
    xs = x.reshape(x.shape[0], -1)
    if m["likelihood"] == "bernoulli":
        rec = F.binary_cross_entropy_with_logits(out, xs, reduction="none").sum(1)
    elif m["likelihood"] == "gaussian":
        s = m["sigma"]
        rec = ((xs - out) ** 2).sum(1) / (2 * s * s) + xs.shape[1] * (math.log(s) + 0.5 * math.log(2 * math.pi))
    else:
        raise SystemExit(f"likelihood {m['likelihood']} is not one this script rebuilds (bernoulli, gaussian)")
    if t.get("kl", "closed-form") == "closed-form":
        kl = -0.5 * (1 + lv - mu * mu - lv.exp()).sum(1)
    else:
        kl = (-0.5 * lv - 0.5 * (z - mu) ** 2 / lv.exp() + 0.5 * z * z).sum(1)
    return (rec + t.get("beta", 1) * kl).mean()


def gradients(model, m, t, x, eps, names):
    model.zero_grad()
    value = loss(model, m, t, x, eps)
    value.backward()
    return value.item(), [model.parameter(n).grad.detach().double().numpy().copy() for n in names]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="the checkpoint the dumps came from (file or run folder)")
    p.add_argument("dumps", nargs="+", help="folders written by `vae gradients`")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    path = os.path.join(a.checkpoint, "model.safetensors") if os.path.isdir(a.checkpoint) else a.checkpoint
    meta = safetensors_header(path).get("__metadata__", {})
    m, t = json.loads(meta["model"]), json.loads(meta.get("training", "{}"))
    tensors = safetensors(path)
    twins = {}
    for dtype in (torch.float64, torch.float32):
        twins[dtype] = Twin(m).to(dtype)
        twins[dtype].load(tensors, path)
    names = [f"{layer}.{part}" for layer in twins[torch.float64].named for part in ("weight", "bias")]
    listed = {}
    for dump in a.dumps:
        listed[dump] = sorted(int(f.split("/")[-1].split(".")[0][6:]) for f in glob.glob(os.path.join(dump, "batch-*.loss.npy")))
        if not listed[dump]:
            raise SystemExit(f"{dump}: no batch-K.loss.npy files (write them with `vae gradients --out {dump}`)")
    first = a.dumps[0]
    batches = listed[first]
    for dump in a.dumps[1:]:
        if listed[dump] != batches:
            raise SystemExit(f"{dump} holds batches {listed[dump][0]}–{listed[dump][-1]}, {first} {batches[0]}–{batches[-1]}: "
                             "compare dumps written with the same --batches, --batch-size, --seed and data")
    bases = [os.path.basename(os.path.normpath(d)) for d in a.dumps]
    labels = [b if bases.count(b) == 1 else d for b, d in zip(bases, a.dumps)] + ["pytorch-f32"]
    rows = {label: {n: [] for n in names} for label in labels}  # label -> name -> per-batch differences from float64
    refs = {n: [] for n in names}
    losses = {dump: [] for dump in a.dumps}
    shape = tuple(m["imageShape"]) if m["architecture"] == "conv" else (m["inputSize"],)
    for k in batches:
        x, eps = (np.load(os.path.join(first, f"batch-{k}.{part}.npy")) for part in ("x", "noise"))
        for dump in a.dumps:
            missing = [n for n in names if not os.path.exists(os.path.join(dump, f"batch-{k}.{n}.npy"))]
            if x.shape[1:] != shape or eps.shape[1:] != (m["latentSize"],) or missing:
                raise SystemExit(f"{dump}: batch {k} does not fit {path}'s model (examples {x.shape[1:]}, expected {shape}; "
                                 f"noise {eps.shape[1:]}, expected ({m['latentSize']},){'; no gradient of ' + missing[0] if missing else ''}): "
                                 "write the dump from this checkpoint")
            if dump != first and not all(np.array_equal(v, np.load(os.path.join(dump, f"batch-{k}.{part}.npy")))
                                         for v, part in ((x, "x"), (eps, "noise"))):
                raise SystemExit(f"{dump}: batch {k}'s examples or noise differ from {first}'s: "
                                 "compare dumps written with the same --batch-size, --seed and data")
        l64, g64 = gradients(twins[torch.float64], m, t, torch.from_numpy(x).double(), torch.from_numpy(eps).double(), names)
        _, g32 = gradients(twins[torch.float32], m, t, torch.from_numpy(x), torch.from_numpy(eps), names)
        for n, ref, g in zip(names, g64, g32):
            refs[n].append(ref)
            rows["pytorch-f32"][n].append(g - ref)
        for dump, label in zip(a.dumps, labels):
            losses[dump].append(float(np.load(os.path.join(dump, f"batch-{k}.loss.npy"))[0]) - l64)
            for n, ref in zip(names, g64):
                mine = np.load(os.path.join(dump, f"batch-{k}.{n}.npy")).astype(np.float64)
                if mine.shape != ref.shape:
                    raise SystemExit(f"{dump}: batch-{k}.{n}.npy is {mine.shape}, expected {ref.shape}")
                rows[label][n].append(mine - ref)
    for dump in a.dumps:
        d = np.array(losses[dump])
        print(f"{dump}: {len(batches)} batches; loss − float64: mean {d.mean():+.2e}, largest {np.abs(d).max():.2e} nats "
              f"(the noise and data agree when this is float32 rounding)")
    print(f"\n{'':45s}" + "".join(f"  {label[-35:]:>35s}" for label in rows))
    print(f"{'parameter':26s} {'size':>8s} {'rms grad':>9s}" + f"  {'bias':>18s} {'R':>7s} {'err':>7s}" * len(rows))
    worst = {label: (0.0, "") for label in rows}
    # A batch where one element's pre-activation fell on the other side of a ReLU kink (within
    # rounding of 0) has errors far above its neighbours'; it is left out of bias and R.
    errors = {label: {n: [] for n in names} for label in rows}
    for n in names:
        sizes = [math.sqrt((r ** 2).mean()) or 1.0 for r in refs[n]]
        for label in rows:
            errors[label][n] = np.array([math.sqrt((dd ** 2).mean()) / s for dd, s in zip(rows[label][n], sizes)])
    kept = {}
    for label in rows:
        ratio = np.max([errors[label][n] / max(np.median(errors[label][n]), 1e-300) for n in names], axis=0)
        kept[label] = ratio <= 30
    for n in names:
        ref = np.stack(refs[n])
        scale = math.sqrt((ref.mean(0) ** 2).mean()) or 1.0
        line = f"{n:26s} {ref[0].size:8d} {scale:9.2e}"
        for label in rows:
            diffs = np.stack(rows[label][n])[kept[label]]
            B = diffs.shape[0]
            mean = diffs.mean(0)
            var = np.maximum((diffs ** 2).mean(0) - mean ** 2, 0) / max(B - 1, 1)
            R = (mean ** 2).sum() / max(var.sum(), 1e-300)
            bias = mean.mean() / scale
            line += f"  {'*' if R > 10 else ' '}{bias:+17.1e} {R:7.1f} {np.median(errors[label][n]):7.1e}"
            if R > 10 and abs(bias) > abs(worst[label][0]):
                worst[label] = (bias, n)
        print(line)
    print("\nlargest bias marked * (R > 10: not averaging out): "
          + "; ".join(f"{label} {b:+.1e} ({n})" if n else f"{label} none" for label, (b, n) in worst.items()))
    for label in rows:
        if not kept[label].all():
            print(f"{label}: batches {', '.join(str(batches[i]) for i in np.flatnonzero(~kept[label]))} left out of bias and R "
                  f"(errors over 30× their median: a ReLU input within rounding of 0 that fell on the other side)")


if __name__ == "__main__":
    main()
