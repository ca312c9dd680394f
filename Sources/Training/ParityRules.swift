import GraphIR

/// The parity rules of `shared/reference/README.md`, applied to a replay against a PyTorch recording.
public struct ParityRules: Sendable {
    public var lossRelativeTolerance = 1e-4
    public var gradientTolerance = 1e-2
    public var activationTolerance = 1e-3
    /// Fraction of the scale `m` below which a reference tensor is "null" and "small".
    public var nullReferenceFraction = 1e-5
    public var nullOursFraction = 1e-4
    public var floorFraction = 1e-3
    /// Updates: at most this share of elements may differ from the reference's by more than `lrFraction`·lr.
    public var updateOutlierShare = 1e-3
    public var updateLRFraction = 1e-2

    public init() {}
}

/// One comparison and whether it held.
public struct ParityCheck: Sendable {
    public enum Kind: String, Sendable { case loss, gradient, activation, update }
    public var kind: Kind
    public var name: String
    /// The measured error in the rule's own terms (relative error, normalised distance, or outlier share).
    public var error: Double
    public var tolerance: Double
    public var passed: Bool
    public var note: String = ""
}

/// Norm of a tensor's elements.
func l2Norm(_ t: Tensor) -> Double { t.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot() }

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

extension ParityRules {
    /// Losses: relative error (absolute where the reference is exactly 0, as switched-off terms are).
    public func checkLoss(_ name: String, ours: Tensor, reference: Tensor) -> ParityCheck {
        let a = ours.scalars[0], r = reference.scalars[0]
        let error = r == 0 ? Swift.abs(a) : Swift.abs(a - r) / Swift.abs(r)
        return ParityCheck(kind: .loss, name: name, error: error, tolerance: lossRelativeTolerance,
                           passed: error <= lossRelativeTolerance, note: "ours \(a), reference \(r)")
    }

    /// Gradients and activations: ‖ours − ref‖ / max(‖ref‖, floor·m) ≤ tolerance; a null reference tensor
    /// (‖ref‖ < 1e-5·m) instead needs ‖ours‖ < 1e-4·m.
    public func checkTensor(_ kind: ParityCheck.Kind, _ name: String, ours: Tensor, reference: Tensor, scale m: Double) -> ParityCheck {
        let tolerance = kind == .gradient ? gradientTolerance : activationTolerance
        guard ours.shape == reference.shape else {
            return ParityCheck(kind: kind, name: name, error: .infinity, tolerance: tolerance, passed: false,
                               note: "shape \(ours.shape), reference \(reference.shape)")
        }
        let referenceNorm = l2Norm(reference)
        if referenceNorm < nullReferenceFraction * m {
            let norm = l2Norm(ours)
            return ParityCheck(kind: kind, name: name, error: norm / m, tolerance: nullOursFraction,
                               passed: norm < nullOursFraction * m, note: "null reference tensor")
        }
        var difference = 0.0
        for i in ours.scalars.indices {
            let d = ours.scalars[i] - reference.scalars[i]
            difference += d * d
        }
        let error = difference.squareRoot() / Swift.max(referenceNorm, floorFraction * m)
        return ParityCheck(kind: kind, name: name, error: error, tolerance: tolerance, passed: error <= tolerance)
    }

    /// Parameter updates of one iteration, all tensors together: the share of elements whose update differs
    /// from the reference's by more than 1% of lr. Tensors in `skipped` (null gradients) are left out.
    public func checkUpdates(
        iteration: Int, before: [String: Tensor], ours: [String: Tensor], reference: [String: Tensor],
        learningRate: Double, skipped: Set<String>
    ) -> ParityCheck {
        var outliers = 0, total = 0
        var worstName = "", worstShare = 0.0
        for (name, start) in before where !skipped.contains(name) {
            guard let a = ours[name], let r = reference[name], a.shape == start.shape, r.shape == start.shape else { continue }
            var tensorOutliers = 0
            for i in start.scalars.indices {
                let ourStep = a.scalars[i] - start.scalars[i], referenceStep = r.scalars[i] - start.scalars[i]
                if Swift.abs(ourStep - referenceStep) > updateLRFraction * learningRate { tensorOutliers += 1 }
            }
            outliers += tensorOutliers
            total += start.scalars.count
            let share = Double(tensorOutliers) / Double(start.scalars.count)
            if share > worstShare { (worstName, worstShare) = (name, share) }
        }
        let share = total == 0 ? 0 : Double(outliers) / Double(total)
        return ParityCheck(kind: .update, name: "iter\(iteration).after", error: share, tolerance: updateOutlierShare,
                           passed: share <= updateOutlierShare,
                           note: "\(outliers) of \(total) elements off by > \(updateLRFraction) lr"
                               + (worstName.isEmpty ? "" : "; worst tensor \(worstName) (\(String(format: "%.2g", worstShare * 100))%)"))
    }
}
