/// A conservative scan of YAML text for how deeply its collections nest, done before the YAML parser runs:
/// the parser recurses once per level, so a few thousand levels (`[[[[…`, or `- - - -…`) would overflow
/// the stack inside it. Counts block levels by indentation and compact `- ` / `? ` indicators, and flow
/// levels by brackets outside quotes and comments; block scalars (`|`, `>`) are skipped. It may count a
/// level more than the parser would, never fewer.
enum YAMLNesting {
    /// The first position where the nesting exceeds `limit`, or nil.
    static func firstExcess(in text: String, limit: Int) -> (line: Int, column: Int)? {
        var indents: [Int] = []  // open block levels
        var flow = 0
        var blockScalarIndent: Int?  // lines indented more than this belong to a block scalar
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let chars = Array(line.utf8)
            let indent = chars.prefix { $0 == UInt8(ascii: " ") }.count
            let content = chars[indent...]
            if content.isEmpty || content.first == UInt8(ascii: "#") { continue }
            if let scalar = blockScalarIndent {
                if indent > scalar { continue }
                blockScalarIndent = nil
            }
            if flow == 0 {
                while let last = indents.last, last >= indent { indents.removeLast() }
                indents.append(indent)
            }
            var depth = indents.count + flow
            var quote: UInt8?
            var previous = UInt8(ascii: " ")
            for (offset, c) in content.enumerated() {
                defer { previous = c }
                if let open = quote {
                    if c == open { quote = nil }
                    continue
                }
                switch c {
                case UInt8(ascii: "'"), UInt8(ascii: "\""): quote = c
                case UInt8(ascii: "#") where previous == UInt8(ascii: " "): break
                case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1; depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(flow - 1, 0)
                case UInt8(ascii: "-"), UInt8(ascii: "?"):
                    // A compact block entry opens a level (`- - x` is a list in a list).
                    let next = offset + 1 < content.count ? content[content.startIndex + offset + 1] : UInt8(ascii: " ")
                    if flow == 0, previous == UInt8(ascii: " "), next == UInt8(ascii: " ") { depth += 1 }
                default: break
                }
                if c == UInt8(ascii: "#"), previous == UInt8(ascii: " "), quote == nil { break }
                if depth > limit { return (index + 1, indent + offset + 1) }
            }
            // `key: |` or `- >-` starts a block scalar on the next lines.
            let trimmed = String(decoding: content, as: UTF8.self).split(separator: "#").first?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if quote == nil, let last = trimmed.split(separator: " ").last, let first = last.first, first == "|" || first == ">",
               last.dropFirst().allSatisfy({ "+-0123456789".contains($0) }) {
                blockScalarIndent = indent
            }
        }
        return nil
    }
}
