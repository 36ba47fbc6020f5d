//! Matching a spoken drug name against written ones: the patient's active medications
//! ("Lisinopril 10 MG Oral Tablet") or the vocabulary in triage.toml. Speech recognisers split and
//! bend drug names ("lysin oh pril", "met forming"), so words are compared run together and with
//! edit-distance and Jaro–Winkler similarity, and dose/form words are ignored.

use super::text::tokens;

/// Words in a prescription's display text that say nothing about which drug it is.
const FORM_WORDS: &[&str] = &[
    "mg",
    "mcg",
    "ml",
    "g",
    "unt",
    "units",
    "unit",
    "hr",
    "hour",
    "oral",
    "tablet",
    "tablets",
    "tab",
    "capsule",
    "capsules",
    "cap",
    "extended",
    "release",
    "delayed",
    "er",
    "xr",
    "sr",
    "dr",
    "hydrochloride",
    "hcl",
    "sodium",
    "potassium",
    "calcium",
    "succinate",
    "tartrate",
    "besylate",
    "solution",
    "suspension",
    "injection",
    "injectable",
    "pen",
    "inhaler",
    "inhalation",
    "metered",
    "dose",
    "actuat",
    "topical",
    "cream",
    "ointment",
    "patch",
    "daily",
    "prefilled",
    "syringe",
    "auto",
    "injector",
    "chewable",
    "disintegrating",
    "film",
    "coated",
    "per",
    "and",
    "with",
];

/// Words a caller puts around a drug name.
const FILLER_WORDS: &[&str] = &[
    "my",
    "the",
    "a",
    "an",
    "um",
    "uh",
    "er",
    "pill",
    "pills",
    "medicine",
    "medication",
    "meds",
    "prescription",
    "refill",
    "for",
    "of",
    "on",
    "please",
    "it",
    "is",
    "its",
    "that",
    "this",
    "some",
    "more",
    "i",
    "need",
    "take",
];

/// Whether [`similarity`] reaches `min`, skipping the comparison when the lengths alone rule it
/// out (the distance is at least the difference in length).
pub fn similar_at_least(a: &str, b: &str, min: f64) -> bool {
    let (shorter, longer) = (a.len().min(b.len()) as f64, a.len().max(b.len()) as f64);
    shorter >= longer * min && similarity(a, b) >= min
}

/// Edit-distance similarity in 0..=1 (Damerau–Levenshtein, normalised by the longer word).
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim::normalized_damerau_levenshtein(a, b)
}

/// How alike a spoken form sounds to a written drug word, 0..=1: the better of edit distance and
/// Jaro–Winkler (which forgives the dropped and doubled letters of run-together speech).
///
/// Words whose lengths differ too much to reach [`MATCH_THRESHOLD`] score 0 without being
/// compared (both measures are bounded by the length ratio), so a long run of garbage in a
/// transcript costs no quadratic work.
pub fn sounds_like(spoken: &str, written: &str) -> f64 {
    let shorter = spoken.len().min(written.len()) as f64;
    let longer = spoken.len().max(written.len()) as f64;
    // similarity <= shorter/longer, and the damped Jaro–Winkler <= sqrt(shorter/longer).
    if shorter < longer * MATCH_THRESHOLD * MATCH_THRESHOLD {
        return 0.0;
    }
    let jw = strsim::jaro_winkler(spoken, written);
    // Jaro–Winkler is lenient when one string is much longer; damp it by the length ratio.
    similarity(spoken, written).max(jw * (shorter / longer).sqrt())
}

/// The words of a written medication that name the drug, alone and in adjacent pairs run together.
fn key_forms(written: &str) -> Vec<String> {
    let words: Vec<String> = tokens(written).into_iter().map(|t| t.text).filter(|w| w.len() >= 3 && !w.chars().all(|c| c.is_ascii_digit() || c == '.') && !FORM_WORDS.contains(&w.as_str())).collect();
    let mut forms = words.clone();
    forms.extend(words.windows(2).map(|w| w.concat()));
    forms
}

/// Spoken windows of one to three words run together, fillers dropped.
fn spoken_forms(spoken: &str) -> Vec<String> {
    let words: Vec<String> = tokens(spoken).into_iter().map(|t| t.text).filter(|w| !FILLER_WORDS.contains(&w.as_str())).collect();
    let mut forms = Vec::new();
    for take in 1..=3 {
        forms.extend(words.windows(take).map(|w| w.concat()).filter(|f| f.len() >= 4));
    }
    forms
}

/// Minimum score for a match.
pub const MATCH_THRESHOLD: f64 = 0.84;

/// Which of `candidates` the caller named in `spoken`: the index and a score in 0..=1, or `None`
/// when nothing reaches [`MATCH_THRESHOLD`]. Ties go to the earlier candidate.
pub fn best_match<S: AsRef<str>>(spoken: &str, candidates: &[S]) -> Option<(usize, f64)> {
    let spoken = spoken_forms(spoken);
    let mut best: Option<(usize, f64)> = None;
    for (index, candidate) in candidates.iter().enumerate() {
        let score = key_forms(candidate.as_ref()).iter().flat_map(|key| spoken.iter().map(move |s| sounds_like(s, key))).fold(0.0, f64::max);
        if score >= MATCH_THRESHOLD && best.is_none_or(|(_, b)| score > b) {
            best = Some((index, score));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIVE: [&str; 5] = [
        "lisinopril 10 MG Oral Tablet",
        "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
        "Simvastatin 20 MG Oral Tablet",
        "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler",
        "Amlodipine 5 MG Oral Tablet",
    ];

    #[test]
    fn exact_and_misheard_names_find_the_active_medication() {
        for (spoken, want) in [
            ("lisinopril", 0),
            ("my lysin oh pril", 0),
            ("lice in a pril", 0),
            ("met forming", 1),
            ("metformin please", 1),
            ("sim va statin", 2),
            ("the flu ticasone inhaler", 3),
            ("am low dipine", 4),
        ] {
            let got = best_match(spoken, &ACTIVE);
            assert_eq!(got.map(|g| g.0), Some(want), "{spoken:?} -> {got:?}");
        }
    }

    #[test]
    fn unrelated_words_match_nothing() {
        for spoken in ["my blood pressure pill", "the water pill", "insulin", "something for my back", ""] {
            assert_eq!(best_match(spoken, &ACTIVE), None, "{spoken:?}");
        }
    }

    #[test]
    fn exact_beats_near() {
        let (index, score) = best_match("atorvastatin", &["rosuvastatin", "atorvastatin"]).unwrap();
        assert_eq!(index, 1);
        assert!((score - 1.0).abs() < 1e-9);
    }
}
