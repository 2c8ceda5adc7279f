//! `volley attach [RUN]`: the full console on a run in another process, over its control
//! API, or on one that has finished (its DONE screen, from the result document in the run
//! directory). The same `App`, widgets and keys as the local console, fed by the Watch
//! stream through a [`ui::link::Remote`]: one UI code path, two transports.

use std::sync::Arc;

use crate::control::client::{self, Client, Target};
use crate::control::rundir::{self, Liveness};
use crate::control::{proto, wire, PROTOCOL_VERSION};
use crate::engine::{Command, Spike, SpikeChange};
use crate::error::{exit, Error};
use crate::metrics::Snapshot;
use crate::ui::link::{self, Feed, Leave};
use crate::ui::{self, RunLink};

pub use crate::cli::AttachArgs;

/// How often an attached console asks for an update, in milliseconds.
pub const ATTACH_EVERY_MS: u32 = 250;

/// Who this console is, in the events the run records for its commands.
fn sender() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| format!("uid {}", rundir::euid()));
    format!("attach {user} (pid {})", std::process::id())
}

/// Where to attach: a live run's control API, or a finished run's result document.
enum Found {
    Live(Target),
    Finished(Box<rundir::Listed>),
}

fn resolve(args: &AttachArgs) -> Result<Found, Error> {
    if let Some(url) = &args.connect {
        if args.run.is_some() {
            return Err(Error::Usage("give a RUN or --connect URL, not both".into()));
        }
        let token = std::env::var("VOLLEY_TOKEN").unwrap_or_default();
        return Ok(Found::Live(Target::Tcp {
            url: url.clone(),
            token: token.trim().to_string(),
            fingerprint: args.fingerprint.clone(),
        }));
    }
    if let Some(path) = args.run.as_deref().filter(|r| r.contains('/')) {
        use std::os::unix::fs::FileTypeExt;
        return match std::fs::metadata(path) {
            Ok(m) if m.file_type().is_socket() => Ok(Found::Live(Target::Unix(path.into()))),
            Ok(_) => Err(Error::Usage(format!("'{path}' is not a control socket"))),
            Err(e) => Err(Error::Usage(format!("'{path}': {e}"))),
        };
    }
    let found = rundir::find(args.run.as_deref()).map_err(Error::Usage)?;
    if found.liveness == Liveness::Live {
        return client::local(&found).map(Found::Live).map_err(Error::Usage);
    }
    Ok(Found::Finished(Box::new(found)))
}

/// Runs `volley attach`; exits with the run's code when the console saw it end.
pub fn command(args: &AttachArgs) -> Result<i32, Error> {
    let theme = match args.theme.as_deref() {
        Some(spec) => ui::Theme::load(spec).map_err(|e| Error::Usage(format!("--theme: {e}")))?,
        None => ui::Theme::default_theme(),
    };
    let theme = match std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        true => theme.monochrome(),
        false => theme,
    };
    match resolve(args)? {
        Found::Finished(run) => finished(&run, theme, args.fps),
        Found::Live(target) => live(target, theme, args.fps),
    }
}

/// A finished run: its DONE screen from the result document it left.
fn finished(run: &rundir::Listed, theme: ui::Theme, fps: u32) -> Result<i32, Error> {
    let path = run.dir.file(rundir::RESULT);
    let doc = crate::report::load_doc(&path).map_err(|e| {
        Error::Usage(format!(
            "run {} ended without results to show ({e})",
            run.meta.id
        ))
    })?;
    let snap = crate::fleet::merge::snapshot_of(&run.meta.id, &doc, 0)
        .map_err(|e| Error::Usage(format!("run {}: {e}", run.meta.id)))?;
    let (mut remote, feed) = link::remote(Arc::new(snap));
    feed.end(false);
    ui::console::attach(&mut remote, theme, fps, Some(run.meta.target.clone()))
        .map_err(|e| Error::io("console", e))?;
    let code = run.meta.outcome.as_ref().map_or(exit::OK, |o| o.exit_code);
    print_summary(&doc);
    Ok(code)
}

fn print_summary(doc: &crate::report::ResultDoc) {
    use std::io::{IsTerminal, Write};
    let mut out = std::io::stdout().lock();
    let cols = match out.is_terminal() {
        true => ratatui::crossterm::terminal::size().map_or(80, |(c, _)| c as usize),
        false => usize::MAX,
    };
    let _ = crate::report::write_summary_fit(doc, &mut out, cols);
    let _ = out.flush();
}

/// What the pump thread hands the console before it starts: the run's hello and first
/// snapshot, or why it could not connect.
type Opened = Result<(proto::HelloReply, Snapshot), String>;

/// A live run: connect, then the console over the Watch stream.
fn live(target: Target, theme: ui::Theme, fps: u32) -> Result<i32, Error> {
    let (opened_tx, opened_rx) = std::sync::mpsc::channel::<Opened>();
    let (feed_tx, feed_rx) = std::sync::mpsc::channel::<Feed>();
    let pump = std::thread::Builder::new()
        .name("volley-attach".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = opened_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(pump(target, opened_tx, feed_rx));
        })
        .map_err(|e| Error::io("attach thread", e))?;
    let (hello, first) = match opened_rx.recv() {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            say!("volley attach: {e}");
            return Ok(exit::FAILURE);
        }
        Err(_) => {
            say!("volley attach: the connection thread failed");
            return Ok(exit::FAILURE);
        }
    };
    let (mut remote, feed) = link::remote(Arc::new(first));
    let _ = feed_tx.send(feed);
    let leave = ui::console::attach(&mut remote, theme, fps, Some(hello.target.clone()))
        .map_err(|e| Error::io("console", e))?;
    let id = &hello.run_id;
    if let Some(why) = remote.lost() {
        say!("volley attach: run {id}: {why}");
        return Ok(exit::FAILURE);
    }
    match leave {
        Leave::Detach | Leave::Lost if !remote.ended() => {
            say!("volley: run {id} goes on in the background (volley attach {id})");
            Ok(exit::OK)
        }
        _ => {
            drop(remote);
            let _ = pump.join();
            // The run's own summary, when its results are in the run directory.
            let code = match rundir::find(Some(id)) {
                Ok(run) => {
                    if let Ok(doc) = crate::report::load_doc(&run.dir.file(rundir::RESULT)) {
                        print_summary(&doc);
                    }
                    run.meta.outcome.map_or(exit::OK, |o| o.exit_code)
                }
                Err(_) => exit::OK,
            };
            Ok(code)
        }
    }
}

/// The connection: hello, the Watch stream into the feed, the console's commands out.
async fn pump(
    target: Target,
    opened: std::sync::mpsc::Sender<Opened>,
    feed: std::sync::mpsc::Receiver<Feed>,
) {
    let who = sender();
    let start = async {
        let mut c = client::connect(&target).await?;
        let hello = client::hello(&mut c, &who).await?;
        let mut stream = c
            .watch(proto::WatchRequest {
                version: PROTOCOL_VERSION,
                client: who.clone(),
                // Each update carries only the timeline rows after the last one sent.
                deltas: true,
                // Four updates a second: what a person reads; the numbers stay exact.
                every_ms: ATTACH_EVERY_MS,
            })
            .await
            .map_err(|s| client::describe(&s))?
            .into_inner();
        let first = stream
            .message()
            .await
            .map_err(|s| client::describe(&s))?
            .ok_or("the run ended before its first snapshot")?;
        let mut decoder = wire::Decoder::default();
        let snap = apply(&mut decoder, &first)?;
        Ok::<_, String>((c, hello, stream, snap, decoder))
    };
    let (mut c, hello, mut stream, snap, mut decoder) = match start.await {
        Ok(s) => s,
        Err(e) => {
            let _ = opened.send(Err(e));
            return;
        }
    };
    if opened.send(Ok((hello, snap))).is_err() {
        return;
    }
    let Ok(mut feed) = tokio::task::spawn_blocking(move || feed.recv())
        .await
        .unwrap_or(Err(std::sync::mpsc::RecvError))
    else {
        return;
    };
    loop {
        tokio::select! {
            update = stream.message() => match update {
                Ok(Some(u)) => match apply(&mut decoder, &u) {
                    Ok(s) => {
                        let done = s.state == crate::metrics::RunState::Done;
                        feed.publish(Arc::new(s));
                        if done && u.status.as_ref().is_some_and(|st| st.outcome.is_some()) {
                            feed.end(false);
                        }
                    }
                    Err(e) => feed.lose(e),
                },
                // The stream ends after the run's outcome is known.
                Ok(None) => {
                    feed.end(false);
                    return;
                }
                Err(s) => {
                    feed.lose(format!("the connection to the run was lost: {}", client::describe(&s)));
                    return;
                }
            },
            cmd = feed.commands.recv() => {
                let Some(cmd) = cmd else { return };
                let Some(cmd) = message(&cmd) else { continue };
                let req = proto::CommandRequest {
                    version: PROTOCOL_VERSION,
                    sender: who.clone(),
                    command: Some(cmd),
                };
                // A refusal (the run is over) is seen on the screen; the stream goes on.
                let _ = send(&mut c, req).await;
            }
        }
    }
}

async fn send(c: &mut Client, req: proto::CommandRequest) -> Result<(), String> {
    c.command(req)
        .await
        .map(|_| ())
        .map_err(|s| client::describe(&s))
}

/// A console command as the control API's message.
fn message(cmd: &Command) -> Option<proto::command_request::Command> {
    use proto::command_request::Command as C;
    Some(match cmd {
        Command::SetVus(n) => C::SetVus(*n),
        Command::SetRate(r) => C::SetRate(*r),
        Command::Pause => C::Pause(proto::Empty {}),
        Command::Resume => C::Resume(proto::Empty {}),
        Command::Spike(s) => C::Spike(spike(s)),
        Command::EndSpike => C::EndSpike(proto::Empty {}),
        Command::Stop => C::Stop(proto::Empty {}),
        // Signals are the run host's own; the run host names the sender itself.
        Command::StopOnSignal(_) | Command::By { .. } => return None,
    })
}

fn spike(s: &Spike) -> proto::Spike {
    use proto::spike::Change;
    proto::Spike {
        change: Some(match s.change {
            SpikeChange::Times(f) => Change::Times(f),
            SpikeChange::Plus(n) => Change::Plus(n),
        }),
        duration_ms: s.duration.as_millis() as u64,
    }
}

/// The update's whole snapshot, rebuilt by `decoder` from the stream's deltas. (Who sent
/// a command is in the events themselves: the run host labels them.)
fn apply(decoder: &mut wire::Decoder, u: &proto::WatchUpdate) -> Result<Snapshot, String> {
    decoder
        .decode(&u.snapshot_json)
        .map_err(|e| format!("a snapshot from the run could not be read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_commands_map_to_messages() {
        use proto::command_request::Command as C;
        assert_eq!(message(&Command::SetVus(7)), Some(C::SetVus(7)));
        assert_eq!(message(&Command::Stop), Some(C::Stop(proto::Empty {})));
        assert_eq!(
            message(&Command::StopOnSignal(crate::engine::StopSignal::HangUp)),
            None
        );
        let s = message(&Command::Spike(Spike {
            change: SpikeChange::Times(3.0),
            duration: std::time::Duration::from_secs(2),
        }));
        assert!(matches!(s, Some(C::Spike(p)) if p.duration_ms == 2000));
    }
}
