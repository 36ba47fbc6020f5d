//! `chartline chart`: the embedded chart, and the configured chart's slots and appointments.

use std::process::ExitCode;

use super::error::{Context, ensure};
use super::*;

/// `chartline chart`: the embedded chart (and the configured one for slots and appointments).
pub(super) fn chart(command: ChartCommand) -> Result<ExitCode, CliError> {
    match command {
        ChartCommand::Import { paths, config } => {
            let config = load_config(config.as_ref())?;
            let chart = config.open_chart()?;
            let report = chart.import(&paths)?;
            println!("{}", serde_json::to_string(&report)?);
            ensure(report.errors.is_empty(), || format!("{} file(s) not imported:\n{}", report.errors.len(), report.errors.join("\n")))?;
            Ok(ExitCode::SUCCESS)
        }
        ChartCommand::Patients { json, config } => {
            let config = load_config(config.as_ref())?;
            let chart = config.open_chart()?;
            chart.ensure_demo_loaded(&config.ehr.demo_dir)?;
            let patients = chart.patients()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&patients)?);
            } else {
                for p in patients {
                    println!("{}  {}  {} {}  {}", p.id, p.birth_date, p.given, p.family, p.phone.unwrap_or_default());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ChartCommand::Slots { json, practitioner, from, limit, config } => {
            let config = load_config(config.as_ref())?;
            chart_slots(&config, practitioner, from, limit, json)?;
            Ok(ExitCode::SUCCESS)
        }
        ChartCommand::Appointments { patient_id, json, config } => {
            let config = load_config(config.as_ref())?;
            let ehr = config.open_ehr().context("opening the EHR adapter")?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let upcoming = rt.block_on(ehr.upcoming_appointments(&patient_id, chrono::Utc::now()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&upcoming)?);
            } else {
                for a in upcoming {
                    println!("{}  {}  {}  {}", a.appointment_id, a.start, a.practitioner_name.unwrap_or_default(), a.location_name.unwrap_or_default());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ChartCommand::Schedules { seed, config } => {
            let config = load_config(config.as_ref())?;
            let chart = config.open_chart()?;
            chart.ensure_demo_loaded(&config.ehr.demo_dir)?;
            let report = chart.generate_schedules(seed, chrono::Utc::now())?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `chartline chart slots`: free single slots from `from` (local midnight) or now, over the horizon.
fn chart_slots(config: &Config, practitioner: Option<String>, from: Option<chrono::NaiveDate>, limit: usize, json: bool) -> Result<(), CliError> {
    use chrono::TimeZone;
    let tz = config.practice.tz();
    let now = chrono::Utc::now();
    let start = match from {
        Some(date) => tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).context("midnight")?).earliest().context("no local midnight on that date")?.with_timezone(&chrono::Utc).max(now),
        None => now,
    };
    let query = crate::schedule::SlotQuery {
        practitioner_id: practitioner,
        location_id: None,
        from: start,
        until: start + chrono::Duration::days(i64::from(config.scheduling.horizon_days)),
        minutes: 1,
        constraint: Default::default(),
        exclude: Vec::new(),
        limit,
    };
    let ehr = config.open_ehr().context("opening the EHR adapter")?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let slots = rt.block_on(ehr.free_slots(&query))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&slots)?);
    } else {
        for s in slots {
            println!("{}  {}  {}  {}  {}", s.id, s.start.with_timezone(&tz).format("%a %Y-%m-%d %H:%M"), s.end.with_timezone(&tz).format("%H:%M"), s.practitioner_name, s.location_name);
        }
    }
    Ok(())
}
