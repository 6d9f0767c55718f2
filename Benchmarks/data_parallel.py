#!/usr/bin/env python3
"""Data parallelism on this host, measured: `vae train` as one process and as `mpirun -np 2`
(the same global batch: one process takes --batch-size 2B, each rank B), for the default MLP
and the default conv model on the CPU backend and on OpenCL, interleaved round by round. Prints
seconds per epoch (median of epochs 2 onwards, from metrics.csv, so the test evaluation is left
out), the ranks' speed relative to one process, and the gradient exchange per step that
`vae train` reports under mpirun (its all-reduce alone, and in all with the copies to and from
the device). Then the scaling model of the README: per-step compute from the one-process time
and the all-reduce size, at 100 Gb/s and at NVLink-class links.

  python3 Benchmarks/data_parallel.py                    # both models, both backends, 1 round
  python3 Benchmarks/data_parallel.py --models mlp --backends cpu --rounds 3 --epochs 3
  python3 Benchmarks/data_parallel.py --limit 12800       # a part of Fashion-MNIST (quicker)

Needs Open MPI's mpirun (Debian: openmpi-bin) and a release build of vae
(swift build -c release --product vae).
"""
import argparse, csv, os, re, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VAE = os.path.join(ROOT, ".build", "release", "vae")
MPI = ["mpirun", "-np", "2", "--oversubscribe", "--mca", "btl", "self,vader"]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def train(ranks, model, backend, epochs, limit, batch, out):
    args = ["train", "--backend", backend, "--architecture", model, "--epochs", str(epochs), "--out", out, "--overwrite",
            "--batch-size", str(batch * 2 // ranks)]
    if limit:
        args += ["--limit", str(limit)]
    command = (MPI if ranks > 1 else []) + [VAE] + args
    run = subprocess.run(command, env=ENV, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{run.stderr[-2000:]}")
    with open(os.path.join(out, "metrics.csv")) as f:
        seconds = [float(r["epoch_seconds"]) for r in csv.DictReader(f)]
    exchange = [tuple(map(float, m)) for m in re.findall(r"gradient exchange per step: ([\d.]+) ms \(all-reduce of (\d+) floats ([\d.]+) ms", run.stdout)]
    return statistics.median(seconds[1:] or seconds), exchange[1:] or exchange


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="mlp,conv")
    p.add_argument("--backends", default="cpu,opencl")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--batch", type=int, default=128, help="the global batch")
    a = p.parse_args()
    if not os.path.exists(VAE):
        sys.exit(f"build {VAE} first: swift build -c release --product vae")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for model in a.models.split(","):
                for backend in a.backends.split(","):
                    for ranks in (1, 2):
                        out = os.path.join(tmp, f"{model}-{backend}-{ranks}")
                        seconds, exchange = train(ranks, model, backend, a.epochs, a.limit, a.batch, out)
                        results.setdefault((model, backend, ranks), []).append((seconds, exchange))
                        print(f"round {r + 1}: {model} {backend} {ranks} process(es): {seconds:.3f} s/epoch", flush=True)
    examples = a.limit or 60000
    steps = examples // a.batch
    print(f"\nglobal batch {a.batch}, {examples} examples, {steps} steps per epoch; median over rounds")
    print("| model | backend | 1 process s/epoch | 2 ranks s/epoch | 2 ranks vs 1 | exchange ms/step (all-reduce alone) | floats |")
    print("|---|---|---|---|---|---|---|")
    model_rows = []
    for model in a.models.split(","):
        for backend in a.backends.split(","):
            one = statistics.median(s for s, _ in results[(model, backend, 1)])
            two = statistics.median(s for s, _ in results[(model, backend, 2)])
            ex = [e for _, es in results[(model, backend, 2)] for e in es]
            total = statistics.median(e[0] for e in ex)
            alone = statistics.median(e[2] for e in ex)
            floats = int(ex[0][1])
            print(f"| {model} | {backend} | {one:.3f} | {two:.3f} | {one / two:.2f}× | {total:.2f} ({alone:.2f}) | {floats:,} |")
            model_rows.append((model, backend, one / steps, floats))
    print("\nOn paper: N ranks, each with this host's per-step compute at batch", a.batch, "(weak scaling), a ring all-reduce")
    print("moving 2(N−1)/N × 4·floats bytes per rank, no overlap of compute and exchange:")
    print("| model | backend | compute ms/step | link | all-reduce ms (N=8) | efficiency N=8 | speed-up N=8 | N=64 |")
    print("|---|---|---|---|---|---|---|---|")
    for model, backend, step, floats in model_rows:
        for link, gbytes, latency in (("100 Gb/s Ethernet", 12.5, 10e-6), ("NVLink-class 300 GB/s", 300.0, 3e-6)):
            def allreduce(n):
                return 2 * (n - 1) / n * 4 * floats / (gbytes * 1e9) + 2 * (n - 1) * latency
            e8, e64 = step / (step + allreduce(8)), step / (step + allreduce(64))
            print(f"| {model} | {backend} | {step * 1e3:.2f} | {link} | {allreduce(8) * 1e3:.3f} | {e8:.0%} | {8 * e8:.1f}× | {64 * e64:.1f}× |")


if __name__ == "__main__":
    main()
