//! docs/schema.json against what the binary really writes: every format (JSON, NDJSON, CSV), both
//! layouts (`fetch`, `compare`), `--check`, `--baseline`, `--repeat`, failed pages, redirects, an
//! interrupted run and `merge`. The schema closes every object (`additionalProperties` /
//! `unevaluatedProperties: false`), so a field added, renamed or retyped in the code fails here
//! until the schema (and docs/output.md) say so. Every server is on 127.0.0.1:0.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;

use common::faults::FaultServer;
use common::{pagefetch, refused_addr, send, wait_for, TestServer};
use serde_json::{json, Value};

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/schema.json");
    serde_json::from_str(&text).expect("docs/schema.json is JSON")
}

/// The schema with `#/$defs/{def}` as its root (the whole schema for `""`).
fn rooted(def: &str) -> Value {
    let mut s = schema();
    if !def.is_empty() {
        assert!(
            s["$defs"].get(def).is_some(),
            "no $defs/{def} in the schema"
        );
        let defs = s["$defs"].take();
        s = json!({
            "$schema": s["$schema"],
            "$defs": defs,
            "$ref": format!("#/$defs/{def}"),
        });
    }
    s
}

/// The errors of `v` against `#/$defs/{def}`, one a line (none: valid).
fn errors(def: &str, v: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::new(&rooted(def))
        .unwrap_or_else(|e| panic!("docs/schema.json does not compile: {e}"));
    validator
        .iter_errors(v)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect()
}

#[track_caller]
fn assert_valid(def: &str, v: &Value) {
    let errs = errors(def, v);
    assert!(
        errs.is_empty(),
        "not a valid {def}:\n{}\n{}",
        errs.join("\n"),
        serde_json::to_string_pretty(v).unwrap()
    );
}

#[track_caller]
fn assert_invalid(def: &str, v: &Value, why: &str) {
    assert!(!errors(def, v).is_empty(), "{why}: passed as a {def}:\n{v}");
}

/// The page record's field names in the order the schema lists them.
fn page_fields() -> Vec<String> {
    let s = schema();
    let props = s["$defs"]["page_fields"]["properties"].as_object().unwrap();
    props.keys().cloned().collect()
}

/// Runs pagefetch; checks its exit code; returns stdout.
fn run(args: &[&str], code: i32) -> String {
    run_codes(args, &[code])
}

/// Runs pagefetch; checks its exit code is one of `codes`; returns stdout.
fn run_codes(args: &[&str], codes: &[i32]) -> String {
    let out = pagefetch().args(args).output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| codes.contains(&c)),
        "pagefetch {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A JSON document, valid against `def` and against the schema's top level.
fn json_document(def: &str, text: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert_valid(def, &v);
    assert_valid("", &v);
    v
}

/// NDJSON lines, each valid as an `ndjson_line` and as the def its `type` names.
fn ndjson_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_valid("ndjson_line", &v);
            assert_valid("", &v);
            let def = match v["type"].as_str() {
                Some("page") => "page_line",
                Some("summary") if v.get("merged").is_some() => "merge_summary_line",
                Some("summary") => "summary_line",
                Some("compare") => "compare_line",
                Some("checks") => "checks_line",
                other => panic!("a line of type {other:?}: {line}"),
            };
            assert_valid(def, &v);
            if def == "page_line" {
                let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
                assert_eq!(keys[0], "type", "{line}");
                assert_eq!(
                    keys[1..],
                    page_fields().iter().collect::<Vec<_>>()[..],
                    "{line}"
                );
            }
            v
        })
        .collect()
}

fn types(lines: &[Value]) -> Vec<&str> {
    lines.iter().map(|l| l["type"].as_str().unwrap()).collect()
}

/// What the schema lets a field be: its `type` (one or several) and `const`/`enum` values.
fn allowed_types(s: &Value, field_schema: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let resolve = |v: &Value| -> Value {
        match v["$ref"].as_str() {
            Some(r) => {
                let name = r.strip_prefix("#/$defs/").expect("a local $ref");
                s["$defs"][name].clone()
            }
            None => v.clone(),
        }
    };
    let f = resolve(field_schema);
    match &f["type"] {
        Value::String(t) => {
            out.insert(t.clone());
        }
        Value::Array(ts) => out.extend(ts.iter().map(|t| t.as_str().unwrap().to_string())),
        _ => {}
    }
    let values = f["enum"].as_array().cloned().unwrap_or_default();
    for v in values.iter().chain(f.get("const")) {
        let t = match v {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            _ => "null",
        };
        out.insert(t.to_string());
    }
    for branch in f["oneOf"].as_array().into_iter().flatten() {
        out.extend(allowed_types(s, branch));
    }
    out
}

/// A CSV cell read as the schema's type for its column: an empty cell is null where null is
/// allowed; otherwise an integer, a number or a boolean if the text is one and the schema allows
/// it; otherwise the text as a string.
fn cell(types: &BTreeSet<String>, text: &str) -> Value {
    if text.is_empty() && types.contains("null") {
        return Value::Null;
    }
    if types.contains("integer") {
        if let Ok(n) = text.parse::<u64>() {
            return n.into();
        }
    }
    if types.contains("number") {
        if let Ok(x) = text.parse::<f64>() {
            return json!(x);
        }
    }
    if types.contains("boolean") {
        if let Ok(b) = text.parse::<bool>() {
            return b.into();
        }
    }
    Value::String(text.to_string())
}

/// CSV rows as page records: the header must be the page fields in order, and each row, read by
/// the schema's types, a valid `page`.
fn csv_pages(text: &str) -> Vec<Value> {
    let s = schema();
    let props = s["$defs"]["page_fields"]["properties"].clone();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        page_fields(),
        "the CSV header is the page record's fields"
    );
    let column_types: Vec<BTreeSet<String>> = header
        .iter()
        .map(|h| allowed_types(&s, &props[h]))
        .collect();
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            assert_eq!(row.len(), header.len(), "{row:?}");
            let mut page = serde_json::Map::new();
            for ((name, types), text) in header.iter().zip(&column_types).zip(row.iter()) {
                page.insert(name.clone(), cell(types, text));
            }
            let page = Value::Object(page);
            assert_valid("page", &page);
            page
        })
        .collect()
}

/// Pages of every outcome the tests need to see: ok (the built-in server), refused (nothing
/// listens), a redirect chain ending elsewhere, and an HTTP error status.
struct Mix {
    server: TestServer,
    faults: FaultServer,
    refused: String,
}

impl Mix {
    fn new() -> Mix {
        Mix {
            server: TestServer::instant(),
            faults: FaultServer::start(),
            refused: format!("http://{}/", refused_addr()),
        }
    }

    /// Inputs: two search terms, a refused URL, a redirect chain, a 404.
    fn args(&self) -> Vec<String> {
        vec![
            "-t".into(),
            self.server.template(),
            "apple".into(),
            "pear".into(),
            self.refused.clone(),
            self.faults.url("/chain/2"),
            self.faults.url("/status/404"),
        ]
    }
}

fn with<'a>(head: &[&'a str], tail: &'a [String]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(tail.iter().map(String::as_str))
        .collect()
}

/// The schema's nullable branches are taken by real records, not only its non-null ones.
fn assert_outcomes_covered(pages: &[Value]) {
    assert_eq!(pages.len(), 5, "{pages:?}");
    assert_eq!(pages[2]["error_kind"], "connect", "{}", pages[2]);
    assert!(pages[2]["status"].is_null() && pages[2]["http"].is_null());
    assert!(pages[3]["final_url"].as_str().unwrap().ends_with("/ok/100"));
    assert_eq!(pages[4]["status"], 404);
    assert!(pages[0]["error"].is_null() && pages[0]["http"] == "1.1");
}

#[test]
fn the_schema_is_well_formed_and_every_ref_resolves() {
    let s = schema();
    assert_eq!(
        s["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "draft 2020-12"
    );
    // Every $ref points at a $defs entry, and every entry is used.
    fn walk(v: &Value, refs: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref") {
                    refs.push(r.as_str().expect("a $ref is a string").to_string());
                }
                m.values().for_each(|x| walk(x, refs));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, refs)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(&s, &mut refs);
    let defs = s["$defs"].as_object().unwrap();
    for r in &refs {
        let name = r
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("{r}: only local #/$defs/ refs"));
        assert!(defs.contains_key(name), "{r} resolves to nothing");
    }
    for name in defs.keys() {
        assert!(
            refs.iter().any(|r| r == &format!("#/$defs/{name}")),
            "$defs/{name} is never used"
        );
    }
    // Every required field is a property, and an object schema that lists properties says
    // whether others may appear.
    for (name, def) in defs {
        if let Some(required) = def["required"].as_array() {
            for r in required {
                let r = r.as_str().unwrap();
                let own = def["properties"].get(r).is_some();
                let inherited = def["$ref"]
                    .as_str()
                    .and_then(|t| defs.get(t.strip_prefix("#/$defs/").unwrap()))
                    .is_some_and(|t| t["properties"].get(r).is_some());
                assert!(
                    own || inherited,
                    "$defs/{name} requires {r}, not a property"
                );
            }
        }
    }
    // The page record requires every field it lists, in the same order (the CSV header's).
    let page = &s["$defs"]["page_fields"];
    let required: Vec<&str> = page["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(required, page_fields());
    // And it compiles as draft 2020-12 (the validator checks it against the meta-schema).
    assert!(jsonschema::draft202012::meta::is_valid(&s));
    jsonschema::draft202012::new(&s).expect("compiles");
}

#[test]
fn a_record_with_an_unknown_field_a_wrong_type_or_a_missing_field_fails() {
    let s = TestServer::instant();
    let lines = ndjson_lines(&run(
        &["fetch", "--format", "ndjson", "-t", &s.template(), "a"],
        0,
    ));
    let (page, summary) = (&lines[0], &lines[1]);
    let changed = |v: &Value, field: &str, to: Value| {
        let mut v = v.clone();
        v[field] = to;
        v
    };
    let without = |v: &Value, field: &str| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove(field);
        v
    };
    assert_invalid(
        "page_line",
        &changed(page, "color", json!("red")),
        "unknown field",
    );
    assert_invalid(
        "ndjson_line",
        &changed(page, "color", json!("red")),
        "unknown field",
    );
    assert_invalid(
        "page_line",
        &changed(page, "status", json!("200")),
        "status as text",
    );
    assert_invalid(
        "page_line",
        &changed(page, "index", json!(1.5)),
        "fractional index",
    );
    assert_invalid(
        "page_line",
        &changed(page, "bytes", json!(-1)),
        "negative bytes",
    );
    assert_invalid(
        "page_line",
        &changed(page, "elapsed_ms", Value::Null),
        "null elapsed",
    );
    assert_invalid(
        "page_line",
        &changed(page, "mode", json!("parallel")),
        "unknown mode",
    );
    assert_invalid(
        "page_line",
        &changed(page, "http", json!("3")),
        "unknown version",
    );
    assert_invalid(
        "page_line",
        &changed(page, "error_kind", json!("oops")),
        "unknown kind",
    );
    assert_invalid(
        "page_line",
        &changed(page, "type", json!("pages")),
        "unknown type",
    );
    assert_invalid("page_line", &without(page, "start_ms"), "missing start_ms");
    // A JSON `pages[]` record has no `type`.
    assert_invalid("page", page, "a page with a type");
    assert_valid("page", &without(page, "type"));
    assert_invalid(
        "summary_line",
        &changed(summary, "merged", json!({})),
        "merged",
    );
    assert_invalid(
        "summary_line",
        &changed(summary, "schema", json!(2)),
        "schema 2",
    );
    assert_invalid(
        "summary_line",
        &changed(summary, "http", json!(["1.1", "1.1"])),
        "dup",
    );
    let mut deep = summary.clone();
    deep["page_ms"]["p42"] = json!(1.0);
    assert_invalid("summary_line", &deep, "unknown percentile");
    assert_invalid(
        "summary_line",
        &without(summary, "retries"),
        "missing retries",
    );
    // A fetch document may not carry an NDJSON `type`, nor a run object an unknown field.
    let doc = json_document(
        "fetch_document",
        &run(&["fetch", "--format", "json", "-t", &s.template(), "a"], 0),
    );
    assert_invalid(
        "fetch_document",
        &changed(&doc, "type", json!("summary")),
        "type",
    );
    let mut doc2 = doc.clone();
    doc2["pages"][0]["extra"] = json!(1);
    assert_invalid("fetch_document", &doc2, "a page with an unknown field");
    assert_invalid(
        "",
        &changed(&doc, "extra", json!(1)),
        "unknown field at the top",
    );
}

#[test]
fn fetch_in_json_ndjson_and_csv_matches_the_schema() {
    let mix = Mix::new();
    let args = mix.args();
    // A page failed: exit 1.
    let doc = json_document(
        "fetch_document",
        &run(&with(&["fetch", "-q", "--format", "json"], &args), 1),
    );
    assert_outcomes_covered(doc["pages"].as_array().unwrap());

    let lines = ndjson_lines(&run(
        &with(&["fetch", "-q", "--format", "ndjson"], &args),
        1,
    ));
    assert_eq!(
        types(&lines),
        ["page"; 5]
            .iter()
            .chain(&["summary"])
            .copied()
            .collect::<Vec<_>>()
    );
    assert_outcomes_covered(&lines[..5]);

    let pages = csv_pages(&run(&with(&["fetch", "-q", "--format", "csv"], &args), 1));
    assert_outcomes_covered(&pages);
    // The CSV row and the JSON record of a page are the same values, times aside.
    for (row, record) in pages.iter().zip(doc["pages"].as_array().unwrap()) {
        for field in [
            "mode",
            "index",
            "input",
            "url",
            "status",
            "bytes",
            "error",
            "error_kind",
        ] {
            assert_eq!(row[field], record[field], "{field}");
        }
    }

    // Completion order and retries write the same records.
    let lines = ndjson_lines(&run(
        &with(
            &[
                "fetch",
                "-q",
                "--format",
                "ndjson",
                "--order",
                "completion",
                "--retry",
                "1",
            ],
            &args,
        ),
        1,
    ));
    assert_eq!(lines.len(), 6);
}

#[test]
fn compare_with_repeats_checks_and_a_baseline_matches_the_schema() {
    let mix = Mix::new();
    let args = mix.args();
    let dir = tempfile::tempdir().unwrap();
    // A baseline as CI makes one: --export-json of an earlier run.
    let base = dir.path().join("base.json");
    let base_arg = base.to_str().unwrap();
    run(
        &with(
            &["compare", "-q", "--repeat", "2", "--export-json", base_arg],
            &args,
        ),
        1,
    );
    json_document("compare_document", &std::fs::read_to_string(&base).unwrap());

    let verdict = [
        "--repeat",
        "2",
        "--baseline",
        base_arg,
        "--check",
        "wall<1h",
        "--check",
        "failed<=1",
        "--check",
        "speedup.joinset>0",
        "--check",
        "wall_change<=1000000%",
    ];
    let head = |format: &'static str| {
        let mut h = vec!["compare", "-q", "--format", format];
        h.extend(verdict);
        h
    };
    // Failed pages void the speedup: its check fails (exit 3).
    let doc = json_document("compare_document", &run(&with(&head("json"), &args), 3));
    let runs = doc["runs"].as_array().unwrap();
    assert!(runs.len() >= 2, "{}", runs.len());
    assert!(runs.iter().all(|r| r["repeat"]["runs"] == 2));
    assert_outcomes_covered(runs[0]["pages"].as_array().unwrap());
    assert!(doc["speedup"]["joinset"].is_null());
    assert!(doc["speedup_unavailable"]["joinset"].is_string());
    assert!(doc["checks"].as_array().unwrap().len() >= 4);
    assert!(doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["value"].is_null()));
    assert_eq!(
        doc["baseline_comparison"]["loops"]
            .as_array()
            .unwrap()
            .len(),
        runs.len()
    );

    let lines = ndjson_lines(&run(&with(&head("ndjson"), &args), 3));
    let t = types(&lines);
    assert_eq!(t.iter().filter(|t| **t == "summary").count(), runs.len());
    assert_eq!(t[t.len() - 2..], ["compare", "checks"]);
    assert!(lines.last().unwrap()["baseline"]["loops"].is_array());

    // All pages ok: a speedup and its spread over the rounds.
    let t = mix.server.template();
    let doc = json_document(
        "compare_document",
        &run(
            &[
                "compare", "-q", "--format", "json", "--repeat", "2", "-t", &t, "a", "b",
            ],
            0,
        ),
    );
    assert!(doc["speedup"]["joinset"].is_number(), "{}", doc["speedup"]);
    assert!(
        doc["speedup_stddev"]["joinset"].is_number(),
        "{}",
        doc["speedup_stddev"]
    );
    let lines = ndjson_lines(&run(
        &["compare", "-q", "--format", "ndjson", "-t", &t, "a", "b"],
        0,
    ));
    assert_eq!(types(&lines).last(), Some(&"compare"));
}

#[test]
fn fetch_with_checks_a_baseline_and_repeats_matches_the_schema() {
    let s = TestServer::instant();
    let t = s.template();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let base_arg = base.to_str().unwrap();
    run(
        &[
            "fetch",
            "-q",
            "--repeat",
            "2",
            "--export-json",
            base_arg,
            "-t",
            &t,
            "a",
            "b",
        ],
        0,
    );
    let before = json_document("fetch_document", &std::fs::read_to_string(&base).unwrap());
    assert_eq!(before["repeat"]["walls_ms"].as_array().unwrap().len(), 2);

    let args = [
        "-t",
        &t,
        "a",
        "b",
        "--repeat",
        "2",
        "--baseline",
        base_arg,
        "--check",
        "p95<1h",
        "--check",
        "p95_change<=1000000%",
        "--check",
        "failed_pct<=0%",
    ];
    let doc = json_document(
        "fetch_document",
        &run(
            &with(
                &["fetch", "-q", "--format", "json"],
                &args.map(String::from),
            ),
            0,
        ),
    );
    assert_eq!(
        doc["checks"].as_array().unwrap().len(),
        3,
        "{}",
        doc["checks"]
    );
    assert!(doc["baseline_comparison"]["loops"][0]["p95"].is_object());
    let lines = ndjson_lines(&run(
        &with(
            &["fetch", "-q", "--format", "ndjson"],
            &args.map(String::from),
        ),
        0,
    ));
    assert_eq!(types(&lines), ["page", "page", "summary", "checks"]);

    // Only a baseline: the checks line holds none.
    let lines = ndjson_lines(&run(
        &[
            "fetch",
            "-q",
            "--format",
            "ndjson",
            "--baseline",
            base_arg,
            "-t",
            &t,
            "a",
        ],
        0,
    ));
    assert_eq!(lines.last().unwrap()["checks"], json!([]));
    // A check and no baseline: the comparison is null; a fetch document has none.
    let lines = ndjson_lines(&run(
        &[
            "fetch", "-q", "--format", "ndjson", "--check", "wall<1h", "-t", &t, "a",
        ],
        0,
    ));
    assert!(lines.last().unwrap()["baseline"].is_null());
    let doc = json_document(
        "fetch_document",
        &run(
            &[
                "fetch", "-q", "--format", "json", "--check", "wall<1h", "-t", &t, "a",
            ],
            0,
        ),
    );
    assert!(doc.get("baseline_comparison").is_none());
}

#[test]
fn merge_of_two_shards_matches_the_schema() {
    let mix = Mix::new();
    let args = mix.args();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for shard in ["0/2", "1/2"] {
        // A shard whose pages all succeed exits 0.
        let text = run_codes(
            &with(
                &["fetch", "-q", "--format", "ndjson", "--shard", shard],
                &args,
            ),
            &[0, 1],
        );
        ndjson_lines(&text);
        let path = dir.path().join(format!("shard-{}.ndjson", &shard[..1]));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let out = pagefetch().arg("merge").args(&files).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = ndjson_lines(&String::from_utf8(out.stdout).unwrap());
    assert_outcomes_covered(&lines[..5]);
    let last = lines.last().unwrap();
    assert_eq!(last["merged"], json!({"files": 2, "gaps": 0}));
    assert_valid("merge_summary_line", last);
    // A merge of two loops' records says `mixed`.
    let mut mixed = last.clone();
    mixed["mode"] = json!("mixed");
    assert_valid("merge_summary_line", &mixed);
    assert_invalid("summary_line", &mixed, "mixed outside a merge");
}

#[test]
fn an_interrupted_run_matches_the_schema() {
    // Sequential pages: a fast one, then one the server holds until the test ends. The second
    // request is only sent once the first page is done, so interrupt when it is in flight.
    let s = TestServer::instant();
    let (a, slow) = (s.url("a", ""), s.url("slow", "gate=1"));
    let child = common::command()
        .args(["fetch", "--format", "json", "--timeout", "10m"])
        .args(["-m", "sequential", &a, &slow])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the slow page in flight", || {
        s.stats().requests() >= 2 && s.stats().in_flight() == 1
    });
    send(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json_document("fetch_document", &String::from_utf8(out.stdout).unwrap());
    assert_eq!(doc["interrupted"], true);
    assert_eq!(
        doc["pages"][1]["error_kind"], "cancelled",
        "{}",
        doc["pages"]
    );
}

#[test]
fn a_fetch_interrupted_during_its_warmup_writes_a_document_without_a_run() {
    // The warm-up's only page is held by the server: no run ever finishes.
    let s = TestServer::instant();
    let slow = s.url("slow", "gate=1");
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    std::fs::write(
        &base,
        r#"{"schema": 1, "mode": "joinset", "wall_ms": 5.0, "page_ms": {"p95": 1.0}, "repeat": null}"#,
    )
    .unwrap();
    for (format, extra) in [
        ("json", None),
        ("json", Some(&base)),
        ("ndjson", Some(&base)),
    ] {
        let mut cmd = common::command();
        cmd.args([
            "fetch",
            "--format",
            format,
            "--warmup",
            "1",
            "--timeout",
            "10m",
        ]);
        if let Some(b) = extra {
            cmd.arg("--baseline").arg(b);
        }
        let before = s.stats().requests();
        let child = cmd
            .arg(&slow)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("the warm-up page in flight", || {
            s.stats().requests() > before && s.stats().in_flight() == 1
        });
        send(&child, libc::SIGINT);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130));
        let text = String::from_utf8(out.stdout).unwrap();
        match format {
            "json" => {
                let doc = json_document("fetch_document_without_run", &text);
                let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
                let mut want = vec!["schema", "version", "interrupted"];
                want.extend(extra.map(|_| "baseline_comparison"));
                assert_eq!(keys, want, "{doc}");
                assert_eq!(doc["interrupted"], true, "{doc}");
            }
            _ => {
                let lines = ndjson_lines(&text);
                assert_eq!(types(&lines), ["checks"], "{text}");
            }
        }
    }
}

/// docs/output.md's page table: the schema's fields, in its order, with its types.
#[test]
fn the_page_table_of_output_md_agrees_with_the_schema() {
    let s = schema();
    let props = &s["$defs"]["page_fields"]["properties"];
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/output.md");
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<(String, String)> = text
        .lines()
        .skip_while(|l| !l.starts_with("| field | type |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_string(), cells[2].to_string())
        })
        .collect();
    let names: Vec<String> = rows.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, page_fields(), "the table's fields and order");
    for (name, doc_type) in &rows {
        let doc: BTreeSet<String> = doc_type
            .split(" or ")
            .map(|t| {
                match t {
                    "int" => "integer",
                    "float" => "number",
                    "bool" => "boolean",
                    other => other,
                }
                .to_string()
            })
            .collect();
        let mut schema_types = allowed_types(&s, &props[name]);
        if schema_types.contains("integer") {
            // An enum of numbers (none today) would say number; an integer is an int.
            schema_types.remove("number");
        }
        assert_eq!(doc, schema_types, "{name}: output.md says {doc_type}");
    }
}
