//! The `bash` blocks of README.md and docs/*.md run as written, so the documentation cannot rot.
//! (Blocks marked `sh` need the internet, or are the README's own build and test commands; they
//! are not run.) Each block runs in a fresh directory holding a copy of urls.txt (also its
//! `TMPDIR`, so `mktemp -d` lands there too), with the freshly built pagefetch first on PATH, in a
//! session and process group of its own. A block fails if it exits non-zero, or if any process of
//! its group is still alive once it has ended: a recipe must leave nothing running. The group is
//! killed afterwards either way, and the clone must be unchanged after every block has run.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, then docs/*.md in name order: (path relative to the clone, text).
fn documents() -> Vec<(String, String)> {
    let mut paths = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .map(|p| Path::new("docs").join(p.file_name().unwrap()))
                .collect()
        })
        .unwrap_or_default();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(root().join(&p)).expect("readable");
            (p.display().to_string(), text)
        })
        .collect()
}

/// A fenced block of one language: where it starts (`README.md:42`) and its text.
struct Block {
    at: String,
    text: String,
}

fn blocks(lang: &str) -> Vec<Block> {
    let fence = format!("```{lang}");
    let mut found = Vec::new();
    for (path, text) in documents() {
        let mut current: Option<Block> = None;
        for (n, line) in text.lines().enumerate() {
            match (&mut current, line.trim_end()) {
                (None, l) if l == fence => {
                    current = Some(Block {
                        at: format!("{path}:{}", n + 1),
                        text: String::new(),
                    })
                }
                (Some(_), "```") => found.extend(current.take()),
                (Some(block), l) => {
                    block.text.push_str(l);
                    block.text.push('\n');
                }
                (None, _) => {}
            }
        }
    }
    found
}

struct Ran {
    code: Option<i32>,
    out: String,
    err: String,
    /// Processes of the block's group still alive after it ended: `PID COMMAND LINE`.
    left: Vec<String>,
}

/// The processes of group `pgid` that are alive (zombies are dead: nobody may reap them here).
fn alive_in_group(pgid: i32) -> Vec<String> {
    let mut alive = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `PID (COMM) STATE PPID PGRP ...`; COMM may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() < 3 || fields[0] == "Z" || fields[2] != pgid.to_string() {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        alive.push(format!("{pid} {}", cmdline.trim()));
    }
    alive
}

fn run_block(block: &str, env: &[(&str, &Path)]) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("urls.txt"), dir.path().join("urls.txt")).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let bin = assert_cmd::cargo::cargo_bin("pagefetch");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-e", "-o", "pipefail", "-c", block])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("TMPDIR", &tmp)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
        cmd.env_remove(var).env_remove(var.to_lowercase());
    }
    // SAFETY: setsid(2) is async-signal-safe; the block leads a new session and process group.
    unsafe {
        cmd.pre_exec(|| match libc::setsid() {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    let mut child = cmd.spawn().expect("bash runs");
    let pgid = child.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // A server told to stop (a trap's `kill`) may take a moment to exit; one that was never told
    // is still there after the grace period.
    let grace = Instant::now() + Duration::from_secs(3);
    let left = loop {
        let alive = alive_in_group(pgid);
        if alive.is_empty() || Instant::now() > grace {
            break alive;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: kill(2) on the process group this test created.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Ran {
        code,
        out: read(&out),
        err: read(&err),
        left,
    }
}

/// What `git status` says of the clone (None without git, e.g. in an unpacked tarball).
fn clone_status() -> Option<String> {
    let out = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_bash_block_of_the_docs_runs_and_leaves_nothing_behind() {
    let blocks = blocks("bash");
    assert!(
        blocks.len() >= 8,
        "expected the README's and the docs' blocks, found {}",
        blocks.len()
    );
    let before = clone_status();
    let mut failures = Vec::new();
    for block in &blocks {
        let ran = run_block(&block.text, &[]);
        let text = &block.text;
        if ran.code != Some(0) {
            failures.push(format!(
                "{} exited {:?}:\n{text}\nstdout:\n{}\nstderr:\n{}",
                block.at, ran.code, ran.out, ran.err
            ));
        } else if ran.out.trim().is_empty() && !text.contains("> ") {
            failures.push(format!("{}: no output from:\n{text}", block.at));
        }
        if !ran.left.is_empty() {
            failures.push(format!(
                "{} left processes running:\n  {}\n{text}",
                block.at,
                ran.left.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    if let (Some(before), Some(after)) = (before, clone_status()) {
        assert_eq!(before, after, "a block changed the clone");
    }
}

#[test]
fn the_leftover_check_catches_a_server_left_running() {
    // `$SERVE_PID` of `coproc SERVE { pagefetch serve ...; }` is the coproc's subshell: killing
    // it leaves the server running. The check must see that (this was the README's CI recipe).
    let ran = run_block(
        "coproc SERVE { pagefetch serve --addr 127.0.0.1:0; }\n\
         read -r addr <&\"${SERVE[0]}\"\n\
         trap 'kill \"$SERVE_PID\"' EXIT\n\
         echo \"$addr\"\n",
        &[],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    assert!(
        ran.left.iter().any(|p| p.contains("pagefetch serve")),
        "{:?}",
        ran.left
    );
    // With `exec`, `$SERVE_PID` is the server itself, and nothing is left.
    let ran = run_block(
        "coproc SERVE { exec pagefetch serve --addr 127.0.0.1:0; }\n\
         read -r addr <&\"${SERVE[0]}\"\n\
         trap 'kill \"$SERVE_PID\"' EXIT\n\
         echo \"$addr\"\n",
        &[],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    assert!(ran.left.is_empty(), "{:?}", ran.left);
}

fn ci_block() -> Block {
    blocks("bash")
        .into_iter()
        .find(|b| b.text.contains("--repeat 5") && b.text.contains("summary.md"))
        .expect("the CI recipe")
}

#[test]
fn the_ci_recipe_fails_loudly_when_a_page_fails() {
    // The CI recipe, against a server that is gone: its exit code must reach the shell, the failed
    // check must be in the log despite -q, and the summary is shown all the same.
    let ci = ci_block();
    let broken = ci.text.replace("$addr", "127.0.0.1:9");
    let ran = run_block(&broken, &[]);
    // Every page refused: `failed==0` fails (3, which outranks the failed pages' 1).
    assert_eq!(
        ran.code,
        Some(3),
        "the job must fail ({}):\n{broken}",
        ci.at
    );
    assert!(
        ran.err.contains("check failed==0") && ran.err.contains("FAILED"),
        "the failed check must be in the log:\n{}",
        ran.err
    );
    assert!(
        ran.out.contains("| joinset"),
        "the summary must be shown:\n{}",
        ran.out
    );
    assert!(ran.left.is_empty(), "{:?}", ran.left);
}

#[test]
fn every_yaml_block_of_the_docs_parses() {
    let yaml = blocks("yaml");
    assert!(!yaml.is_empty(), "the GitHub Actions workflow");
    for block in &yaml {
        yaml_rust2::YamlLoader::load_from_str(&block.text)
            .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", block.at));
    }
}

#[test]
fn the_github_workflow_builds_from_its_checkout_and_its_script_runs() {
    let block = blocks("yaml")
        .into_iter()
        .find(|b| b.text.contains("smoke-timing"))
        .expect("the workflow");
    let docs = yaml_rust2::YamlLoader::load_from_str(&block.text).unwrap();
    let steps = docs[0]["jobs"]["smoke-timing"]["steps"]
        .as_vec()
        .expect("steps");
    let uses: Vec<&str> = steps.iter().filter_map(|s| s["uses"].as_str()).collect();
    assert!(
        uses.iter().any(|u| u.starts_with("actions/checkout@")),
        "{uses:?}"
    );
    assert!(
        uses.iter().any(|u| u.starts_with("actions/cache@")),
        "{uses:?}"
    );
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo build --release --locked") && r.contains("GITHUB_PATH")),
        "the job builds pagefetch from its checkout: {runs:?}"
    );
    assert!(
        !block.text.contains("example/pagefetch"),
        "a placeholder URL"
    );
    let script = runs
        .iter()
        .find(|r| r.contains("--export-markdown \"$GITHUB_STEP_SUMMARY\""))
        .expect("the timing step");
    // The step as the runner would run it: first with no baseline committed, then with one.
    let out = tempfile::tempdir().unwrap();
    let (summary, kept) = (
        out.path().join("summary.md"),
        out.path().join("timing.json"),
    );
    let env = [
        ("GITHUB_STEP_SUMMARY", summary.as_path()),
        ("KEEP", kept.as_path()),
    ];
    let first = format!("{script}\ncp timing.json \"$KEEP\"\n");
    let ran = run_block(&first, &env);
    assert_eq!(ran.code, Some(0), "{script}\n{}", ran.err);
    assert!(ran.left.is_empty(), "{:?}", ran.left);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| joinset"), "{md}");
    let second = format!("mkdir perf && cp \"$KEEP\" perf/baseline.json\n{script}");
    let ran = run_block(&second, &env);
    // With a baseline the change check runs too: on a busy machine it may fail (3), never misuse (2).
    assert!(matches!(ran.code, Some(0 | 3)), "{second}\n{}", ran.err);
    assert!(ran.err.contains("check wall_change<=10%"), "{}", ran.err);
    assert!(ran.left.is_empty(), "{:?}", ran.left);
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_relative_link_of_the_docs_resolves() {
    let mut docs = documents();
    for extra in ["CONTRIBUTING.md", "CHANGELOG.md", "deploy/README.md"] {
        docs.push((
            extra.into(),
            std::fs::read_to_string(root().join(extra)).unwrap(),
        ));
    }
    let mut broken = Vec::new();
    for (path, text) in &docs {
        let dir = Path::new(path).parent().unwrap_or(Path::new(""));
        for link in text.split("](").skip(1).filter_map(|r| r.split(')').next()) {
            if link.contains("://") || link.starts_with("mailto:") || link.contains(' ') {
                continue;
            }
            let (file, frag) = link.split_once('#').unwrap_or((link, ""));
            let target = match file {
                "" => PathBuf::from(path),
                f => dir.join(f),
            };
            let Ok(body) = std::fs::read_to_string(root().join(&target)) else {
                if !root().join(&target).exists() {
                    broken.push(format!("{path}: {link} (no such file)"));
                }
                continue;
            };
            let found = body
                .lines()
                .filter_map(|l| l.strip_prefix('#'))
                .any(|h| anchor(h.trim_start_matches('#')) == frag);
            if !frag.is_empty() && !found {
                broken.push(format!("{path}: {link} (no such heading)"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
