//! Reading and writing NumPy `.npy` files (format versions 1–3, little-endian, C order).

use crate::ir::DType;

/// An array read from or written to `.npy`.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// Element type.
    pub dtype: DType,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// Little-endian element bytes, C order.
    pub data: Vec<u8>,
}

fn descr(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "<f4",
        DType::F16 => "<f2",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::Bool => "|b1",
    }
}

fn parse_descr(d: &str) -> Option<DType> {
    Some(match d {
        "<f4" => DType::F32,
        "<f2" => DType::F16,
        "|i1" | "<i1" | "i1" => DType::I8,
        "|u1" | "<u1" | "u1" => DType::U8,
        "<i2" => DType::I16,
        "<i4" => DType::I32,
        "<i8" => DType::I64,
        "|b1" | "<b1" => DType::Bool,
        _ => return None,
    })
}

/// Serializes an array as `.npy` (version 1.0).
pub fn write(a: &NpyArray) -> Vec<u8> {
    let shape = match a.shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", a.shape[0]),
        _ => format!(
            "({})",
            a.shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        descr(a.dtype),
        shape
    );
    // Magic (6) + version (2) + header length (2) + header + '\n', padded to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + a.data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&a.data);
    out
}

fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let k = header.find(&format!("'{key}'"))?;
    let rest = &header[k + key.len() + 2..];
    let colon = rest.find(':')?;
    Some(rest[colon + 1..].trim_start())
}

/// Parses `.npy` bytes.
///
/// # Errors
/// A message naming what is wrong (not `.npy`, unsupported dtype, Fortran order, size mismatch).
pub fn read(bytes: &[u8]) -> Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic)".into());
    }
    let (hlen, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated .npy header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or("truncated .npy header")?;
    let header =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| "the .npy header is not text")?;
    let d = dict_value(header, "descr").ok_or("the .npy header has no descr")?;
    let d = d.trim_start_matches('\'');
    let d = &d[..d.find('\'').ok_or("bad descr")?];
    let dtype = parse_descr(d).ok_or_else(|| format!("unsupported .npy dtype {d}"))?;
    let fo = dict_value(header, "fortran_order").ok_or("the .npy header has no fortran_order")?;
    if fo.starts_with("True") {
        return Err("Fortran-order .npy arrays are not supported".into());
    }
    let s = dict_value(header, "shape").ok_or("the .npy header has no shape")?;
    let s = s.strip_prefix('(').ok_or("bad shape")?;
    let s = &s[..s.find(')').ok_or("bad shape")?];
    let mut shape = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        shape.push(
            part.parse::<usize>()
                .map_err(|_| format!("bad dimension {part}"))?,
        );
    }
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape overflows")?;
    let want = count.checked_mul(dtype.size()).ok_or("shape overflows")?;
    let data = &bytes[end..];
    if data.len() != want {
        return Err(format!(
            "the .npy data has {} bytes, its shape needs {want}",
            data.len()
        ));
    }
    Ok(NpyArray {
        dtype,
        shape,
        data: data.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let a = NpyArray {
            dtype: DType::I8,
            shape: vec![2, 3],
            data: vec![1, 2, 3, 4, 5, 255],
        };
        let bytes = write(&a);
        assert_eq!((bytes.len() - a.data.len()) % 64, 0);
        assert_eq!(read(&bytes).unwrap(), a);
        let s = NpyArray {
            dtype: DType::F32,
            shape: vec![],
            data: 1.5f32.to_le_bytes().to_vec(),
        };
        assert_eq!(read(&write(&s)).unwrap(), s);
    }
}
