// zlib: gunzip for the IDX data files (Foundation on Linux cannot).
#include <zlib.h>
