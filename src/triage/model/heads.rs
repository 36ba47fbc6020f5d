//! Softmax-regression heads over sentence embeddings: trained deterministically (zero start,
//! full-batch gradient descent with L2, standardised inputs), saved as JSON, evaluated in
//! microseconds. Pure: vectors in, probabilities out.

use serde::{Deserialize, Serialize};

/// One multinomial logistic regression: `labels.len()` classes over `mean.len()` inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub labels: Vec<String>,
    /// Per-input mean and standard deviation of the training embeddings (inputs are standardised).
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    /// `[class][input]`.
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
}

/// How a head is trained.
#[derive(Debug, Clone, Copy)]
pub struct Training {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
}

impl Default for Training {
    fn default() -> Self {
        Self { epochs: 300, learning_rate: 0.5, l2: 1e-3 }
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

impl Head {
    /// Fits a head to `(input, class)` samples. Classes are weighted by the inverse of their
    /// frequency so that a small class counts as much as a large one.
    pub fn train(labels: Vec<String>, samples: &[(&[f32], usize)], training: Training) -> Self {
        let dims = samples.first().map(|(x, _)| x.len()).unwrap_or(0);
        let classes = labels.len();
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
        let inputs: Vec<Vec<f32>> = samples.iter().map(|(x, _)| x.iter().zip(&mean).zip(&scale).map(|((v, m), s)| (v - m) / s).collect()).collect();
        let mut counts = vec![0usize; classes];
        for (_, class) in samples {
            counts[*class] += 1;
        }
        let present = counts.iter().filter(|c| **c > 0).count().max(1) as f32;
        let class_weight: Vec<f32> = counts.iter().map(|c| if *c == 0 { 0.0 } else { n / (present * *c as f32) }).collect();
        let mut head = Self { labels, mean, scale, weights: vec![vec![0.0; dims]; classes], bias: vec![0.0; classes] };
        let mut grad_w = vec![vec![0.0f32; dims]; classes];
        let mut grad_b = vec![0.0f32; classes];
        let mut probs = vec![0.0f32; classes];
        for _ in 0..training.epochs {
            grad_w.iter_mut().for_each(|g| g.iter_mut().for_each(|v| *v = 0.0));
            grad_b.iter_mut().for_each(|v| *v = 0.0);
            for (x, (_, class)) in inputs.iter().zip(samples) {
                head.logits_standardised(x, &mut probs);
                softmax(&mut probs);
                let w = class_weight[*class] / n;
                for (k, p) in probs.iter().enumerate() {
                    let err = w * (p - if k == *class { 1.0 } else { 0.0 });
                    grad_b[k] += err;
                    for (g, v) in grad_w[k].iter_mut().zip(x) {
                        *g += err * v;
                    }
                }
            }
            for k in 0..classes {
                head.bias[k] -= training.learning_rate * grad_b[k];
                for (wv, g) in head.weights[k].iter_mut().zip(&grad_w[k]) {
                    *wv -= training.learning_rate * (g + training.l2 * *wv);
                }
            }
        }
        head
    }

    fn logits_standardised(&self, x: &[f32], out: &mut [f32]) {
        for (k, o) in out.iter_mut().enumerate() {
            *o = self.bias[k] + self.weights[k].iter().zip(x).map(|(w, v)| w * v).sum::<f32>();
        }
    }

    /// Class probabilities for one embedding.
    pub fn probabilities(&self, embedding: &[f32]) -> Vec<f32> {
        let x: Vec<f32> = embedding.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| (v - m) / s).collect();
        let mut out = vec![0.0; self.labels.len()];
        self.logits_standardised(&x, &mut out);
        softmax(&mut out);
        out
    }

    /// The probability of the class named `label` (0 when the head has no such class).
    pub fn probability_of(&self, embedding: &[f32], label: &str) -> f32 {
        let probs = self.probabilities(embedding);
        self.labels.iter().position(|l| l == label).map(|i| probs[i]).unwrap_or(0.0)
    }

    /// The head fits the embedding size.
    pub fn check(&self, dims: usize) -> Result<(), String> {
        let rows_ok = self.weights.len() == self.labels.len() && self.bias.len() == self.labels.len();
        if !rows_ok || self.mean.len() != dims || self.scale.len() != dims || self.weights.iter().any(|w| w.len() != dims) {
            return Err(format!("a head does not fit {dims}-dimensional embeddings with {} classes", self.labels.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points() -> Vec<(Vec<f32>, usize)> {
        // Three clusters on a plane, one of them small.
        let mut out = Vec::new();
        for i in 0..20 {
            let d = i as f32 * 0.01;
            out.push((vec![1.0 + d, 0.0 - d], 0));
            out.push((vec![-1.0 - d, 0.2 + d], 1));
        }
        for i in 0..3 {
            out.push((vec![0.1 * i as f32, 2.0], 2));
        }
        out
    }

    #[test]
    fn separates_clusters_including_a_small_one() {
        let data = points();
        let samples: Vec<(&[f32], usize)> = data.iter().map(|(x, c)| (x.as_slice(), *c)).collect();
        let head = Head::train(vec!["a".into(), "b".into(), "c".into()], &samples, Training::default());
        for (x, class) in &data {
            let p = head.probabilities(x);
            let best = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            assert_eq!(best, *class, "{x:?} -> {p:?}");
        }
        assert!((head.probabilities(&[0.0, 0.0]).iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(head.probability_of(&[0.05, 2.1], "c") > 0.5);
        assert_eq!(head.probability_of(&[0.0, 0.0], "missing"), 0.0);
    }

    #[test]
    fn training_is_deterministic_and_checked_against_the_embedding_size() {
        let data = points();
        let samples: Vec<(&[f32], usize)> = data.iter().map(|(x, c)| (x.as_slice(), *c)).collect();
        let labels = || vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let first = Head::train(labels(), &samples, Training::default());
        assert_eq!(first, Head::train(labels(), &samples, Training::default()));
        assert!(first.check(2).is_ok());
        assert!(first.check(384).is_err());
    }
}
