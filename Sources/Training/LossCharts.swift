import Foundation

/// The loss curves of `log.jsonl` as small inline SVG charts (one per logged value, the learning rate
/// included), for `images/index.html`: drawn here, so the page needs nothing from the network.
enum LossCharts {
    /// One logged series: iterations and values, in log order.
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    /// The series of a `log.jsonl` (unreadable lines are skipped: the page is a view, not a check).
    static func series(log url: URL) -> [Series] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var byName: [String: Series] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let k = object["iteration"] as? Int else { continue }
            // Not losses: the row's iteration and the job's number of ranks.
            for (name, value) in object where name != "iteration" && name != "ranks" {
                guard let y = (value as? NSNumber)?.doubleValue, y.isFinite else { continue }
                byName[name, default: Series(name: name, points: [])].points.append((Double(k), y))
            }
        }
        // Totals first, then the components by name, the learning rate last.
        let rank = { (name: String) in name == "lr" ? 2 : name.hasSuffix("_total") ? 0 : 1 }
        return byName.values.sorted { (rank($0.name), $0.name) < (rank($1.name), $1.name) }
    }

    static let width = 300.0, height = 170.0
    /// The most points a curve draws: about two per pixel of the plot. A run of NVlabs' length logs 10⁵
    /// rows, and the page is rewritten at every log; without the cap it would grow by megabytes.
    static let maximumDrawnPoints = 512

    /// `points`, every k-th kept (the last always) so that at most `maximumDrawnPoints` remain.
    static func thinned(_ points: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
        guard points.count > maximumDrawnPoints else { return points }
        let stride = (points.count + maximumDrawnPoints - 2) / (maximumDrawnPoints - 1)
        var kept = Swift.stride(from: 0, to: points.count - 1, by: stride).map { points[$0] }
        kept.append(points[points.count - 1])
        return kept
    }
    static let left = 52.0, right = 10.0, top = 22.0, bottom = 24.0

    /// A value as the axes show it: three significant digits.
    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        return abs(v) >= 1e4 || abs(v) < 1e-3 ? String(format: "%.2e", v) : String(format: "%.3g", v)
    }

    /// Log scale when every value is positive and they span more than a factor of 20, where a linear axis
    /// would flatten the tail of a falling loss.
    static func usesLogScale(_ ys: [Double]) -> Bool {
        guard let low = ys.min(), let high = ys.max(), low > 0 else { return false }
        return high / low > 20
    }

    /// One chart: the curve, y ticks (powers of ten on a log scale; min, middle, max otherwise), the first
    /// and last iteration, the title with the newest value.
    static func svg(_ series: Series) -> String {
        let xs = series.points.map(\.x), ys = series.points.map(\.y)
        guard let x0 = xs.min(), let x1 = xs.max(), let yMin = ys.min(), let yMax = ys.max() else { return "" }
        let logScale = usesLogScale(ys)
        let f = { (y: Double) in logScale ? log10(y) : y }
        var (lo, hi) = (f(yMin), f(yMax))
        if hi - lo < 1e-12 { (lo, hi) = (lo - max(abs(lo) * 0.05, 1e-6), hi + max(abs(hi) * 0.05, 1e-6)) }
        let plotW = width - left - right, plotH = height - top - bottom
        let px = { (x: Double) in left + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * plotW }
        let py = { (y: Double) in top + (1 - (f(y) - lo) / (hi - lo)) * plotH }
        let ticks: [Double] = logScale
            ? Array(Int(ceil(lo))...Int(floor(hi))).map { pow(10, Double($0)) } + [yMin, yMax]
            : [yMin, (yMin + yMax) / 2, yMax]
        var svg = String(format: "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">", width, height, width, height)
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"#2b2b2b\"/>"
        svg += "<text x=\"\(left)\" y=\"15\" fill=\"#eee\" font-size=\"13\">\(series.name)\(logScale ? " (log)" : "") = \(label(ys.last!))</text>"
        for tick in Set(ticks).sorted() where f(tick) >= lo - 1e-9 && f(tick) <= hi + 1e-9 {
            let y = py(tick)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", left, y, width - right, y)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" fill=\"#aaa\" font-size=\"10\" text-anchor=\"end\">%@</text>", left - 4, y + 3, label(tick))
        }
        svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#666\"/>", left, top, plotW, plotH)
        for x in Set([x0, x1]).sorted() {
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" fill=\"#aaa\" font-size=\"10\" text-anchor=\"middle\">%d</text>", px(x), height - 8, Int(x))
        }
        let path = thinned(series.points).map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ")
        svg += "<polyline fill=\"none\" stroke=\"#6cf\" stroke-width=\"1.5\" points=\"\(path)\"/>"
        if series.points.count == 1 {
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#6cf\"/>", px(xs[0]), py(ys[0]))
        }
        return svg + "</svg>"
    }

    /// Every chart of `log`, as one HTML block (empty before the first log line).
    static func html(log url: URL) -> String {
        let all = series(log: url)
        guard !all.isEmpty else { return "" }
        return "<div class=\"charts\">" + all.map(svg).joined(separator: "\n") + "</div>\n"
    }
}
