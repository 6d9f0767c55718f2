#!/usr/bin/env python3
"""swift-vae beside its peers on the same model, in one run: JAX (jit, CPU), PyTorch (eager,
CPU) and `vae train` on the CPU backend and on OpenCL, interleaved round by round, then one
table: seconds per epoch (min and median over rounds), samples/s, % of the machine's FMA peak
(measured by `vae bench --peak-only` in the same run) and throughput relative to the fastest.

  python3 Benchmarks/peers.py                      # the default MLP VAE, 3 rounds
  python3 Benchmarks/peers.py --model conv         # the default conv VAE
  python3 Benchmarks/peers.py --rounds 5 --engines jax,swift-cpu

Each measurement trains --epochs epochs (default 4) on Fashion-MNIST (Debian's
dataset-fashion-mnist), batch 128, Adam 1e-3, Bernoulli likelihood, and takes the median
training-only time of epochs 2 onwards (the first holds JIT compilation and warm-up); swift-vae's
time is its metrics.csv `epoch_seconds`, which also leaves out the test evaluation.

The first run creates a virtual environment (.build/peers-venv, seeing the system's packages, so
an installed PyTorch is used) and installs JAX into it from PyPI; later runs reuse it. An engine
that cannot run here (no PyTorch, no OpenCL device) is reported as such, not measured.
"""
import argparse, csv, gzip, os, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"
VENV = os.path.join(ROOT, ".build", "peers-venv")
FLOP_PER_SAMPLE = {"mlp": 3.28e6, "conv": 30.0e6}  # forward and backward, as `vae bench` counts them
STEPS = 60000 // 128


def ensure_jax():
    """Re-runs this script inside the virtual environment with JAX, creating it when needed."""
    try:
        import jax  # noqa: F401
        return
    except ImportError:
        pass
    python = os.path.join(VENV, "bin", "python")
    if os.environ.get("PEERS_IN_VENV"):
        sys.exit(f"JAX is still missing inside {VENV}: remove that folder and run again")
    if not os.path.exists(python):
        print(f"setting up {VENV} with JAX from PyPI (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "jax[cpu]"], check=True)
    os.environ["PEERS_IN_VENV"] = "1"
    os.execv(python, [python] + sys.argv)


def images(name):
    import numpy as np
    with gzip.open(f"{DATA}/{name}-images-idx3-ubyte.gz") as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255


# ---------------------------------------------------------------- JAX
def jax_epochs(model, epochs, seed):
    import jax, jax.numpy as jnp, numpy as np
    from jax import lax
    rng = np.random.default_rng(seed)

    def uniform(shape, fan_in):  # PyTorch's default initialization
        bound = 1 / np.sqrt(fan_in)
        return jnp.asarray(rng.uniform(-bound, bound, shape).astype(np.float32))

    def dense(n_in, n_out):
        return {"w": uniform((n_in, n_out), n_in), "b": uniform((n_out,), n_in)}

    def conv(c_in, c_out, k=4):  # OIHW
        return {"w": uniform((c_out, c_in, k, k), c_in * k * k), "b": uniform((c_out,), c_in * k * k)}

    def conv_transpose(c_in, c_out, k=4):  # PyTorch's ConvTranspose2d layout [in, out, kh, kw] and fan-in
        return {"w": uniform((c_in, c_out, k, k), c_out * k * k), "b": uniform((c_out,), c_out * k * k)}

    if model == "mlp":
        params = {"e": dense(784, 400), "mu": dense(400, 20), "lv": dense(400, 20), "d": dense(20, 400), "o": dense(400, 784)}

        def encode(p, x):
            h = jax.nn.relu(x @ p["e"]["w"] + p["e"]["b"])
            return h @ p["mu"]["w"] + p["mu"]["b"], h @ p["lv"]["w"] + p["lv"]["b"]

        def decode(p, z):
            return jax.nn.relu(z @ p["d"]["w"] + p["d"]["b"]) @ p["o"]["w"] + p["o"]["b"]
    else:
        params = {"c1": conv(1, 32), "c2": conv(32, 64), "e": dense(64 * 49, 256), "mu": dense(256, 20), "lv": dense(256, 20),
                  "d1": dense(20, 256), "d2": dense(256, 64 * 49), "t1": conv_transpose(64, 32), "t2": conv_transpose(32, 1)}
        dims = ("NCHW", "OIHW", "NCHW")

        def conv2d(p, x):
            y = lax.conv_general_dilated(x, p["w"], (2, 2), ((1, 1), (1, 1)), dimension_numbers=dims)
            return y + p["b"][None, :, None, None]

        def conv_transpose2d(p, x):  # PyTorch's ConvTranspose2d(k 4, stride 2, padding 1); w is [in, out, kh, kw]
            w = jnp.flip(p["w"], (2, 3)).transpose(1, 0, 2, 3)
            y = lax.conv_general_dilated(x, w, (1, 1), ((2, 2), (2, 2)), lhs_dilation=(2, 2), dimension_numbers=dims)
            return y + p["b"][None, :, None, None]

        def encode(p, x):
            h = jax.nn.relu(conv2d(p["c2"], jax.nn.relu(conv2d(p["c1"], x.reshape(-1, 1, 28, 28)))))
            h = jax.nn.relu(h.reshape(h.shape[0], -1) @ p["e"]["w"] + p["e"]["b"])
            return h @ p["mu"]["w"] + p["mu"]["b"], h @ p["lv"]["w"] + p["lv"]["b"]

        def decode(p, z):
            h = jax.nn.relu(jax.nn.relu(z @ p["d1"]["w"] + p["d1"]["b"]) @ p["d2"]["w"] + p["d2"]["b"])
            h = jax.nn.relu(conv_transpose2d(p["t1"], h.reshape(-1, 64, 7, 7)))
            return conv_transpose2d(p["t2"], h).reshape(-1, 784)

    def loss(p, x, key):
        mu, lv = encode(p, x)
        z = mu + jnp.exp(0.5 * lv) * jax.random.normal(key, mu.shape)
        logits = decode(p, z)
        rec = jnp.sum(jnp.maximum(logits, 0) - x * logits + jnp.log1p(jnp.exp(-jnp.abs(logits))), axis=1)
        kl = -0.5 * jnp.sum(1 + lv - mu * mu - jnp.exp(lv), axis=1)
        return jnp.mean(rec + kl)

    @jax.jit
    def step(p, m, v, t, data, rows, key):
        g = jax.grad(loss)(p, data[rows], key)
        m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
        c1, c2 = 1 / (1 - 0.9 ** t), 1 / (1 - 0.999 ** t)
        p = jax.tree_util.tree_map(lambda a, b, c: a - 1e-3 * (b * c1) / (jnp.sqrt(c * c2) + 1e-8), p, m, v)
        return p, m, v

    data = jnp.asarray(images("train"))
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    key, t, times = jax.random.PRNGKey(seed), 0, []
    for _ in range(epochs):
        order = jnp.asarray(rng.permutation(60000)[:STEPS * 128].reshape(STEPS, 128).astype(np.int32))
        start = time.perf_counter()
        for s in range(STEPS):
            t += 1
            key, sub = jax.random.split(key)
            params, m, v = step(params, m, v, jnp.float32(t), data, order[s], sub)
        jax.block_until_ready(params)
        times.append(time.perf_counter() - start)
    return times, f"JAX {jax.__version__} (jit, CPU)"


# ---------------------------------------------------------------- PyTorch
def torch_epochs(model, epochs, seed):
    import torch
    from torch import nn
    import torch.nn.functional as F
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(seed)
    if model == "mlp":
        enc, mu, lv = nn.Sequential(nn.Linear(784, 400), nn.ReLU()), nn.Linear(400, 20), nn.Linear(400, 20)
        dec = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784))
        shape = (-1, 784)
    else:
        enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Flatten(),
                            nn.Linear(64 * 49, 256), nn.ReLU())
        mu, lv = nn.Linear(256, 20), nn.Linear(256, 20)
        dec = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 64 * 49), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))
        shape = (-1, 1, 28, 28)
    modules = nn.ModuleList([enc, mu, lv, dec])
    opt = torch.optim.Adam(modules.parameters(), 1e-3)
    data = torch.from_numpy(images("train")).reshape(shape)
    times = []
    for _ in range(epochs):
        order = torch.randperm(60000)
        start = time.perf_counter()
        for s in range(STEPS):
            x = data[order[s * 128:(s + 1) * 128]]
            h = enc(x)
            m, v = mu(h), lv(h)
            logits = dec(m + torch.exp(0.5 * v) * torch.randn_like(m))
            rec = F.binary_cross_entropy_with_logits(logits.reshape(128, -1), x.reshape(128, -1), reduction="none").sum(1)
            loss = (rec - 0.5 * (1 + v - m * m - v.exp()).sum(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times, f"PyTorch {torch.__version__} (eager, CPU, {torch.get_num_threads()} threads)"


# ---------------------------------------------------------------- swift-vae
def vae_binary():
    binary = os.path.join(ROOT, ".build", "release", "vae")
    if not os.path.exists(binary):
        subprocess.run(["swift", "build", "-c", "release", "--product", "vae"], cwd=ROOT, check=True)
    return binary


def swift_epochs(backend, model, epochs, seed):
    out = tempfile.mkdtemp(prefix="peers-")
    try:
        command = [vae_binary(), "train", "--backend", backend, "--architecture", model, "--epochs", str(epochs),
                   "--seed", str(seed), "--out", out, "--overwrite"]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError((run.stderr or run.stdout).strip().splitlines()[-1])
        with open(os.path.join(out, "metrics.csv")) as f:
            times = [float(row["epoch_seconds"]) for row in csv.DictReader(f)]
        device = re.search(r"^backend: (.*?)(?: \((?:CPU|GPU)[^)]*\))?; step memory", run.stdout + run.stderr, re.M)
        return times, "swift-vae " + (device.group(1).strip() if device else backend)
    finally:
        shutil.rmtree(out, ignore_errors=True)


ENGINES = {
    "jax": lambda model, epochs, seed: jax_epochs(model, epochs, seed),
    "pytorch": lambda model, epochs, seed: torch_epochs(model, epochs, seed),
    "swift-cpu": lambda model, epochs, seed: swift_epochs("cpu", model, epochs, seed),
    "swift-opencl": lambda model, epochs, seed: swift_epochs("opencl", model, epochs, seed),
}


def peak_gflops():
    run = subprocess.run([vae_binary(), "bench", "--backend", "cpu", "--peak-only"], capture_output=True, text=True, check=True)
    return float(re.search(r"peak: ([0-9.]+) GFLOP/s", run.stdout).group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["mlp", "conv"], default="mlp")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=4, help="epochs per measurement (at least 2; epoch 1 is not counted)")
    p.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ", ".join(ENGINES))
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        p.error(f"--engines {a.engines!r}: expected a comma-separated list of {', '.join(ENGINES)}")
    if a.epochs < 2 or a.rounds < 1:
        p.error("--epochs must be at least 2 and --rounds at least 1")
    if "jax" in engines:
        ensure_jax()
    peak = peak_gflops()
    results = {e: [] for e in engines}
    names, failures = {}, {}
    for r in range(a.rounds):
        for e in engines:
            if e in failures:
                continue
            try:
                times, names[e] = ENGINES[e](a.model, a.epochs, a.seed + r)
            except Exception as error:  # an engine that cannot run here: say why, go on with the others
                failures[e] = f"{type(error).__name__}: {error}"
                continue
            results[e].append(statistics.median(times[1:]))
            print(f"round {r + 1}: {names[e]}: {results[e][-1]:.3f} s/epoch (epochs: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
    measured = {e: t for e, t in results.items() if t}
    if not measured:
        sys.exit("nothing was measured: " + "; ".join(f"{e}: {m}" for e, m in failures.items()))
    fastest = min(statistics.median(t) for t in measured.values())
    print(f"\n{a.model} VAE, Fashion-MNIST, batch 128, {STEPS} steps per epoch; median of epochs 2–{a.epochs} per round, "
          f"{a.rounds} rounds; peak {peak:.0f} GFLOP/s ({FLOP_PER_SAMPLE[a.model] / 1e6:.2f} MFLOP per sample)")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores\n")
    print("| engine | s/epoch, min | s/epoch, median | samples/s | % of peak | throughput vs fastest |")
    print("|---|---|---|---|---|---|")
    for e, t in sorted(measured.items(), key=lambda kv: statistics.median(kv[1])):
        med = statistics.median(t)
        samples = STEPS * 128 / med
        print(f"| {names[e]} | {min(t):.3f} | {med:.3f} | {samples:,.0f} | {100 * samples * FLOP_PER_SAMPLE[a.model] / 1e9 / peak:.0f}% "
              f"| {fastest / med:.2f} |")
    for e, m in failures.items():
        print(f"| {e} | not measured: {m} | | | | |")


if __name__ == "__main__":
    main()
