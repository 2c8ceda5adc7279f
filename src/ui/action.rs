//! What a key means, independent of which key it is.

/// Everything the operator can ask of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Add `step` VUs (or rate).
    LoadUp,
    /// Remove `step` VUs.
    LoadDown,
    /// Add `big_step` VUs.
    LoadUpBig,
    /// Remove `big_step` VUs.
    LoadDownBig,
    /// Open the input line to type an exact VU count.
    SetLoad,
    /// Start a spike with the current spike settings, or end the running one.
    Spike,
    /// Open the input line to edit the spike ("5x 30s", "+200 45s") and start it.
    EditSpike,
    /// Pause, or resume when paused.
    TogglePause,
    /// Stop the run gracefully and quit.
    Quit,
    /// Quit at once (a second Ctrl-C), writing what there is.
    ForceQuit,
    /// Leave the console; the run goes on in the background (`volley attach` comes back).
    Detach,
    /// Select the next endpoint row.
    Down,
    /// Select the previous endpoint row.
    Up,
    /// Open the detail view of the selected endpoint / apply the input line.
    Enter,
    /// Close the detail view, help, input line, or end a spike.
    Back,
    /// Sort the endpoint table by the next column.
    Sort,
    /// Cycle through the built-in themes.
    CycleTheme,
    /// Show or hide the resources panel (generator and target sparklines).
    ToggleResources,
    /// Show or hide the help overlay.
    Help,
}

impl Action {
    /// Short description for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Action::LoadUp => "more VUs (+step)",
            Action::LoadDown => "fewer VUs (-step)",
            Action::LoadUpBig => "more VUs (+big step)",
            Action::LoadDownBig => "fewer VUs (-big step)",
            Action::SetLoad => "type an exact VU count",
            Action::Spike => "start a spike / end the spike",
            Action::EditSpike => "edit the spike (5x 30s, +200 45s) and start it",
            Action::TogglePause => "pause / resume",
            Action::Quit => "stop, drain, write results, quit",
            Action::ForceQuit => "quit now (second Ctrl-C)",
            Action::Detach => "detach: the run goes on (volley attach)",
            Action::Down => "select next endpoint",
            Action::Up => "select previous endpoint",
            Action::Enter => "endpoint detail / apply input",
            Action::Back => "back / cancel / end spike",
            Action::Sort => "sort endpoints by next column",
            Action::CycleTheme => "next theme",
            Action::ToggleResources => "resources: volley's CPU/lag, the target's",
            Action::Help => "this help",
        }
    }
}
