//! README.md's `bash` blocks run as written, so the README cannot rot. (Blocks marked `sh` need the
//! internet or are the README's own test command; they are not run.) Each block runs in a fresh
//! directory holding a copy of urls.txt, with the freshly built pagefetch first on PATH, in a
//! process group of its own that is killed afterwards, whatever the block left running.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bash_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```bash") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), l) => {
                block.push_str(l);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn run_block(block: &str, bin_dir: &Path) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("urls.txt"), dir.path().join("urls.txt")).unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-e", "-o", "pipefail", "-c", block])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0);
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
        cmd.env_remove(var).env_remove(var.to_lowercase());
    }
    let mut child = cmd.spawn().expect("bash runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: kill(2) on the process group this test created.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
    let _ = child.wait();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status, read(&out), read(&err))
}

#[test]
fn every_bash_block_of_the_readme_runs() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let blocks = bash_blocks(&readme);
    assert!(
        blocks.len() >= 3,
        "expected the usage and CI blocks, found {}",
        blocks.len()
    );
    let bin = assert_cmd::cargo::cargo_bin("pagefetch");
    let bin_dir = bin.parent().unwrap();
    for block in &blocks {
        let (code, out, err) = run_block(block, bin_dir);
        assert_eq!(
            code,
            Some(0),
            "README block failed:\n{block}\nstdout:\n{out}\nstderr:\n{err}"
        );
        assert!(
            !out.trim().is_empty() || block.contains("> "),
            "no output from:\n{block}"
        );
    }
}

#[test]
fn every_yaml_block_of_the_readme_parses() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut blocks = 0;
    for block in readme.split("```yaml\n").skip(1) {
        let yaml = block.split("```").next().unwrap();
        let docs = yaml_rust2::YamlLoader::load_from_str(yaml).expect("valid YAML");
        let job = &docs[0]["jobs"]["smoke-timing"];
        let script = job["steps"][2]["run"].as_str().expect("a run step");
        assert!(
            script.contains("--export-markdown \"$GITHUB_STEP_SUMMARY\""),
            "{script}"
        );
        blocks += 1;
    }
    assert_eq!(blocks, 1);
}

#[test]
fn the_ci_example_fails_when_a_page_fails() {
    // The CI block, against a server that is gone: its exit code must reach the shell.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let ci = bash_blocks(&readme)
        .into_iter()
        .find(|b| b.contains("--repeat 5"))
        .expect("the CI block");
    let broken = ci.replace("$addr", "127.0.0.1:9");
    let bin = assert_cmd::cargo::cargo_bin("pagefetch");
    let (code, _, _) = run_block(&broken, bin.parent().unwrap());
    // Every page refused: `failed==0` fails (3, which outranks the failed pages' 1).
    assert_eq!(code, Some(3), "the job must fail:\n{broken}");
}
