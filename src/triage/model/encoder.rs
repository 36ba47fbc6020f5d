//! The sentence encoder: all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) run in process on the CPU
//! with candle. A text's features are three poolings of its last hidden states side by side: the
//! mean over the tokens, L2-normalised (the sentence embedding sentence-transformers computes),
//! the `[CLS]` token's state, and the per-dimension maximum over the tokens (which keeps a single
//! alarming word from being averaged away in a long sentence).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use super::ModelError;

/// Longest input in tokens; longer texts are read in overlapping windows by the caller.
pub const MAX_TOKENS: usize = 128;

pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    dims: usize,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("dims", &self.dims).finish_non_exhaustive()
    }
}

fn invalid(dir: &Path, problem: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid { path: dir.to_path_buf(), problem: problem.to_string() }
}

impl Encoder {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let read = |name: &str| std::fs::read(dir.join(name)).map_err(|_| ModelError::Missing { path: dir.join(name) });
        let config_text = read("config.json")?;
        let config: Config = serde_json::from_slice(&config_text).map_err(|e| invalid(dir, format!("config.json: {e}")))?;
        let dims = serde_json::from_slice::<serde_json::Value>(&config_text).ok().and_then(|v| v["hidden_size"].as_u64()).ok_or_else(|| invalid(dir, "config.json has no hidden_size"))? as usize;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu).map_err(|e| invalid(dir, format!("model.safetensors: {e}")))?;
        let model = BertModel::load(vb, &config).map_err(|e| invalid(dir, format!("model.safetensors does not fit config.json: {e}")))?;
        let tokenizer_bytes = read("tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes).map_err(|e| invalid(dir, format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer.with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() })).map_err(|e| invalid(dir, format!("tokenizer.json: {e}")))?;
        Ok(Self { model, tokenizer, dims })
    }

    /// Feature size: three poolings of the hidden size (3 × 384 for MiniLM-L6).
    pub fn dims(&self) -> usize {
        3 * self.dims
    }

    /// Words per window that stays under [`MAX_TOKENS`] with room for sub-word pieces.
    pub const WINDOW_WORDS: usize = 60;

    /// The features of `text`: [mean ‖ CLS ‖ max] (at most [`MAX_TOKENS`] tokens are read).
    pub fn features(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        let fail = |e: &dyn std::fmt::Display| ModelError::Inference(e.to_string());
        let encoding = self.tokenizer.encode(text, true).map_err(|e| fail(&e))?;
        let ids = Tensor::new(encoding.get_ids(), &Device::Cpu).and_then(|t| t.unsqueeze(0)).map_err(|e| fail(&e))?;
        let types = ids.zeros_like().map_err(|e| fail(&e))?;
        let mask = Tensor::new(encoding.get_attention_mask(), &Device::Cpu).and_then(|t| t.unsqueeze(0)).map_err(|e| fail(&e))?;
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(|e| fail(&e))?;
        let hidden = hidden.squeeze(0).map_err(|e| fail(&e))?;
        // No padding: every token counts in the mean and the maximum.
        let pool = |t: candle_core::Result<Tensor>| t.and_then(|t| t.to_vec1::<f32>()).map_err(|e| fail(&e));
        let mean = pool(hidden.mean(0))?;
        let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        let mut features: Vec<f32> = mean.into_iter().map(|v| v / norm).collect();
        features.extend(pool(hidden.get(0))?);
        features.extend(pool(hidden.max(0))?);
        Ok(features)
    }
}
