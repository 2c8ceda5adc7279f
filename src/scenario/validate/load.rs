//! The load: its model, VUs, stages, rate and when it stops, and the user types that
//! share the VUs.

use std::collections::HashSet;
use std::time::Duration;

use serde_spanned::Spanned;

use super::Validator;
use crate::scenario::error::ScenarioError;
use crate::scenario::model::{LoadModelChoice, ScenarioFile, UserSection, MAX_VUS};
use crate::scenario::plan::{
    Endpoint, Flow, LoadModel, LoadPlan, Stage, Step, StopAt, UserType, DEFAULT_GRACEFUL_STOP,
};

impl Validator<'_> {
    pub(super) fn load(&self, f: &ScenarioFile) -> Result<LoadPlan, ScenarioError> {
        let l = &f.load;
        let load_span = self.table_span("load", None);
        let open = match l.model {
            Some(LoadModelChoice::Open) => true,
            Some(LoadModelChoice::Closed) => false,
            None => l.rate.is_some(),
        };
        let vus = match &l.vus {
            Some(v) => {
                let n = v.get_ref().0 as u64;
                if n == 0 && l.stages.is_empty() {
                    return Err(self.err(
                        v.span(),
                        "must be at least 1, got 0 (start from 0 only with stages that ramp up)",
                    ));
                }
                if n > MAX_VUS {
                    return Err(self.err(
                        v.span(),
                        format!("{n} VUs is more than the maximum of {MAX_VUS}"),
                    ));
                }
                n as u32
            }
            None => 1,
        };
        let mut stages = Vec::new();
        for s in &l.stages {
            let target = *s.target.get_ref();
            let limit = if open { 1_000_000.0 } else { MAX_VUS as f64 };
            if !(target.is_finite() && target >= 0.0 && target <= limit) {
                return Err(self.err(
                    s.target.span(),
                    format!("a stage target must be between 0 and {limit}, got {target}"),
                ));
            }
            stages.push(Stage {
                duration: s.duration.0,
                target,
            });
        }
        if !stages.is_empty() && stages.iter().all(|s| s.duration.is_zero()) {
            return Err(self.err_key(
                load_span.clone(),
                "load.stages",
                "every stage has a zero duration: the run would end at once",
            ));
        }
        let staged: Duration = stages.iter().map(|s| s.duration).sum();
        let model = if open {
            let rate = match (&l.rate, stages.first()) {
                (Some(r), _) => r.get_ref().0,
                (None, Some(_)) => 0.0,
                (None, None) => {
                    return Err(self.err_key(
                        load_span,
                        "load.rate",
                        "the open model needs a rate (like \"200/s\") or stages",
                    ))
                }
            };
            let peak = stages.iter().map(|s| s.target).fold(rate, f64::max);
            let max_vus = match &l.max_vus {
                Some(m) => {
                    if m.get_ref().0 > MAX_VUS {
                        return Err(self.err(
                            m.span(),
                            format!(
                                "{} VUs is more than the maximum of {MAX_VUS}",
                                m.get_ref().0
                            ),
                        ));
                    }
                    m.get_ref().0 as u32
                }
                None => (peak.ceil() as u32).clamp(10, MAX_VUS as u32),
            };
            LoadModel::Open { rate, max_vus }
        } else {
            if let Some(r) = &l.rate {
                return Err(self.err(
                    r.span(),
                    "'rate' belongs to the open model: remove it or set model = \"open\"",
                ));
            }
            LoadModel::Closed
        };
        let stop = StopAt {
            duration: l
                .duration
                .map(|d| d.0)
                .or((!stages.is_empty()).then_some(staged)),
            iterations: l.iterations.map(|c| c.0),
        };
        if stop.duration.is_none() && stop.iterations.is_none() {
            return Err(self.err_key(
                load_span,
                "load",
                "set load.duration (like \"30s\") or load.iterations (a count), or stages: otherwise the run never ends",
            ));
        }
        if stop.duration == Some(Duration::ZERO) {
            return Err(self.err_key(load_span, "load.duration", "must be above zero"));
        }
        Ok(LoadPlan {
            model,
            vus,
            stages,
            pacing: l.pacing.map(|d| d.0),
            stop,
            think_time: l.think_time.unwrap_or_default(),
            graceful_stop: l.graceful_stop.map_or(DEFAULT_GRACEFUL_STOP, |d| d.0),
        })
    }

    pub(super) fn users(
        &self,
        sections: &[UserSection],
        endpoints: &[Endpoint],
        f: &ScenarioFile,
    ) -> Result<Vec<UserType>, ScenarioError> {
        let think = f.load.think_time.unwrap_or_default();
        let pacing = f.load.pacing.map(|d| d.0);
        if sections.is_empty() {
            if endpoints.iter().all(|e| e.weight == 0) {
                return Err(self.err_key(
                    self.table_span("request", Some(0)),
                    "request.weight",
                    "the weights of all requests add up to zero: at least one must be above zero",
                ));
            }
            return Ok(vec![UserType {
                name: "default".into(),
                weight: 1,
                on_start: Vec::new(),
                flow: Flow::Tasks(
                    endpoints
                        .iter()
                        .enumerate()
                        .map(|(i, e)| (i, e.weight))
                        .collect(),
                ),
                think_time: think,
                pacing,
            }]);
        }
        let find = |n: &Spanned<String>| -> Result<usize, ScenarioError> {
            endpoints
                .iter()
                .position(|e| &e.name == n.get_ref())
                .ok_or_else(|| self.err(n.span(), format!("no request is named '{}'", n.get_ref())))
        };
        let mut out = Vec::new();
        let mut names = HashSet::new();
        for u in sections {
            if !names.insert(u.name.get_ref().clone()) {
                return Err(self.err(
                    u.name.span(),
                    format!("two user types are named '{}'", u.name.get_ref()),
                ));
            }
            let on_start = u.on_start.iter().map(find).collect::<Result<Vec<_>, _>>()?;
            let flow =
                match (&u.tasks, &u.steps) {
                    (Some(t), None) => {
                        let mut tasks = Vec::new();
                        for (name, w) in t.get_ref() {
                            let idx = endpoints.iter().position(|e| &e.name == name).ok_or_else(
                                || {
                                    self.err(
                                        t.span(),
                                        format!("task '{name}': no request is named '{name}'"),
                                    )
                                },
                            )?;
                            tasks.push((idx, w.0));
                        }
                        if tasks.iter().all(|(_, w)| *w == 0) {
                            return Err(self.err(t.span(), "the task weights add up to zero"));
                        }
                        Flow::Tasks(tasks)
                    }
                    (None, Some(steps)) if !steps.is_empty() => Flow::Steps(
                        steps
                            .iter()
                            .map(|s| self.step(s, &find))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    (Some(_), Some(_)) => {
                        return Err(self.err(
                            u.name.span(),
                            format!(
                                "user '{}' has both tasks and steps: choose one",
                                u.name.get_ref()
                            ),
                        ))
                    }
                    _ => {
                        return Err(self.err(
                            u.name.span(),
                            format!(
                                "user '{}' needs 'tasks' (weighted) or 'steps' (in order)",
                                u.name.get_ref()
                            ),
                        ))
                    }
                };
            out.push(UserType {
                name: u.name.get_ref().clone(),
                weight: u.weight.map_or(1, |w| w.0),
                on_start,
                flow,
                think_time: u.think_time.unwrap_or(think),
                pacing: u.pacing.map(|d| d.0).or(pacing),
            });
        }
        if out.iter().all(|u| u.weight == 0) {
            return Err(self.err_key(
                self.table_span("user", Some(0)),
                "user.weight",
                "the weights of all user types add up to zero",
            ));
        }
        Ok(out)
    }

    /// One entry of a user's `steps`: a request's name, or a list of names (a batch,
    /// sent together).
    fn step(
        &self,
        s: &Spanned<toml::Value>,
        find: &dyn Fn(&Spanned<String>) -> Result<usize, ScenarioError>,
    ) -> Result<Step, ScenarioError> {
        let name = |v: &toml::Value| -> Result<usize, ScenarioError> {
            match v {
                toml::Value::String(n) => find(&Spanned::new(s.span(), n.clone())),
                other => Err(self.err_key(
                    s.span(),
                    "user.steps",
                    format!(
                        "a step is a request's name, or a list of names sent together (a batch), not {}",
                        other.type_str()
                    ),
                )),
            }
        };
        match s.get_ref() {
            toml::Value::Array(batch) => {
                if batch.is_empty() {
                    return Err(self.err_key(
                        s.span(),
                        "user.steps",
                        "an empty batch: list the requests to send together, e.g. [\"css\", \"js\"]",
                    ));
                }
                if batch.len() > MAX_BATCH {
                    return Err(self.err_key(
                        s.span(),
                        "user.steps",
                        format!("a batch of {} requests: at most {MAX_BATCH}", batch.len()),
                    ));
                }
                let mut out = Vec::with_capacity(batch.len());
                for v in batch {
                    if let toml::Value::Array(_) = v {
                        return Err(self.err_key(
                            s.span(),
                            "user.steps",
                            "a batch holds request names, not another batch",
                        ));
                    }
                    out.push(name(v)?);
                }
                Ok(Step::Batch(out))
            }
            v => Ok(Step::One(name(v)?)),
        }
    }
}

/// Most requests in one batch step.
pub const MAX_BATCH: usize = 100;
