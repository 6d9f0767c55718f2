// OpenCL backend: see issue 3.
