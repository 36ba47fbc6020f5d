//! Reader for CTranslate2's `model.bin` (binary versions 5 and 6): a header naming the model spec,
//! then variables (name, shape, data type, raw little-endian bytes), then aliases.
//!
//! ```text
//! u32 binary_version | str spec | u32 spec_revision | u32 n_variables
//! n_variables × { str name | u8 rank | rank × u32 dim | u8 dtype | u32 n_bytes | bytes }
//! u32 n_aliases | n_aliases × { str alias | str target }
//! str = u16 length (including a trailing NUL) + bytes
//! ```

use std::collections::HashMap;
use std::ops::Range;

use super::ModelError;

/// CTranslate2's `DataType` numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    data: Range<usize>,
}

impl Variable {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A parsed model: borrows the file bytes.
pub struct Ct2Model<'a> {
    pub binary_version: u32,
    pub spec: String,
    pub spec_revision: u32,
    bytes: &'a [u8],
    variables: Vec<Variable>,
    index: HashMap<String, usize>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ModelError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| ModelError::Corrupt(format!("file ends inside {what} at byte {}", self.at)))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self, what: &str) -> Result<u8, ModelError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, ModelError> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn string(&mut self, what: &str) -> Result<String, ModelError> {
        let n = self.u16(what)? as usize;
        let raw = self.take(n, what)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec()).map_err(|_| ModelError::Corrupt(format!("{what} is not UTF-8")))
    }
}

impl<'a> Ct2Model<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let mut c = Cursor { bytes, at: 0 };
        let binary_version = c.u32("the header")?;
        if !(5..=6).contains(&binary_version) {
            return Err(ModelError::Corrupt(format!("CTranslate2 binary version {binary_version} is not supported (5 or 6 expected)")));
        }
        let spec = c.string("the spec name")?;
        let spec_revision = c.u32("the spec revision")?;
        let count = c.u32("the variable count")? as usize;
        let mut variables = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            let name = c.string("a variable name")?;
            let rank = c.u8(&name)? as usize;
            let shape = (0..rank).map(|_| c.u32(&name).map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
            let id = c.u8(&name)?;
            let dtype = DType::from_id(id).ok_or_else(|| ModelError::Corrupt(format!("{name}: unknown data type {id}")))?;
            let n_bytes = c.u32(&name)? as usize;
            let expected = shape.iter().product::<usize>() * dtype.size();
            if n_bytes != expected {
                return Err(ModelError::Corrupt(format!("{name}: {n_bytes} bytes for shape {shape:?} of {dtype:?} (expected {expected})")));
            }
            let start = c.at;
            c.take(n_bytes, &name)?;
            variables.push(Variable { name, shape, dtype, data: start..start + n_bytes });
        }
        let mut index: HashMap<String, usize> = variables.iter().enumerate().map(|(i, v)| (v.name.clone(), i)).collect();
        let aliases = c.u32("the alias count")?;
        for _ in 0..aliases {
            let alias = c.string("an alias")?;
            let target = c.string("an alias target")?;
            let i = *index.get(&target).ok_or_else(|| ModelError::Corrupt(format!("alias {alias} names a missing variable {target}")))?;
            index.insert(alias, i);
        }
        if c.at != bytes.len() {
            return Err(ModelError::Corrupt(format!("{} unexpected bytes after the last alias", bytes.len() - c.at)));
        }
        Ok(Self { binary_version, spec, spec_revision, bytes, variables, index })
    }

    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    pub fn get(&self, name: &str) -> Result<&Variable, ModelError> {
        self.index.get(name).map(|&i| &self.variables[i]).ok_or_else(|| ModelError::MissingTensor(name.to_string()))
    }

    pub fn raw(&self, var: &Variable) -> &'a [u8] {
        &self.bytes[var.data.clone()]
    }

    /// The variable's values as f32, whatever its stored type (int8 weights are scaled back with
    /// the per-row `<name>_scale` CTranslate2 stores beside them).
    pub fn to_f32(&self, var: &Variable) -> Result<Vec<f32>, ModelError> {
        let raw = self.raw(var);
        Ok(match var.dtype {
            DType::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
            DType::F16 => raw.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            DType::BF16 => raw.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            DType::I8 => {
                let scale = self.to_f32(self.get(&format!("{}_scale", var.name))?)?;
                let rows = scale.len().max(1);
                let per_row = raw.len() / rows;
                raw.iter().enumerate().map(|(i, &q)| q as i8 as f32 / scale[(i / per_row).min(rows - 1)]).collect()
            }
            DType::I16 | DType::I32 => return Err(ModelError::Corrupt(format!("{}: {:?} weights are not supported", var.name, var.dtype))),
        })
    }

    /// A scalar integer variable such as `encoder/num_heads`.
    pub fn scalar(&self, name: &str) -> Result<i64, ModelError> {
        let var = self.get(name)?;
        let raw = self.raw(var);
        Ok(match var.dtype {
            DType::I8 => raw[0] as i8 as i64,
            DType::I16 => i16::from_le_bytes([raw[0], raw[1]]) as i64,
            DType::I32 => i32::from_le_bytes(raw[..4].try_into().unwrap()) as i64,
            _ => return Err(ModelError::Corrupt(format!("{name} is not an integer"))),
        })
    }
}
