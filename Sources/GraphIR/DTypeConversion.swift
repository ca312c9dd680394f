extension Graph {
    /// The same graph computing in `dtype`: every argument retyped, every `dtype` attribute (constants,
    /// casts) set to it, result types re-inferred. Gradient checks run float32 graphs in float64 this way.
    public func converted(to dtype: DType) throws -> Graph {
        var converted = Graph(name: name)
        var map: [ValueID: ValueID] = [:]
        for arg in arguments {
            let type = self.type(of: arg.value)
            map[arg.value] = converted.addArgument(
                name: arg.name, kind: arg.kind, type: TensorType(dtype, type.shape), location: arg.location)
        }
        for node in nodes {
            var attributes = node.attributes
            if attributes["dtype"] != nil { attributes["dtype"] = .string(dtype.rawValue) }
            let results = try converted.addNode(node.op, node.operands.map { map[$0]! }, attributes, location: node.location)
            for (old, new) in zip(node.results, results) { map[old] = new }
        }
        for output in outputs {
            converted.addOutput(name: output.name, value: map[output.value]!, isLoss: output.isLoss, location: output.location)
        }
        return converted
    }
}
