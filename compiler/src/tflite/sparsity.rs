//! Decoding TFLite's sparse tensor format (a variant of TACO: per-dimension dense or CSR
//! metadata in a traversal order, optionally blocked) into dense bytes, as TFLite's
//! `FormatConverter::SparseToDense` does for DENSIFY.
//!
//! Every index read from the file is bounds-checked; the walk stops with an error as soon as it
//! would read past the stored values or write outside the dense tensor.

/// One traversal level's metadata.
#[derive(Clone, Debug)]
pub(crate) enum Level {
    /// Every index `0..size` is present.
    Dense { size: usize },
    /// Compressed: `segments[p]..segments[p+1]` index into `indices` for parent position `p`.
    Sparse {
        segments: Vec<usize>,
        indices: Vec<usize>,
    },
}

/// Sparsity parameters, decoded from the FlatBuffer.
#[derive(Clone, Debug)]
pub(crate) struct Sparsity {
    pub traversal_order: Vec<usize>,
    pub block_map: Vec<usize>,
    pub levels: Vec<Level>,
}

/// Decodes `values` (elements of `elem` bytes, in storage order) into a dense tensor of `shape`.
pub(crate) fn densify(
    sp: &Sparsity,
    shape: &[usize],
    values: &[u8],
    elem: usize,
) -> Result<Vec<u8>, String> {
    let n = shape.len();
    let k = sp.block_map.len();
    if sp.traversal_order.len() != n + k || sp.levels.len() != n + k {
        return Err(format!(
            "sparsity: traversal order has {} entries and {} dimension metadata for rank {n} with {k} block dimensions",
            sp.traversal_order.len(),
            sp.levels.len()
        ));
    }
    if n + k > 12 {
        return Err("sparsity: too many dimensions".into());
    }
    let mut seen = vec![false; n + k];
    for &d in &sp.traversal_order {
        if d >= n + k || std::mem::replace(&mut seen[d], true) {
            return Err("sparsity: traversal order is not a permutation".into());
        }
    }
    if sp.traversal_order[..n].iter().any(|&d| d >= n) {
        return Err("sparsity: the first traversal dimensions must be the tensor's".into());
    }
    for &b in &sp.block_map {
        if b >= n {
            return Err("sparsity: block map names a dimension out of range".into());
        }
    }
    // Block sizes are the dense sizes of the block levels.
    let mut block_size = vec![1usize; k];
    for (level, &d) in sp.traversal_order.iter().enumerate() {
        if d >= n {
            match &sp.levels[level] {
                Level::Dense { size } => block_size[d - n] = *size,
                Level::Sparse { .. } => {
                    return Err("sparsity: block dimensions must be dense".into())
                }
            }
        }
    }
    let total: usize = shape.iter().product();
    let mut out = vec![0u8; total * elem];
    let count = values.len() / elem;
    let mut src = 0usize;
    let mut idx = vec![0usize; n + k];
    // Explicit stack of (level, parent position, next child cursor, end).
    struct Frame {
        level: usize,
        cur: usize,
        end: usize,
        prev: usize,
    }
    let frame_for = |level: usize, prev: usize| -> Result<Frame, String> {
        match &sp.levels[level] {
            Level::Dense { size } => Ok(Frame {
                level,
                cur: 0,
                end: *size,
                prev,
            }),
            Level::Sparse { segments, indices } => {
                let (a, b) = match (segments.get(prev), segments.get(prev + 1)) {
                    (Some(&a), Some(&b)) if a <= b && b <= indices.len() => (a, b),
                    _ => return Err("sparsity: array segments out of range".into()),
                };
                Ok(Frame {
                    level,
                    cur: a,
                    end: b,
                    prev,
                })
            }
        }
    };
    let mut stack = vec![frame_for(0, 0)?];
    while let Some(top) = stack.last_mut() {
        if top.cur >= top.end {
            stack.pop();
            continue;
        }
        let level = top.level;
        let here = top.cur;
        top.cur += 1;
        let (i, pos) = match &sp.levels[level] {
            Level::Dense { size } => (here, top.prev * size + here),
            Level::Sparse { indices, .. } => (indices[here], here),
        };
        idx[level] = i;
        if level + 1 < n + k {
            stack.push(frame_for(level + 1, pos)?);
            continue;
        }
        // A leaf: map traversal indices back to the dense index.
        let mut orig = vec![0usize; n];
        for (l, &d) in sp.traversal_order.iter().enumerate().take(n) {
            orig[d] = idx[l];
        }
        for (l, &d) in sp.traversal_order.iter().enumerate().skip(n) {
            let b = d - n;
            let dim = sp.block_map[b];
            orig[dim] = orig[dim] * block_size[b] + idx[l];
        }
        let mut flat = 0usize;
        for (d, &o) in orig.iter().enumerate() {
            if o >= shape[d] {
                return Err("sparsity: an index is outside the dense shape".into());
            }
            flat = flat * shape[d] + o;
        }
        if src >= count {
            return Err(
                "sparsity: the metadata addresses more values than the buffer holds".into(),
            );
        }
        out[flat * elem..(flat + 1) * elem].copy_from_slice(&values[src * elem..(src + 1) * elem]);
        src += 1;
    }
    if src != count {
        return Err(format!(
            "sparsity: the buffer holds {count} values, the metadata uses {src}"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_matrix() {
        // [[1,0,0],[0,0,2]] in CSR: dense rows, sparse columns.
        let sp = Sparsity {
            traversal_order: vec![0, 1],
            block_map: vec![],
            levels: vec![
                Level::Dense { size: 2 },
                Level::Sparse {
                    segments: vec![0, 1, 2],
                    indices: vec![0, 2],
                },
            ],
        };
        let out = densify(&sp, &[2, 3], &[1, 2], 1).unwrap();
        assert_eq!(out, vec![1, 0, 0, 0, 0, 2]);
    }

    #[test]
    fn hostile_segments_are_rejected() {
        let sp = Sparsity {
            traversal_order: vec![0, 1],
            block_map: vec![],
            levels: vec![
                Level::Dense { size: 2 },
                Level::Sparse {
                    segments: vec![0, 5, 2],
                    indices: vec![0, 2],
                },
            ],
        };
        assert!(densify(&sp, &[2, 3], &[1, 2], 1).is_err());
    }
}
