//! `camwire`: record, probe, capture and replay IP-camera streams; `camwire demo` shows it
//! all against the built-in simulated camera.

/// `println!` for the CLI's output: see [`emit`].
macro_rules! outln {
    ($($t:tt)*) => { $crate::emit(format_args!("{}\n", format_args!($($t)*))) };
}
/// `print!` for the CLI's output: see [`emit`].
macro_rules! out {
    ($($t:tt)*) => { $crate::emit(format_args!($($t)*)) };
}

mod cli;
mod cmd_capture;
mod cmd_demo;
mod cmd_export;
mod cmd_fetch;
mod cmd_onvif;
mod cmd_probe;
mod cmd_record;
mod cmd_recordings;
mod logger;
mod progress;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // Help and --version (exit 0, on stdout) or a usage error (exit 2, on stderr, with a
        // suggestion for a mistyped command or flag).
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    if let Command::Completions(a) = &cli.command {
        let mut script = Vec::new();
        clap_complete::generate(a.shell, &mut Cli::command(), "camwire", &mut script);
        out!("{}", String::from_utf8_lossy(&script));
        return ExitCode::SUCCESS;
    }
    logger::init(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("camwire")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("camwire: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let quiet = cli.quiet;
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Record(a) => cmd_record::run(a).await,
            Command::Probe(a) => cmd_probe::run(a).await,
            Command::Capture(a) => cmd_capture::run(a).await,
            Command::Replay(a) => cmd_capture::replay(a),
            Command::Demo(a) => cmd_demo::run(a).await,
            Command::Ls(a) => cmd_export::ls(a),
            Command::Export(a) => cmd_export::export_clip(a, quiet),
            Command::Verify(a) => cmd_export::verify(a, quiet),
            Command::Fetch(a) => cmd_fetch::run(a, quiet).await,
            Command::Recordings(a) => cmd_recordings::run(a).await,
            Command::Discover(a) => cmd_onvif::discover(a).await,
            Command::Onvif(a) => cmd_onvif::info(a).await,
            Command::Snapshot(a) => cmd_onvif::snapshot(a).await,
            Command::Events(a) => cmd_onvif::events(a).await,
            Command::Completions(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("camwire: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes to stdout. `println!` panics when stdout is a closed pipe (`camwire ls | head`);
/// here a reader that went away ends the process quietly with the shell's SIGPIPE status
/// (141). Every command prints only after its files are finalized (`record`'s summary comes
/// after the recorder stopped), so leaving then loses nothing. Other write errors are
/// ignored: output is a report, not the work.
fn emit(args: std::fmt::Arguments) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let res = stdout.write_fmt(args).and_then(|()| stdout.flush());
    if let Err(e) = res
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(141);
    }
}

/// Connection options shared by every command that talks RTSP.
fn source_options(login: &cli::RtspLogin) -> Result<camwire::rtsp::SourceOptions, String> {
    let mut o = camwire::rtsp::SourceOptions::default();
    match (&login.user, &login.password) {
        (Some(u), p) => {
            o.credentials = Some(camwire::Credentials::new(u, p.as_deref().unwrap_or("")))
        }
        (None, Some(_)) => return Err("--password needs --user".into()),
        (None, None) => {}
    }
    if let Some(t) = login.transport {
        o.transport = t;
    }
    if let Some(a) = login.audio {
        o.audio = a;
    }
    Ok(o)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
