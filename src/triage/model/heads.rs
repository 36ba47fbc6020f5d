//! The classification heads over sentence features: a small multi-layer perceptron (standardised
//! inputs, one hidden ReLU layer, softmax out) per head. Trained deterministically at import —
//! weights start from a fixed-seed generator and full-batch AdamW runs a fixed number of epochs
//! with candle's autograd on the CPU — saved as JSON and evaluated in plain Rust in well under a
//! millisecond. Pure: vectors in, probabilities out.

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};

use super::ModelError;

/// One fully connected layer: `out = weights · in + bias`, `weights` as `[output][input]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
}

impl Dense {
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        self.weights.iter().zip(&self.bias).map(|(w, b)| b + w.iter().zip(x).map(|(w, v)| w * v).sum::<f32>()).collect()
    }

    fn inputs(&self) -> Option<usize> {
        let n = self.weights.first()?.len();
        (self.weights.len() == self.bias.len() && self.weights.iter().all(|w| w.len() == n)).then_some(n)
    }
}

/// One classifier: `labels.len()` classes over `mean.len()` inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub labels: Vec<String>,
    /// Per-input mean and standard deviation of the training features (inputs are standardised).
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    pub hidden: Dense,
    pub output: Dense,
}

/// How a head is trained.
#[derive(Debug, Clone, Copy)]
pub struct Training {
    pub hidden: usize,
    pub epochs: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Seed of the initial weights.
    pub seed: u64,
}

impl Default for Training {
    fn default() -> Self {
        Self { hidden: 64, epochs: 150, learning_rate: 3e-3, weight_decay: 0.05, seed: 20261207 }
    }
}

fn softmax(logits: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for l in logits.iter_mut() {
        *l = (*l - max).exp();
        sum += *l;
    }
    for l in logits.iter_mut() {
        *l /= sum;
    }
}

/// Uniform numbers in [-1, 1) from a fixed seed (splitmix64): the same weights on every machine.
fn uniform(seed: u64, n: usize) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn standardisation(samples: &[(&[f32], usize)]) -> (Vec<f32>, Vec<f32>) {
    let dims = samples.first().map(|(x, _)| x.len()).unwrap_or(0);
    let n = samples.len().max(1) as f32;
    let mut mean = vec![0.0f32; dims];
    for (x, _) in samples {
        for (m, v) in mean.iter_mut().zip(x.iter()) {
            *m += v / n;
        }
    }
    let mut scale = vec![0.0f32; dims];
    for (x, _) in samples {
        for ((s, v), m) in scale.iter_mut().zip(x.iter()).zip(&mean) {
            *s += (v - m) * (v - m) / n;
        }
    }
    for s in &mut scale {
        *s = s.sqrt().max(1e-6);
    }
    (mean, scale)
}

fn dense(weights: &Tensor, bias: &Tensor) -> candle_core::Result<Dense> {
    Ok(Dense { weights: weights.to_vec2()?, bias: bias.to_vec1()? })
}

fn inference(e: candle_core::Error) -> ModelError {
    ModelError::Inference(format!("training a head: {e}"))
}

impl Head {
    /// Fits a head to `(input, class)` samples. Classes are weighted by the inverse of their
    /// frequency so that a small class counts as much as a large one.
    pub fn train(labels: Vec<String>, samples: &[(&[f32], usize)], training: Training) -> Result<Self, ModelError> {
        let (mean, scale) = standardisation(samples);
        Self::fit(labels, samples, training, mean, scale).map_err(inference)
    }

    fn fit(labels: Vec<String>, samples: &[(&[f32], usize)], t: Training, mean: Vec<f32>, scale: Vec<f32>) -> candle_core::Result<Self> {
        let device = Device::Cpu;
        let (dims, classes, n) = (mean.len(), labels.len(), samples.len());
        let inputs: Vec<f32> = samples.iter().flat_map(|(x, _)| x.iter().zip(&mean).zip(&scale).map(|((v, m), s)| (v - m) / s)).collect();
        let x = Tensor::from_vec(inputs, (n, dims), &device)?;
        let mut counts = vec![0usize; classes];
        for (_, class) in samples {
            counts[*class] += 1;
        }
        let present = counts.iter().filter(|c| **c > 0).count().max(1) as f32;
        // Row i holds the weight of sample i's class at its class, 0 elsewhere; rows sum to n.
        let mut targets = vec![0.0f32; n * classes];
        for (i, (_, class)) in samples.iter().enumerate() {
            targets[i * classes + class] = n as f32 / (present * counts[*class] as f32);
        }
        let y = Tensor::from_vec(targets, (n, classes), &device)?;
        let init = |seed: u64, rows: usize, cols: usize| -> candle_core::Result<Var> {
            let bound = (6.0 / (rows + cols) as f32).sqrt();
            Var::from_tensor(&Tensor::from_vec(uniform(seed, rows * cols).into_iter().map(|v| v * bound).collect(), (rows, cols), &device)?)
        };
        let w1 = init(t.seed, t.hidden, dims)?;
        let b1 = Var::zeros(t.hidden, DType::F32, &device)?;
        let w2 = init(t.seed ^ 0x5EED, classes, t.hidden)?;
        let b2 = Var::zeros(classes, DType::F32, &device)?;
        let params = ParamsAdamW { lr: t.learning_rate, weight_decay: t.weight_decay, ..Default::default() };
        let mut optimiser = AdamW::new(vec![w1.clone(), b1.clone(), w2.clone(), b2.clone()], params)?;
        for _ in 0..t.epochs {
            let hidden = x.matmul(&w1.t()?)?.broadcast_add(&b1)?.relu()?;
            let logits = hidden.matmul(&w2.t()?)?.broadcast_add(&b2)?;
            let loss = (candle_nn::ops::log_softmax(&logits, D::Minus1)? * &y)?.sum_all()?.affine(-1.0 / n as f64, 0.0)?;
            optimiser.backward_step(&loss)?;
        }
        Ok(Self { labels, mean, scale, hidden: dense(&w1, &b1)?, output: dense(&w2, &b2)? })
    }

    /// Class probabilities for one feature vector.
    pub fn probabilities(&self, features: &[f32]) -> Vec<f32> {
        let x: Vec<f32> = features.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| (v - m) / s).collect();
        let hidden: Vec<f32> = self.hidden.apply(&x).into_iter().map(|v| v.max(0.0)).collect();
        let mut out = self.output.apply(&hidden);
        softmax(&mut out);
        out
    }

    /// The head fits feature vectors of `dims` values.
    pub fn check(&self, dims: usize) -> Result<(), String> {
        let fits = self.mean.len() == dims
            && self.scale.len() == dims
            && self.hidden.inputs() == Some(dims)
            && self.output.inputs() == Some(self.hidden.bias.len())
            && self.output.bias.len() == self.labels.len();
        if !fits {
            return Err(format!("a head does not fit {dims}-value features with {} classes", self.labels.len()));
        }
        Ok(())
    }
}

/// Heads of one task trained on different folds and seeds; their probabilities are averaged,
/// which steadies the reading of a phrasing none of them was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    pub members: Vec<Head>,
}

impl Ensemble {
    /// The members' mean class probabilities for one feature vector.
    pub fn probabilities(&self, features: &[f32]) -> Vec<f32> {
        let mut mean: Vec<f32> = Vec::new();
        for member in &self.members {
            let p = member.probabilities(features);
            mean.resize(p.len(), 0.0);
            for (m, v) in mean.iter_mut().zip(p) {
                *m += v / self.members.len() as f32;
            }
        }
        mean
    }

    /// Every member fits feature vectors of `dims` values, with the same classes.
    pub fn check(&self, dims: usize) -> Result<(), String> {
        let first = self.members.first().ok_or("an ensemble has no heads")?;
        for member in &self.members {
            member.check(dims)?;
            if member.labels != first.labels {
                return Err("the heads of an ensemble disagree on their classes".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points() -> Vec<(Vec<f32>, usize)> {
        // Three clusters on a plane, one of them small, and a class no line can cut off: the
        // fourth lies on both sides of the first.
        let mut out = Vec::new();
        for i in 0..20 {
            let d = i as f32 * 0.01;
            out.push((vec![1.0 + d, 0.0 - d], 0));
            out.push((vec![-1.0 - d, 0.2 + d], 1));
            out.push((vec![3.0 + d, -0.1], 3));
            out.push((vec![-3.0 - d, 0.1], 3));
        }
        for i in 0..3 {
            out.push((vec![0.1 * i as f32, 2.0], 2));
        }
        out
    }

    fn labels() -> Vec<String> {
        ["a", "b", "c", "d"].map(String::from).to_vec()
    }

    fn train(data: &[(Vec<f32>, usize)]) -> Head {
        let samples: Vec<(&[f32], usize)> = data.iter().map(|(x, c)| (x.as_slice(), *c)).collect();
        Head::train(labels(), &samples, Training { epochs: 300, learning_rate: 0.02, ..Training::default() }).unwrap()
    }

    #[test]
    fn separates_clusters_including_a_small_one_and_a_split_one() {
        let data = points();
        let head = train(&data);
        for (x, class) in &data {
            let p = head.probabilities(x);
            let best = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            assert_eq!(best, *class, "{x:?} -> {p:?}");
        }
        assert!((head.probabilities(&[0.0, 0.0]).iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn an_ensemble_averages_its_members_and_checks_them() {
        let data = points();
        let samples: Vec<(&[f32], usize)> = data.iter().map(|(x, c)| (x.as_slice(), *c)).collect();
        let members: Vec<Head> = [1, 2].iter().map(|seed| Head::train(labels(), &samples, Training { epochs: 300, learning_rate: 0.02, seed: *seed, ..Training::default() }).unwrap()).collect();
        let ensemble = Ensemble { members: members.clone() };
        let x = [0.5, 1.0];
        let (a, b) = (members[0].probabilities(&x), members[1].probabilities(&x));
        assert_ne!(a, b, "different seeds give different heads");
        for ((m, a), b) in ensemble.probabilities(&x).iter().zip(&a).zip(&b) {
            assert!((m - (a + b) / 2.0).abs() < 1e-6);
        }
        assert!(ensemble.check(2).is_ok() && ensemble.check(3).is_err());
        assert!(Ensemble { members: Vec::new() }.check(2).is_err());
        let mut other = members[1].clone();
        other.labels[0] = "z".into();
        assert!(Ensemble { members: vec![members[0].clone(), other] }.check(2).is_err());
    }

    #[test]
    fn training_is_deterministic_and_checked_against_the_feature_size() {
        let data = points();
        let first = train(&data);
        assert_eq!(first, train(&data));
        assert!(first.check(2).is_ok());
        assert!(first.check(1152).is_err());
    }
}
