//! How figures are written: durations in µs or ms, rates with thousands separators.
//!
//! Also compiled into the `asyncio_bridge` bench (`#[path]`), so it may name nothing of this one.

use std::time::Duration;

/// `12.3 µs` below a millisecond, `1.23 ms` from there on.
pub(crate) fn time(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 { format!("{micros:.1} µs") } else { format!("{:.2} ms", micros / 1000.0) }
}

/// A rate with thousands separators: `123,456 calls/s`.
pub(crate) fn rate(per_second: f64, unit: &str) -> String {
    let digits = format!("{:.0}", per_second.max(0.0));
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped} {unit}")
}
