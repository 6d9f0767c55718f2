// OpenCL 1.2 API: every device we target supports it, and it avoids deprecation warnings
// for clCreateCommandQueue. A modulemap cannot #define, hence this shim.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
