//! pagefetch: fetch many pages concurrently and report each page's size, status and time in input
//! order. `main.rs` parses the command line and calls [`run`]; tests call the modules directly.

pub mod check;
pub mod cli;
pub mod client;
pub mod compare;
pub mod demo;
pub mod exit;
pub mod fetch;
pub mod input;
pub mod limits;
pub mod man;
pub mod mask;
pub mod merge;
pub mod order;
pub mod output;
pub mod page;
pub mod progress;
pub mod report;
pub mod resume;
pub mod run;
pub mod server;
pub mod setup;
pub mod source;
pub mod spool;
pub mod stats;
pub mod template;
pub mod term;
pub mod times;
pub mod verdict;

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;

use cli::{CiArgs, Cli, Command, Format, InputArgs, OutputArgs, RequestArgs, ServeArgs};
use compare::{run_modes, Plan};
use exit::{Outcome, Signals};
use page::Strategy;
use report::Layout;
use server::{Server, ServerConfig};
use setup::{settings, stderr_sink};
use source::Select;
use template::{Jobs, Template};

/// Runs one command to its end. `Err` is a usage or fatal error (exit 2); a failed page is not.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let outcome = command(cli).await;
    // Everything handed to stdout and the export files is written before the command ends. A
    // write error is the one its writer met (a failure seen mid-run was a copy of it, without the
    // mark that tells a closed stdout from other errors).
    match spool::finish() {
        Ok(()) => outcome,
        Err(e) => Err(e.into()),
    }
}

async fn command(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Fetch(a) => {
            let resume = a.resume.map(|path| (path, a.resume_failed));
            let modes = [a.mode];
            let layout = Layout::Fetch;
            let output = (a.output, a.output_file);
            fetch_or_compare(a.input, a.request, output, a.ci, &modes, layout, resume).await
        }
        Command::Compare(a) => {
            let mut modes = a.modes;
            // `--modes joinset,joinset` would only run the same loop twice.
            let mut seen = Vec::new();
            modes.retain(|m| {
                !seen.contains(m) && {
                    seen.push(*m);
                    true
                }
            });
            fetch_or_compare(
                a.input,
                a.request,
                (a.output, a.output_file),
                a.ci,
                &modes,
                Layout::Compare,
                None,
            )
            .await
        }
        Command::Serve(a) => serve(a).await,
        Command::Demo(a) => demo::run(a).await,
        Command::Merge(a) => merge::run(&a.files, a.allow_gaps).map(|()| Outcome::AllOk),
        Command::Completions(a) => {
            let mut out = output::Stdout::new();
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(a.shell, &mut command, "pagefetch", &mut out);
            out.flush()?;
            Ok(Outcome::AllOk)
        }
        Command::Man => {
            let mut out = output::Stdout::new();
            let command = <Cli as clap::CommandFactory>::command();
            out.write_all(man::render(command).as_bytes())?;
            out.flush()?;
            Ok(Outcome::AllOk)
        }
    }
}

async fn fetch_or_compare(
    input: InputArgs,
    request: RequestArgs,
    (output, output_file): (OutputArgs, Option<std::path::PathBuf>),
    ci: CiArgs,
    modes: &[Strategy],
    layout: Layout,
    resume: Option<(std::path::PathBuf, bool)>,
) -> anyhow::Result<Outcome> {
    // Check the template, the checks and the baseline before reading stdin, so a typo fails fast
    // and costs no request.
    let template = Template::parse(&input.template)?;
    // Inputs that look like host names go to a search engine only with the default template: they
    // are counted (and warned about) then, never with a template of the user's.
    let hosts = Arc::new(input::HostLike::default());
    let default_template = input.template == cli::DEFAULT_TEMPLATE;
    let baseline = ci
        .baseline
        .as_deref()
        .map(verdict::Baseline::read)
        .transpose()?;
    if let Some(b) = &baseline {
        b.check_common(modes)?;
    }
    verdict::check_plan(&ci.checks, modes, baseline.as_ref())?;
    let open_files = limits::raise_open_files();
    // `fetch` reads its input as it goes; `compare`, `--repeat` and `--resume` (which checks the
    // earlier records against the inputs first) read it whole.
    let streaming =
        layout == Layout::Fetch && request.repeat == 1 && request.warmup == 0 && resume.is_none();
    let (plan_input, in_flight) = if streaming {
        let mut stream = input::stream::spawn(input.terms, input.file.as_deref())?;
        match stream.has_input().await {
            Ok(true) => {}
            Ok(false) => anyhow::bail!(input::NO_INPUT),
            Err(e) => anyhow::bail!(e),
        }
        if default_template {
            stream.watch_hosts(hosts.clone());
        }
        let stream = std::sync::Mutex::new(Some(stream));
        (
            compare::Input::Stream { stream, template },
            request.concurrency as usize,
        )
    } else {
        let terms = input::read_terms(&input.terms, input.file.as_deref())?;
        if default_template {
            for i in 0..terms.len() {
                if let Ok(text) = terms.get(i).text {
                    hosts.note(text);
                }
            }
            // A list is known whole: the warning comes before any request.
            if let Some(w) = hosts.warning().filter(|_| !output.quiet) {
                output::warn(format_args!("{w}"));
            }
        }
        let jobs = Jobs::new(terms, template);
        let in_flight = (request.concurrency as usize).min(jobs.len());
        (compare::Input::List(jobs), in_flight)
    };
    if modes.iter().any(|m| *m != Strategy::Sequential) {
        limits::check_open_files(in_flight, open_files)?;
    }
    let settings = settings(&request, open_files, output.quiet)?;
    // `-o FILE` is created before any request: a path that cannot be written costs none.
    let report_to = setup::Report::open(output_file.as_deref(), input.file.as_deref())?;
    // The trust store is loaded now, not inside the first HTTPS page's time. A stream may bring an
    // https:// line at any point, so it always needs it.
    let needs_tls = match &plan_input {
        compare::Input::List(jobs) => jobs.any_https(),
        compare::Input::Stream { .. } => true,
    };
    if needs_tls {
        settings.client.tls.prepare()?;
    }
    let mut select = Select {
        shard: input.shard,
        skip: None,
    };
    // With --resume the records go to FILE, as NDJSON, after those already there.
    let (format, out) = match (&resume, &plan_input) {
        (Some((path, failed)), compare::Input::List(jobs)) => {
            let r = resume::open(path, jobs, *failed)?;
            if !output.quiet {
                output::warn(format_args!(
                    "pagefetch: resuming {}: {} of {} inputs done ({} records)",
                    path.display(),
                    r.done.len(),
                    jobs.len(),
                    r.records
                ));
            }
            select.skip = Some(Arc::new(r.done));
            (Format::Ndjson, spool::spool(Box::new(r.sink)))
        }
        _ => (output.format, report_to.sink()),
    };
    let plan = Plan {
        input: plan_input,
        settings,
        concurrency: request.concurrency as usize,
        repeat: request.repeat as usize,
        progress: progress::enabled(output.progress, output.quiet),
        order: output.order,
        select,
        warmup: request.warmup as usize,
        hosts: hosts.clone(),
        judge: compare::Judge {
            checks: ci.checks,
            baseline,
            fail_inconclusive: ci.fail_inconclusive,
            say: !output.quiet,
        },
    };
    let mut reporters = vec![report::reporter(
        format,
        layout,
        out,
        stderr_sink(output.quiet),
        report_to.color(output.color),
    )];
    if output.waterfall {
        reporters.push(setup::waterfall_chart_to(&report_to, format, output.color));
    }
    let create = |path: &std::path::Path, flag: &str| -> anyhow::Result<Box<dyn Write>> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("{flag} {}: cannot create it", path.display()))?;
        Ok(spool::spool(Box::new(output::FileSink::new(
            file,
            path.display().to_string(),
        ))))
    };
    if let Some(path) = &ci.export_json {
        reporters.push(report::json_export(layout, create(path, "--export-json")?));
    }
    if let Some(path) = &ci.export_markdown {
        reporters.push(report::markdown_export(create(path, "--export-markdown")?));
    }
    if let Some(path) = &ci.export_html {
        reporters.push(report::html_export(create(path, "--export-html")?));
    }
    let mut reporter = report::Fanout(reporters);
    let outcome = run_modes(&plan, modes, &mut reporter).await;
    // A stream's inputs are known only as they come: its warning comes once, at the end.
    if streaming && default_template && !output.quiet {
        if let Some(w) = hosts.warning() {
            output::warn(format_args!("{w}"));
        }
    }
    outcome
}

/// `pagefetch serve`: prints the bound address as the first stdout line, serves until a signal.
async fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    let config = ServerConfig {
        latency: args.latency,
        jitter: args.jitter,
    };
    let mut signals = Signals::new()?;
    limits::raise_open_files();
    let tls = match args.tls {
        false => None,
        true => {
            let ca = server::tls::Authority::new("pagefetch serve CA")?;
            if let Some(path) = &args.ca_out {
                std::fs::write(path, ca.pem())
                    .with_context(|| format!("cannot write --ca-out {}", path.display()))?;
            }
            Some(ca.localhost()?.server_config()?)
        }
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut server = Server::start_with(args.addr, config, tls).await?;
    if args.log_arrivals.is_some() {
        server.stats().record_arrivals();
    }
    let mut out = output::Stdout::new();
    writeln!(out, "{}", server.addr())?;
    out.flush()?;
    let trust = match &args.ca_out {
        Some(path) => format!(" --cacert {}", path.display()),
        None => String::new(),
    };
    output::warn(format_args!(
        "pagefetch serve: listening on {scheme}://{addr} (try: pagefetch fetch{trust} -t '{scheme}://{addr}/search?q={{}}' apple pear)",
        addr = server.addr()
    ));
    signals.recv().await;
    // First signal: stop accepting, let requests in flight finish (up to 5 s). A second one quits now.
    server.stop_accepting();
    output::warn(format_args!(
        "pagefetch serve: stopping; {} requests served, {} in flight",
        server.stats().requests(),
        server.stats().in_flight()
    ));
    let drain = async {
        while server.stats().in_flight() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    let outcome = tokio::select! {
        drained = tokio::time::timeout(std::time::Duration::from_secs(5), drain) => {
            let left = server.stats().in_flight();
            match drained {
                Ok(()) => output::warn(format_args!("pagefetch serve: stopped")),
                Err(_) => output::warn(format_args!(
                    "pagefetch serve: stopped; {left} requests still in flight after 5 s were cut off"
                )),
            }
            Outcome::AllOk
        }
        code = signals.recv() => {
            output::warn(format_args!("pagefetch serve: stopped at once"));
            Outcome::Interrupted(code)
        }
    };
    if let Some(path) = &args.log_arrivals {
        let lines: String = server
            .stats()
            .arrivals()
            .iter()
            .map(|t| format!("{}\n", t.as_micros()))
            .collect();
        std::fs::write(path, lines)
            .with_context(|| format!("cannot write --log-arrivals {}", path.display()))?;
    }
    drop(server);
    Ok(outcome)
}
