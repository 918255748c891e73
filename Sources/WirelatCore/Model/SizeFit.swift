/// Which statistic of each sweep point the size fit uses.
public enum FitStatistic: String, Codable, Sendable, CaseIterable {
    /// The median round trip: a stall of the scheduler in one run does not tilt the line.
    case p50
    /// The mean round trip: what the throughput arithmetic sees, outliers included.
    case mean
}

/// One payload size of a `client --sweep` report.
public struct SizePoint: Codable, Equatable, Sendable {
    /// The request's payload (`--length`); the request carries 12 bytes more, the reply is 4 bytes.
    public var payloadBytes: Double
    public var rttNanoseconds: Double
    public var samples: UInt64

    public init(payloadBytes: Double, rttNanoseconds: Double, samples: UInt64 = 0) {
        self.payloadBytes = payloadBytes
        self.rttNanoseconds = rttNanoseconds
        self.samples = samples
    }

    enum CodingKeys: String, CodingKey {
        case payloadBytes = "payload_bytes", rttNanoseconds = "rtt_ns", samples
    }
}

/// RTT(payload) = base + payload × per-byte cost, by ordinary least squares, each
/// sweep point counting once.
///
/// The x axis is the request's payload (`client --length`), so `base` is the round trip
/// of a request with no payload: its 12-byte header and the 4-byte reply still cross.
/// Fitted against the request's 12 + length bytes instead, the slope is the same and the
/// intercept is `base − 12 × perByte`. The bandwidth the line implies, 1 / per-byte cost,
/// is the rate at which the extra request bytes cross: one direction's payload.
public struct SizeFit: Equatable, Sendable {
    public var baseNanoseconds: Double
    public var perByteNanoseconds: Double
    /// Coefficient of determination, 1 − SS_res / SS_tot; 1 when the points lie on the line.
    public var rSquared: Double
    public var statistic: FitStatistic
    public var points: [SizePoint]

    /// Bytes per second the per-byte cost implies; nil unless the cost is positive.
    public var bandwidthBytesPerSecond: Double? {
        perByteNanoseconds > 0 ? TransactionModel.nanosecondsPerSecond / perByteNanoseconds : nil
    }

    public func rttNanoseconds(payloadBytes: Double) -> Double {
        baseNanoseconds + payloadBytes * perByteNanoseconds
    }

    /// Fits the line through `points`; needs two or more distinct payload sizes.
    public static func leastSquares(_ points: [SizePoint], statistic: FitStatistic = .p50) throws(ModelError) -> SizeFit {
        guard let first = points.first, points.contains(where: { $0.payloadBytes != first.payloadBytes }) else {
            throw ModelError("a size fit needs a sweep of two or more payload sizes, e.g. client --sweep 0,1000,8000")
        }
        let n = Double(points.count)
        let meanX = points.reduce(0) { $0 + $1.payloadBytes } / n
        let meanY = points.reduce(0) { $0 + $1.rttNanoseconds } / n
        var sxx = 0.0, sxy = 0.0, syy = 0.0
        for p in points {
            let dx = p.payloadBytes - meanX, dy = p.rttNanoseconds - meanY
            sxx += dx * dx
            sxy += dx * dy
            syy += dy * dy
        }
        let slope = sxy / sxx
        let intercept = meanY - slope * meanX
        var residual = 0.0
        for p in points {
            let e = p.rttNanoseconds - (intercept + slope * p.payloadBytes)
            residual += e * e
        }
        // Relative to the spread of the RTTs; a residual at rounding level is an exact fit.
        let exact = residual <= 1e-18 * max(syy, meanY * meanY)
        let r2 = exact ? 1 : (syy > 0 ? max(0, 1 - residual / syy) : 0)
        return SizeFit(baseNanoseconds: intercept, perByteNanoseconds: slope, rSquared: r2, statistic: statistic,
                       points: points)
    }
}

