import Foundation
import GraphIR
import Training

/// NVlabs' `test_batch.py`: every image of a folder translated with its own styles, written as
/// `input_<name>.png` and `output_<name>_<j>.png`, with an `index.html` grid (a row per image). An image that
/// cannot be read is reported by path and skipped; the command then fails at the end.
struct FolderTranslation {
    let translator: Translator
    let input: URL
    let output: URL

    /// `styles` gives the codes for the next image (nil: the trainer has no style, one output).
    func run(styles: () -> [Tensor?]) throws {
        let files: [URL]
        do { files = try ImageList.folder(input, name: "--input", channels: translator.sourceChannels).files } catch { throw UserError("\(error)") }
        let interactive = isatty(2) != 0
        var rows: [(name: String, outputs: [String])] = [], failed: [String] = []
        for (i, file) in files.enumerated() {
            let stem = file.deletingPathExtension().lastPathComponent
            let progress = "[\(i + 1)/\(files.count)] \(file.lastPathComponent)"
            FileHandle.standardError.write(Data((interactive ? "\r" + progress + "   " : progress + "\n").utf8))
            let codes = styles()
            let image: Tensor
            do { image = try translator.source(file.path) } catch {
                if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
                FileHandle.standardError.write(Data("\(file.path): skipped: \(error)\n".utf8))
                failed.append(file.path)
                continue
            }
            let inputName = "input_\(stem).png"
            try Translator.write(image, to: output.appendingPathComponent(inputName))
            var outputs: [String] = []
            for (j, s) in codes.enumerated() {
                let name = String(format: "output_%@_%03d.png", stem, j)
                try Translator.write(try translator.translate(image, style: s), to: output.appendingPathComponent(name))
                outputs.append(name)
            }
            rows.append((inputName, outputs))
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        try writeIndex(rows)
        let styleCount = rows.first?.outputs.count ?? 0
        print("wrote \(rows.count * styleCount) translations of \(rows.count) images (\(styleCount) each) to \(output.path); "
            + "index: \(output.appendingPathComponent("index.html").path)")
        if !failed.isEmpty {
            throw UserError("\(failed.count) of \(files.count) images could not be read and were skipped: \(failed.joined(separator: ", "))")
        }
    }

    /// `index.html`: one row per image, its input first, then its translations.
    func writeIndex(_ rows: [(name: String, outputs: [String])]) throws {
        func escaped(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "<", with: "&lt;")
        }
        var html = """
            <!doctype html><html><head><meta charset="utf-8"><title>munitc translations</title>
            <style>body{font-family:sans-serif;background:#222;color:#ddd} td{padding:2px;text-align:center;font-size:11px}
            img{image-rendering:pixelated;width:128px;border:1px solid #555} td.input img{border-color:#fc6}</style>
            </head><body><h1>munitc translations (\(translator.b2a ? "B → A" : "A → B"))</h1>
            <p>Each row: the input (outlined), then its translations, one per style code.</p><table>

            """
        for row in rows {
            html += "<tr><td class=\"input\"><img src=\"\(escaped(row.name))\"><br>\(escaped(row.name))</td>"
            html += row.outputs.map { "<td><img src=\"\(escaped($0))\"></td>" }.joined() + "</tr>\n"
        }
        html += "</table></body></html>\n"
        do { try writeFileAtomically(Data(html.utf8), to: output.appendingPathComponent("index.html")) } catch {
            throw UserError("\(output.path)/index.html: cannot write (\(error))")
        }
    }
}
