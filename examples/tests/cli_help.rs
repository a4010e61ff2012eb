//! The command line itself: per-command help with examples, `--version`, suggestions for
//! typos, shell completions, and the exit codes (0 ok, 2 usage) the top-level help documents.
//! None of these needs a camera.

use std::process::{Command, Output};

fn camwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_camwire"))
        .args(args)
        .output()
        .expect("run camwire")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn export_help_shows_export_options_and_an_example_only() {
    for argv in [
        &["export", "--help"][..],
        &["export", "-h"],
        &["help", "export"],
    ] {
        let o = camwire(argv);
        assert_eq!(o.status.code(), Some(0), "{argv:?}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains("Usage: camwire export"), "{argv:?}: {text}");
        for flag in [
            "--root <DIR>",
            "--camera <ID>",
            "--start <T>",
            "--end <T>",
            "--out <FILE.mp4>",
            "--fragmented",
            "--quiet",
        ] {
            assert!(text.contains(flag), "{argv:?}: no {flag} in\n{text}");
        }
        assert!(text.contains("Examples:"), "{argv:?}: {text}");
        assert!(
            text.contains("camwire export --root /srv/rec --camera gate --start 20"),
            "{argv:?}: no export example in\n{text}"
        );
        // Other commands' options and usage are not there.
        for other in [
            "--url",
            "--segment-secs",
            "--xaddr",
            "--interleaved",
            "camwire record",
            "camwire probe",
            "--json",
        ] {
            assert!(!text.contains(other), "{argv:?}: {other} in\n{text}");
        }
    }
}

#[test]
fn every_command_has_its_own_help_with_an_example() {
    let commands = [
        "record",
        "probe",
        "capture",
        "replay",
        "demo",
        "ls",
        "export",
        "verify",
        "discover",
        "onvif",
        "snapshot",
        "events",
        "completions",
    ];
    let top = camwire(&["--help"]);
    assert_eq!(top.status.code(), Some(0));
    let top = stdout(&top);
    for c in commands {
        assert!(top.contains(&format!("  {c} ")), "{c} not listed in\n{top}");
        let o = camwire(&[c, "--help"]);
        assert_eq!(o.status.code(), Some(0), "{c}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains(&format!("Usage: camwire {c}")), "{c}: {text}");
        assert!(
            text.contains(&format!("Examples:\n  camwire {c} ")),
            "{c}: no example in\n{text}"
        );
    }
    let verify = stdout(&camwire(&["verify", "--help"]));
    assert!(verify.contains("Exit status: 0 when"), "{verify}");
    assert!(verify.contains("1 when something does"), "{verify}");
}

#[test]
fn top_level_help_documents_the_exit_codes() {
    let o = camwire(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.contains("Exit status:"), "{text}");
    assert!(text.contains("  0  success"), "{text}");
    assert!(text.contains("  1  failure"), "{text}");
    assert!(text.contains("`verify`: a file does not match"), "{text}");
    assert!(text.contains("  2  usage error"), "{text}");
}

#[test]
fn version_prints_the_cargo_version() {
    for flag in ["--version", "-V"] {
        let o = camwire(&[flag]);
        assert_eq!(o.status.code(), Some(0), "{flag}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            format!("camwire {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
}

#[test]
fn a_typo_is_a_usage_error_with_a_suggestion() {
    let o = camwire(&["exprot", "--root", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("unrecognized subcommand 'exprot'"), "{e}");
    assert!(e.contains("similar") && e.contains("'export'"), "{e}");
    assert!(o.stdout.is_empty());

    let o = camwire(&["export", "--fragmentd"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("unexpected argument '--fragmentd'"), "{e}");
    assert!(e.contains("'--fragmented'"), "{e}");

    let o = camwire(&["discover", "--tiemout", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'--timeout'"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    for (argv, want) in [
        (&[][..], "Usage: camwire"),
        (&["export", "--root", "r"], "--camera <ID>"),
        (&["verify"], "<FILE.mp4>"),
        (&["ls", "--root", "r", "--bogus"], "--bogus"),
        (&["probe", "--url", "u", "--timeout", "soon"], "--timeout"),
        (
            &["record", "--url", "u", "--reconnect", "maybe"],
            "yes or no",
        ),
        (&["record", "--url", "u", "--fsync", "often"], "--fsync"),
        (
            &["record", "--url", "u", "--transport", "sctp"],
            "tcp or udp",
        ),
        (&["record", "--url", "u", "--duration", "-5"], "--duration"),
        (
            &["capture", "--url", "u", "--out", "p", "--duration", "inf"],
            "--duration",
        ),
        (&["completions", "tcsh"], "tcsh"),
    ] {
        let o = camwire(argv);
        assert_eq!(o.status.code(), Some(2), "{argv:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(want), "{argv:?}: no {want:?} in\n{e}");
        assert!(!e.contains("panicked"), "{argv:?}: {e}");
    }
}

#[test]
fn values_the_command_checks_itself_fail_with_1_not_2() {
    // Parsed by the shell fine, wrong in meaning: a failure of the command (exit 1).
    let dir = std::env::temp_dir().join(format!("camwire-cli-help-{}", std::process::id()));
    let o = camwire(&[
        "export",
        "--root",
        dir.to_str().unwrap(),
        "--camera",
        "cam",
        "--start",
        "yesterday",
        "--end",
        "2025-11-23T12:00:00Z",
        "--out",
        dir.join("x.mp4").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--start"), "{}", stderr(&o));
    // No manifest beside the clip.
    let o = camwire(&["verify", dir.join("none.mp4").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("manifest"), "{}", stderr(&o));
}

#[test]
fn completions_print_a_script_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _camwire"),
        ("zsh", "#compdef camwire"),
        ("fish", "complete -c camwire"),
    ] {
        let o = camwire(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for word in ["export", "verify", "discover", "fragmented", "camera-id"] {
            assert!(script.contains(word), "{shell}: {word} not completed");
        }
    }
    // bash accepts the script.
    if let Ok(o) = Command::new("bash")
        .args(["-n", "-c"])
        .arg(stdout(&camwire(&["completions", "bash"])))
        .output()
    {
        assert!(o.status.success(), "bash -n: {}", stderr(&o));
    }
}
