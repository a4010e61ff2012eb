//! stderr logging for the CLI: `CAMWIRE_LOG=debug|info|warn|error` or `-v`.
//! camwire never formats credentials, so nothing here needs to filter them.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &Record) {
        if self.enabled(r.metadata()) {
            let lvl = match r.level() {
                Level::Error => "error",
                Level::Warn => "warn",
                Level::Info => "info",
                Level::Debug => "debug",
                Level::Trace => "trace",
            };
            // Not eprintln!: it panics when stderr is a closed pipe.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr().lock(),
                "[{lvl} {}] {}",
                r.target(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

pub fn init(verbose: bool) {
    let level = match std::env::var("CAMWIRE_LOG").as_deref() {
        Ok("trace") => LevelFilter::Trace,
        Ok("debug") => LevelFilter::Debug,
        Ok("info") => LevelFilter::Info,
        Ok("error") => LevelFilter::Error,
        Ok("off") => LevelFilter::Off,
        _ if verbose => LevelFilter::Info,
        _ => LevelFilter::Warn,
    };
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(level);
    }
}
