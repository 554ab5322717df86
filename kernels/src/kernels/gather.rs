//! GATHER (TFLite `reference_ops::Gather` with `axis` and `batch_dims`).
//!
//! The params tensor is viewed as `[batch, outer, axis_size, inner]` and the indices as
//! `[batch, coords]`; the output is `[batch, outer, coords, inner]`:
//! `out[b][o][i][..] = params[b][o][indices[b][i]][..]`.
//!
//! Indices are data, so they can be out of range at run time. TFLite's kernel then fails the
//! invocation; this kernel does the same: it stops at the first index outside `[0, axis_size)` and
//! returns [`IndexOutOfRange`] (the output is then only partly written). It never reads outside
//! `params`. The compiler rejects out-of-range indices in a constant indices operand.

/// Sizes of the gather view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatherParams {
    /// Product of the leading `batch_dims` dimensions (shared by params and indices).
    pub batch: usize,
    /// Product of the params dimensions between the batch dimensions and the axis.
    pub outer: usize,
    /// Size of the gathered axis.
    pub axis_size: usize,
    /// Product of the params dimensions after the axis.
    pub inner: usize,
    /// Number of indices per batch (product of the indices dimensions after the batch ones).
    pub coords: usize,
}

impl GatherParams {
    /// Number of elements of the params operand.
    pub fn params_len(&self) -> usize {
        self.batch * self.outer * self.axis_size * self.inner
    }

    /// Number of indices.
    pub fn indices_len(&self) -> usize {
        self.batch * self.coords
    }

    /// Number of output elements.
    pub fn out_len(&self) -> usize {
        self.batch * self.outer * self.coords * self.inner
    }
}

/// An index outside `[0, axis_size)` met at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexOutOfRange {
    /// Position of the index in the indices tensor.
    pub position: usize,
    /// Its value.
    pub index: i64,
}

/// An integer type GATHER accepts as indices (`i32`, `i64`).
pub trait GatherIndex: Copy {
    /// The index, widened.
    fn to_i64(self) -> i64;
}

impl GatherIndex for i32 {
    #[inline]
    fn to_i64(self) -> i64 {
        i64::from(self)
    }
}

impl GatherIndex for i64 {
    #[inline]
    fn to_i64(self) -> i64 {
        self
    }
}

/// Gathers slices of `params` selected by `indices` into `output`.
///
/// # Errors
/// [`IndexOutOfRange`] for the first index outside `[0, axis_size)`; see the module docs.
pub fn gather<T: Copy, I: GatherIndex>(
    p: &GatherParams,
    params: &[T],
    indices: &[I],
    output: &mut [T],
) -> Result<(), IndexOutOfRange> {
    let n = p.inner;
    for b in 0..p.batch {
        for o in 0..p.outer {
            for i in 0..p.coords {
                let position = b * p.coords + i;
                let index = indices[position].to_i64();
                if index < 0 || index >= p.axis_size as i64 {
                    return Err(IndexOutOfRange { position, index });
                }
                let src = ((b * p.outer + o) * p.axis_size + index as usize) * n;
                let dst = ((b * p.outer + o) * p.coords + i) * n;
                output[dst..dst + n].copy_from_slice(&params[src..src + n]);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_rows() {
        // params [3,2], indices [2] = [2, 0], axis 0.
        let params = [1, 2, 3, 4, 5, 6];
        let p = GatherParams {
            batch: 1,
            outer: 1,
            axis_size: 3,
            inner: 2,
            coords: 2,
        };
        let mut out = [0; 4];
        gather(&p, &params, &[2i32, 0], &mut out).unwrap();
        assert_eq!(out, [5, 6, 1, 2]);
    }

    #[test]
    fn gather_with_batch_dims() {
        // params [2,3], indices [2,1], axis 1, batch_dims 1.
        let params = [1, 2, 3, 4, 5, 6];
        let p = GatherParams {
            batch: 2,
            outer: 1,
            axis_size: 3,
            inner: 1,
            coords: 1,
        };
        let mut out = [0; 2];
        gather(&p, &params, &[2i64, 0], &mut out).unwrap();
        assert_eq!(out, [3, 4]);
    }

    #[test]
    fn out_of_range_is_an_error() {
        let p = GatherParams {
            batch: 1,
            outer: 1,
            axis_size: 3,
            inner: 1,
            coords: 2,
        };
        let mut out = [0; 2];
        assert_eq!(
            gather(&p, &[1, 2, 3], &[0i32, 3], &mut out),
            Err(IndexOutOfRange {
                position: 1,
                index: 3
            })
        );
        assert_eq!(
            gather(&p, &[1, 2, 3], &[-1i32, 0], &mut out),
            Err(IndexOutOfRange {
                position: 0,
                index: -1
            })
        );
    }
}
