// MPI loaded at run time (dlopen), so swift-vae builds and runs without MPI installed.
// Both ABIs in use are handled: Open MPI's (handles are pointers to library globals) and
// MPICH's (handles are int constants; also Intel MPI and MVAPICH). Every collective here
// waits with a deadline and names a rank that never arrived, instead of hanging.
#ifndef VAE_MPI_H
#define VAE_MPI_H
#include <stdint.h>

/// Return codes besides 0 (success) and MPI's own error codes.
enum { VAE_MPI_TIMEOUT = -1, VAE_MPI_NOT_LOADED = -2, VAE_MPI_NO_MEMORY = -3 };

/// Loads the MPI library at `path` with RTLD_GLOBAL (Open MPI's plugins need its symbols) and
/// resolves every function used. Returns 0, or -1 with a message in `error`.
int vae_mpi_load(const char *path, char *error, int error_size);
/// "Open MPI" or "MPICH" after a successful load.
const char *vae_mpi_abi(void);
/// MPI_Init_thread(FUNNELED: only the calling thread makes MPI calls), then rank and size.
int vae_mpi_init(int *rank, int *size);
/// The library's version string (MPI_Get_library_version), first line.
int vae_mpi_library_version(char *text, int size);

/// In place: values ← scale · Σ over ranks. Reduce-scatter, scale, then all-gather, so each
/// element is summed and scaled once, on one rank, and every rank receives the same bits (an
/// all-reduce may round differently on different ranks). With `count` a multiple of the
/// number of ranks nothing is copied; otherwise the values are padded in a copy.
/// On VAE_MPI_TIMEOUT, `late_rank` is a rank known not to have arrived, or -1 when unknown.
int vae_mpi_sum_floats(float *values, int64_t count, float scale, double timeout_seconds, int *late_rank);
/// In place: values ← Σ over ranks (MPI_Iallreduce), for sums of metrics.
int vae_mpi_sum_doubles(double *values, int count, double timeout_seconds, int *late_rank);
/// all[r] ← value of rank r, for every r (all has `size` entries).
int vae_mpi_gather_u64(uint64_t value, uint64_t *all, double timeout_seconds, int *late_rank);
/// Ends every rank of the job (MPI_Abort on MPI_COMM_WORLD).
void vae_mpi_abort(int code);
int vae_mpi_finalize(void);
#endif
