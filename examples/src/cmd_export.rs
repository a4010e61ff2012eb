//! `camwire ls`, `camwire export` and `camwire verify`: what was recorded, one clip out of it
//! with a manifest, and re-checking that clip. Times are RFC 3339.
//!
//! `--root` is a directory or `s3://bucket/prefix`: the core opens either
//! ([`camwire::export::Storage::open`]); an S3 root takes its endpoint, region and
//! credentials from the standard AWS variables, as `record --upload` does.

use crate::cli::{ExportArgs, LsArgs, VerifyArgs};
use crate::progress::Bar;
use camwire::export::{self, ExportOptions, OutputFormat};
use std::time::SystemTime;

/// The RFC 3339 time given to option `--name`.
fn time(value: &str, name: &str) -> Result<SystemTime, String> {
    export::parse_rfc3339(value).map_err(|e| format!("--{name}: {e}"))
}

/// [`time`] of an optional option.
fn time_opt(value: Option<&str>, name: &str) -> Result<Option<SystemTime>, String> {
    value.map(|v| time(v, name)).transpose()
}

/// `camwire ls --root DIR|s3://BUCKET/PREFIX [--camera ID] [--start T --end T] [--json]`
pub fn ls(args: &LsArgs) -> Result<(), String> {
    let root = &args.root;
    let (start, end) = (
        time_opt(args.start.as_deref(), "start")?,
        time_opt(args.end.as_deref(), "end")?,
    );
    let cams = match &args.camera {
        Some(c) => vec![c.clone()],
        None => export::cameras(root).map_err(|e| e.to_string())?,
    };
    let mut listings = Vec::new();
    for c in &cams {
        listings.push(export::ranges(root, c, start, end).map_err(|e| e.to_string())?);
    }
    if args.json {
        let v = serde_json::json!({
            "cameras": listings.iter().map(|l| l.to_json()).collect::<Vec<_>>(),
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    for l in &listings {
        outln!("{}", l.camera);
        if l.ranges.is_empty() {
            outln!("  (nothing recorded)");
        }
        let mut gaps = l.gaps.iter().peekable();
        for r in &l.ranges {
            while let Some(g) = gaps.next_if(|g| g.end <= r.start) {
                print_gap(g);
            }
            let secs = r
                .end
                .duration_since(r.start)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            outln!(
                "  {} .. {}  {:.1} s",
                export::rfc3339(r.start),
                export::rfc3339(r.end),
                secs
            );
        }
        for g in gaps {
            print_gap(g);
        }
    }
    Ok(())
}

fn print_gap(g: &export::Gap) {
    let secs = g
        .end
        .duration_since(g.start)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    outln!(
        "  gap {} .. {}  {:.1} s{}",
        export::rfc3339(g.start),
        export::rfc3339(g.end),
        secs,
        g.reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
}

/// `camwire export --root DIR|s3://BUCKET/PREFIX --camera ID --start T --end T --out FILE.mp4
/// [--fragmented]`
/// A progress bar is drawn on a terminal unless `quiet`.
pub fn export_clip(args: &ExportArgs, quiet: bool) -> Result<(), String> {
    let root = &args.root;
    let camera = &args.camera;
    let start = time(&args.start, "start")?;
    let end = time(&args.end, "end")?;
    let out = &args.out;
    let opts = ExportOptions {
        format: if args.fragmented {
            OutputFormat::Fragmented
        } else {
            OutputFormat::Progressive
        },
        ..Default::default()
    };
    let bar = Bar::new("exporting", quiet);
    let s = export::export_with_progress(root, camera, start, end, out, &opts, &|p| bar.report(p))
        .map_err(|e| e.to_string())?;
    bar.finish();
    let m = &s.manifest;
    outln!(
        "exported {} .. {} ({} frames, {} bytes, {} source files{}) to {}",
        m.actual.start,
        m.actual.end,
        m.frames,
        m.output.size,
        m.sources.len(),
        if m.gaps.is_empty() {
            String::new()
        } else {
            format!(", {} gaps", m.gaps.len())
        },
        out.display()
    );
    outln!("manifest: {}", s.manifest_path.display());
    // One line per track (the manifest's `tracks`): what each one holds and when it plays,
    // so that a clip whose audio was left out or cut short shows it without reading JSON.
    for t in &m.tracks {
        outln!(
            "track {} {} {} {} samples {} .. {}",
            t.id,
            t.kind,
            t.codec,
            t.samples,
            t.start,
            t.end
        );
    }
    Ok(())
}

/// `camwire verify FILE.mp4 [--root DIR|s3://BUCKET/PREFIX]`: Ok (exit 0) when everything matches; an error
/// (exit 1) naming what does not, after one `MISMATCH` line per file. A progress bar is
/// drawn on a terminal unless `quiet`.
pub fn verify(args: &VerifyArgs, quiet: bool) -> Result<(), String> {
    let clip = args.clip.display();
    let bar = Bar::new("verifying", quiet);
    let r = export::verify_with_progress(&args.clip, args.root.as_deref(), &|p| bar.report(p))
        .map_err(|e| e.to_string())?;
    bar.finish();
    let problems = r.problems();
    for p in &problems {
        outln!("MISMATCH {p}");
    }
    for m in r.missing_sources() {
        outln!("missing source (not checked): {m}");
    }
    if !r.ok() {
        return Err(format!(
            "{clip} does not match its manifest: {}",
            problems.join("; ")
        ));
    }
    let checked = r.sources.len() - r.missing_sources().len();
    outln!(
        "OK {clip}: clip, media and {checked} of {} source files match the manifest",
        r.sources.len()
    );
    Ok(())
}
