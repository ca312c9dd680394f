import Foundation
import GraphIR
import MUNITGraphs
import Passes

/// NVlabs' own checkpoint folder, as `train.py` writes it with `torch.save`: `gen_%08d.pt` and
/// `dis_%08d.pt` (`{'a': state_dict, 'b': state_dict}`, the same keys as munitc's safetensors snapshots)
/// and `optimizer.pt` (`{'gen': Adam state_dict, 'dis': …}`, whose per-parameter state is numbered in the
/// order of `list(gen_a.parameters()) + list(gen_b.parameters())`).
extension CheckpointStore {
    public static let nvlabsOptimizerFile = "optimizer.pt"

    /// The newest NVlabs snapshot (the last `gen_*.pt` by name, as NVlabs' `get_model_list`), or nil when
    /// the folder has no `optimizer.pt`.
    func latestNVlabs() throws -> (iteration: Int, state: [String: Tensor])? {
        let optimizerURL = folder.appendingPathComponent(CheckpointStore.nvlabsOptimizerFile)
        guard FileManager.default.fileExists(atPath: optimizerURL.path) else { return nil }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        guard let newest = names.last(where: { $0.hasPrefix("gen_") && $0.hasSuffix(".pt") && Int($0.dropFirst(4).dropLast(3)) != nil }),
              let iteration = Int(newest.dropFirst(4).dropLast(3)) else {
            throw TrainingError("\(folder.path): has \(CheckpointStore.nvlabsOptimizerFile) but no gen_%08d.pt")
        }
        let disURL = folder.appendingPathComponent(String(format: "dis_%08d.pt", iteration))
        var state = try CheckpointStore.restore(read(folder.appendingPathComponent(newest)), names: self.names(generators: true),
                                                file: folder.appendingPathComponent(newest))
        state.merge(try CheckpointStore.restore(read(disURL), names: self.names(generators: false), file: disURL)) { a, _ in a }
        state.merge(try adamMoments(optimizerURL)) { a, _ in a }
        return (iteration, state)
    }

    /// Adam's `exp_avg` / `exp_avg_sq` as `optimizer.m.<p>` / `optimizer.v.<p>`; a parameter without state
    /// (an optimizer that never stepped it) starts at zero, as in PyTorch.
    func adamMoments(_ url: URL) throws -> [String: Tensor] {
        let file: PyTorchFile
        do { file = try PyTorchFile(contentsOf: url) } catch { throw TrainingError("\(error)") }
        guard case .dict(let root) = file.root else { throw TrainingError("\(url.path): not a dict of optimizer states") }
        var moments: [String: Tensor] = [:]
        for (key, networks) in [("gen", [MUNITNetwork.genA, .genB]), ("dis", [.disA, .disB])] {
            let parameters = networks.flatMap { layout.parameters(of: $0) }
            guard case .dict(let optimizer)? = root[key], case .dict(let perParameter)? = optimizer["state"],
                  case .list(let groups)? = optimizer["param_groups"] else {
                throw TrainingError("\(url.path): '\(key)' is not an optimizer state_dict (state, param_groups)")
            }
            // The group's `params` list names each parameter's state key, in parameter order.
            let ids: [PickleValue] = groups.items.flatMap { group -> [PickleValue] in
                guard case .dict(let g) = group, case .list(let params)? = g["params"] else { return [] }
                return params.items
            }
            guard ids.count == parameters.count else {
                throw TrainingError("\(url.path): '\(key)' optimizes \(ids.count) parameters, this config's networks have \(parameters.count)")
            }
            let states = Dictionary(perParameter.items.compactMap { item -> (Int64, PickleDict)? in
                guard case .int(let i) = item.key, case .dict(let d) = item.value else { return nil }
                return (i, d)
            }, uniquingKeysWith: { a, _ in a })
            for (id, parameter) in zip(ids, parameters) {
                guard case .int(let i) = id, let state = states[i] else { continue }
                for (moment, kind) in [("exp_avg", "m"), ("exp_avg_sq", "v")] {
                    guard case .tensor(let ref)? = state[moment] else {
                        throw TrainingError("\(url.path): '\(key)' state \(i) (\(parameter.name)) has no \(moment)")
                    }
                    let tensor = try file.tensor(ref)
                    guard tensor.shape == parameter.shape else {
                        throw TrainingError("\(url.path): '\(key)' \(moment) of \(parameter.name) has shape \(tensor.shape), the parameter \(parameter.shape)")
                    }
                    moments[OptimizerNames.state(kind, parameter.name)] = tensor.converted(to: .f32)
                }
            }
        }
        return moments
    }
}
