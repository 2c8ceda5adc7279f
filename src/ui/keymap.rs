//! The keymap is data: key names mapped to [`Action`]s, with defaults in a table.

use std::collections::HashMap;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;

/// The default bindings, as (key, action). Several keys may share an action.
pub const DEFAULT_KEYS: &[(&str, Action)] = &[
    ("+", Action::LoadUp),
    ("=", Action::LoadUp),
    ("right", Action::LoadUp),
    ("-", Action::LoadDown),
    ("left", Action::LoadDown),
    ("shift-right", Action::LoadUpBig),
    ("]", Action::LoadUpBig),
    ("shift-left", Action::LoadDownBig),
    ("[", Action::LoadDownBig),
    ("v", Action::SetLoad),
    ("s", Action::Spike),
    ("shift-s", Action::EditSpike),
    ("S", Action::EditSpike),
    ("p", Action::TogglePause),
    ("space", Action::TogglePause),
    ("q", Action::Quit),
    ("ctrl-c", Action::Quit),
    ("d", Action::Detach),
    ("down", Action::Down),
    ("j", Action::Down),
    ("up", Action::Up),
    ("k", Action::Up),
    ("enter", Action::Enter),
    ("esc", Action::Back),
    ("o", Action::Sort),
    ("t", Action::CycleTheme),
    ("r", Action::ToggleResources),
    ("?", Action::Help),
    ("h", Action::Help),
];

/// A normalised key: code plus the modifiers that matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub shift: bool,
    pub alt: bool,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Key {
        let mut shift = e.modifiers.contains(KeyModifiers::SHIFT);
        // A typed character already carries its shift ('S', '+'): don't count it twice.
        if matches!(e.code, KeyCode::Char(_)) {
            shift = false;
        }
        Key {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
            shift,
            alt: e.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// Parses "q", "ctrl-c", "shift-left", "space", "enter", "f1", ...
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut key = Key {
            code: KeyCode::Null,
            ctrl: false,
            shift: false,
            alt: false,
        };
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-") {
                key.ctrl = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("shift-") {
                key.shift = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-") {
                key.alt = true;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        key.code = match rest.to_ascii_lowercase().as_str() {
            "space" => KeyCode::Char(' '),
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backspace" => KeyCode::Backspace,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            f if f.starts_with('f') && f.len() > 1 && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().expect("checked"))
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => {
                        if key.shift && c.is_ascii_alphabetic() {
                            key.shift = false;
                            KeyCode::Char(c.to_ascii_uppercase())
                        } else {
                            KeyCode::Char(c)
                        }
                    }
                    _ => return Err(format!("unknown key '{s}'")),
                }
            }
        };
        Ok(key)
    }
}

/// Key -> Action.
#[derive(Debug, Clone)]
pub struct Keymap {
    map: HashMap<Key, Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        let map = DEFAULT_KEYS
            .iter()
            .map(|(k, a)| (Key::parse(k).expect("default keys parse"), *a))
            .collect();
        Keymap { map }
    }
}

impl Keymap {
    /// The action for a key press; repeats count, releases do not.
    pub fn action(&self, e: &KeyEvent) -> Option<Action> {
        if e.kind == KeyEventKind::Release {
            return None;
        }
        self.map.get(&Key::from_event(e)).copied()
    }

    /// Keys bound to each action, in default-table order (for the help overlay).
    pub fn bindings(&self) -> Vec<(Action, Vec<&'static str>)> {
        let mut out: Vec<(Action, Vec<&'static str>)> = Vec::new();
        for (k, a) in DEFAULT_KEYS {
            if self.map.get(&Key::parse(k).expect("default keys parse")) != Some(a) {
                continue;
            }
            match out.iter_mut().find(|(x, _)| x == a) {
                Some((_, keys)) => keys.push(k),
                None => out.push((*a, vec![k])),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn default_bindings() {
        let km = Keymap::default();
        assert_eq!(
            km.action(&press(KeyCode::Char('p'), KeyModifiers::NONE)),
            Some(Action::TogglePause)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char(' '), KeyModifiers::NONE)),
            Some(Action::TogglePause)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(&press(KeyCode::Right, KeyModifiers::SHIFT)),
            Some(Action::LoadUpBig)
        );
        assert_eq!(
            km.action(&press(KeyCode::Right, KeyModifiers::NONE)),
            Some(Action::LoadUp)
        );
        // '+' arrives with SHIFT on most terminals.
        assert_eq!(
            km.action(&press(KeyCode::Char('+'), KeyModifiers::SHIFT)),
            Some(Action::LoadUp)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char('S'), KeyModifiers::SHIFT)),
            Some(Action::EditSpike)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char('x'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn releases_are_ignored() {
        let km = Keymap::default();
        let mut e = press(KeyCode::Char('q'), KeyModifiers::NONE);
        e.kind = KeyEventKind::Release;
        assert_eq!(km.action(&e), None);
    }

    #[test]
    fn every_action_has_a_key_and_help_lists_it() {
        let km = Keymap::default();
        let bound = km.bindings();
        assert!(bound
            .iter()
            .any(|(a, keys)| *a == Action::Help && keys.contains(&"?")));
        assert!(Key::parse("nonsense").is_err());
    }
}
