import Foundation

// The parser of GraphIR's text format (the grammar is documented on `parseGraph`). It is a single pass over
// the tokens; the only recursion is a fused node's region, bounded by `maxFusedRegionDepth`, so neither deep
// nesting nor huge files can exhaust the stack, and it stops at the first error with a diagnostic pointing
// at the token where it went wrong.

/// How deeply fused regions may nest (a fusion of fused nodes is two levels; the passes never go further).
/// The parser refuses deeper text at the region's '{' and the verifier refuses deeper graphs, so the
/// recursive walks over regions (printer, verifier, interpreter, cost) stay far from the stack's limit.
public let maxFusedRegionDepth = 16

/// Parses a graph from its text form.
///
/// ```
/// // line comment
/// graph NAME {
///   input %x : f32[2, 3, 16, 16]
///   param %conv.weight : f32[8, 3, 3, 3] trainable
///   %0 = conv2d(%x, %conv.weight) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[2, 8, 16, 16]
///   %1, %2 = some_op(%0) : f32[2], f32[2]
///   output y = %0
///   loss loss.total = %1
/// }
/// ```
/// - Names (graph, arguments, outputs) are `[A-Za-z_][A-Za-z0-9_.]*` or a quoted string; string escapes are
///   `\\ \" \n \t \r \u{1-6 hex digits}`, and a string must close on its line.
/// - Arguments are referenced as `%name`; node results are `%N` with unique numbers that need not be
///   consecutive. A value must be defined above its first use, which also rules out cycles.
/// - Statements may come in any order (arguments may sit between nodes); newlines are not significant.
/// - Attribute values: integers (`-3`), floats (`0.5`, `1e-5`, `-2.5E+3`: a digit on both sides of `.`, no
///   `inf`/`nan`), `true`/`false`, identifiers or quoted strings (strings), flat lists `[1, 2]` / `[0.5]` /
///   `[]` (an int list widens to floats if any element is a float). Literals are coerced to the kind the op
///   declares; omitted attributes take their defaults.
/// - Result types are checked against the op's shape rule.
/// - A `fused` node's region (`{ … }` after its types) may hold fused nodes itself, at most
///   `maxFusedRegionDepth` levels deep.
///
/// Diagnostics carry 1-based line and column, the column counted in UTF-8 bytes. The parsed graph records the
/// location of each argument and output (its name) and of each node (its op name).
///
/// - Throws: `DiagnosticError` with one positioned diagnostic.
public func parseGraph(_ text: String) throws(DiagnosticError) -> Graph {
    try parseGraph(utf8: Array(text.utf8))
}

/// Parses a graph from file contents, which need not be valid UTF-8: bad bytes give a positioned error.
public func parseGraph(_ data: Data) throws(DiagnosticError) -> Graph {
    try parseGraph(utf8: [UInt8](data))
}

/// Parses a graph from UTF-8 bytes, which need not be valid UTF-8: bad bytes give a positioned error.
public func parseGraph(utf8 bytes: [UInt8]) throws(DiagnosticError) -> Graph {
    do {
        var parser = try GraphParser(bytes: bytes)
        return try parser.parseFile()
    } catch {
        throw DiagnosticError([error])
    }
}

/// The statement keywords, for "did you mean" suggestions.
private let statementKeywords = ["input", "param", "output", "loss", "trainable"]

private struct GraphParser {
    private struct Definition {
        var value: ValueID
        var location: SourceLocation
    }

    private var lexer: Lexer
    /// The current (next unconsumed) token.
    private var token: Token
    private var graph = Graph(name: "")
    private var arguments: [String: Definition] = [:]
    private var results: [Int: Definition] = [:]
    private var outputNames: [String: SourceLocation] = [:]
    /// The results of the node being parsed, so that a use among its own operands gets a clear message.
    private var pendingResults: [Int: SourceLocation] = [:]
    /// How many fused regions enclose the statement being parsed.
    private var regionDepth = 0

    init(bytes: [UInt8]) throws(Diagnostic) {
        lexer = Lexer(bytes: bytes)
        token = try lexer.next()
    }

    // MARK: Token helpers

    private mutating func advance() throws(Diagnostic) { token = try lexer.next() }

    private var found: String { lexer.describe(token) }

    private func error(_ message: String, at location: SourceLocation? = nil) -> Diagnostic {
        Diagnostic(message, at: location ?? token.location)
    }

    /// Consumes a token of `kind` or reports "expected `what`, found …" at the current token.
    @discardableResult
    private mutating func expect(_ kind: TokenKind, _ what: String) throws(Diagnostic) -> Token {
        guard token.kind == kind else { throw error("expected \(what), found \(found)") }
        let consumed = token
        try advance()
        return consumed
    }

    /// A graph or output name: an identifier or a string.
    private mutating func parseName(_ what: String) throws(Diagnostic) -> (String, SourceLocation) {
        let location = token.location
        switch token.kind {
        case .identifier(let name), .string(let name):
            try advance()
            return (name, location)
        default:
            throw error("expected \(what) (an identifier or a quoted string), found \(found)")
        }
    }

    // MARK: Structure

    mutating func parseFile() throws(Diagnostic) -> Graph {
        guard token.isIdentifier("graph") else {
            var hint = ""
            if case .identifier(let word) = token.kind { hint = TextSyntax.didYouMean(word, among: ["graph"]) }
            throw error("expected 'graph' at the start of the file, found \(found)\(hint)")
        }
        try advance()
        let (name, _) = try parseName("a graph name after 'graph'")
        graph.name = name
        let open = try expect(.leftBrace, "'{' after the graph name")
        try parseStatements(until: "graph '\(TextSyntax.shorten(name))'", opened: open.location)
        guard token.kind == .endOfFile else {
            throw error("unexpected \(found) after the closing '}' of graph '\(TextSyntax.shorten(name))'")
        }
        return graph
    }

    /// Statements up to and including the closing '}' of `what` (a graph or a fused node's region).
    private mutating func parseStatements(until what: String, opened: SourceLocation) throws(Diagnostic) {
        while true {
            switch token.kind {
            case .rightBrace:
                try advance()
                return
            case .endOfFile:
                throw error("expected '}' to close \(what) (opened at \(describe(opened))), found end of file")
            case .identifier("input"):
                try parseArgument(kind: .input)
            case .identifier("param"):
                try parseArgument(kind: .parameter(trainable: false))
            case .identifier("output"):
                try parseOutput(isLoss: false)
            case .identifier("loss"):
                try parseOutput(isLoss: true)
            case .valueNumber:
                try parseNode()
            case .valueName(let name):
                throw error("node results are numbered ('%0', '%1', …), not named: '\(reference(name))' "
                    + "cannot be a result (declare names with 'input' or 'param')")
            case .identifier("trainable"):
                throw error("'trainable' must follow the type of a 'param'")
            case .identifier(let word):
                throw error("expected a statement ('input', 'param', 'output', 'loss' or '%N = op(…)') or '}', found \(found)"
                    + TextSyntax.didYouMean(word, among: statementKeywords))
            default:
                throw error("expected a statement ('input', 'param', 'output', 'loss' or '%N = op(…)') or '}', found \(found)")
            }
        }
    }

    /// A fused node's region: a graph body in braces, parsed in its own scope (its values are its own).
    private mutating func parseRegion(of opLocation: SourceLocation) throws(Diagnostic) -> Graph {
        if token.kind == .leftBrace && regionDepth >= maxFusedRegionDepth {
            throw error("fused regions nest more than \(maxFusedRegionDepth) levels deep (this region would be "
                + "level \(regionDepth + 1))")
        }
        let open = try expect(.leftBrace, "'{' and the region of the fused node")
        regionDepth += 1
        defer { regionDepth -= 1 }
        let saved = (graph, arguments, results, outputNames, pendingResults)
        (graph, arguments, results, outputNames, pendingResults) = (Graph(name: "region"), [:], [:], [:], [:])
        try parseStatements(until: "the region of the fused node at \(describe(opLocation))", opened: open.location)
        let region = graph
        (graph, arguments, results, outputNames, pendingResults) = saved
        return region
    }

    private func describe(_ l: SourceLocation) -> String { "\(l.line):\(l.column)" }

    /// `%name` as written, shortened for messages.
    private func reference(_ name: String) -> String { TextSyntax.shorten("%" + TextSyntax.name(name)) }

    /// `input %name : type` or `param %name : type [trainable]`.
    private mutating func parseArgument(kind: GraphArgument.Kind) throws(Diagnostic) {
        let keyword = kind == .input ? "input" : "param"
        try advance()
        guard case .valueName(let name) = token.kind else {
            var hint = ""
            if case .valueNumber(let n) = token.kind {
                hint = " (numbers are for node results; quote a numeric name: %\"\(n)\")"
            }
            throw error("expected an argument name such as '%x' after '\(keyword)', found \(found)\(hint)")
        }
        let location = token.location
        if let first = arguments[name] {
            throw error("redefinition of argument '\(reference(name))' (first declared at \(describe(first.location)))")
        }
        try advance()
        try expect(.colon, "':' and a type after '\(reference(name))'")
        let (type, _) = try parseType()
        var argumentKind = kind
        if kind != .input && token.isIdentifier("trainable") {
            try advance()
            argumentKind = .parameter(trainable: true)
        }
        let value = graph.addArgument(name: name, kind: argumentKind, type: type, location: location)
        arguments[name] = Definition(value: value, location: location)
    }

    /// `output NAME = %v` or `loss NAME = %v`.
    private mutating func parseOutput(isLoss: Bool) throws(Diagnostic) {
        let keyword = isLoss ? "loss" : "output"
        try advance()
        let (name, location) = try parseName("an output name after '\(keyword)'")
        if let first = outputNames[name] {
            throw error("duplicate output name '\(TextSyntax.shorten(name))' (first used at \(describe(first)))", at: location)
        }
        try expect(.equal, "'=' after output name '\(TextSyntax.shorten(name))'")
        let value = try parseValueUse()
        graph.addOutput(name: name, value: value, isLoss: isLoss, location: location)
        outputNames[name] = location
    }

    // MARK: Nodes

    /// `%a, %b = op(%x, %y) {attr = value, …} : type, type`.
    private mutating func parseNode() throws(Diagnostic) {
        var resultLocations: [SourceLocation] = []
        var resultNumbers: [Int] = []
        var numbersInStatement: [Int: SourceLocation] = [:]
        while true {
            guard case .valueNumber(let n) = token.kind else {
                throw error("expected a result number such as '%\(resultNumbers.count)' after ',', found \(found)")
            }
            if let first = results[n]?.location ?? numbersInStatement[n] {
                throw error("redefinition of '%\(n)' (first defined at \(describe(first)))")
            }
            numbersInStatement[n] = token.location
            resultNumbers.append(n)
            resultLocations.append(token.location)
            try advance()
            guard token.kind == .comma else { break }
            try advance()
        }
        try expect(.equal, "',' or '=' after result '%\(resultNumbers[resultNumbers.count - 1])'")

        guard case .identifier(let opName) = token.kind else {
            throw error("expected an op name after '=', found \(found)")
        }
        let opLocation = token.location
        guard let op = Ops.named(opName) else {
            throw error("unknown op '\(TextSyntax.shorten(opName))'" + TextSyntax.didYouMean(opName, among: Ops.all.map(\.name)))
        }
        try advance()

        pendingResults = numbersInStatement
        let operands = try parseOperands(of: op)
        pendingResults = [:]
        var attributes = Attributes()
        if token.kind == .leftBrace {
            attributes = try parseAttributes(of: op)
        }
        try checkRequiredAttributes(attributes, of: op, at: opLocation)
        do {
            attributes = try op.checkAttributes(attributes)
        } catch {
            // The per-attribute checks above normally catch everything first, at the attribute itself.
            throw Diagnostic(error.message, at: opLocation)
        }

        try expect(.colon, "':' and the result type\(resultNumbers.count == 1 ? "" : "s") of '\(op.name)'")
        var types: [(TensorType, SourceLocation)] = [try parseType()]
        while token.kind == .comma {
            try advance()
            if types.count == resultNumbers.count {
                throw error("too many result types (\(resultNumbers.count) result\(resultNumbers.count == 1 ? " is" : "s are") named)")
            }
            types.append(try parseType())
        }
        if types.count < resultNumbers.count {
            throw error("expected ',' and the type of result '%\(resultNumbers[types.count])', found \(found)")
        }

        var region: Graph?
        let inferred: [TensorType]
        if op.traits.contains(.fused) {
            let body = try parseRegion(of: opLocation)
            let argumentTypes = body.arguments.map { body.type(of: $0.value) }
            if argumentTypes != operands.map({ graph.type(of: $0) }) {
                throw error("the region takes \(argumentTypes.map(\.description).joined(separator: ", ")), but the operands are "
                    + operands.map { graph.type(of: $0).description }.joined(separator: ", "), at: opLocation)
            }
            inferred = body.outputs.map { body.type(of: $0.value) }
            region = body
        } else {
            do {
                inferred = try op.inferTypes(operands.map { graph.type(of: $0) }, attributes)
            } catch {
                throw Diagnostic(error.message, at: opLocation)
            }
        }
        guard inferred.count == resultNumbers.count else {
            throw error("'\(op.name)' produces \(inferred.count) result\(inferred.count == 1 ? "" : "s"), "
                + "but \(resultNumbers.count) \(resultNumbers.count == 1 ? "is" : "are") named", at: resultLocations[0])
        }
        for ((declared, location), expected) in zip(types, inferred) where declared != expected {
            throw error("result type \(declared) does not match the type '\(op.name)' infers: \(expected)", at: location)
        }

        let values: [ValueID]
        if let region {
            values = graph.appendFusedNode(kind: FusionKind(of: attributes)!, operands: operands, region: region, location: opLocation)
        } else {
            values = graph.appendNode(
                op: op, operands: operands, attributes: attributes, resultTypes: types.map(\.0), location: opLocation)
        }
        for (i, value) in values.enumerated() {
            results[resultNumbers[i]] = Definition(value: value, location: resultLocations[i])
        }
    }

    /// `(%a, %b)`, checked against the op's operand count.
    private mutating func parseOperands(of op: OpDefinition) throws(Diagnostic) -> [ValueID] {
        try expect(.leftParen, "'(' after op name '\(op.name)'")
        var operands: [ValueID] = []
        var locations: [SourceLocation] = []
        if token.kind != .rightParen {
            while true {
                locations.append(token.location)
                operands.append(try parseValueUse())
                if token.kind == .rightParen { break }
                try expect(.comma, "',' or ')' after operand")
            }
        }
        if let message = op.operands.check(operands.count, op: op.name) {
            // Point at the first operand too many, or at the ')' where one is missing.
            let maximum: Int?
            switch op.operands {
            case .fixed(let names): maximum = names.count
            case .optionalTrailing(let required, let optional): maximum = required.count + optional.count
            case .variadic: maximum = nil
            }
            if let maximum, operands.count > maximum { throw error(message, at: locations[maximum]) }
            throw error(message)
        }
        try advance()  // ')'
        return operands
    }

    /// A use of `%name` or `%N`, which must be defined above.
    private mutating func parseValueUse() throws(Diagnostic) -> ValueID {
        switch token.kind {
        case .valueName(let name):
            if let definition = arguments[name] {
                try advance()
                return definition.value
            }
            if let later = laterDefinition(of: token.kind) {
                throw error("'\(reference(name))' is used before its declaration at \(describe(later))")
            }
            let close = TextSyntax.suggestion(for: name, among: Array(arguments.keys))
            throw error("use of undefined value '\(reference(name))'" + (close.map { " (did you mean '\(reference($0))'?)" } ?? ""))
        case .valueNumber(let n):
            if let definition = results[n] {
                try advance()
                return definition.value
            }
            if pendingResults[n] != nil {
                throw error("'%\(n)' is used by the node that defines it (a value must be defined before its use)")
            }
            if let later = laterDefinition(of: token.kind) {
                throw error("'%\(n)' is used before its definition at \(describe(later))")
            }
            throw error("use of undefined value '%\(n)'")
        default:
            throw error("expected a value such as '%0' or '%x', found \(found)")
        }
    }

    /// Where the rest of the file defines `value` (a `.valueName` or `.valueNumber`), to tell "used too early"
    /// from "never defined". Only runs on the error path; one linear scan that stops at a lexical error.
    private func laterDefinition(of value: TokenKind) -> SourceLocation? {
        var scanner = lexer
        var previous: TokenKind?
        // Node results are the only `%N, %M, … =` runs; operand lists end in ')' instead.
        var inResultRun = false, afterComma = false
        var targetInRun: SourceLocation?
        while let t = try? scanner.next(), t.kind != .endOfFile {
            switch t.kind {
            case .valueName where t.kind == value:
                if previous == .identifier("input") || previous == .identifier("param") { return t.location }
                inResultRun = false
            case .valueNumber:
                if !inResultRun || !afterComma { targetInRun = nil }
                if t.kind == value { targetInRun = t.location }
                inResultRun = true
                afterComma = false
            case .comma where inResultRun && !afterComma:
                afterComma = true
            case .equal where inResultRun && !afterComma:
                if let location = targetInRun { return location }
                inResultRun = false
            default:
                inResultRun = false
            }
            previous = t.kind
        }
        return nil
    }

    // MARK: Attributes

    /// `{name = value, …}`, each checked against the op's declaration as it is read so that errors point at
    /// the attribute.
    private mutating func parseAttributes(of op: OpDefinition) throws(Diagnostic) -> Attributes {
        try advance()  // '{'
        var attributes = Attributes()
        var seen: [String: SourceLocation] = [:]
        if token.kind == .rightBrace {
            try advance()
            return attributes
        }
        while true {
            guard case .identifier(let name) = token.kind else {
                throw error("expected an attribute name, found \(found)")
            }
            if let first = seen[name] {
                throw error("duplicate attribute '\(name)' (first given at \(describe(first)))")
            }
            guard let spec = op.attributeSpec(named: name) else {
                let known = op.attributes.map(\.name)
                throw error("'\(op.name)' has no attribute '\(TextSyntax.shorten(name))'"
                    + TextSyntax.didYouMean(name, among: known, otherwise: known.isEmpty
                        ? " (it takes none)" : " (it takes \(known.joined(separator: ", ")))"))
            }
            seen[name] = token.location
            try advance()
            try expect(.equal, "'=' after attribute name '\(name)'")
            let valueLocation = token.location
            let literal = try parseAttributeValue()
            guard let value = spec.kind.coerce(literal) else {
                var hint = ""
                if spec.kind == .string, let flag = literal.boolValue { hint = " (quote it for a string: \"\(flag)\")" }
                throw error("attribute '\(name)' of '\(op.name)' must be \(spec.kind.descriptionWithArticle), "
                    + "found \(literal.textDescription)\(hint)", at: valueLocation)
            }
            if let message = spec.check?(value) {
                throw error("attribute '\(name)' of '\(op.name)': \(message)", at: valueLocation)
            }
            attributes[name] = value
            if token.kind == .rightBrace { break }
            try expect(.comma, "',' or '}' after the value of attribute '\(name)'")
        }
        try advance()  // '}'
        return attributes
    }

    private func checkRequiredAttributes(_ attributes: Attributes, of op: OpDefinition, at location: SourceLocation) throws(Diagnostic) {
        for spec in op.attributes where spec.defaultValue == nil && attributes[spec.name] == nil {
            throw error("'\(op.name)' needs attribute '\(spec.name)' (\(spec.kind.descriptionWithArticle))", at: location)
        }
    }

    private mutating func parseAttributeValue() throws(Diagnostic) -> AttributeValue {
        let value: AttributeValue
        switch token.kind {
        case .integer(let v): value = .int(v)
        case .float(let v): value = .float(v)
        case .identifier("true"): value = .bool(true)
        case .identifier("false"): value = .bool(false)
        case .identifier(let s), .string(let s): value = .string(s)
        case .leftBracket: return try parseList()
        default:
            throw error("expected an attribute value (a number, true, false, a name, a string or a list), found \(found)")
        }
        try advance()
        return value
    }

    /// `[]`, `[1, 2]` or `[0.5, 1]`: flat lists of numbers (ints widen to floats when any element is a float).
    private mutating func parseList() throws(Diagnostic) -> AttributeValue {
        try advance()  // '['
        var ints: [Int] = []
        var floats: [Double]?
        if token.kind != .rightBracket {
            while true {
                switch token.kind {
                case .integer(let v):
                    if floats != nil { floats?.append(Double(v)) } else { ints.append(v) }
                case .float(let v):
                    if floats == nil { floats = ints.map(Double.init) }
                    floats?.append(v)
                case .leftBracket:
                    throw error("expected a number, found '[' (attribute lists cannot be nested)")
                default:
                    throw error("expected a number in list, found \(found)")
                }
                try advance()
                if token.kind == .rightBracket { break }
                try expect(.comma, "',' or ']' in list")
            }
        }
        try advance()  // ']'
        return floats.map { .floats($0) } ?? .ints(ints)
    }

    // MARK: Types

    /// `f32[2, 3]` (`f32[]` is a scalar); returns the type and its position.
    private mutating func parseType() throws(Diagnostic) -> (TensorType, SourceLocation) {
        let location = token.location
        guard case .identifier(let name) = token.kind else {
            throw error("expected a tensor type such as 'f32[2, 3]', found \(found)")
        }
        guard let dtype = DType(rawValue: name) else {
            let known = DType.allCases.map(\.rawValue)
            throw error("unknown element type '\(TextSyntax.shorten(name))'"
                + TextSyntax.didYouMean(name, among: known, otherwise: " (expected \(known.joined(separator: " or ")))"))
        }
        try advance()
        try expect(.leftBracket, "'[' and a shape after element type '\(name)'")
        var shape: [Int] = []
        if token.kind != .rightBracket {
            while true {
                guard case .integer(let d) = token.kind else {
                    throw error("expected a dimension (a positive integer), found \(found)")
                }
                if let problem = TensorType.validate(shape: [d]) { throw error(problem) }
                shape.append(d)
                try advance()
                if token.kind == .rightBracket { break }
                try expect(.comma, "',' or ']' in shape")
            }
        }
        try advance()  // ']'
        if let problem = TensorType.validate(shape: shape) { throw error(problem, at: location) }
        return (TensorType(dtype, shape), location)
    }
}

extension AttributeKind {
    /// "an int", "a list of floats", … for messages.
    var descriptionWithArticle: String {
        switch self {
        case .int: return "an int"
        case .float: return "a float"
        case .bool: return "a bool"
        case .string: return "a string"
        case .ints: return "a list of ints"
        case .floats: return "a list of floats"
        }
    }
}

extension AttributeValue {
    /// The literal as a message names it: "int 3", "string \"a b\"", "list of floats".
    var textDescription: String {
        switch self {
        case .int(let v): return "int \(v)"
        case .float(let v): return "float \(v)"
        case .bool(let v): return "bool \(v)"
        case .string(let s): return "string \(TextSyntax.shorten(TextSyntax.quoted(s)))"
        case .ints(let v): return v.isEmpty ? "empty list" : "list of ints"
        case .floats: return "list of floats"
        }
    }
}
