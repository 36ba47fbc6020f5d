//! ehr (filled in by its own module files)
