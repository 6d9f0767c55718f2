// OpenBLAS's CBLAS interface (cblas_sgemm for the CPU backend's matrix products; OpenBLAS also
// declares openblas_set_num_threads here).
#include <cblas.h>
