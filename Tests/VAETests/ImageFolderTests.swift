import CPNG
import Foundation
import Testing
@testable import VAE

/// `--data` as a folder of PNG images (torchvision's ImageFolder layout).
@Suite struct ImageFolderTests {
    /// A PNG of `width`×`height` in libpng's simplified `format` (GRAY, GA, RGB, RGBA; LINEAR for 16 bits).
    func png(_ samples: [UInt16], width: Int, height: Int, format: UInt32) throws -> Data {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = format
        let wide = format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0
        let bytes: [UInt8] = wide ? samples.flatMap { withUnsafeBytes(of: $0, Array.init) } : samples.map { UInt8($0) }
        var size = 0
        #expect(png_image_write_to_memory(&image, nil, &size, 0, bytes, 0, nil) != 0)
        var out = [UInt8](repeating: 0, count: size)
        #expect(png_image_write_to_memory(&image, &out, &size, 0, bytes, 0, nil) != 0)
        return Data(out.prefix(size))
    }

    func folder(_ files: [String: Data]) throws -> String {
        let dir = try temporaryDirectory() + "/images"
        for (name, data) in files {
            let path = dir + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: path))
        }
        return dir
    }

    @Test func classFoldersGiveLabelsAndGrayImagesOneChannel() throws {
        let gray = UInt32(PNG_FORMAT_GRAY), grayAlpha = UInt32(PNG_FORMAT_FLAG_ALPHA)
        let dir = try folder([
            "cat/b.png": try png([0, 51, 102, 255, 0, 0], width: 3, height: 2, format: gray),
            "cat/a.png": try png([255, 255, 0, 0, 0, 0], width: 3, height: 2, format: gray),
            // Gray + alpha: fully opaque pixels keep their value, a transparent one becomes black.
            "dog/c.png": try png([10, 255, 20, 255, 30, 0, 40, 255, 50, 255, 60, 255], width: 3, height: 2, format: grayAlpha),
            "dog/.hidden.png": Data("not read".utf8),
            "dog/notes.txt": Data("ignored".utf8),
        ])
        let d = try DataSource(path: dir).load()
        #expect(try DataSource(path: dir).format() == .png)
        #expect(d.count == 3 && d.channels == 1 && d.imageShape == (2, 3) && d.labels == [0, 0, 1] && d.labelNames == ["cat", "dog"])
        #expect(Array(d.images[0..<6]) == [1, 1, 0, 0, 0, 0], "cat/a.png first (sorted)")
        #expect(Array(d.images[6..<12]) == [0, 51, 102, 255, 0, 0].map { Float($0) / 255 })
        #expect(Array(d.images[12..<18]) == [10, 20, 0, 40, 50, 60].map { Float($0) / 255 })
    }

    @Test func anyColourImageMakesThreeChannelsAndSixteenBitsAreRead() throws {
        let dir = try folder([
            "a.png": try png([255, 0, 0, 0, 255, 0], width: 2, height: 1, format: UInt32(PNG_FORMAT_FLAG_COLOR)),
            "b.png": try png([0, 0, 255, 255, 255, 255, 255, 255], width: 2, height: 1, format: UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)),
            "c.png": try png([0, 13107], width: 2, height: 1, format: UInt32(PNG_FORMAT_FLAG_LINEAR)),
        ])
        let d = try DataSource(path: dir).load()
        #expect(d.count == 3 && d.channels == 3 && d.imageShape == (1, 2) && d.labelNames == nil)
        // Channels first: R plane, G plane, B plane.
        #expect(Array(d.images[0..<6]) == [1, 0, 0, 1, 0, 0])
        #expect(Array(d.images[6..<12]) == [0, 1, 0, 1, 1, 1])
        #expect(Array(d.images[12..<18]) == [0, 0.2, 0, 0.2, 0, 0.2], "16-bit samples unconverted (13107 / 65535), gray in all three channels")
    }

    @Test func mixedSizesAndDamagedFilesAreNamed() throws {
        let gray = UInt32(PNG_FORMAT_GRAY)
        let mixed = try folder(["a/1.png": try png([0, 0, 0, 0], width: 2, height: 2, format: gray),
                                "b/2.png": try png([0, 0, 0], width: 3, height: 1, format: gray)])
        let size = #expect(throws: DataError.self) { try DataSource(path: mixed).load() }
        #expect(size?.description.contains("b/2.png: it is 3×1 pixels, but \(mixed)/a/1.png is 2×2") == true, "\(size?.description ?? "")")
        let damaged = try folder(["x/1.png": try png([0, 0], width: 2, height: 1, format: gray), "x/2.png": Data("no png".utf8)])
        let bad = #expect(throws: DataError.self) { try DataSource(path: damaged).load() }
        #expect(bad?.description.contains("x/2.png: not a PNG image") == true, "\(bad?.description ?? "")")
        let empty = try folder(["readme.txt": Data("nothing".utf8)])
        let none = #expect(throws: DataError.self) { try DataSource(path: empty).format() }
        #expect(none?.description.contains("or of PNG images") == true)
    }

    @Test func aConvModelTrainsOnAnImageFolderAndScoresByClassName() throws {
        var files: [String: Data] = [:]
        for i in 0..<48 {
            let on = i % 2 == 0
            let pixels = (0..<64).map { q in UInt16((q % 8 < 4) == on ? 230 : 20 + (q * 7 + i) % 30) }
            files["\(on ? "left" : "right")/\(i).png"] = try png(pixels, width: 8, height: 8, format: UInt32(PNG_FORMAT_GRAY))
        }
        let dir = try folder(files)
        let root = (dir as NSString).deletingLastPathComponent
        let t = try vae(["train", "--backend", "cpu", "--data", "images", "--architecture", "conv", "--channels", "4,8", "--kernel", "3",
                         "--dense", "16", "--latent", "2", "--epochs", "2", "--batch-size", "8", "--out", "run"], in: root)
        #expect(t.status == 0 && t.output.contains("on 38 examples"), "\(t.output) \(t.error)")
        let s = try vae(["score", "--backend", "cpu", "--checkpoint", "run", "--data", "images", "--normal-classes", "left", "--out", "s.csv"], in: root)
        #expect(s.status == 0 && s.output.contains("ROC AUC"), "\(s.error)")
    }
}
