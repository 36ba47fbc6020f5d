//! speech (filled in by its own module files)
