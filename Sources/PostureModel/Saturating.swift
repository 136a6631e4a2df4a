/// Arithmetic on values that crossed a trust boundary: Swift traps on overflow, and a trap in the
/// collector is a denial of service for the whole fleet. These clamp instead.
extension Double {
    /// The nearest `Int`, clamped to `Int.min…Int.max`; NaN is 0. `Int(self)` traps outside that range.
    public var saturatingInt: Int {
        guard !isNaN else { return 0 }
        if self >= 9.2e18 { return Int.max }
        if self <= -9.2e18 { return Int.min }
        return Int(self.rounded(.towardZero))
    }
}

extension Int {
    /// `self + other`, clamped to `Int.min…Int.max`.
    public func saturatingAdd(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self * other`, clamped to `Int.min…Int.max`.
    public func saturatingMultiply(_ other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? ((self < 0) == (other < 0) ? .max : .min) : product
    }
}

extension Sequence where Element == Int {
    /// The sum, clamped to `Int.min…Int.max` instead of trapping.
    public func saturatingSum() -> Int { reduce(0) { $0.saturatingAdd($1) } }
}
