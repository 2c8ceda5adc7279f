//! The live console: pure panels rendered from `&App`, an `update(Action)` that returns
//! engine `Command`s, data keymap and TOML themes.

pub mod action;
pub mod app;
pub mod console;
pub mod keymap;
pub mod link;
pub mod term;
pub mod theme;
pub mod view;

pub use app::App;
pub use console::{run, ConsoleOptions};
pub use link::{Leave, RunLink};
pub use theme::Theme;
#[cfg(test)]
mod tests;
