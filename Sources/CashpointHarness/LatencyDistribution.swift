import Foundation
import Histogram

/// A load's latency distribution as testers' tools read it: HdrHistogram's percentile-distribution
/// text (`--hgrm FILE`: what wrk2 prints and HdrHistogram's plotter reads) and an SVG chart of it
/// (`--plot FILE.svg`: latency against percentile, the percentile axis on a log scale of 1/(1-p), so
/// the tail gets as much room as the median).
extension LoadStatistics {
    /// HdrHistogram's percentile distribution, values in milliseconds, five ticks per half distance.
    public var percentileDistribution: String {
        var text = ""
        self.latency.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1000)
        return text
    }

    /// The distribution's points: (percentile 0-100, latency in milliseconds), in order.
    public var percentilePoints: [(percentile: Double, milliseconds: Double)] {
        guard self.answered > 0 else { return [] }
        return self.latency.percentiles(ticksPerHalfDistance: 5).map {
            (percentile: $0.percentileLevelIteratedTo, milliseconds: Double($0.value) / 1000)
        }
    }
}

/// The SVG chart of a latency distribution: a pure function of its points.
public enum LatencyPlot {
    /// The percentiles marked on the horizontal axis.
    static let marks: [(percentile: Double, label: String)] = [
        (0, "0%"), (90, "90%"), (99, "99%"), (99.9, "99.9%"), (99.99, "99.99%"), (99.999, "99.999%"),
    ]

    /// Where a percentile sits on the axis: log10 of 1/(1-p), so 90% is 1, 99% is 2, 99.9% is 3.
    static func position(_ percentile: Double) -> Double {
        log10(1 / max(1e-6, 1 - min(percentile, 99.9999) / 100))
    }

    /// An SVG document (width × height pixels) titled `title`; a chart that says so when there are no points.
    public static func svg(
        _ points: [(percentile: Double, milliseconds: Double)],
        title: String,
        width: Int = 800,
        height: Int = 480
    ) -> String {
        let (left, right, top, bottom) = (70.0, 20.0, 40.0, 50.0)
        let plotWidth = Double(width) - left - right
        let plotHeight = Double(height) - top - bottom
        // The axis ends a decade past the last percentile below 100% (where the samples run out); the
        // 100% point, the maximum, is drawn at its end.
        let widest = max(self.position(points.last { $0.percentile < 100 }?.percentile ?? 99) + 1, 3)
        let highest = Self.roundedUp(points.map(\.milliseconds).max() ?? 1)
        func x(_ percentile: Double) -> Double { left + min(self.position(percentile), widest) / widest * plotWidth }
        func y(_ milliseconds: Double) -> Double { top + plotHeight - milliseconds / highest * plotHeight }
        var svg = [
            #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" font-family="sans-serif" font-size="12">"#,
            #"<rect width="100%" height="100%" fill="white"/>"#,
            #"<text x="\#(left)" y="24" font-size="14">\#(Self.escaped(title))</text>"#,
            #"<line x1="\#(left)" y1="\#(top + plotHeight)" x2="\#(left + plotWidth)" y2="\#(top + plotHeight)" stroke="black"/>"#,
            #"<line x1="\#(left)" y1="\#(top)" x2="\#(left)" y2="\#(top + plotHeight)" stroke="black"/>"#,
        ]
        for mark in self.marks where self.position(mark.percentile) <= widest {
            let at = Self.format(x(mark.percentile))
            svg.append(#"<line x1="\#(at)" y1="\#(top)" x2="\#(at)" y2="\#(top + plotHeight)" stroke="gainsboro"/>"#)
            svg.append(#"<text x="\#(at)" y="\#(top + plotHeight + 18)" text-anchor="middle">\#(mark.label)</text>"#)
        }
        for step in 0...4 {
            let value = highest * Double(step) / 4
            let at = Self.format(y(value))
            svg.append(#"<line x1="\#(left)" y1="\#(at)" x2="\#(left + plotWidth)" y2="\#(at)" stroke="gainsboro"/>"#)
            svg.append(#"<text x="\#(left - 6)" y="\#(at)" text-anchor="end" dominant-baseline="middle">\#(Self.format(value))</text>"#)
        }
        svg.append(
            #"<text x="\#(left + plotWidth / 2)" y="\#(Double(height) - 10)" text-anchor="middle">percentile</text>"#
        )
        svg.append(
            #"<text x="16" y="\#(top + plotHeight / 2)" text-anchor="middle" transform="rotate(-90 16 \#(top + plotHeight / 2))">latency (ms)</text>"#
        )
        if points.isEmpty {
            svg.append(#"<text x="\#(left + plotWidth / 2)" y="\#(top + plotHeight / 2)" text-anchor="middle">no answered request</text>"#)
        } else {
            let line = points.map { "\(Self.format(x($0.percentile))),\(Self.format(y($0.milliseconds)))" }
            svg.append(#"<polyline fill="none" stroke="steelblue" stroke-width="2" points="\#(line.joined(separator: " "))"/>"#)
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// The axis's top: 1, 2 or 5 times a power of ten, at least `value`.
    static func roundedUp(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let power = pow(10, floor(log10(value)))
        return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= value } ?? 10 * power
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
