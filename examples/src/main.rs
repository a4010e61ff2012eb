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

mod args;
mod cmd_capture;
mod cmd_demo;
mod cmd_export;
mod cmd_onvif;
mod cmd_probe;
mod cmd_record;
mod logger;

use args::Args;
use std::process::ExitCode;

const USAGE: &str = "\
camwire: record IP cameras into crash-safe fragmented MP4

USAGE:
  camwire record --url URL [--url URL ...] [--user U --password P] [--transport tcp|udp]
                 --out DIR [--camera-id ID ...] [--duration SECS] [--segment-secs N]
                 [--fragment-ms N] [--fsync fragment|Ns|never] [--retain-days N]
                 [--retain-gb N] [--reconnect yes|no] [--config cameras.toml]
  camwire probe --url URL [--user U --password P] [--transport tcp|udp] [--json]
  camwire capture --url URL [--user U --password P] [--transport tcp|udp] --out PREFIX
                  --duration SECS
  camwire replay --sdp FILE --interleaved FILE --out FILE.mp4
  camwire demo [--out DIR] [--duration SECS]
  camwire ls --root DIR [--camera ID] [--start T --end T] [--json]
  camwire export --root DIR --camera ID --start T --end T --out FILE.mp4 [--fragmented]
  camwire verify FILE.mp4 [--root DIR]      (times T are RFC 3339, e.g. 2025-11-23T12:00:00Z)
  camwire discover [--timeout SECS] [--interface IP ...] [--host HOST:PORT ...] [--json]
  camwire onvif --xaddr URL [--user U --password P] [--json]
  camwire snapshot --xaddr URL [--user U --password P] [--profile TOKEN] --out FILE.jpg
  camwire events --xaddr URL [--user U --password P] [--duration SECS] [--json]
      https:// XAddrs: certificates chain to public roots unless --tls-pin SHA256 (the
      camera's self-signed certificate), --tls-ca FILE (a site CA) or --tls-accept-any

Credentials may also be given inside the URL (rtsp://user:pass@host/...); they are taken out
of it and never printed. Logging: -v, or CAMWIRE_LOG=debug|info|warn|error.
";

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let Some(cmd) = argv.next() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let args = match Args::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("camwire: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.switch("help") || cmd == "help" || cmd == "--help" || cmd == "-h" {
        out!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    logger::init(args.switch("verbose"));
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
    let result = runtime.block_on(async {
        match cmd.as_str() {
            "record" => cmd_record::run(&args).await,
            "probe" => cmd_probe::run(&args).await,
            "capture" => cmd_capture::run(&args).await,
            "replay" => cmd_capture::replay(&args),
            "demo" => cmd_demo::run(&args).await,
            "ls" => cmd_export::ls(&args),
            "export" => cmd_export::export_clip(&args),
            "verify" => cmd_export::verify(&args),
            "discover" => cmd_onvif::discover(&args).await,
            "onvif" => cmd_onvif::info(&args).await,
            "snapshot" => cmd_onvif::snapshot(&args).await,
            "events" => cmd_onvif::events(&args).await,
            other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
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
fn source_options(args: &Args) -> Result<camwire::rtsp::SourceOptions, String> {
    let mut o = camwire::rtsp::SourceOptions::default();
    match (args.opt("user"), args.opt("password")) {
        (Some(u), p) => o.credentials = Some(camwire::Credentials::new(u, p.unwrap_or(""))),
        (None, Some(_)) => return Err("--password needs --user".into()),
        (None, None) => {}
    }
    if let Some(t) = args.opt("transport") {
        o.transport = t.parse()?;
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
