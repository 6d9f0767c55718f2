import CPUBackend
import Foundation

/// Starts `vae` again with OPENBLAS_CORETYPE set when OpenBLAS chose older kernels than this
/// CPU runs (see `OpenBLASCore`): the choice is made when the library loads, so only a fresh
/// process image can change it. A value the user set is kept as it is, which also ends the
/// loop; if the restart fails, the command runs on with OpenBLAS's own choice.
enum BLASKernels {
    static func restartWithPreferredKernels() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let preferred = OpenBLASCore.preferredCoreType else { return }
        setenv("OPENBLAS_CORETYPE", preferred, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")  // execv returned: it failed; run on unchanged
    }
}
