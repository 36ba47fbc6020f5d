//! The whisper.cpp model file ("ggml" format, as whisper.cpp's loader reads it) built from a
//! CTranslate2 Whisper model:
//!
//! ```text
//! u32 magic "ggml" | 11 × i32 hyper-parameters | i32 n_mels, i32 n_fft_bins, f32 filters[..]
//! i32 n_tokens | n_tokens × { u32 len, bytes } | tensors: { i32 n_dims, i32 name_len, i32 type,
//! n_dims × i32 extent (innermost first), name, data } until the end of the file
//! ```
//!
//! Names follow OpenAI's PyTorch checkpoint (`encoder.blocks.0.attn.query.weight`). CTranslate2
//! fuses the self-attention Q,K,V projections and the cross-attention K,V projections; they are split
//! back row-wise. The key projections have no bias in Whisper (CTranslate2 stores zeros, and a key
//! bias cannot change attention anyway: it adds the same q·b to every score of a query).

use std::io::Write;

use super::ModelError;
use super::ct2::Ct2Model;

pub const MAGIC: u32 = 0x6767_6d6c;
const TYPE_F32: i32 = 0;
const TYPE_F16: i32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HParams {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

impl HParams {
    pub fn from_ct2(model: &Ct2Model) -> Result<Self, ModelError> {
        if model.spec != "WhisperSpec" {
            return Err(ModelError::Corrupt(format!("the model is a {} (a WhisperSpec is needed)", model.spec)));
        }
        let shape = |name: &str| model.get(name).map(|v| v.shape.clone());
        let layers = |prefix: &str| (0..).take_while(|i| model.get(&format!("{prefix}/layer_{i}/ffn/linear_0/weight")).is_ok()).count();
        let conv1 = shape("encoder/conv1/weight")?;
        let audio_pos = shape("encoder/position_encodings/encodings")?;
        let text_pos = shape("decoder/position_encodings/encodings")?;
        let embeddings = shape("decoder/embeddings/weight")?;
        if conv1.len() != 3 || audio_pos.len() != 2 || text_pos.len() != 2 || embeddings.len() != 2 {
            return Err(ModelError::Corrupt("unexpected ranks of the convolution, position or embedding tensors".into()));
        }
        let heads = |name: &str| model.scalar(name).map(|h| h.max(1) as usize);
        Ok(Self {
            n_vocab: embeddings[0],
            n_audio_ctx: audio_pos[0],
            n_audio_state: conv1[0],
            n_audio_head: heads("encoder/num_heads")?,
            n_audio_layer: layers("encoder"),
            n_text_ctx: text_pos[0],
            n_text_state: embeddings[1],
            n_text_head: heads("decoder/num_heads")?,
            n_text_layer: layers("decoder"),
            n_mels: conv1[1],
        })
    }

    /// "tiny.en", "base", … as whisper.cpp names its files.
    pub fn file_stem(&self) -> String {
        let size = match self.n_audio_layer {
            4 => "tiny",
            6 => "base",
            12 => "small",
            24 => "medium",
            32 => "large",
            n => return format!("whisper-{n}l"),
        };
        if self.n_vocab == 51864 { format!("{size}.en") } else { size.to_string() }
    }

    fn to_ints(self) -> [i32; 10] {
        [self.n_vocab, self.n_audio_ctx, self.n_audio_state, self.n_audio_head, self.n_audio_layer, self.n_text_ctx, self.n_text_state, self.n_text_head, self.n_text_layer, self.n_mels]
            .map(|v| v as i32)
    }
}

/// One output tensor: rows `rows` (along the first, outermost dimension) of a CTranslate2 variable.
#[derive(Debug, Clone)]
pub struct Planned {
    pub name: String,
    /// PyTorch order (outermost first).
    pub shape: Vec<usize>,
    pub source: String,
    pub rows: Option<(usize, usize)>,
    pub f16: bool,
}

/// The tensors whisper.cpp expects, in checkpoint order, and where each comes from.
pub fn plan(hp: &HParams) -> Vec<Planned> {
    let mut p = Planner(Vec::new());
    let (d, m) = (hp.n_audio_state, hp.n_mels);
    p.add("encoder.positional_embedding", "encoder/position_encodings/encodings", None, vec![hp.n_audio_ctx, d]);
    p.add("encoder.conv1.weight", "encoder/conv1/weight", None, vec![d, m, 3]);
    p.add("encoder.conv1.bias", "encoder/conv1/bias", None, vec![d, 1]);
    p.add("encoder.conv2.weight", "encoder/conv2/weight", None, vec![d, d, 3]);
    p.add("encoder.conv2.bias", "encoder/conv2/bias", None, vec![d, 1]);
    for i in 0..hp.n_audio_layer {
        let (to, from) = (format!("encoder.blocks.{i}"), format!("encoder/layer_{i}"));
        p.self_attention(&to, &from, d);
        p.mlp(&to, &from, d);
    }
    p.norm("encoder.ln_post", "encoder/layer_norm", d);
    let d = hp.n_text_state;
    p.add("decoder.positional_embedding", "decoder/position_encodings/encodings", None, vec![hp.n_text_ctx, d]);
    p.add("decoder.token_embedding.weight", "decoder/embeddings/weight", None, vec![hp.n_vocab, d]);
    for i in 0..hp.n_text_layer {
        let (to, from) = (format!("decoder.blocks.{i}"), format!("decoder/layer_{i}"));
        p.self_attention(&to, &from, d);
        p.norm(&format!("{to}.cross_attn_ln"), &format!("{from}/attention/layer_norm"), d);
        p.linear(&format!("{to}.cross_attn.query"), &format!("{from}/attention/linear_0"), (0, d), d, true);
        p.linear(&format!("{to}.cross_attn.key"), &format!("{from}/attention/linear_1"), (0, d), d, false);
        p.linear(&format!("{to}.cross_attn.value"), &format!("{from}/attention/linear_1"), (d, 2 * d), d, true);
        p.linear(&format!("{to}.cross_attn.out"), &format!("{from}/attention/linear_2"), (0, d), d, true);
        p.mlp(&to, &from, d);
    }
    p.norm("decoder.ln", "decoder/layer_norm", d);
    p.0
}

struct Planner(Vec<Planned>);

impl Planner {
    fn add(&mut self, name: &str, source: &str, rows: Option<(usize, usize)>, shape: Vec<usize>) {
        // Matrices in f16; vectors, positions and the conv biases (read as [d, 1]) in f32.
        let f32 = shape.len() < 2 || name.ends_with("positional_embedding") || (name.starts_with("encoder.conv") && name.ends_with("bias"));
        self.0.push(Planned { name: name.into(), shape, source: source.into(), rows, f16: !f32 });
    }

    fn norm(&mut self, to: &str, from: &str, d: usize) {
        self.add(&format!("{to}.weight"), &format!("{from}/gamma"), None, vec![d]);
        self.add(&format!("{to}.bias"), &format!("{from}/beta"), None, vec![d]);
    }

    fn linear(&mut self, to: &str, from: &str, rows: (usize, usize), d_in: usize, bias: bool) {
        let d_out = rows.1 - rows.0;
        self.add(&format!("{to}.weight"), &format!("{from}/weight"), Some(rows), vec![d_out, d_in]);
        if bias {
            self.add(&format!("{to}.bias"), &format!("{from}/bias"), Some(rows), vec![d_out]);
        }
    }

    fn self_attention(&mut self, to: &str, from: &str, d: usize) {
        self.norm(&format!("{to}.attn_ln"), &format!("{from}/self_attention/layer_norm"), d);
        let fused = format!("{from}/self_attention/linear_0");
        self.linear(&format!("{to}.attn.query"), &fused, (0, d), d, true);
        self.linear(&format!("{to}.attn.key"), &fused, (d, 2 * d), d, false);
        self.linear(&format!("{to}.attn.value"), &fused, (2 * d, 3 * d), d, true);
        self.linear(&format!("{to}.attn.out"), &format!("{from}/self_attention/linear_1"), (0, d), d, true);
    }

    fn mlp(&mut self, to: &str, from: &str, d: usize) {
        self.norm(&format!("{to}.mlp_ln"), &format!("{from}/ffn/layer_norm"), d);
        self.linear(&format!("{to}.mlp.0"), &format!("{from}/ffn/linear_0"), (0, 4 * d), d, true);
        self.linear(&format!("{to}.mlp.2"), &format!("{from}/ffn/linear_1"), (0, d), 4 * d, true);
    }
}

/// Extracts one planned tensor's values from the model, checking the element count.
pub fn tensor_values(model: &Ct2Model, t: &Planned) -> Result<Vec<f32>, ModelError> {
    let var = model.get(&t.source)?;
    let values = model.to_f32(var)?;
    let want: usize = t.shape.iter().product();
    let values = match t.rows {
        None => values,
        Some((a, b)) => {
            let row = var.shape.iter().skip(1).product::<usize>();
            if var.shape.first().is_none_or(|&rows| rows < b) {
                return Err(ModelError::Corrupt(format!("{} has shape {:?}, too small for rows {a}..{b}", t.source, var.shape)));
            }
            values[a * row..b * row].to_vec()
        }
    };
    if values.len() != want {
        return Err(ModelError::Corrupt(format!("{} has {} values where {} needs {:?}", t.source, values.len(), t.name, t.shape)));
    }
    Ok(values)
}

pub fn write_header(w: &mut impl Write, hp: &HParams, mel: &[f32], n_fft_bins: usize, vocab: &[Vec<u8>]) -> std::io::Result<()> {
    w.write_all(&MAGIC.to_le_bytes())?;
    for v in hp.to_ints() {
        w.write_all(&v.to_le_bytes())?;
    }
    w.write_all(&1i32.to_le_bytes())?; // ftype: mostly f16
    w.write_all(&(hp.n_mels as i32).to_le_bytes())?;
    w.write_all(&(n_fft_bins as i32).to_le_bytes())?;
    for f in mel {
        w.write_all(&f.to_le_bytes())?;
    }
    w.write_all(&(vocab.len() as i32).to_le_bytes())?;
    for token in vocab {
        w.write_all(&(token.len() as u32).to_le_bytes())?;
        w.write_all(token)?;
    }
    Ok(())
}

pub fn write_tensor(w: &mut impl Write, t: &Planned, values: &[f32]) -> std::io::Result<()> {
    w.write_all(&(t.shape.len() as i32).to_le_bytes())?;
    w.write_all(&(t.name.len() as i32).to_le_bytes())?;
    w.write_all(&(if t.f16 { TYPE_F16 } else { TYPE_F32 }).to_le_bytes())?;
    for &extent in t.shape.iter().rev() {
        w.write_all(&(extent as i32).to_le_bytes())?;
    }
    w.write_all(t.name.as_bytes())?;
    let mut buf = Vec::with_capacity(values.len() * if t.f16 { 2 } else { 4 });
    for &v in values {
        if t.f16 {
            buf.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
        } else {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
    w.write_all(&buf)
}
