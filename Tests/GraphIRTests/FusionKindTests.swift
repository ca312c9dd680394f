import Testing
@testable import GraphIR

/// Each fusion kind's grammar (`FusionKind.match`), which the passes, the verifier and the backend share:
/// what it accepts, what its description says, and the stricter rule where the pass and the lowering
/// used to disagree.
@Suite struct FusionKindTests {
    /// A region of `body` (a graph's text) matched as `kind`.
    static func match(_ kind: FusionKind, _ body: String) throws -> FusedRegion {
        try kind.match(try parseGraph("graph region {\n\(body)\n}\n"))
    }

    static func rejects(_ kind: FusionKind, _ body: String) -> Bool {
        (try? match(kind, body)) == nil
    }

    @Test func kindNamesAreTheAttributeAndUnknownKindsAreRejected() throws {
        #expect(Set(FusionKind.allCases.map(\.rawValue)).count == FusionKind.allCases.count)
        let text = """
            graph g {
              input %x : f32[2]
              %0 = fused(%x) {kind = "mystery"} : f32[2] {
                input %a0 : f32[2]
                %0 = relu(%a0) : f32[2]
                output r0 = %0
              }
              output y = %0
            }
            """
        #expect(throws: DiagnosticError.self) { _ = try parseGraph(text) }
    }

    @Test func opCategoriesAreTraits() {
        let sampleNorms = Ops.all.filter { $0.traits.contains(.sampleStatistics) }.map(\.name)
        #expect(Set(sampleNorms) == ["instance_norm", "adain", "layer_norm"])
        let streamed = Ops.all.compactMap { op in PrologueFusion.foldedOperand(of: op).map { "\(op.name):\($0)" } }
        #expect(Set(streamed) == ["reduce_sum:0", "reduce_mean:0", "global_avg_pool:0", "instance_norm_backward:1",
                                  "layer_norm_backward:1", "batch_norm_backward:1"])
        #expect(!Ops.prelu.isPointwise && Ops.add.isPointwise && Ops.relu.isPointwise && !Ops.constant.isPointwise)
    }

    @Test func elementwiseRegions() throws {
        let ok = try Self.match(.elementwise, """
            input %a0 : f32[2, 3]
            %0 = constant() {value = 2.0, shape = [], dtype = f32} : f32[]
            %1 = mul(%a0, %0) : f32[2, 3]
            output r0 = %1
            """)
        guard case .elementwise(let fusion) = ok else { Issue.record("not elementwise"); return }
        #expect(fusion.shape == [2, 3])
        #expect(Self.rejects(.elementwise, """
            input %a0 : f32[1, 2, 3, 3]
            %0 = instance_norm(%a0) : f32[1, 2, 3, 3]
            output r0 = %0
            """), "a norm is not pointwise")
    }

    /// The pass used `FuseElementwise.fusible`, the lowering "has a scalar function": one rule now, PReLU
    /// (elementwise, but with a per-channel slope) is no prologue producer.
    @Test func prologueProducersArePointwise() throws {
        let matched = try Self.match(.prologue, """
            input %a0 : f32[2, 3]
            input %a1 : f32[2, 3]
            %0 = sub(%a0, %a1) : f32[2, 3]
            %1 = reduce_mean(%0) {axes = [0, 1]} : f32[]
            output r0 = %1
            """)
        guard case .prologue(let prologue) = matched else { Issue.record("not a prologue"); return }
        #expect(prologue.operand == 0 && prologue.producer.op === Ops.sub && prologue.consumer.op === Ops.reduceMean)
        #expect(Self.rejects(.prologue, """
            input %a0 : f32[1, 2, 3, 3]
            input %a1 : f32[2]
            %0 = prelu(%a0, %a1) : f32[1, 2, 3, 3]
            %1 = reduce_sum(%0) {axes = [0, 1, 2, 3]} : f32[]
            output r0 = %1
            """))
    }

    static let convolution = """
        input %a0 : f32[1, 2, 5, 5]
        input %a1 : f32[4, 2, 3, 3]
        %0 = conv2d(%a0, %a1) : f32[1, 4, 3, 3]
        """

    @Test func epilogueNormsActivationAndResidual() throws {
        for (norm, operands, expected) in [
            ("instance_norm", "", ConvolutionEpilogueFusion.Norm.instance),
            // Values: %a0, %a1, the convolution's result, then %a2 and %a3.
            ("adain", ", %a2, %a3", .adain(weight: ValueID(3), bias: ValueID(4))),
            ("layer_norm", ", %a2, %a3", .layer(gamma: ValueID(3), beta: ValueID(4))),
        ] {
            let affine = norm == "adain" ? "input %a2 : f32[1, 4]\ninput %a3 : f32[1, 4]"
                : norm == "layer_norm" ? "input %a2 : f32[4]\ninput %a3 : f32[4]" : ""
            let matched = try Self.match(.convolutionEpilogue, Self.convolution + "\n\(affine)\n"
                + "%1 = \(norm)(%0\(operands)) : f32[1, 4, 3, 3]\n%2 = relu(%1) : f32[1, 4, 3, 3]\noutput r0 = %2")
            guard case .convolutionEpilogue(let epilogue) = matched else { Issue.record("not an epilogue"); continue }
            #expect(epilogue.norm?.kind == expected, "\(norm)")
            #expect(epilogue.norm?.kind.perSample == (norm == "layer_norm"))
            #expect(epilogue.activation?.op === Ops.relu && epilogue.residualAdd == nil && epilogue.gathered == nil)
            #expect(epilogue.storedResult(epilogue.activation!.results[0]) == 0)
        }
        #expect(Self.rejects(.convolutionEpilogue, Self.convolution + """

            input %a2 : f32[4]
            input %a3 : f32[4]
            %1 = batch_norm(%0, %a2, %a3) : f32[1, 4, 3, 3]
            output r0 = %1
            """), "batch norm's groups span the batch")
        #expect(Self.rejects(.convolutionEpilogue, Self.convolution + "\noutput r0 = %0"), "nothing after the convolution")
    }

    /// The pass checked the residual add's result shape, the lowering that the activation has a scalar
    /// function: both rules hold in the one grammar.
    @Test func residualAddsKeepTheConvolutionsShape() throws {
        #expect(Self.rejects(.convolutionEpilogue, Self.convolution + """

            input %a2 : f32[1, 4, 3, 3]
            %1 = add(%a2, %0) : f32[1, 4, 3, 3]
            output r0 = %1
            """), "the convolution must be the add's first operand")
        let step = try parseGraph("""
            graph g {
              input %c : f32[1, 4, 3, 3]
              input %r : f32[2, 1, 4, 3, 3]
              %0 = add(%c, %r) : f32[2, 1, 4, 3, 3]
              output y = %0
            }
            """)
        #expect(!ConvolutionEpilogueFusion.accepts(.residualAdd, step.nodes[0], in: step, convolutionShape: [1, 4, 3, 3]))
    }

    @Test func gatheredChainsReadEachSpatialOpInOrder() throws {
        let chain = try Self.match(.gatheredConvolution, """
            input %a0 : f32[1, 2, 3, 3]
            %0 = upsample_nearest(%a0) {scale = [2, 2]} : f32[1, 2, 6, 6]
            %1 = pad(%0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 8, 8]
            input %a1 : f32[4, 2, 3, 3]
            %2 = conv2d(%1, %a1) : f32[1, 4, 6, 6]
            output r0 = %2
            """)
        guard case .gatheredConvolution(let gathered) = chain else { Issue.record("not a chain"); return }
        #expect(gathered.role == .convolution && gathered.upsample != nil && gathered.pad != nil)
        #expect(gathered.source == TensorType(.f32, [1, 2, 3, 3]))
        #expect(Self.rejects(.gatheredConvolution, """
            input %a0 : f32[1, 2, 3, 3]
            %0 = pad(%a0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 5, 5]
            %1 = upsample_nearest(%0) {scale = [2, 2]} : f32[1, 2, 10, 10]
            input %a1 : f32[4, 2, 3, 3]
            %2 = conv2d(%1, %a1) : f32[1, 4, 8, 8]
            output r0 = %2
            """), "the pad comes after the upsampling")
        #expect(Self.rejects(.gatheredWeightGradient, """
            input %a0 : f32[1, 2, 3, 3]
            %0 = pad(%a0) {mode = reflect, pad = [1, 1, 1, 1]} : f32[1, 2, 5, 5]
            input %a1 : f32[4, 2, 3, 3]
            %1 = conv2d(%0, %a1) : f32[1, 4, 3, 3]
            output r0 = %1
            """), "a conv2d chain is not a weight gradient's")
    }
}
