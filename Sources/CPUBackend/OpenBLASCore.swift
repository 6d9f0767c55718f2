import CBLAS

/// Which of OpenBLAS's kernel families runs the CPU backend's GEMMs, and a better one where
/// OpenBLAS's CPU table is out of date.
///
/// OpenBLAS picks its kernels once, when the library loads, from the CPU model number. Debian
/// 12's OpenBLAS 0.3.21 does not know recent CPUs and falls back to its oldest x86-64 kernels:
/// on a 2-core Xeon "Emerald Rapids" with AVX-512 it picks "Prescott" (SSE3), and the conv
/// VAE's training epoch then takes 1.7× as long as with its SkylakeX kernels. The choice can
/// only be changed before the library loads, through the environment variable
/// OPENBLAS_CORETYPE; the `vae` command restarts itself with it set (see `preferredCoreType`),
/// and a program of your own can be started with it.
public enum OpenBLASCore {
    /// The kernel family OpenBLAS chose in this process ("Prescott", "Haswell", "SkylakeX", …).
    public static var current: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The OPENBLAS_CORETYPE value whose kernels this CPU runs and that are faster than the
    /// current ones, or nil when OpenBLAS's own choice is already the best it has here.
    public static var preferredCoreType: String? {
        let core = current.lowercased()
        let avx512 = ["skylakex", "cooperlake", "sapphirerapids"]
        let avx2 = avx512 + ["haswell", "zen"]
        if svae_cpu_runs_skylakex_kernels() != 0, !avx512.contains(core) { return "SkylakeX" }
        if svae_cpu_runs_haswell_kernels() != 0, !avx2.contains(core) { return "Haswell" }
        return nil
    }
}
