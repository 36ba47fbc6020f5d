//! Classifier behaviour with the embedded rules.

use super::*;

fn triage() -> Triage {
    Triage::embedded().expect("embedded rules")
}

fn flags(text: &str) -> Vec<String> {
    triage().classify(text).red_flag_ids()
}

#[test]
fn plain_requests() {
    let t = triage();
    assert_eq!(t.classify("I need a refill on my lisinopril").request, RequestType::Refill);
    assert_eq!(t.classify("can I reschedule my appointment").request, RequestType::Appointment);
    assert_eq!(t.classify("I got a bill I don't understand").request, RequestType::Billing);
    let c = t.classify("I need a refill on my lisinopril");
    assert!(!c.urgent && c.red_flags.is_empty());
    assert!(c.rules.iter().any(|r| r.id == "refill.word" && r.matched == ["refill"]), "{:?}", c.rules);
}

#[test]
fn negated_red_flags_do_not_fire() {
    for text in [
        "I have no chest pain, I just need my nitroglycerin refilled",
        "I'm not bleeding, it's about a bill",
        "I don't have a fever, I need a physical",
        "there's no trouble breathing, just a cough",
        "he denies chest pain",
        "without any chest pressure",
    ] {
        let c = triage().classify(text);
        assert!(!c.is_emergency() && c.severity.is_none(), "{text:?}: {:?}", c.red_flags);
        assert!(!c.negated.is_empty(), "{text:?}: the negated rule is reported");
    }
}

#[test]
fn negation_does_not_hide_a_real_emergency() {
    for text in [
        "no, I'm having chest pain right now",
        "I don't have a fever but I have chest pain",
        "my cut won't stop bleeding",
        "I can't breathe",
        "he's not responding",
        "I'm not sure but I think she's having a stroke",
    ] {
        let c = triage().classify(text);
        assert!(c.is_emergency(), "{text:?}: {:?} negated {:?}", c.red_flags, c.negated);
        assert!(c.urgent);
        assert_eq!(c.request, RequestType::Urgent);
    }
}

#[test]
fn emergency_keeps_the_detected_request() {
    let c = triage().classify("I need a refill on my EpiPen, I used it today because my throat was closing up");
    assert_eq!(c.request, RequestType::Urgent);
    assert_eq!(c.detected, Some(RequestType::Refill));
    assert_eq!(c.red_flag_ids(), ["anaphylaxis"]);
}

#[test]
fn urgent_level_flags_keep_the_type() {
    let c = triage().classify("my daughter has a fever of 103.5 and it won't come down");
    assert_eq!(c.request, RequestType::Symptom);
    assert_eq!(c.severity, Some(Severity::Urgent));
    assert!(!c.urgent);
    assert_eq!(c.red_flag_ids(), ["high_fever"]);
}

#[test]
fn infant_fever_depends_on_age() {
    assert_eq!(flags("my baby is six weeks old and has a fever"), ["infant_fever"]);
    assert_eq!(flags("my newborn feels hot, temperature of 100.6"), ["infant_fever"]);
    assert!(flags("my son is six years old and has a fever").is_empty());
    assert!(flags("my baby is six months old and has a fever").is_empty());
}

#[test]
fn compound_flags_need_both_parts() {
    assert!(flags("I'm pregnant and need a prenatal appointment").is_empty());
    assert_eq!(flags("I'm pregnant and I'm bleeding"), ["pregnancy_bleeding_pain"]);
    assert!(flags("he hit his head on the cabinet").is_empty());
    assert_eq!(flags("he hit his head and passed out"), ["head_injury_loc"]);
}

#[test]
fn nothing_recognised_falls_back_with_no_detected_type() {
    let c = triage().classify("hello? hello?");
    assert_eq!(c.request, RequestType::Provider);
    assert_eq!(c.detected, None);
    assert!(c.rules.is_empty());
}

#[test]
fn report_has_the_contract_fields() {
    let c = triage().classify("I need a refill");
    let json = serde_json::to_value(TriageReport::from(&c)).unwrap();
    assert_eq!(json["type"], "refill");
    assert_eq!(json["code"], "A");
    assert_eq!(json["urgent"], false);
    assert_eq!(json["red_flags"], serde_json::json!([]));
    assert_eq!(json["rules"][0], "refill.word");
}

#[test]
fn rules_file_from_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, rules::EMBEDDED_RULES.replace("fallback = \"provider\"", "fallback = \"callback\"")).unwrap();
    let (t, no_model) = Triage::from_config(&TriageConfig { rules: Some(path.clone()), model: Some(dir.path().join("no-model")) }).unwrap();
    assert_eq!(t.classify("hello?").request, RequestType::Callback);
    assert!(!t.has_model());
    assert!(no_model.unwrap().to_string().contains("chartline model import-triage"), "a missing model names the command that makes it");
    let (_, none) = Triage::from_config(&TriageConfig { rules: None, model: None }).unwrap();
    assert!(none.is_none(), "no model configured: nothing to warn about");
    let missing = Triage::from_config(&TriageConfig { rules: Some(dir.path().join("nope.toml")), model: None });
    assert!(missing.unwrap_err().to_string().contains("nope.toml"));
    std::fs::create_dir_all(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/heads.json"), "{not json").unwrap();
    let broken = Triage::from_config(&TriageConfig { rules: None, model: Some(dir.path().join("broken")) });
    assert!(broken.unwrap_err().to_string().contains("heads.json"), "a model that is there but broken stops the start");
    assert!(triage().vocabulary("med").iter().any(|m| m == "lisinopril"));
}

#[test]
fn medications_match_through_brand_names() {
    let active = ["Metformin hydrochloride 500 MG Oral Tablet", "Atorvastatin 20 MG Oral Tablet", "Albuterol 0.09 MG/ACTUAT Inhaler"];
    let t = triage();
    assert_eq!(t.match_medication("my glucophage", &active).map(|m| m.0), Some(0));
    assert_eq!(t.match_medication("lipitor", &active).map(|m| m.0), Some(1));
    assert_eq!(t.match_medication("the pro air inhaler", &active).map(|m| m.0), Some(2));
    assert_eq!(t.match_medication("atorvastatin", &active).map(|m| m.0), Some(1));
    assert_eq!(t.match_medication("zoloft", &active), None);
}

#[test]
fn history_is_not_an_emergency_now() {
    let c = triage().classify("I had a stroke two years ago and need a refill on my Plavix");
    assert!(!c.is_emergency(), "{:?}", c.red_flags);
    assert_eq!(c.request, RequestType::Refill);
    assert!(!triage().classify("my dad had a heart attack last year, I need his records").is_emergency());
    assert!(!triage().classify("I can't talk right now, please call me back").is_emergency());
    assert!(triage().classify("I think my dad just had a stroke").is_emergency());
    assert!(triage().classify("she had a stroke two years ago and now her face is drooping").is_emergency());
    assert!(triage().classify("she suddenly can't speak").is_emergency());
    let years = triage().classify("I had chest pain a few years ago and the heart doctor said it was fine");
    assert!(!years.is_emergency(), "{:?}", years.red_flags);
    assert!(triage().classify("I had chest pain an hour ago and now it's back").is_emergency(), "an hour ago is now");
    assert!(!triage().classify("this bill is giving me a heart attack").is_emergency());
}

#[test]
fn passive_suicidal_intent_and_overdose_said_in_passing() {
    for (text, flag) in [
        ("honestly I just don't want to be here anymore", "suicidal"),
        ("she says she wants to go to sleep and never wake up", "suicidal"),
        ("he took all of his pills at once", "overdose"),
        ("my dad is having a fit and won't stop shaking", "seizure"),
        // The recogniser often gets the tense wrong ("drank" heard as "drink"), and the substance
        // may come several words after the verb.
        ("my toddler drink from a bottle of lamp oil", "overdose"),
    ] {
        assert_eq!(flags(text), [flag], "{text:?}");
    }
    assert!(flags("I need a note for work about my fitness class").is_empty());
}

#[test]
fn more_flags() {
    assert_eq!(flags("my blood sugar is like four hundred"), ["blood_sugar_extreme"]);
    assert_eq!(flags("my grandma is suddenly confused and not making sense"), ["sudden_confusion"]);
    assert_eq!(flags("I took my pills twice by accident"), ["medication_error"]);
    assert!(flags("I'm confused about my bill").is_empty());
    assert!(flags("my sugar has been good lately").is_empty());
}

/// Each same-day criterion with its flag; none of them is a 911 emergency.
#[test]
fn same_day_criteria_raise_their_urgent_flag() {
    for (text, id) in [
        ("my throat is so swollen i can hardly swallow anything", "swallowing"),
        ("the baby keeps drooling and won't drink", "swallowing"),
        ("there's a red line going up from the scratch on my hand", "red_streak"),
        ("a branch poked my eye and now everything is blurry", "eye_injury"),
        ("she twisted her knee and can't put any weight on it", "cannot_bear_weight"),
        ("my left calf is swollen and tender", "calf_swelling"),
        ("his leg puffed up after the long drive, the leg is swollen", "calf_swelling"),
        ("my son's ear hurts and there's yellow gunk coming out", "ear_discharge"),
        ("the stitches on my knee are coming apart", "wound_infection"),
        ("it burns when i pee and i have a fever", "uti_fever_flank"),
        ("i think i have a uti and my back hurts on one side", "uti_fever_flank"),
        ("she has a fever and spots that don't fade when i press a glass on them", "non_blanching_rash"),
        ("my stool has been black and tarry for two days", "black_stool"),
    ] {
        let c = triage().classify(text);
        assert!(c.red_flag_ids().contains(&id.to_string()), "{text:?}: {:?}", c.red_flags);
        assert!(!c.is_emergency(), "{text:?} is same-day, not 911: {:?}", c.red_flags);
        assert_eq!(c.severity, Some(Severity::Urgent), "{text:?}");
    }
}

#[test]
fn same_day_rules_need_their_sign() {
    for text in ["my calf muscle is sore after running", "my ear feels a bit blocked", "it burns a little when i pee", "my eye is itchy from allergies", "i have a rash on my arm"] {
        let c = triage().classify(text);
        assert!(c.severity.is_none(), "{text:?}: {:?}", c.red_flags);
    }
}

#[test]
fn understated_chest_pressure_and_a_plain_gi_bleed_are_emergencies() {
    for (text, id) in [
        ("there's a heavy feeling behind my breastbone that goes into my jaw", "chest_pain"),
        ("my sternum feels tight and i'm sweaty", "chest_pain"),
        ("he threw up something like coffee grounds", "severe_bleeding"),
        ("my poop is black like tar and i nearly fainted", "gi_bleed_faint"),
        ("there was blood in the toilet and now i'm dizzy", "gi_bleed_faint"),
    ] {
        let c = triage().classify(text);
        assert!(c.is_emergency() && c.red_flag_ids().contains(&id.to_string()), "{text:?}: {:?}", c.red_flags);
    }
}

#[test]
fn chest_pain_already_checked_and_explained_is_not_an_emergency() {
    for text in ["my chest pain got checked at the er last week, i have a question about the follow up", "the chest pain i called about turned out to be muscular and i want to ask about stretches"] {
        let c = triage().classify(text);
        assert!(!c.is_emergency(), "{text:?}: {:?}", c.red_flags);
    }
    assert!(triage().classify("i have chest pain and want it checked").is_emergency());
}

#[test]
fn hesitations_and_common_mishearings_do_not_hide_a_flag() {
    assert_eq!(flags("my chest um uh you know um hurts"), ["chest_pain"]);
    assert_eq!(flags("i have chess pain"), ["chest_pain"]);
    assert_eq!(flags("she is so short of bread she can not talk"), ["breathing"]);
}
