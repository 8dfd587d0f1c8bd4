//! Floats as Python prints (`repr`) and parses (`float()`) them.

/// Appends Python's `repr` of a finite float: `1.0`, `0.0001`, `1e-05`, `1e+16`.
pub(super) fn write_repr(out: &mut String, value: f64) {
    match Digits::parse(&format!("{value:e}")) {
        Some(mut digits) => {
            digits.break_tie_to_even(value);
            digits.write(out);
        }
        // Rust always prints a finite float in the `{:e}` layout; keep its text otherwise.
        None => out.push_str(&value.to_string()),
    }
}

/// Appends a finite `f32` laid out as Python's `repr` lays out floats. Python has no
/// 32-bit floats: these are the shortest digits that read back as the same `f32`.
pub(super) fn write_repr_f32(out: &mut String, value: f32) {
    match Digits::parse(&format!("{value:e}")) {
        Some(digits) => digits.write(out),
        None => out.push_str(&value.to_string()),
    }
}

/// Parses text the way Python's `float()` does: surrounding whitespace is ignored, single
/// underscores may separate digits, and `inf`, `infinity` and `nan` may take any case.
pub(super) fn parse(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.contains('_') {
        without_underscores(text)?.parse().ok()
    } else {
        text.parse().ok()
    }
}

/// Removes underscores that sit between two digits; any other underscore makes the text
/// invalid, as in Python's numeric literals.
pub(super) fn without_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut kept = String::with_capacity(text.len());
    for (i, ch) in text.char_indices() {
        if ch == '_' {
            let before = i.checked_sub(1).and_then(|j| bytes.get(j));
            let after = bytes.get(i + 1);
            if !(before.is_some_and(u8::is_ascii_digit) && after.is_some_and(u8::is_ascii_digit)) {
                return None;
            }
        } else {
            kept.push(ch);
        }
    }
    Some(kept)
}

/// A float's shortest round-trip decimal digits: `d1.d2d3... × 10^exponent`.
struct Digits {
    negative: bool,
    /// ASCII digits, at least one.
    digits: String,
    exponent: i32,
}

impl Digits {
    /// Reads Rust's `{:e}` text of a finite float, such as `-1.5e-7` or `0e0`.
    fn parse(scientific: &str) -> Option<Digits> {
        let (negative, unsigned) = match scientific.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, scientific),
        };
        let (mantissa, exponent) = unsigned.split_once('e')?;
        let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Digits {
            negative,
            digits,
            exponent: exponent.parse().ok()?,
        })
    }

    /// Rust and Python both print the shortest digits that read back as the value, and
    /// of those the closest to it. When two are exactly as close, Rust takes the upper one
    /// and Python (David Gay's `dtoa`) the one whose last digit is even:
    /// 30452248614633.5625 prints as `30452248614633.563` in Rust and
    /// `30452248614633.562` in Python. This picks Python's.
    fn break_tie_to_even(&mut self, value: f64) {
        let Some(last) = self.digits.bytes().last() else {
            return;
        };
        if (last - b'0') % 2 == 0 {
            return;
        }
        let mut lower = self.digits.clone();
        lower.pop();
        lower.push(char::from(last - 1));
        // The power of ten of the last digit.
        let scale = self.exponent - (self.digits.len() as i32 - 1);
        let sign = if self.negative { "-" } else { "" };
        if format!("{sign}{lower}e{scale}").parse::<f64>().ok() != Some(value) {
            return;
        }
        let midpoint = lower
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(10)?.checked_add(5));
        if midpoint.is_some_and(|m| is_exactly(value.abs(), m, scale - 1)) {
            while lower.len() > 1 && lower.ends_with('0') {
                lower.pop();
            }
            self.digits = lower;
        }
    }

    /// Writes the digits in Python's layout: exponent form when the exponent is below -4
    /// or at least 16, with a sign and at least two exponent digits (`1.5e-07`, `1e+16`);
    /// otherwise positional, with `.0` after whole numbers (`100.0`).
    fn write(&self, out: &mut String) {
        let digits = self.digits.as_str();
        if self.negative {
            out.push('-');
        }
        let len = digits.len() as i32;
        // How many digits come before the decimal point; negative for leading zeros.
        let point = self.exponent + 1;
        if !(-4 < point && point <= 16) {
            let (first, rest) = digits.split_at(1);
            out.push_str(first);
            if !rest.is_empty() {
                out.push('.');
                out.push_str(rest);
            }
            out.push_str(if self.exponent < 0 { "e-" } else { "e+" });
            let magnitude = self.exponent.unsigned_abs();
            if magnitude < 10 {
                out.push('0');
            }
            out.push_str(&magnitude.to_string());
        } else if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.push_str(digits);
        } else if point < len {
            let (whole, fraction) = digits.split_at(point as usize);
            out.push_str(whole);
            out.push('.');
            out.push_str(fraction);
        } else {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', (point - len) as usize));
            out.push_str(".0");
        }
    }
}

/// Whether the positive finite `x` equals `n × 10^k` exactly, in integer arithmetic.
fn is_exactly(x: f64, n: u64, k: i32) -> bool {
    // x = m × 2^q with m odd.
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mut m, mut q) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    if m == 0 || n == 0 {
        return m == 0 && n == 0;
    }
    q += m.trailing_zeros() as i32;
    m >>= m.trailing_zeros();
    // n × 10^k = odd × 5^k × 2^(k + twos), with odd × 5^k odd.
    let twos = n.trailing_zeros() as i32;
    let mut odd = u128::from(n >> twos);
    if k >= 0 {
        for _ in 0..k {
            match odd.checked_mul(5) {
                Some(next) if next <= u128::from(m) => odd = next,
                _ => return false,
            }
        }
    } else {
        for _ in 0..k.unsigned_abs() {
            if odd % 5 != 0 {
                return false;
            }
            odd /= 5;
        }
    }
    odd == u128::from(m) && q == k + twos
}

#[cfg(test)]
mod tests {
    use super::{is_exactly, write_repr};

    fn repr(value: f64) -> String {
        let mut out = String::new();
        write_repr(&mut out, value);
        out
    }

    #[test]
    #[allow(
        clippy::excessive_precision,
        reason = "the exact values show that they are ties"
    )]
    fn ties_go_to_the_even_digit_as_in_python() {
        // Expected values from Python 3's repr; Rust's shortest form ends in 3.
        assert_eq!(repr(-30452248614633.5625), "-30452248614633.562");
        assert_eq!(repr(17778870958487.0625), "17778870958487.062");
        assert_eq!(repr(2136469885998871.25), "2136469885998871.2");
        assert_eq!(repr(99820559049619.625), "99820559049619.62");
        // Not ties: unchanged.
        assert_eq!(repr(0.3), "0.3");
        assert_eq!(repr(5e-324), "5e-324");
        assert_eq!(repr(1.7976931348623157e308), "1.7976931348623157e+308");
    }

    #[test]
    fn exactness_check() {
        assert!(is_exactly(0.5, 5, -1));
        assert!(is_exactly(1.0, 1, 0));
        assert!(is_exactly(1000.0, 1, 3));
        assert!(is_exactly(1000.0, 100, 1));
        assert!(is_exactly(0.625, 625, -3));
        assert!(!is_exactly(0.1, 1, -1));
        assert!(!is_exactly(1e300, 1, 300));
        assert!(is_exactly(9007199254740992.0, 9007199254740992, 0));
        assert!(!is_exactly(5e-324, 5, -324));
    }
}
