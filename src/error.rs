//! The one error type at the top: a one-line message, a hint, and the documented exit
//! code. It depends on nothing: each module with a typed error of its own converts it
//! into this one, beside its definition, with its hint; the report layer prints it once.

use std::fmt;

/// Exit codes, as documented in the README.
pub(crate) mod exit {
    /// Every target done.
    pub(crate) const OK: u8 = 0;
    /// At least one target failed; the others are done and reported.
    pub(crate) const TARGET_FAILED: u8 = 1;
    /// Bad usage or bad input: nothing was touched.
    pub(crate) const USAGE: u8 = 2;
    /// Interrupted (Ctrl-C).
    pub(crate) const INTERRUPTED: u8 = 130;
}

#[derive(Debug)]
pub(crate) struct AppError {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl AppError {
    /// Bad usage or input (exit 2), detected before anything was touched.
    pub(crate) fn usage(message: impl Into<String>, hint: Option<&str>) -> Self {
        AppError {
            code: exit::USAGE,
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }

    /// The command ran and failed (exit 1).
    pub(crate) fn failed(message: impl Into<String>, hint: Option<String>) -> Self {
        AppError {
            code: exit::TARGET_FAILED,
            message: message.into(),
            hint,
        }
    }

    pub(crate) fn interrupted() -> Self {
        AppError {
            code: exit::INTERRUPTED,
            message: "interrupted".into(),
            hint: None,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AppError {}
