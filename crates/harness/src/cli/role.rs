//! `ipcbench __role` (hidden): one process of a producer-consumer pair,
//! started by the supervisor with its role specification as JSON.

use anyhow::{Context, Result, bail};

use crate::placement;
use crate::registry;
use crate::role::{Control, RoleSpec};

pub(super) fn run(spec_json: &str) -> Result<()> {
    let spec: RoleSpec = serde_json::from_str(spec_json).context("malformed role specification")?;
    // The supervisor set PR_SET_PDEATHSIG before exec; if it died in between,
    // we were orphaned before the signal could be armed.
    if rustix::process::getppid().is_none_or(|p| p.as_raw_nonzero().get() == 1) {
        bail!("supervisor is gone");
    }
    if let Some(core) = crate::placement::core_for(spec.placement, spec.role) {
        placement::pin_current(core)?;
    }
    let backend = registry::find(&spec.transport)
        .with_context(|| format!("unknown transport {:?}", spec.transport))?;
    let mut ctl = Control;
    let out = (backend.run_role)(&spec, &mut ctl)?;
    ctl.result(&out)
}
