//! `volley completions` and `volley man`: the bash script is valid bash and completes
//! `volley r` to run and report; zsh and fish scripts and the man page name every command.

use std::process::Command;

fn volley(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn scratch_file(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("volley-compl-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

/// What bash offers for the words typed so far (the last one being completed): the
/// script sourced, COMP_WORDS/COMP_CWORD set and the completion function called.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let cword = words.len() - 1;
    let driver = format!(
        r#"source '{}'
COMP_WORDS=({line}); COMP_CWORD={cword}; COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}
_volley volley '{}' '{}'
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script.display(),
        words[cword],
        words[cword - 1],
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&driver)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    got
}

#[test]
fn bash_script_parses_and_completes_subcommands() {
    let script = scratch_file("volley.bash", &volley(&["completions", "bash"]));
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    assert_eq!(bash_complete(&script, &["volley", "r"]), ["report", "run"]);
    assert_eq!(
        bash_complete(&script, &["volley", "import", "har", "--ex"]),
        ["--exclude"]
    );
    let _ = std::fs::remove_file(script);
}

#[test]
fn zsh_fish_and_man_name_every_command() {
    let zsh = volley(&["completions", "zsh"]);
    let fish = volley(&["completions", "fish"]);
    let man = volley(&["man"]);
    assert!(zsh.starts_with("#compdef volley"), "{}", &zsh[..80]);
    assert!(man.contains(".TH volley 1"));
    for cmd in [
        "run",
        "demo",
        "report",
        "compare",
        "check",
        "import",
        "init",
        "schema",
        "completions",
        "man",
    ] {
        assert!(zsh.contains(&format!("'{cmd}:")), "zsh: {cmd}");
        assert!(fish.contains(&format!("-a \"{cmd}\"")), "fish: {cmd}");
        assert!(
            man.contains(&format!(".SH \"VOLLEY {}\"", cmd.to_uppercase())),
            "man: {cmd}"
        );
    }
}
