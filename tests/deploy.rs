//! The multi-machine recipes in deploy/, run here on one machine against a server the test starts:
//! shards (local background jobs, as deploy/parallel.sh runs them without SSHLOGINFILE; its SSH
//! path through GNU parallel with a stand-in for ssh; the Slurm array script task by task) merged with `pagefetch merge` equal an unsharded run, record
//! for record; the Kubernetes manifest parses and its command line is accepted by `pagefetch
//! fetch` with JOB_COMPLETION_INDEX set.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{pagefetch, TestServer};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fields of a page record that do not depend on timing or on which loop or connection.
fn essence(v: &Value) -> (u64, String, String, Value, u64, Value) {
    (
        v["index"].as_u64().unwrap(),
        v["input"].as_str().unwrap().to_string(),
        v["url"].as_str().unwrap_or_default().to_string(),
        v["status"].clone(),
        v["bytes"].as_u64().unwrap(),
        v["error_kind"].clone(),
    )
}

fn pages(text: &str) -> Vec<(u64, String, String, Value, u64, Value)> {
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "page")
        .map(|v| essence(&v))
        .collect()
}

/// The list and the unsharded run's pages.
fn fixture(s: &TestServer, dir: &Path, n: usize) -> Vec<(u64, String, String, Value, u64, Value)> {
    let urls = dir.join("urls.txt");
    let mut list: String = (0..n).map(|i| format!("t{i}\n")).collect();
    list.push_str("http://[bad/\n"); // an error row must survive sharding and merging too
    std::fs::write(&urls, list).unwrap();
    let out = pagefetch()
        .args(["fetch", "--format", "ndjson", "-t", &s.template(), "-f"])
        .arg(&urls)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the bad line fails its page");
    pages(&String::from_utf8_lossy(&out.stdout))
}

fn run_script(script: &Path, dir: &Path, envs: &[(&str, String)]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("pagefetch");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(script)
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("SSHLOGINFILE");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn parallel_recipe_shards_and_merges_into_the_unsharded_run() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let whole = fixture(&s, dir.path(), 200);
    let out = run_script(
        &root().join("deploy/parallel.sh"),
        dir.path(),
        &[("SHARDS", "4".into()), ("TEMPLATE", s.template())],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = std::fs::read_to_string(dir.path().join("out/all.ndjson")).unwrap();
    assert_eq!(pages(&merged), whole);
    let summary: Value = serde_json::from_str(merged.lines().last().unwrap()).unwrap();
    assert_eq!(
        (summary["total"].as_u64(), summary["failed"].as_u64()),
        (Some(201), Some(1))
    );
    assert_eq!(summary["merged"]["gaps"], 0);
    // Run again: every shard is complete, so nothing is fetched.
    let before = s.stats().requests();
    let again = run_script(
        &root().join("deploy/parallel.sh"),
        dir.path(),
        &[("SHARDS", "4".into()), ("TEMPLATE", s.template())],
    );
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(s.stats().requests(), before);
}

/// A stand-in for ssh that GNU parallel calls as `ssh [options] HOST [--] COMMAND`: it runs COMMAND
/// on this machine, in a home directory of HOST's own, so each "host" has its own files and
/// transfers, returns and clean-up really happen (rsync runs through it too). Like sshd, it sets
/// the session's HOME and SHELL: parallel's remote worker runs the job with `$SHELL`, and CI may
/// start with none.
const FAKE_SSH: &str = r#"#!/bin/bash
while [ $# -gt 0 ]; do
  case "$1" in
    -o|-l|-p|-i|-S) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
host=$1
shift
[ "${1:-}" = "--" ] && shift
case "$*" in *GNU_Parallel_worker*) echo "$host" >> "$FAKE_SSH_ROOT/jobs-on" ;; esac
export HOME=$FAKE_SSH_ROOT/$host SHELL=/bin/bash
mkdir -p "$HOME"
cd "$HOME"
exec bash -c "$*"
"#;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn parallel_recipe_over_ssh_transfers_resumes_and_merges_into_the_unsharded_run() {
    if !(have("parallel") && have("rsync")) {
        // .ci/run installs both and sets this, so CI never skips.
        assert!(
            std::env::var_os("PAGEFETCH_REQUIRE_PARALLEL").is_none(),
            "GNU parallel and rsync are required here"
        );
        eprintln!("skipped: GNU parallel or rsync is not installed");
        return;
    }
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let whole = fixture(&s, dir.path(), 200);
    let remotes = dir.path().join("remotes");
    std::fs::create_dir(&remotes).unwrap();
    let ssh = dir.path().join("fake-ssh");
    std::fs::write(&ssh, FAKE_SSH).unwrap();
    std::fs::set_permissions(&ssh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("hosts.txt"), "alpha\nbeta\n").unwrap();
    let envs = [
        ("SHARDS", "4".to_string()),
        ("TEMPLATE", s.template()),
        ("SSHLOGINFILE", "hosts.txt".into()),
        ("PARALLEL_SSH", ssh.display().to_string()),
        ("FAKE_SSH_ROOT", remotes.display().to_string()),
        // parallel writes a notice and a citation request to a home it may not find.
        ("HOME", dir.path().display().to_string()),
    ];
    let script = root().join("deploy/parallel.sh");
    let out = run_script(&script, dir.path(), &envs);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a shard with a failed page (exit 1) is complete: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = std::fs::read_to_string(dir.path().join("out/all.ndjson")).unwrap();
    assert_eq!(
        pages(&merged),
        whole,
        "the template's {{}} reached pagefetch"
    );
    let hosts = std::fs::read_to_string(remotes.join("jobs-on")).unwrap();
    assert!(
        hosts.contains("alpha") && hosts.contains("beta"),
        "both hosts ran shards: {hosts}"
    );
    // --cleanup left nothing on the hosts.
    for host in ["alpha", "beta"] {
        let left: Vec<_> = walk(&remotes.join(host));
        assert!(left.is_empty(), "{host} kept {left:?}");
    }
    // Run again: each shard's file travels to its host and resumes there, complete: no request.
    let before = s.stats().requests();
    let again = run_script(&script, dir.path(), &envs);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(s.stats().requests(), before);
    let merged = std::fs::read_to_string(dir.path().join("out/all.ndjson")).unwrap();
    assert_eq!(pages(&merged), whole);
}

/// Every file under `dir` (none when it does not exist); parallel's own ~/.parallel is not ours.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == ".parallel") {
            continue;
        } else if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

#[test]
fn slurm_array_tasks_merge_into_the_unsharded_run() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let whole = fixture(&s, dir.path(), 50);
    for k in 0..3 {
        let out = run_script(
            &root().join("deploy/slurm.sh"),
            dir.path(),
            &[
                ("SLURM_ARRAY_TASK_ID", k.to_string()),
                ("SLURM_ARRAY_TASK_COUNT", "3".into()),
                ("TEMPLATE", s.template()),
            ],
        );
        // A shard holding the bad line exits 1 (a failed page), the others 0.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let shards: Vec<PathBuf> = (0..3)
        .map(|k| dir.path().join(format!("out/shard-{k}.ndjson")))
        .collect();
    let merged = pagefetch().arg("merge").args(&shards).output().unwrap();
    assert_eq!(merged.status.code(), Some(0));
    assert_eq!(pages(&String::from_utf8_lossy(&merged.stdout)), whole);
    // A missing shard is a gap, said clearly.
    let out = pagefetch()
        .arg("merge")
        .args(&shards[..2])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no record of page 2") && err.contains("--allow-gaps"),
        "{err}"
    );
    let out = pagefetch()
        .args(["merge", "--allow-gaps"])
        .args(&shards[..2])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// A job runner can report success for shards that never ran (GNU parallel did, for a remote
/// without $SHELL): their files are empty, and a merge of them must not pass for a finished run.
#[test]
fn merge_refuses_files_that_do_not_say_where_the_list_ends() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.path().join("shard-0.ndjson"),
        dir.path().join("shard-1.ndjson"),
    );
    std::fs::write(&a, "").unwrap();
    std::fs::write(&b, "").unwrap();
    let out = pagefetch().arg("merge").arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing written before the error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no file ends with the summary of a finished run")
            && err.contains(&format!(
                "{}, {} holds no records",
                a.display(),
                b.display()
            ))
            && err.contains("--allow-gaps"),
        "{err}"
    );
    // A killed run's records (no summary): the pages it did not reach are unknown too.
    let urls = dir.path().join("urls.txt");
    std::fs::write(&urls, "t0\nt1\nt2\n").unwrap();
    let full = pagefetch()
        .args(["fetch", "--format", "ndjson", "-t", &s.template(), "-f"])
        .arg(&urls)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&full.stdout);
    let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&a, &cut).unwrap();
    let out = pagefetch().arg("merge").arg(&a).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pagefetch()
        .args(["merge", "--allow-gaps"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(pages(&String::from_utf8_lossy(&out.stdout)), pages(&cut));
    // The whole run's file merges on its own.
    std::fs::write(&a, text.as_bytes()).unwrap();
    let out = pagefetch().arg("merge").arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(pages(&String::from_utf8_lossy(&out.stdout)).len(), 3);
}

#[test]
fn the_kubernetes_manifest_parses_and_its_command_line_runs() {
    let text = std::fs::read_to_string(root().join("deploy/k8s-job.yaml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("valid YAML");
    let job = &docs[0];
    assert_eq!(job["kind"].as_str(), Some("Job"));
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    let completions = job["spec"]["completions"].as_i64().unwrap();
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"][0].as_str(), Some("pagefetch"));
    let args: Vec<String> = container["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}", a.as_i64().unwrap()))
        })
        .collect();
    assert!(
        args.contains(&format!("auto/{completions}")),
        "--shard auto/N matches completions: {args:?}"
    );

    // Run pod 1's command line here, as the kubelet would: $(JOB_COMPLETION_INDEX) expanded, the
    // volumes' paths and the template pointed at this machine.
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("data/urls.txt"), "a\nb\nc\nd\ne\nf\n").unwrap();
    let local = |a: &str| {
        let a = a.replace("$(JOB_COMPLETION_INDEX)", "1");
        let a = a.replace("/data/", &format!("{}/data/", dir.path().display()));
        let a = a.replace("/out/", &format!("{}/out/", dir.path().display()));
        match a.starts_with("https://www.google.com/") {
            true => s.template(),
            false => a,
        }
    };
    let out = pagefetch()
        .env("JOB_COMPLETION_INDEX", "1")
        .args(args.iter().map(|a| local(a)))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shard = std::fs::read_to_string(dir.path().join("out/shard-1.ndjson")).unwrap();
    let indices: Vec<u64> = pages(&shard).iter().map(|p| p.0).collect();
    assert_eq!(indices, [1, 5]);
}
