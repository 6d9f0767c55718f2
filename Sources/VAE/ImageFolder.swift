import CPNG
import Foundation

/// A folder of PNG images, as torchvision's ImageFolder reads one: `ROOT/CLASS/*.png`, the
/// class folders in sorted order giving labels 0, 1, … (their names are the label texts), or
/// PNGs directly in ROOT without labels. Grayscale, grayscale+alpha, RGB or RGBA, 8 or 16 bit:
/// the images become one channel when all are grayscale, else three (RGB); an alpha channel
/// is composited onto black. Pixels are scaled to [0, 1]: 8-bit samples / 255, 16-bit ones
/// / 65535 (read through libpng's simplified API, which takes 16-bit data as linear light).
/// All images must have one size.
enum ImageFolder {
    /// Whether `directory` holds PNG files, directly or one folder down.
    static func holdsImages(_ directory: String) -> Bool {
        (try? files(directory).files.isEmpty == false) ?? false
    }

    /// The PNG files, sorted, each with its class index; and the class names (nil without classes).
    static func files(_ root: String) throws(DataError) -> (files: [(path: String, label: Int)], classes: [String]?) {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: root) else { throw .unreadable(path: root, reason: "the folder cannot be listed") }
        let visible = entries.filter { !$0.hasPrefix(".") }.sorted()
        let classes = visible.filter { FileStatus(FileSystem.join(root, $0))?.kind == .directory }
        if classes.isEmpty {
            return (visible.filter { $0.lowercased().hasSuffix(".png") }.map { (FileSystem.join(root, $0), 0) }, nil)
        }
        var files: [(String, Int)] = []
        for (label, name) in classes.enumerated() {
            let folder = FileSystem.join(root, name)
            guard let inside = try? fm.contentsOfDirectory(atPath: folder) else { throw .unreadable(path: folder, reason: "the folder cannot be listed") }
            files += inside.filter { !$0.hasPrefix(".") && $0.lowercased().hasSuffix(".png") }.sorted().map { (FileSystem.join(folder, $0), label) }
        }
        return (files, classes)
    }

    static func load(_ root: String) throws(DataError) -> Dataset {
        let (files, classes) = try files(root)
        guard let first = files.first else { throw .empty(path: root) }
        // Headers first: one size for all, and whether any image has colour.
        var headers: [(bytes: [UInt8], format: UInt32)] = []
        var size: (width: UInt32, height: UInt32)?
        for file in files {
            let bytes: [UInt8]
            do { bytes = try FileSystem.read(file.path) } catch { throw .unreadable(path: file.path, reason: "\(error)") }
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            guard png_image_begin_read_from_memory(&image, bytes, bytes.count) != 0 else {
                throw .unreadable(path: file.path, reason: "not a PNG image (\(message(image)))")
            }
            png_image_free(&image)
            if let size, (image.width, image.height) != (size.width, size.height) {
                throw .values(path: file.path, detail: "it is \(image.width)×\(image.height) pixels, but \(first.path) is \(size.width)×\(size.height): all images of a data set must have one size")
            }
            size = (image.width, image.height)
            headers.append((bytes, image.format))
        }
        guard let size else { throw .empty(path: root) }
        let color = headers.contains { $0.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0 }
        let channels = color ? 3 : 1, plane = Int(size.width) * Int(size.height)
        var values = [Float](repeating: 0, count: files.count * channels * plane)
        var pixels = [UInt8](repeating: 0, count: channels * plane)
        for (n, header) in headers.enumerated() {
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            guard png_image_begin_read_from_memory(&image, header.bytes, header.bytes.count) != 0 else {
                throw .unreadable(path: files[n].path, reason: "not a PNG image (\(message(image)))")
            }
            // Each file at its own depth, so neither kind is converted: 8-bit samples / 255,
            // 16-bit ones (libpng's linear 16-bit output) / 65535.
            let wide = header.format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0
            image.format = (color ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0) | (wide ? UInt32(PNG_FORMAT_FLAG_LINEAR) : 0)
            let done: Int32
            if wide {
                var samples = [UInt16](repeating: 0, count: channels * plane)  // alpha composites onto this black
                done = samples.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
                for q in 0..<plane {
                    for c in 0..<channels { values[(n * channels + c) * plane + q] = Float(samples[q * channels + c]) / 65535 }
                }
            } else {
                for i in pixels.indices { pixels[i] = 0 }  // alpha composites onto this black
                done = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
                for q in 0..<plane {
                    for c in 0..<channels { values[(n * channels + c) * plane + q] = Float(pixels[q * channels + c]) / 255 }
                }
            }
            guard done != 0 else {
                throw .unreadable(path: files[n].path, reason: "a damaged PNG image (\(message(image)))")
            }
        }
        var d = Dataset(images: values, labels: files.map(\.label), exampleSize: channels * plane,
                        imageShape: (Int(size.height), Int(size.width)), channels: channels)
        d.labelNames = classes
        return d
    }

    private static func message(_ image: png_image) -> String {
        var m = image.message
        return withUnsafeBytes(of: &m) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
