//! A validating reader of the binary partition description the compiler writes
//! (`mvcc::nnapi::encode`, whose module documentation specifies the format).
//!
//! [`parse`] checks a whole blob once — every length against the bytes present, every tag, every
//! operand index, the step ranges, padding, and that nothing trails — and returns a
//! [`Partition`] view; the views and iterators then read the already-checked bytes without
//! copying or allocating. Nothing here panics or indexes out of bounds on any input, and the blob
//! may have any alignment.
//!
//! In short (all little-endian, every field 4 or 8 bytes):
//!
//! ```text
//! Blob      = "MVNN" · version u32 · api_level u32 · steps u64 · n u32 · Segment × n
//! Segment   = kind u32 (0 CPU, 1 NNAPI) · first u64 · end u64 · [Model if NNAPI]
//! Model     = api_level u32 · n u32 · Operand × n · n u32 · Operation × n
//!             · n_in u32 · u32 × n_in · n_out u32 · u32 × n_out · Place × n_in · Place × n_out
//! Operand   = type i32 · rank u32 · u32 × rank · scale f32 · zero_point i32 · Value · Quant
//! Value     = 0 temporary | 1 input | 2 output | 3 no value
//!           | 4 · len u32 · bytes (padded to 4) | 5 · offset u64 · len u64
//!           | 6 · offset u64 · len u64 · channels u64 · taps u64 · elem u32 · order u32
//! Quant     = 0 | 1 · channel_dim u32 · n u32 · f32 × n
//! Operation = type i32 · n u32 · u32 × n · n u32 · u32 × n
//! Place     = tag u32 (0 arena, 1 caller input, 2 caller output) · index u64 · offset u64 · len u64
//! ```

use core::fmt;
use core::ops::Range;

pub use mvcc_kernels::kernels::conv_2d::BlockedLayout;

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"MVNN";

/// The format version this reader understands.
pub const VERSION: u32 = 2;

const PLACE_BYTES: usize = 4 + 8 + 8 + 8;

/// Why a blob is not a valid partition description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The blob ends inside a field.
    Truncated {
        /// Byte offset of the field.
        offset: usize,
    },
    /// The blob does not start with [`MAGIC`].
    Magic,
    /// The blob has another format version.
    Version {
        /// The version found.
        found: u32,
    },
    /// A tag or kind field has an unknown value.
    Tag {
        /// Byte offset of the field.
        offset: usize,
        /// What the field is.
        what: &'static str,
        /// The value found.
        tag: u32,
    },
    /// A padding byte is not zero.
    Padding {
        /// Byte offset of the padding.
        offset: usize,
    },
    /// A number does not fit this machine's `usize`, an offset plus a length overflows, or an
    /// operand count exceeds `i32::MAX`.
    TooLarge {
        /// Byte offset of the field.
        offset: usize,
    },
    /// The segments do not cover the steps `0..steps` in order, each once.
    Steps {
        /// The first segment that does not continue where the previous one ended (or the
        /// segment count when the last one does not end at `steps`).
        segment: usize,
    },
    /// An operand index is out of range.
    OperandIndex {
        /// Byte offset of the index.
        offset: usize,
        /// The index.
        index: u32,
        /// The number of operands.
        count: u32,
    },
    /// An NNAPI output place is a caller's input buffer (which is read-only).
    OutputToInput {
        /// The segment.
        segment: usize,
        /// The model output.
        output: usize,
    },
    /// Bytes follow the last segment.
    TrailingBytes {
        /// Byte offset of the first extra byte.
        offset: usize,
    },
    /// A blocked constant's range does not hold its blocked layout (or its element size or
    /// order is invalid).
    Blocked {
        /// Byte offset of the value.
        offset: usize,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FormatError::Truncated { offset } => {
                write!(f, "the description ends inside the field at byte {offset}")
            }
            FormatError::Magic => f.write_str("the description does not start with \"MVNN\""),
            FormatError::Version { found } => write!(
                f,
                "the description has format version {found}; this runtime reads version {VERSION}"
            ),
            FormatError::Tag { offset, what, tag } => {
                write!(
                    f,
                    "unknown {what} {tag} at byte {offset} of the description"
                )
            }
            FormatError::Padding { offset } => {
                write!(f, "non-zero padding at byte {offset} of the description")
            }
            FormatError::TooLarge { offset } => {
                write!(
                    f,
                    "the number at byte {offset} of the description is too large"
                )
            }
            FormatError::Steps { segment } => write!(
                f,
                "segment {segment} of the description does not continue the steps in order"
            ),
            FormatError::OperandIndex {
                offset,
                index,
                count,
            } => write!(
                f,
                "operand index {index} at byte {offset} of the description is out of range \
                 ({count} operands)"
            ),
            FormatError::OutputToInput { segment, output } => write!(
                f,
                "output {output} of NNAPI segment {segment} would be written into a caller's \
                 input buffer"
            ),
            FormatError::TrailingBytes { offset } => {
                write!(
                    f,
                    "unexpected bytes after the last segment, from byte {offset}"
                )
            }
            FormatError::Blocked { offset } => write!(
                f,
                "the blocked constant at byte {offset} of the description does not describe \
                 its weight range"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FormatError {}

/// Reads and checks a whole blob.
///
/// # Errors
/// The first problem found, with its byte offset where it has one.
pub fn parse(blob: &[u8]) -> Result<Partition<'_>, FormatError> {
    let mut r = Cursor { blob, pos: 0 };
    if r.take(4)? != MAGIC {
        return Err(FormatError::Magic);
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(FormatError::Version { found: version });
    }
    let api_level = r.u32()?;
    let steps = r.usize()?;
    let segment_count = r.u32()?;
    let start = r.pos;
    let mut next = 0;
    for index in 0..segment_count as usize {
        let s = read_segment(&mut r, index)?;
        if s.steps.start != next || s.steps.end < s.steps.start {
            return Err(FormatError::Steps { segment: index });
        }
        next = s.steps.end;
    }
    if next != steps {
        return Err(FormatError::Steps {
            segment: segment_count as usize,
        });
    }
    if r.pos != blob.len() {
        return Err(FormatError::TrailingBytes { offset: r.pos });
    }
    Ok(Partition {
        api_level,
        steps,
        segment_count,
        segments: Cursor { blob, pos: start },
    })
}

/// A checked blob.
#[derive(Clone, Copy, Debug)]
pub struct Partition<'a> {
    /// The API level the NNAPI segments need.
    pub api_level: u32,
    /// The number of program steps.
    pub steps: usize,
    segment_count: u32,
    segments: Cursor<'a>,
}

impl<'a> Partition<'a> {
    /// The number of segments.
    pub fn segment_count(&self) -> usize {
        self.segment_count as usize
    }

    /// The segments, in order.
    pub fn segments(&self) -> Segments<'a> {
        Segments {
            cursor: self.segments,
            index: 0,
            count: self.segment_count as usize,
        }
    }

    /// Whether any segment runs on NNAPI.
    pub fn has_nnapi(&self) -> bool {
        self.segments()
            .any(|s| matches!(s.kind, SegmentKind::Nnapi(_)))
    }
}

/// The segments of a [`Partition`].
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    cursor: Cursor<'a>,
    index: usize,
    count: usize,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        if self.index >= self.count {
            return None;
        }
        // The blob was checked by `parse`; an error cannot happen, and would end the iteration.
        let s = read_segment(&mut self.cursor, self.index).ok();
        self.index = if s.is_some() {
            self.index + 1
        } else {
            self.count
        };
        s
    }
}

/// One segment.
#[derive(Clone, Debug)]
pub struct Segment<'a> {
    /// The program steps it covers.
    pub steps: Range<usize>,
    /// What runs it.
    pub kind: SegmentKind<'a>,
}

/// What runs a segment.
#[derive(Clone, Copy, Debug)]
pub enum SegmentKind<'a> {
    /// mvcc's CPU code.
    Cpu,
    /// An NNAPI model.
    Nnapi(Model<'a>),
}

/// An NNAPI model: what `ANeuralNetworksModel_*` calls build, and where its inputs and outputs
/// live.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    /// The API level the model needs.
    pub api_level: u32,
    operand_count: u32,
    operands: Cursor<'a>,
    operation_count: u32,
    operations: Cursor<'a>,
    /// `identifyInputsAndOutputs` inputs (operand indices).
    pub inputs: U32s<'a>,
    /// `identifyInputsAndOutputs` outputs (operand indices).
    pub outputs: U32s<'a>,
    input_places: &'a [u8],
    output_places: &'a [u8],
}

impl<'a> Model<'a> {
    /// The number of operands.
    pub fn operand_count(&self) -> u32 {
        self.operand_count
    }

    /// The operands, in `addOperand` order.
    pub fn operands(&self) -> Operands<'a> {
        Operands {
            cursor: self.operands,
            left: self.operand_count,
        }
    }

    /// The number of operations.
    pub fn operation_count(&self) -> u32 {
        self.operation_count
    }

    /// The operations, in `addOperation` order.
    pub fn operations(&self) -> Operations<'a> {
        Operations {
            cursor: self.operations,
            left: self.operation_count,
            operand_count: self.operand_count,
        }
    }

    /// Where model input `k`'s bytes are read from.
    pub fn input_place(&self, k: usize) -> Option<Place> {
        place_at(self.input_places, k)
    }

    /// Where model output `k`'s bytes are written.
    pub fn output_place(&self, k: usize) -> Option<Place> {
        place_at(self.output_places, k)
    }

    /// The input places, in model input order.
    pub fn input_places(&self) -> impl Iterator<Item = Place> + 'a {
        let b = self.input_places;
        (0..b.len() / PLACE_BYTES).filter_map(move |k| place_at(b, k))
    }

    /// The output places, in model output order.
    pub fn output_places(&self) -> impl Iterator<Item = Place> + 'a {
        let b = self.output_places;
        (0..b.len() / PLACE_BYTES).filter_map(move |k| place_at(b, k))
    }
}

/// The operands of a [`Model`].
#[derive(Clone, Debug)]
pub struct Operands<'a> {
    cursor: Cursor<'a>,
    left: u32,
}

impl<'a> Iterator for Operands<'a> {
    type Item = Operand<'a>;

    fn next(&mut self) -> Option<Operand<'a>> {
        if self.left == 0 {
            return None;
        }
        let o = read_operand(&mut self.cursor).ok();
        self.left = if o.is_some() { self.left - 1 } else { 0 };
        o
    }
}

/// The operations of a [`Model`].
#[derive(Clone, Debug)]
pub struct Operations<'a> {
    cursor: Cursor<'a>,
    left: u32,
    operand_count: u32,
}

impl<'a> Iterator for Operations<'a> {
    type Item = Operation<'a>;

    fn next(&mut self) -> Option<Operation<'a>> {
        if self.left == 0 {
            return None;
        }
        let o = read_operation(&mut self.cursor, self.operand_count).ok();
        self.left = if o.is_some() { self.left - 1 } else { 0 };
        o
    }
}

/// One operand (`ANeuralNetworksOperandType` plus its value).
#[derive(Clone, Copy, Debug)]
pub struct Operand<'a> {
    /// `OperandCode`.
    pub ty: i32,
    /// Dimensions (empty for scalars).
    pub dims: U32s<'a>,
    /// Scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
    /// Where the data comes from.
    pub value: Value<'a>,
    /// Per-channel quantization.
    pub channel_quant: Option<ChannelQuant<'a>>,
}

/// Where an operand's data comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// Written by one operation, read by others.
    Temporary,
    /// A model input.
    Input,
    /// A model output.
    Output,
    /// An omitted optional operand.
    NoValue,
    /// A constant whose bytes are in the blob.
    Inline(&'a [u8]),
    /// A constant in the weight blob.
    Weight {
        /// Byte offset.
        offset: usize,
        /// Length in bytes.
        len: usize,
    },
    /// A constant held in the weight blob as the CPU kernels' blocked copy of it; the value is
    /// that copy unpacked ([`Blocked::unpack`]).
    Blocked(Blocked),
}

/// A filter in the CPU kernels' blocked layout, as bytes of the weights. The reader checks that
/// `len` is exactly the layout's packed size and the element size is 1, 2, 4 or 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// Byte offset in the weights.
    pub offset: usize,
    /// Length in bytes of the blocked copy.
    pub len: usize,
    /// Its shape; the value is its unpacked form.
    pub layout: BlockedLayout,
}

impl Blocked {
    /// Size of the unpacked value (no larger than `len`, which the reader checked).
    pub fn unpacked_len(&self) -> usize {
        self.layout.unpacked_len().unwrap_or(0)
    }

    /// Writes the value, unpacked from `weights`, to `dst` ([`Blocked::unpacked_len`] bytes).
    /// `false` when the range is outside `weights` or `dst` has another size.
    pub fn unpack(&self, weights: &[u8], dst: &mut [u8]) -> bool {
        self.offset
            .checked_add(self.len)
            .and_then(|end| weights.get(self.offset..end))
            .is_some_and(|src| self.layout.unpack(src, dst))
    }
}

/// Per-channel quantization (`ANeuralNetworksSymmPerChannelQuantParams`).
#[derive(Clone, Copy, Debug)]
pub struct ChannelQuant<'a> {
    /// The quantized dimension.
    pub channel_dim: u32,
    /// One scale per index of that dimension.
    pub scales: F32s<'a>,
}

/// One operation.
#[derive(Clone, Copy, Debug)]
pub struct Operation<'a> {
    /// `OperationCode`.
    pub ty: i32,
    /// Input operand indices.
    pub inputs: U32s<'a>,
    /// Output operand indices.
    pub outputs: U32s<'a>,
}

/// Where a segment's model input or output lives while the model runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Bytes of the arena.
    Arena {
        /// Byte offset.
        offset: usize,
        /// Length in bytes.
        len: usize,
    },
    /// Bytes of the caller's buffer for model input `index`.
    ModelInput {
        /// Model input number.
        index: usize,
        /// Byte offset.
        offset: usize,
        /// Length in bytes.
        len: usize,
    },
    /// Bytes of the caller's buffer for model output `index`.
    ModelOutput {
        /// Model output number.
        index: usize,
        /// Byte offset.
        offset: usize,
        /// Length in bytes.
        len: usize,
    },
}

/// A little-endian `u32` array inside the blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U32s<'a>(&'a [u8]);

impl<'a> U32s<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.len() < 4
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<u32> {
        word(self.0, i.checked_mul(4)?)
    }

    /// The entries.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        self.0
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }
}

/// A little-endian `f32` array inside the blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct F32s<'a>(&'a [u8]);

impl<'a> F32s<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.len() < 4
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<f32> {
        word(self.0, i.checked_mul(4)?).map(f32::from_bits)
    }

    /// The entries.
    pub fn iter(&self) -> impl Iterator<Item = f32> + 'a {
        self.0
            .chunks_exact(4)
            .map(|c| f32::from_bits(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
    }
}

fn word(b: &[u8], at: usize) -> Option<u32> {
    let c = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

fn place_at(b: &[u8], k: usize) -> Option<Place> {
    let start = k.checked_mul(PLACE_BYTES)?;
    let mut c = Cursor {
        blob: b.get(start..start.checked_add(PLACE_BYTES)?)?,
        pos: 0,
    };
    c.place().ok()
}

/// A read position in the blob. Offsets in errors are from the start of the blob.
#[derive(Clone, Copy, Debug)]
struct Cursor<'a> {
    blob: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.blob.len())
            .ok_or(FormatError::Truncated { offset: self.pos })?;
        let b = self
            .blob
            .get(self.pos..end)
            .ok_or(FormatError::Truncated { offset: self.pos })?;
        self.pos = end;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32(&mut self) -> Result<i32, FormatError> {
        self.u32().map(|v| v as i32)
    }

    fn usize(&mut self) -> Result<usize, FormatError> {
        let at = self.pos;
        let b = self.take(8)?;
        let v = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        usize::try_from(v).map_err(|_| FormatError::TooLarge { offset: at })
    }

    /// A count followed by that many `u32`s.
    fn u32s(&mut self) -> Result<U32s<'a>, FormatError> {
        let at = self.pos;
        let n = self.u32()? as usize;
        let bytes = n
            .checked_mul(4)
            .ok_or(FormatError::TooLarge { offset: at })?;
        Ok(U32s(self.take(bytes)?))
    }

    /// Like [`Cursor::u32s`], each entry an operand index below `count`.
    fn indices(&mut self, count: u32) -> Result<U32s<'a>, FormatError> {
        let list_at = self.pos + 4;
        let list = self.u32s()?;
        for (i, index) in list.iter().enumerate() {
            if index >= count {
                return Err(FormatError::OperandIndex {
                    offset: list_at + 4 * i,
                    index,
                    count,
                });
            }
        }
        Ok(list)
    }

    fn tag(&mut self, what: &'static str, max: u32) -> Result<u32, FormatError> {
        let offset = self.pos;
        let tag = self.u32()?;
        if tag > max {
            return Err(FormatError::Tag { offset, what, tag });
        }
        Ok(tag)
    }

    fn place(&mut self) -> Result<Place, FormatError> {
        let tag = self.tag("place", 2)?;
        let index = self.usize()?;
        let offset = self.usize()?;
        let at = self.pos;
        let len = self.usize()?;
        if offset.checked_add(len).is_none() {
            return Err(FormatError::TooLarge { offset: at });
        }
        Ok(match tag {
            0 => Place::Arena { offset, len },
            1 => Place::ModelInput { index, offset, len },
            _ => Place::ModelOutput { index, offset, len },
        })
    }
}

fn read_segment<'a>(r: &mut Cursor<'a>, index: usize) -> Result<Segment<'a>, FormatError> {
    let kind = r.tag("segment kind", 1)?;
    let first = r.usize()?;
    let end = r.usize()?;
    let kind = if kind == 0 {
        SegmentKind::Cpu
    } else {
        SegmentKind::Nnapi(read_model(r, index)?)
    };
    Ok(Segment {
        steps: first..end,
        kind,
    })
}

fn read_model<'a>(r: &mut Cursor<'a>, segment: usize) -> Result<Model<'a>, FormatError> {
    let api_level = r.u32()?;
    let count_at = r.pos;
    let operand_count = r.u32()?;
    if operand_count > i32::MAX as u32 {
        return Err(FormatError::TooLarge { offset: count_at });
    }
    let operands = *r;
    for _ in 0..operand_count {
        read_operand(r)?;
    }
    let operation_count = r.u32()?;
    let operations = *r;
    for _ in 0..operation_count {
        read_operation(r, operand_count)?;
    }
    let inputs = r.indices(operand_count)?;
    let outputs = r.indices(operand_count)?;
    let too_large = FormatError::TooLarge { offset: r.pos };
    let input_places = r.take(inputs.len().checked_mul(PLACE_BYTES).ok_or(too_large)?)?;
    let output_places = r.take(outputs.len().checked_mul(PLACE_BYTES).ok_or(too_large)?)?;
    // Check every place (tags, overflow) now, so the accessors cannot fail later.
    let mut places = Cursor {
        blob: r.blob,
        pos: r.pos - input_places.len() - output_places.len(),
    };
    for _ in 0..inputs.len() {
        places.place()?;
    }
    for output in 0..outputs.len() {
        if let Place::ModelInput { .. } = places.place()? {
            return Err(FormatError::OutputToInput { segment, output });
        }
    }
    Ok(Model {
        api_level,
        operand_count,
        operands,
        operation_count,
        operations,
        inputs,
        outputs,
        input_places,
        output_places,
    })
}

fn read_operand<'a>(r: &mut Cursor<'a>) -> Result<Operand<'a>, FormatError> {
    let ty = r.i32()?;
    let dims = r.u32s()?;
    let scale = f32::from_bits(r.u32()?);
    let zero_point = r.i32()?;
    let value_at = r.pos;
    let value = match r.tag("operand value", 6)? {
        0 => Value::Temporary,
        1 => Value::Input,
        2 => Value::Output,
        3 => Value::NoValue,
        4 => {
            let len = r.u32()? as usize;
            let bytes = r.take(len)?;
            let pad = (4 - len % 4) % 4;
            let pad_at = r.pos;
            if r.take(pad)?.iter().any(|&b| b != 0) {
                return Err(FormatError::Padding { offset: pad_at });
            }
            Value::Inline(bytes)
        }
        tag => {
            let offset = r.usize()?;
            let at = r.pos;
            let len = r.usize()?;
            if offset.checked_add(len).is_none() {
                return Err(FormatError::TooLarge { offset: at });
            }
            if tag == 5 {
                Value::Weight { offset, len }
            } else {
                let channels = r.usize()?;
                let taps = r.usize()?;
                let elem = r.u32()? as usize;
                let order = r.u32()?;
                let layout = BlockedLayout {
                    channels,
                    taps,
                    taps_first: order == 1,
                    elem,
                };
                if !matches!(elem, 1 | 2 | 4 | 8) || order > 1 || layout.packed_len() != Some(len) {
                    return Err(FormatError::Blocked { offset: value_at });
                }
                Value::Blocked(Blocked {
                    offset,
                    len,
                    layout,
                })
            }
        }
    };
    let channel_quant = match r.tag("channel quantization flag", 1)? {
        0 => None,
        _ => {
            let channel_dim = r.u32()?;
            let scales = r.u32s()?;
            Some(ChannelQuant {
                channel_dim,
                scales: F32s(scales.0),
            })
        }
    };
    Ok(Operand {
        ty,
        dims,
        scale,
        zero_point,
        value,
        channel_quant,
    })
}

fn read_operation<'a>(
    r: &mut Cursor<'a>,
    operand_count: u32,
) -> Result<Operation<'a>, FormatError> {
    let ty = r.i32()?;
    let inputs = r.indices(operand_count)?;
    let outputs = r.indices(operand_count)?;
    Ok(Operation {
        ty,
        inputs,
        outputs,
    })
}
