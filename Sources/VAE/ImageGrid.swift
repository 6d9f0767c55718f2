import CPNG
import Foundation

/// Grayscale images in [0, 1] tiled into one PNG (libpng's simplified API), 2-pixel gutters.
public struct ImageGrid {
    public var columns: Int
    public var imageHeight: Int
    public var imageWidth: Int

    public init(columns: Int, imageHeight: Int = 28, imageWidth: Int = 28) {
        self.columns = max(1, columns)
        self.imageHeight = imageHeight
        self.imageWidth = imageWidth
    }

    /// The grid's pixels (row-major, 8-bit) and its size, for `count` images in `pixels`.
    public func render(_ pixels: [Float], count: Int) -> (bytes: [UInt8], width: Int, height: Int) {
        let gutter = 2
        let cols = min(columns, max(count, 1))
        let rows = (count + cols - 1) / cols
        let width = cols * (imageWidth + gutter) + gutter, height = rows * (imageHeight + gutter) + gutter
        var bytes = [UInt8](repeating: 32, count: width * height)
        let size = imageHeight * imageWidth
        for n in 0..<count {
            let (r, c) = (n / cols, n % cols)
            for y in 0..<imageHeight {
                for x in 0..<imageWidth {
                    let v = pixels[n * size + y * imageWidth + x]
                    let byte = UInt8((min(max(v.isNaN ? 0 : v, 0), 1) * 255).rounded())
                    bytes[(gutter + r * (imageHeight + gutter) + y) * width + gutter + c * (imageWidth + gutter) + x] = byte
                }
            }
        }
        return (bytes, width, height)
    }

    /// Writes the grid as a PNG through a temporary file and a rename.
    public func write(_ pixels: [Float], count: Int, to path: String) throws(FileError) {
        let (bytes, width, height) = render(pixels, count: count)
        try writeAtomically(try encodePNG(gray: bytes, width: width, height: height), to: path)
    }
}

/// An 8-bit grayscale PNG in memory.
func encodePNG(gray bytes: [UInt8], width: Int, height: Int) throws(FileError) -> Data {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = UInt32(width)
    image.height = UInt32(height)
    image.format = UInt32(PNG_FORMAT_GRAY)
    var size = 0
    // First call sizes the buffer, second fills it.
    guard png_image_write_to_memory(&image, nil, &size, 0, bytes, Int32(width), nil) != 0, size > 0 else {
        throw .notWritable(path: "PNG", reason: "libpng could not encode the image")
    }
    var out = [UInt8](repeating: 0, count: size)
    guard png_image_write_to_memory(&image, &out, &size, 0, bytes, Int32(width), nil) != 0 else {
        throw .notWritable(path: "PNG", reason: "libpng could not encode the image")
    }
    return Data(out.prefix(size))
}
