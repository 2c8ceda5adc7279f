//! Running one test over several workers: how the work is split and how the results merge.

pub mod coordinator;
pub mod k8s;
pub mod launch;
pub mod merge;
pub mod protocol;
pub mod segment;
pub mod sums;
pub mod view;
pub mod worker;

use std::io::Write as _;

use crate::cli::MergeArgs;
use crate::error::{exit, Error};
use crate::output;
use crate::report::load_doc;

/// `volley merge A.json B.json ... [--out KIND=PATH]`: the merged document, written as
/// `volley report` writes one (the text summary without `--out`). Exit 2 when a file is
/// not a result document or not a part of the same run.
pub fn merge_command(args: &MergeArgs) -> Result<i32, Error> {
    let outs = output::parse_outs(&args.out)?;
    let parts = args
        .files
        .iter()
        .map(|f| Ok((f.display().to_string(), load_doc(f).map_err(Error::Usage)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let doc = merge::merge_docs(&parts).map_err(|e| Error::Usage(e.to_string()))?;
    if outs.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = crate::report::write_summary(&doc, &mut out);
        let _ = out.flush();
    } else {
        output::write_all(&doc, &outs)?;
    }
    Ok(exit::OK)
}
