// MPI through dlopen: see include/vae_mpi.h. The two ABIs differ only in how handles are
// passed (Open MPI: addresses of library globals; MPICH: int constants from its mpi.h, values
// below), so each call site goes through one wrapper that picks the signature.
#define _GNU_SOURCE
#include "vae_mpi.h"
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef union { void *p; int i; } handle;   // a communicator, datatype, op or request

static int loaded = 0, ompi = 0, rank_ = 0, size_ = 1;
static handle comm_world, type_float, type_double, type_uint64, type_int, op_sum;
static void *f_init_thread, *f_comm_rank, *f_comm_size, *f_isend, *f_irecv, *f_test, *f_ireduce_scatter_block,
    *f_iallgather, *f_iallreduce, *f_abort, *f_finalize, *f_get_library_version;

// MPICH's mpi.h (4.0): MPI_COMM_WORLD, MPI_FLOAT, MPI_DOUBLE, MPI_UINT64_T, MPI_INT, MPI_SUM.
enum { MPICH_COMM_WORLD = 0x44000000, MPICH_FLOAT = 0x4c00040a, MPICH_DOUBLE = 0x4c00080b,
       MPICH_UINT64_T = 0x4c00083e, MPICH_INT = 0x4c000405, MPICH_SUM = 0x58000003 };
enum { THREAD_FUNNELED = 1, HEARTBEAT_TAG = 7701 };

int vae_mpi_load(const char *path, char *error, int error_size) {
    void *library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!library) { snprintf(error, error_size, "%s", dlerror()); return -1; }
    struct { void **slot; const char *name; } functions[] = {
        {&f_init_thread, "MPI_Init_thread"}, {&f_comm_rank, "MPI_Comm_rank"}, {&f_comm_size, "MPI_Comm_size"},
        {&f_isend, "MPI_Isend"}, {&f_irecv, "MPI_Irecv"}, {&f_test, "MPI_Test"},
        {&f_ireduce_scatter_block, "MPI_Ireduce_scatter_block"}, {&f_iallgather, "MPI_Iallgather"},
        {&f_iallreduce, "MPI_Iallreduce"}, {&f_abort, "MPI_Abort"},
        {&f_finalize, "MPI_Finalize"}, {&f_get_library_version, "MPI_Get_library_version"},
    };
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; ++i) {
        *functions[i].slot = dlsym(library, functions[i].name);
        if (!*functions[i].slot) {
            snprintf(error, error_size, "%s has no %s (an MPI-3 library is needed)", path, functions[i].name);
            return -1;
        }
    }
    void *world = dlsym(library, "ompi_mpi_comm_world");
    ompi = world != NULL;
    if (ompi) {
        comm_world.p = world;
        type_float.p = dlsym(library, "ompi_mpi_float");
        type_double.p = dlsym(library, "ompi_mpi_double");
        type_uint64.p = dlsym(library, "ompi_mpi_uint64_t");
        type_int.p = dlsym(library, "ompi_mpi_int");
        op_sum.p = dlsym(library, "ompi_mpi_op_sum");
        if (!type_float.p || !type_double.p || !type_uint64.p || !type_int.p || !op_sum.p) {
            snprintf(error, error_size, "%s looks like Open MPI but lacks its predefined datatypes", path);
            return -1;
        }
    } else {
        comm_world.i = MPICH_COMM_WORLD; type_float.i = MPICH_FLOAT; type_double.i = MPICH_DOUBLE;
        type_uint64.i = MPICH_UINT64_T; type_int.i = MPICH_INT; op_sum.i = MPICH_SUM;
    }
    loaded = 1;
    return 0;
}

const char *vae_mpi_abi(void) { return loaded ? (ompi ? "Open MPI" : "MPICH") : "none"; }

// One wrapper per MPI function: the Open MPI signature takes pointers, MPICH's ints.
#define PICK(f, ompi_type, mpich_type, ompi_args, mpich_args) \
    (ompi ? ((int (*) ompi_type)(f)) ompi_args : ((int (*) mpich_type)(f)) mpich_args)

static int comm_rank(int *r) { return PICK(f_comm_rank, (void *, int *), (int, int *), (comm_world.p, r), (comm_world.i, r)); }
static int comm_size(int *s) { return PICK(f_comm_size, (void *, int *), (int, int *), (comm_world.p, s), (comm_world.i, s)); }
static int isend(const void *b, int n, handle t, int to, handle *q) {
    return PICK(f_isend, (const void *, int, void *, int, int, void *, void **), (const void *, int, int, int, int, int, int *),
                (b, n, t.p, to, HEARTBEAT_TAG, comm_world.p, &q->p), (b, n, t.i, to, HEARTBEAT_TAG, comm_world.i, &q->i));
}
static int irecv(void *b, int n, handle t, int from, handle *q) {
    return PICK(f_irecv, (void *, int, void *, int, int, void *, void **), (void *, int, int, int, int, int, int *),
                (b, n, t.p, from, HEARTBEAT_TAG, comm_world.p, &q->p), (b, n, t.i, from, HEARTBEAT_TAG, comm_world.i, &q->i));
}
static int test(handle *q, int *done) {
    char status[64];  // larger than either library's MPI_Status
    return PICK(f_test, (void **, int *, void *), (int *, int *, void *), (&q->p, done, status), (&q->i, done, status));
}
static int ireduce_scatter_block(const void *s, void *r, int n, handle t, handle *q) {
    return PICK(f_ireduce_scatter_block, (const void *, void *, int, void *, void *, void *, void **),
                (const void *, void *, int, int, int, int, int *),
                (s, r, n, t.p, op_sum.p, comm_world.p, &q->p), (s, r, n, t.i, op_sum.i, comm_world.i, &q->i));
}
static int iallgather(const void *s, int n, handle t, void *r, handle *q) {
    return PICK(f_iallgather, (const void *, int, void *, void *, int, void *, void *, void **),
                (const void *, int, int, void *, int, int, int, int *),
                (s, n, t.p, r, n, t.p, comm_world.p, &q->p), (s, n, t.i, r, n, t.i, comm_world.i, &q->i));
}
static int iallreduce(const void *s, void *r, int n, handle t, handle *q) {
    return PICK(f_iallreduce, (const void *, void *, int, void *, void *, void *, void **),
                (const void *, void *, int, int, int, int, int *),
                (s, r, n, t.p, op_sum.p, comm_world.p, &q->p), (s, r, n, t.i, op_sum.i, comm_world.i, &q->i));
}

int vae_mpi_init(int *rank, int *size) {
    if (!loaded) return VAE_MPI_NOT_LOADED;
    int provided = 0, e;
    if ((e = ((int (*)(int *, char ***, int, int *))f_init_thread)(NULL, NULL, THREAD_FUNNELED, &provided))) return e;
    if ((e = comm_rank(&rank_)) || (e = comm_size(&size_))) return e;
    *rank = rank_;
    *size = size_;
    return 0;
}

int vae_mpi_library_version(char *text, int size) {
    char buffer[8192];  // MPI_MAX_LIBRARY_VERSION_STRING is 256 (Open MPI) or 8192 (MPICH)
    int length = 0;
    if (!loaded) return VAE_MPI_NOT_LOADED;
    int e = ((int (*)(char *, int *))f_get_library_version)(buffer, &length);
    if (e) return e;
    buffer[length < (int)sizeof buffer ? length : (int)sizeof buffer - 1] = 0;
    char *newline = strchr(buffer, '\n');
    if (newline) *newline = 0;
    snprintf(text, size, "%s", buffer);
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Every collective starts with heartbeats: rank 0 and each other rank exchange one int, so a
// rank that waits in vain can tell whether the other side ever arrived. Other ranks wait a
// little longer than rank 0, so that rank 0's message, which names the late rank, comes first.
typedef struct { handle *requests; int *tokens; int count; } heartbeats;

static int post_heartbeats(heartbeats *h) {
    h->count = size_ == 1 ? 0 : rank_ == 0 ? 2 * (size_ - 1) : 2;
    h->requests = calloc((size_t)h->count + 1, sizeof(handle));
    h->tokens = calloc((size_t)size_ + 1, sizeof(int));
    if (!h->requests || !h->tokens) return VAE_MPI_NO_MEMORY;
    int e;
    if (rank_ == 0) {
        for (int r = 1; r < size_; ++r) {  // entry 2(r−1): the send to r; 2(r−1)+1: the receive from r
            if ((e = isend(&h->tokens[0], 1, type_int, r, &h->requests[2 * (r - 1)]))) return e;
            if ((e = irecv(&h->tokens[r], 1, type_int, r, &h->requests[2 * (r - 1) + 1]))) return e;
        }
    } else if (size_ > 1) {
        if ((e = isend(&h->tokens[0], 1, type_int, 0, &h->requests[0]))) return e;
        if ((e = irecv(&h->tokens[1], 1, type_int, 0, &h->requests[1]))) return e;
    }
    return 0;
}

// Waits for `request` and the heartbeats (h may be NULL) until the deadline.
static int wait_for(handle *request, heartbeats *h, double timeout_seconds, int *late_rank) {
    double started = now(), deadline = started + (rank_ == 0 ? timeout_seconds : timeout_seconds * 1.25 + 1);
    int count = 1 + (h ? h->count : 0), remaining = count;
    char done[1 + 2 * 4096] = {0};
    if (count > (int)sizeof done) return VAE_MPI_NO_MEMORY;
    for (;;) {
        for (int i = 0; i < count; ++i) {
            if (done[i]) continue;
            int flag = 0, e = test(i == 0 ? request : &h->requests[i - 1], &flag);
            if (e) return e;
            if (flag) { done[i] = 1; --remaining; }
        }
        if (remaining == 0) return 0;
        double t = now();
        if (t > deadline) {
            *late_rank = -1;
            for (int i = 2; h && i < count; i += 2) {  // the receives: entries 1, 3, … of h
                if (!done[i]) { *late_rank = rank_ == 0 ? i / 2 : 0; break; }
            }
            return VAE_MPI_TIMEOUT;
        }
        // Poll without pause for the first 50 ms (MPI progresses only while it is called; a
        // gradient sum takes about 1 ms), then sleep 0.1 ms between polls (a rank waiting for
        // a slower one, e.g. rank 0 writing a checkpoint, leaves the cores to it).
        if (t - started > 0.05) {
            struct timespec pause = {0, 100000};
            nanosleep(&pause, NULL);
        }
    }
}

static void release(heartbeats *h, int e) {
    if (e == VAE_MPI_TIMEOUT) return;  // MPI may still write the buffers; the caller ends the job
    free(h->requests);
    free(h->tokens);
}

int vae_mpi_sum_floats(float *values, int64_t count, float scale, double timeout_seconds, int *late_rank) {
    if (!loaded) return VAE_MPI_NOT_LOADED;
    *late_rank = -1;
    int64_t block = (count + size_ - 1) / size_;
    if (block > 0x7fffffff) return VAE_MPI_NO_MEMORY;
    int exact = block * size_ == count;
    float *all = exact ? values : calloc((size_t)(block * size_) + 1, sizeof(float));
    float *mine = calloc((size_t)block + 1, sizeof(float));
    heartbeats h = {0};
    handle request;
    int e = all && mine ? post_heartbeats(&h) : VAE_MPI_NO_MEMORY;
    if (!e) {
        if (!exact) memcpy(all, values, (size_t)count * sizeof(float));
        e = ireduce_scatter_block(all, mine, (int)block, type_float, &request);
    }
    if (!e) e = wait_for(&request, &h, timeout_seconds, late_rank);
    if (!e) {
        for (int64_t i = 0; i < block; ++i) mine[i] *= scale;
        e = iallgather(mine, (int)block, type_float, all, &request);
    }
    if (!e) e = wait_for(&request, NULL, timeout_seconds, late_rank);
    if (!e && !exact) memcpy(values, all, (size_t)count * sizeof(float));
    release(&h, e);
    if (e != VAE_MPI_TIMEOUT) {
        if (!exact) free(all);
        free(mine);
    }
    return e;
}

int vae_mpi_sum_doubles(double *values, int count, double timeout_seconds, int *late_rank) {
    if (!loaded) return VAE_MPI_NOT_LOADED;
    *late_rank = -1;
    double *copy = malloc((size_t)count * sizeof(double) + 8);
    heartbeats h = {0};
    handle request;
    int e = copy ? post_heartbeats(&h) : VAE_MPI_NO_MEMORY;
    if (!e) {
        memcpy(copy, values, (size_t)count * sizeof(double));
        e = iallreduce(copy, values, count, type_double, &request);
    }
    if (!e) e = wait_for(&request, &h, timeout_seconds, late_rank);
    release(&h, e);
    if (e != VAE_MPI_TIMEOUT) free(copy);
    return e;
}

int vae_mpi_gather_u64(uint64_t value, uint64_t *all, double timeout_seconds, int *late_rank) {
    if (!loaded) return VAE_MPI_NOT_LOADED;
    *late_rank = -1;
    static uint64_t mine;  // the send buffer must outlive a timed-out call
    mine = value;
    heartbeats h = {0};
    handle request;
    int e = post_heartbeats(&h);
    if (!e) e = iallgather(&mine, 1, type_uint64, all, &request);
    if (!e) e = wait_for(&request, &h, timeout_seconds, late_rank);
    release(&h, e);
    return e;
}

void vae_mpi_abort(int code) {
    if (!loaded) exit(code);
    PICK(f_abort, (void *, int), (int, int), (comm_world.p, code), (comm_world.i, code));
}

int vae_mpi_finalize(void) { return loaded ? ((int (*)(void))f_finalize)() : 0; }
