// libpng's simplified API (png_image_write_to_file) for image grids.
#include <png.h>
