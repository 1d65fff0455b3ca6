//! `save`, `switch`, `forget` (see `ops::saved`): this machine's logins by name.

use std::time::Duration;

use crate::cli::{ForgetArgs, Given, SaveArgs, SwitchArgs};
use crate::error::{exit, AppError};
use crate::report;

use super::Runner;

pub(crate) fn save(args: SaveArgs) -> Result<u8, AppError> {
    let output = args.output.output();
    let r = crate::ops::saved::save(&args.name, args.force)?;
    report::saved::saved(&r, &output);
    Ok(exit::OK)
}

pub(crate) fn switch(args: SwitchArgs) -> Result<u8, AppError> {
    let runner = Runner::new(&args.output);
    let wait = Duration::from_secs(args.wait.unwrap_or(0));
    let reporter = runner.reporter.clone();
    let r = crate::ops::saved::switch(&args.name, wait, crate::cli::lock_wait()?, &|line| {
        reporter.note(line)
    })?;
    report::saved::switched(&r, &runner.output);
    Ok(exit::OK)
}

pub(crate) fn forget(args: ForgetArgs, given: &Given) -> Result<u8, AppError> {
    if !args.revoke {
        given.refuse(
            &["issuer", "client_id"],
            "a forget without --revoke",
            "add --revoke to end the session at the issuer, or drop the flag",
        )?;
    }
    let issuer = crate::cli::issuer(&args.issuer, &args.client_id)?;
    let runner = Runner::new(&args.output);
    let login = crate::ops::saved::forget(&args.name)?;
    let revoked = if args.revoke {
        Some(super::block_on(async {
            Ok(crate::ops::saved::revoke(&login, &issuer, runner.reporter.as_ref()).await)
        })?)
    } else {
        None
    };
    report::saved::forgot(&args.name, &login, revoked.as_ref(), &runner.output);
    Ok(match revoked {
        Some(Err(_)) => exit::TARGET_FAILED,
        _ => exit::OK,
    })
}
