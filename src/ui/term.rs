//! The terminal: raw mode and the alternate screen, always restored (Drop guard and
//! panic hook).

use std::io::{self, Stdout};
use std::sync::{Once, OnceLock};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::Terminal;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the console runs; restores it when dropped.
pub struct TermGuard {
    terminal: Option<Term>,
}

impl TermGuard {
    pub fn enter() -> io::Result<TermGuard> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, terminal::EnterAlternateScreen, cursor::Hide) {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TermGuard {
            terminal: Some(terminal),
        })
    }

    pub fn terminal(&mut self) -> &mut Term {
        self.terminal.as_mut().expect("present until dropped")
    }
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        restore();
        if let Some(mut t) = self.terminal.take() {
            // ratatui's own drop shows the cursor and, when that fails, reports it with
            // `eprintln!`, which panics when stderr is the terminal that hung up, before
            // the results are written. A terminal that cannot show its cursor is gone:
            // it is not dropped.
            if t.show_cursor().is_ok() {
                drop(t);
            } else {
                std::mem::forget(t);
            }
        }
    }
}

/// Leaves the alternate screen and raw mode; safe to call more than once.
pub fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
}

/// The name of the first thread that panicked while the console owned the terminal.
static PANICKED_THREAD: OnceLock<String> = OnceLock::new();

/// Which thread panicked under the console, if one did (the terminal is then restored and
/// the console stops drawing). A VU's panic is also [`crate::engine::worker_panicked`];
/// this one names any thread, the console's own included.
pub fn panicked_thread() -> Option<&'static str> {
    PANICKED_THREAD.get().map(String::as_str)
}

/// Keeps the first panicking thread's name (unnamed threads by their id).
fn note_panicking_thread(thread: &std::thread::Thread) {
    let name = match thread.name() {
        Some(name) => name.to_string(),
        None => format!("{:?}", thread.id()),
    };
    let _ = PANICKED_THREAD.set(name);
}

/// A panic anywhere restores the terminal before the message is printed.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The console stops drawing: the screen is the shell's again.
            note_panicking_thread(&std::thread::current());
            restore();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_console_panic_is_named_and_not_counted_as_a_vu_panic() {
        std::thread::Builder::new()
            .name("volley-test-ui".into())
            .spawn(|| note_panicking_thread(&std::thread::current()))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(panicked_thread(), Some("volley-test-ui"));
        assert!(!crate::engine::worker_panicked());
    }
}
