//! Exact decimals for `decimal` and `varint` columns. JSON numbers cannot
//! carry them without rounding, so they travel as strings; here they are
//! parsed, compared numerically (SQLite's collation) and converted to and
//! from PostgreSQL's binary `numeric`. Pure.

use std::cmp::Ordering;

/// Most digits a value may have (PostgreSQL's `numeric` allows far more; this bounds work per value).
const MAX_DIGITS: usize = 1000;

/// `unscaled × 10^-scale`, with the scale the client gave (1.50 keeps two places).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    /// Unscaled digits without leading zeros ("0" for zero).
    digits: String,
    scale: usize,
}

impl Decimal {
    /// Parses `[+-]digits[.digits][e[+-]digits]`.
    pub fn parse(text: &str) -> Result<Decimal, String> {
        let bad = || format!("'{text}' is not a decimal number");
        let t = text.trim();
        let (negative, t) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], t[i + 1..].parse::<i64>().map_err(|_| bad())?),
            None => (t, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if (int.is_empty() && frac.is_empty()) || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if int.len() + frac.len() > MAX_DIGITS || exp.unsigned_abs() > MAX_DIGITS as u64 {
            return Err(format!("'{text}' has more than {MAX_DIGITS} digits"));
        }
        let mut digits = format!("{int}{frac}");
        let mut scale = frac.len() as i64 - exp;
        if scale < 0 {
            digits.extend(std::iter::repeat_n('0', (-scale) as usize));
            scale = 0;
        }
        let digits = digits.trim_start_matches('0');
        let digits = if digits.is_empty() { "0".to_owned() } else { digits.to_owned() };
        if digits.len() > MAX_DIGITS + 1 {
            return Err(format!("'{text}' has more than {MAX_DIGITS} digits"));
        }
        let negative = negative && digits != "0";
        Ok(Decimal { negative, digits, scale: scale as usize })
    }

    /// Whether the value is a whole number written without a fraction (for `varint`).
    pub fn is_integer(&self) -> bool {
        self.scale == 0
    }

    /// Integer and fraction digits (the integer part without leading zeros, "0" if none).
    fn parts(&self) -> (String, String) {
        let padded = if self.digits.len() <= self.scale {
            format!("{}{}", "0".repeat(self.scale + 1 - self.digits.len()), self.digits)
        } else {
            self.digits.clone()
        };
        let (int, frac) = padded.split_at(padded.len() - self.scale);
        (int.to_owned(), frac.to_owned())
    }

    /// Numeric order (scale ignored: 1.5 == 1.50).
    pub fn cmp_value(&self, other: &Decimal) -> Ordering {
        let zero = |d: &Decimal| d.digits == "0";
        match (self.negative, other.negative) {
            (false, true) => return if zero(self) && zero(other) { Ordering::Equal } else { Ordering::Greater },
            (true, false) => return Ordering::Less,
            _ => {}
        }
        let ((ai, af), (bi, bf)) = (self.parts(), other.parts());
        let width = af.len().max(bf.len());
        let magnitude = ai
            .len()
            .cmp(&bi.len())
            .then_with(|| ai.cmp(&bi))
            .then_with(|| format!("{af:0<width$}").cmp(&format!("{bf:0<width$}")));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }

    /// PostgreSQL's binary `numeric`: ndigits, weight, sign, dscale, then base-10000 digits.
    pub fn to_pg(&self) -> Vec<u8> {
        let (int, frac) = self.parts();
        let int_pad = (4 - int.len() % 4) % 4;
        let frac_pad = (4 - frac.len() % 4) % 4;
        let all = format!("{}{int}{frac}{}", "0".repeat(int_pad), "0".repeat(frac_pad));
        let mut groups: Vec<i16> =
            all.as_bytes().chunks(4).map(|c| c.iter().fold(0i16, |a, d| a * 10 + i16::from(d - b'0'))).collect();
        let mut weight = ((int.len() + int_pad) / 4) as i16 - 1;
        while groups.first() == Some(&0) {
            groups.remove(0);
            weight -= 1;
        }
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        let mut out = Vec::with_capacity(8 + groups.len() * 2);
        out.extend((groups.len() as i16).to_be_bytes());
        out.extend(weight.to_be_bytes());
        out.extend((if self.negative { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend((self.scale as u16).to_be_bytes());
        for g in groups {
            out.extend(g.to_be_bytes());
        }
        out
    }

    /// Reads PostgreSQL's binary `numeric`.
    pub fn from_pg(raw: &[u8]) -> Result<Decimal, String> {
        let word = |i: usize| raw.get(i..i + 2).map(|b| i16::from_be_bytes([b[0], b[1]])).ok_or("short numeric");
        let (n, weight, sign, dscale) = (word(0)?, word(2)?, word(4)? as u16, word(6)? as u16);
        if sign == 0xC000 {
            return Err("NaN is not a decimal".to_owned());
        }
        let groups: Vec<i16> = (0..n.max(0) as usize).map(|i| word(8 + 2 * i)).collect::<Result<_, _>>()?;
        // Digit string aligned so that group `weight` ends at the decimal point.
        let mut int = String::new();
        let mut frac = String::new();
        for (i, g) in groups.iter().enumerate() {
            let pos = weight as i64 - i as i64; // >= 0: integer part
            let text = format!("{g:04}");
            if pos >= 0 {
                int.push_str(&text);
            } else {
                if frac.is_empty() {
                    frac.push_str(&"0000".repeat((-pos - 1) as usize));
                }
                frac.push_str(&text);
            }
        }
        let int_groups = groups.len() as i64;
        if weight as i64 >= int_groups {
            int.push_str(&"0000".repeat((weight as i64 + 1 - int_groups) as usize));
        }
        let dscale = dscale as usize;
        let frac = if frac.len() >= dscale { frac[..dscale].to_owned() } else { format!("{frac:0<dscale$}") };
        let sign = if sign == 0x4000 { "-" } else { "" };
        let int = if int.is_empty() { "0".to_owned() } else { int };
        let text = if dscale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") };
        Decimal::parse(&text)
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (int, frac) = self.parts();
        let sign = if self.negative { "-" } else { "" };
        if frac.is_empty() {
            write!(f, "{sign}{int}")
        } else {
            write!(f, "{sign}{int}.{frac}")
        }
    }
}

/// SQLite collation for decimal columns: numeric order; text that does not
/// parse (never stored by us) sorts after numbers, bytewise.
pub fn collate(a: &str, b: &str) -> Ordering {
    match (Decimal::parse(a), Decimal::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp_value(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parse_and_print_keep_every_digit() {
        for (input, out) in [
            (
                "12345678901234567890.123456789012345678901234567890",
                "12345678901234567890.123456789012345678901234567890",
            ),
            ("-0.000100", "-0.000100"),
            ("1.50", "1.50"),
            ("1e3", "1000"),
            ("1.25E-2", "0.0125"),
            ("-0", "0"),
            ("007", "7"),
            (".5", "0.5"),
        ] {
            assert_eq!(d(input).to_string(), out, "{input}");
        }
        for bad in ["", "-", "1.2.3", "abc", "1e", "0x10", "1_000", "1e99999"] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
        assert!(d("1e2").is_integer());
        assert!(!d("1.0").is_integer());
    }

    #[test]
    fn numeric_order() {
        let sorted = [
            "-10",
            "-9.5",
            "-0.001",
            "0",
            "0.000",
            "0.5",
            "1.5",
            "1.50",
            "9.99",
            "10",
            "123456789012345678901234567890",
        ];
        for w in sorted.windows(2) {
            assert_ne!(collate(w[0], w[1]), Ordering::Greater, "{} <= {}", w[0], w[1]);
            assert_eq!(collate(w[1], w[0]), collate(w[0], w[1]).reverse());
        }
        assert_eq!(collate("1.5", "1.50"), Ordering::Equal);
        assert_eq!(collate("-0", "0"), Ordering::Equal);
    }

    #[test]
    fn postgres_binary_round_trip() {
        for s in [
            "0",
            "1",
            "-1",
            "10000",
            "0.0001",
            "12345.678",
            "-98765432109876543210.0123456789",
            "1.50",
            "0.000",
            "100000000",
        ] {
            let v = d(s);
            assert_eq!(Decimal::from_pg(&v.to_pg()).unwrap(), v, "{s}");
        }
        // 12345.678 is weight 1, groups [1, 2345, 6780], dscale 3.
        assert_eq!(d("12345.678").to_pg(), vec![0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]);
    }
}
