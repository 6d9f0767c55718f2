#ifndef CPUPEAK_H
#define CPUPEAK_H

/// Runs `iterations` rounds of independent single-precision FMA chains with the widest vector
/// units this CPU has (AVX-512, AVX2+FMA, else plain C) and returns the FLOPs performed.
double cpupeak_fma_loop(long iterations);

/// The instruction set `cpupeak_fma_loop` uses: "avx512f", "avx2+fma" or "scalar".
const char *cpupeak_isa(void);

#endif
