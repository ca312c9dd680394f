import Foundation
import Testing
@testable import Training

/// The page's SVG loss charts, drawn from `log.jsonl`.
struct LossChartsTests {
    @Test func oneChartPerLoggedValueWithLogScaleWhereTheRangeIsWide() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("munitc-charts-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        let lines = [(10, 100.0, 2.0), (20, 10.0, 1.5), (30, 0.5, 1.0)].map {
            "{\"iteration\":\($0.0),\"gen_total\":\($0.1),\"dis_total\":\($0.2),\"lr\":0.0001}"
        }
        try (lines.joined(separator: "\n") + "\nnot json\n").write(to: url, atomically: true, encoding: .utf8)
        let series = LossCharts.series(log: url)
        #expect(series.map(\.name) == ["dis_total", "gen_total", "lr"], "totals first, lr last")
        #expect(series[1].points.map(\.x) == [10, 20, 30])
        #expect(LossCharts.usesLogScale(series[1].points.map(\.y)), "100 → 0.5 spans 200×")
        #expect(!LossCharts.usesLogScale(series[0].points.map(\.y)))
        let html = LossCharts.html(log: url)
        #expect(html.components(separatedBy: "<svg").count - 1 == 3)
        #expect(html.contains("gen_total (log) = 0.5") && html.contains(">100</text>") && html.contains("<polyline"))
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").count - 1 == 3, "only the SVG namespace")
        #expect(LossCharts.html(log: url.appendingPathExtension("missing")) == "")
    }

    /// A long run's curve is drawn with a bounded number of points, its first and last among them.
    @Test func longCurvesAreThinnedToABoundedPolyline() {
        let points = (1...100_003).map { (x: Double($0), y: 1 / Double($0)) }
        let kept = LossCharts.thinned(points)
        #expect(kept.count <= LossCharts.maximumDrawnPoints && kept.count > LossCharts.maximumDrawnPoints / 2)
        #expect(kept.first?.x == 1 && kept.last?.x == 100_003)
        let svg = LossCharts.svg(LossCharts.Series(name: "gen_total", points: points))
        #expect(svg.components(separatedBy: ",").count - 1 == kept.count, "one x,y pair per drawn point")
        #expect(LossCharts.thinned(Array(points.prefix(10))).count == 10)
    }
}
