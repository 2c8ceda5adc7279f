//! Data sets: CSV files read at validation time, their columns named.

use std::path::Path;

use super::Validator;
use crate::scenario::error::ScenarioError;
use crate::scenario::model::DataSection;
use crate::scenario::plan::DataSet;

impl Validator<'_> {
    pub(super) fn data_sets(
        &self,
        sections: &[DataSection],
    ) -> Result<Vec<DataSet>, ScenarioError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut out: Vec<DataSet> = Vec::new();
        for d in sections {
            let name = d.name.get_ref();
            if out.iter().any(|o| &o.name == name) {
                return Err(self.err(d.name.span(), format!("two data sets are named '{name}'")));
            }
            let file = dir.join(d.file.get_ref());
            // As written, then where that is from here (it is relative to the scenario).
            let written = d.file.get_ref();
            let at = if file.as_path() == Path::new(written) {
                String::new()
            } else {
                format!(" ({})", file.display())
            };
            // A device or a FIFO would never end (or never open).
            crate::scenario::regular_file(&file).map_err(|e| {
                self.err(
                    d.file.span(),
                    format!("cannot read data file '{written}'{at}: {e}"),
                )
            })?;
            let mut reader = csv::ReaderBuilder::new()
                .flexible(false)
                .from_path(&file)
                .map_err(|e| {
                    self.err(
                        d.file.span(),
                        format!("cannot read data file '{written}'{at}: {}", csv_msg(&e)),
                    )
                })?;
            let columns: Vec<String> = reader
                .headers()
                .map_err(|e| {
                    self.err(
                        d.file.span(),
                        format!("data file '{written}'{at}: {}", csv_msg(&e)),
                    )
                })?
                .iter()
                .map(|h| h.trim().to_string())
                .collect();
            let mut rows = Vec::new();
            for rec in reader.records() {
                let rec = rec.map_err(|e| {
                    self.err(
                        d.file.span(),
                        format!("data file '{written}'{at}: {}", csv_msg(&e)),
                    )
                })?;
                rows.push(rec.iter().map(str::to_string).collect());
            }
            if rows.is_empty() {
                return Err(self.err(
                    d.file.span(),
                    format!("data file '{written}' has no rows{at}"),
                ));
            }
            out.push(DataSet {
                name: name.clone(),
                columns,
                rows: std::sync::Arc::new(rows),
                mode: d.mode,
            });
        }
        Ok(out)
    }
}

fn csv_msg(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}
