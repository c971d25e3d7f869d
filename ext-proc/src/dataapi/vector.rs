//! `$vector` values and similarity. Vectors arrive as a float array or as
//! `{"$binary": base64}` of big-endian float32 (astrapy's default); they are
//! stored as plain arrays, so the Documents API sees ordinary JSON, and the
//! store also keeps them packed beside the document for search
//! ([`crate::store::vectors`]). Search is exact k-nearest-neighbour.

use super::envelope::CmdError;
use base64::Engine;
use serde_json::{json, Value as Json};

/// Largest vector accepted.
pub const MAX_DIMENSION: usize = 4096;

/// A vector from either wire form.
pub fn parse(v: &Json) -> Result<Vec<f32>, CmdError> {
    let bad = |m: String| CmdError::new("SHRED_BAD_VECTOR_VALUE", "DOCUMENT", m);
    let out: Vec<f32> = match v {
        Json::Array(items) => items
            .iter()
            .map(|i| i.as_f64().map(|f| f as f32).ok_or_else(|| bad(format!("$vector holds a non-number: {i}"))))
            .collect::<Result<_, _>>()?,
        Json::Object(m) if m.len() == 1 => {
            let text = m
                .get("$binary")
                .and_then(Json::as_str)
                .ok_or_else(|| bad("$vector object must be {\"$binary\": base64}".into()))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| bad(format!("$vector $binary is not base64: {e}")))?;
            if bytes.len() % 4 != 0 {
                return Err(bad("$vector $binary length is not a multiple of 4 bytes".into()));
            }
            bytes.chunks_exact(4).map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect()
        }
        other => return Err(bad(format!("$vector must be an array of numbers, got {other}"))),
    };
    if out.is_empty() {
        return Err(CmdError::new("SHRED_BAD_VECTOR_SIZE", "DOCUMENT", "$vector must not be empty"));
    }
    // Beyond ±3.4e38 a component becomes infinity (NaN from `$binary`): stored,
    // it would read back as null and drop the document out of every search.
    if let Some(i) = out.iter().position(|f| !f.is_finite()) {
        return Err(bad(format!("$vector component {i} is not a finite 32-bit float (at most ±3.4e38)")));
    }
    if out.len() > MAX_DIMENSION {
        return Err(bad(format!("$vector has {} dimensions, above {MAX_DIMENSION}", out.len())));
    }
    Ok(out)
}

/// The stored (plain array) form.
pub fn to_json(v: &[f32]) -> Json {
    json!(v.iter().map(|f| f64::from(*f)).collect::<Vec<_>>())
}

/// Similarity metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// (1 + cos) / 2.
    Cosine,
    /// (1 + dot) / 2.
    DotProduct,
    /// 1 / (1 + d²).
    Euclidean,
}

impl Metric {
    /// From the collection option's spelling.
    pub fn parse(s: &str) -> Option<Metric> {
        match s {
            "cosine" => Some(Metric::Cosine),
            "dot_product" => Some(Metric::DotProduct),
            "euclidean" => Some(Metric::Euclidean),
            _ => None,
        }
    }

    /// A scorer for stored vectors against `q`: [`Metric::similarity`] with
    /// the query's norm worked out once; vectors of another length score NaN
    /// (never selected).
    pub fn scorer(self, q: Vec<f32>) -> crate::store::vectors::Scorer {
        let nq: f64 = q.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        std::sync::Arc::new(move |v: &[f32]| {
            if v.len() != q.len() {
                return f64::NAN;
            }
            match self {
                Metric::Cosine => {
                    let (mut dot, mut nv) = (0.0f64, 0.0f64);
                    for (x, y) in q.iter().zip(v) {
                        dot += f64::from(*x) * f64::from(*y);
                        nv += f64::from(*y) * f64::from(*y);
                    }
                    if nq == 0.0 || nv == 0.0 {
                        0.0
                    } else {
                        (1.0 + dot / (nq * nv.sqrt())) / 2.0
                    }
                }
                _ => self.similarity(&q, v),
            }
        })
    }

    /// The similarity of two vectors of equal length, higher is closer.
    pub fn similarity(self, a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        match self {
            Metric::DotProduct => (1.0 + dot) / 2.0,
            Metric::Cosine => {
                let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                if na == 0.0 || nb == 0.0 {
                    0.0
                } else {
                    (1.0 + dot / (na * nb)) / 2.0
                }
            }
            Metric::Euclidean => {
                let d2: f64 = a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum();
                1.0 / (1.0 + d2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_big_endian_float32() {
        let bytes: Vec<u8> = [1.0f32, -2.5].iter().flat_map(|f| f.to_be_bytes()).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(parse(&json!({ "$binary": b64 })).unwrap(), vec![1.0, -2.5]);
        assert_eq!(parse(&json!([1, 2])).unwrap(), vec![1.0, 2.0]);
        assert_eq!(parse(&json!([])).unwrap_err().code, "SHRED_BAD_VECTOR_SIZE");
        assert!(parse(&json!(["a"])).is_err());
        // Not a finite float32: 1e39 would become infinity; NaN bytes in $binary.
        assert_eq!(parse(&json!([1e39, 1])).unwrap_err().code, "SHRED_BAD_VECTOR_VALUE");
        let nan = base64::engine::general_purpose::STANDARD.encode(f32::NAN.to_be_bytes());
        assert_eq!(parse(&json!({ "$binary": nan })).unwrap_err().code, "SHRED_BAD_VECTOR_VALUE");
    }

    #[test]
    fn metrics() {
        assert!((Metric::Cosine.similarity(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-9);
        assert!((Metric::Cosine.similarity(&[1.0, 0.0], &[-1.0, 0.0])).abs() < 1e-9);
        assert!((Metric::DotProduct.similarity(&[0.6, 0.8], &[0.6, 0.8]) - 1.0).abs() < 1e-6);
        assert!((Metric::Euclidean.similarity(&[0.0, 0.0], &[1.0, 1.0]) - 1.0 / 3.0).abs() < 1e-9);
        for m in [Metric::Cosine, Metric::DotProduct, Metric::Euclidean] {
            let (q, v) = (vec![0.3f32, -0.5, 0.8], vec![0.1f32, 0.7, 0.2]);
            assert!((m.scorer(q.clone())(&v) - m.similarity(&q, &v)).abs() < 1e-12, "{m:?}");
            assert!(m.scorer(q)(&[1.0]).is_nan());
        }
    }
}
