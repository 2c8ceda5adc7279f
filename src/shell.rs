//! `volley completions bash|zsh|fish` and `volley man`, generated from the command line's
//! own definition (clap_complete, clap_mangen), so they never fall behind the flags.

use std::io::Write;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Writes the completion script for `shell`.
pub fn completions(shell: CompletionShell, mut cmd: clap::Command, out: &mut dyn Write) {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "volley", out);
}

/// Writes the man page (roff): the main page, then one section per subcommand.
pub fn man(cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let cmd = cmd.name("volley");
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("volley {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        let page = clap_mangen::Man::new(sub.clone());
        let mut part = Vec::new();
        page.render_description_section(&mut part)?;
        page.render_options_section(&mut part)?;
        // Its sections become subsections of the command's own.
        let part = String::from_utf8_lossy(&part).replace(".SH ", ".SS ");
        out.write_all(part.as_bytes())?;
    }
    Ok(())
}
