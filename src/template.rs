//! Turns terms into URLs: a template parsed once, rendered per term in one pass, and the `Job` list.

use std::borrow::Cow;
use std::sync::Arc;

use anyhow::{bail, Context};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use crate::input::{Origin, Terms};
use crate::mask::mask_userinfo;
use crate::page::Job;

pub use crate::mask::mask;

/// Everything but RFC 3986 "unreserved" characters is encoded, so a term can never add a `/`, `?`,
/// `#`, `&`, `@` or `:` and escape its slot in the template.
const TERM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const PLACEHOLDER: &str = "{}";

/// A URL template split at its placeholders.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<String>,
    /// The first `{}` comes before any `?` or `#`: the term fills part of the path.
    in_path: bool,
}

impl Template {
    /// Checks that `s` has a `{}` in its path or query and renders to an http(s) URL with a host.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let shown = mask_userinfo(s);
        if !s.contains(PLACEHOLDER) {
            bail!("template {shown:?} has no {{}} placeholder for the term");
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            bail!("template {shown:?} has no scheme: start it with http:// or https://");
        };
        if scheme.contains(PLACEHOLDER) {
            bail!("template {shown:?}: put {{}} in the path or query, not in the scheme or host");
        }
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            bail!("template {shown:?} must start with http:// or https://");
        }
        let parts: Vec<String> = s.split(PLACEHOLDER).map(str::to_string).collect();
        let in_path = !parts[0].contains(['?', '#']);
        // The term may fill a path segment or a query value, never the host or port.
        let authority_end = rest.find(['/', '?', '#']);
        if authority_end.is_none_or(|end| rest[..end].contains(PLACEHOLDER) || end == 0) {
            bail!("template {shown:?}: put {{}} in the path or query, not in the scheme or host");
        }
        // The fragment (after `#`) never reaches the server: every term would send the same request.
        if s.find('#')
            .is_some_and(|hash| s[hash..].contains(PLACEHOLDER))
        {
            bail!(
                "template {shown:?}: {{}} is in the fragment (after #), which is never sent to the \
                 server; put it in the path or query"
            );
        }
        let t = Template { parts, in_path };
        let url = Url::parse(&t.render("x"))
            .with_context(|| format!("template {shown:?} is not a valid URL"))?;
        if url.host_str().is_none_or(str::is_empty) {
            bail!("template {shown:?} has no host");
        }
        Ok(t)
    }

    /// Substitutes the encoded term for every `{}` in one pass: a term containing `{}` stays literal.
    pub fn render(&self, term: &str) -> String {
        let encoded = utf8_percent_encode(term, TERM);
        let mut url = String::with_capacity(
            self.parts.iter().map(String::len).sum::<usize>() + 3 * term.len(),
        );
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                // `Display` of the encoder writes straight into `url`: no intermediate String.
                use std::fmt::Write as _;
                let _ = write!(url, "{encoded}");
            }
            url.push_str(part);
        }
        url
    }

    /// Why `term` cannot fill this template, if it cannot. URL parsers resolve a path segment of
    /// `.` or `..` (even spelled `%2e%2e`), so in a path slot those two terms would climb out of it.
    fn refuses(&self, term: &str) -> Option<String> {
        (self.in_path && matches!(term, "." | ".."))
            .then(|| format!("term {term:?} would change the URL path around it"))
    }
}

/// True for a term that is itself an http(s) URL (used unchanged).
pub fn is_url(term: &str) -> bool {
    let lower = term.get(..8).unwrap_or(term).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Longest URL an HTTP request can carry here (the `http` crate's limit for a request target).
pub const MAX_URL_BYTES: usize = u16::MAX as usize - 1;

/// The URL, if a request can be made to it: http(s), a host, and a request target `http` accepts.
fn check(url: Url) -> Result<Url, String> {
    if url.host_str().is_none_or(str::is_empty) {
        return Err("invalid URL: no host".into());
    }
    if url.as_str().len() > MAX_URL_BYTES {
        return Err(format!(
            "URL too long ({} bytes; the limit is {MAX_URL_BYTES})",
            url.as_str().len()
        ));
    }
    http::Uri::try_from(url.as_str())
        .map_err(|e| format!("invalid URL: not a valid request target ({e})"))?;
    Ok(url)
}

/// The jobs of a run, made one at a time from the compact terms as a loop takes them, so memory
/// follows the requests in flight, not the length of the input.
#[derive(Debug)]
pub struct Jobs {
    terms: Terms,
    template: Template,
}

impl Jobs {
    pub fn new(terms: Terms, template: Template) -> Self {
        Jobs { terms, template }
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether any job may need TLS: the template is https://, or an input URL is.
    pub fn any_https(&self) -> bool {
        let https = |s: &str| {
            s.get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        };
        self.template.parts.first().is_some_and(|p| https(p))
            || (0..self.terms.len()).any(|i| self.terms.get(i).text.is_ok_and(https))
    }

    /// The job for input `index`. A bad term becomes a job whose `url` holds the error.
    pub fn get(&self, index: usize) -> Arc<Job> {
        Arc::new(self.job(index, index))
    }

    /// The job for input `index`, as the `seq`th job of a run.
    pub fn job(&self, index: usize, seq: usize) -> Job {
        let term = self.terms.get(index);
        self.template.job(index, seq, term.text, term.origin)
    }

    pub fn template(&self) -> &Template {
        &self.template
    }
}

impl Template {
    /// The job for one input item: `index` in the input, `seq` in the run; `text` is the term, or
    /// why its line was unusable.
    pub fn job(
        &self,
        index: usize,
        seq: usize,
        text: Result<&str, &str>,
        origin: Origin<'_>,
    ) -> Job {
        let at = |e: String| format!("{origin}: {e}");
        let job = match text {
            Err(e) => Job::new(index, String::new(), Err(e.to_string())),
            Ok(t) if is_url(t) => {
                let url = Url::parse(t)
                    .map_err(|e| format!("invalid URL: {e}"))
                    .and_then(check)
                    .map_err(at);
                // Parsed, the URL says exactly where its credentials are; broken, only the text
                // can. Without credentials the input is kept as given, not as parsed.
                let input = match url.as_ref().map(mask) {
                    Ok(Cow::Owned(masked)) => masked,
                    Ok(Cow::Borrowed(_)) => t.to_string(),
                    Err(_) => mask_userinfo(t).into_owned(),
                };
                Job::new(index, input, url)
            }
            Ok(t) => {
                let url = match self.refuses(t) {
                    Some(why) => Err(at(why)),
                    None => Url::parse(&self.render(t))
                        .map_err(|e| format!("invalid URL: {e}"))
                        .and_then(check)
                        .map_err(at),
                };
                let input = mask_userinfo(t);
                let shown_url = match (&input, &url) {
                    (Cow::Owned(masked), Ok(_)) => Some(self.render(masked)),
                    _ => None,
                };
                Job {
                    input: input.into_owned(),
                    shown_url,
                    ..Job::new(index, String::new(), url)
                }
            }
        };
        Job { seq, ..job }
    }

    /// Whether the template itself is https://.
    pub fn is_https(&self) -> bool {
        self.parts[0]
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::terms_from_args;

    fn t(s: &str) -> Template {
        Template::parse(s).unwrap()
    }

    fn jobs(args: &[&str]) -> Vec<Arc<Job>> {
        let jobs = Jobs::new(terms_from_args(args), t("http://h/?q={}"));
        (0..jobs.len()).map(|i| jobs.get(i)).collect()
    }

    #[test]
    fn encodes_reserved_and_non_ascii() {
        let t = t("http://h/search?q={}");
        assert_eq!(t.render("apple pie"), "http://h/search?q=apple%20pie");
        assert_eq!(
            t.render("a&b=c#d/e?f"),
            "http://h/search?q=a%26b%3Dc%23d%2Fe%3Ff"
        );
        assert_eq!(
            t.render("poire à café"),
            "http://h/search?q=poire%20%C3%A0%20caf%C3%A9"
        );
        assert_eq!(t.render("a-b.c_d~e"), "http://h/search?q=a-b.c_d~e");
    }

    #[test]
    fn a_term_with_braces_is_not_expanded_again() {
        let t = t("http://h/{}/x?q={}");
        assert_eq!(t.render("{}"), "http://h/%7B%7D/x?q=%7B%7D");
    }

    #[test]
    fn a_term_cannot_change_host_or_path() {
        let t = t("https://example.com/search?q={}");
        for evil in [
            "@evil.com",
            "/../../etc",
            "x#frag",
            "a?b",
            "http://evil.com/",
            "\\evil",
        ] {
            let u = Url::parse(&t.render(evil)).unwrap();
            assert_eq!(u.host_str(), Some("example.com"), "{evil}");
            assert_eq!(u.path(), "/search", "{evil}");
            assert_eq!(u.fragment(), None, "{evil}");
        }
    }

    #[test]
    fn dot_segments_cannot_climb_out_of_a_path_slot() {
        let path = Jobs::new(terms_from_args(&["..", ".", "..."]), t("http://h/wiki/{}"));
        let err = path.get(0).url.clone().unwrap_err();
        assert_eq!(
            err,
            "argument 1: term \"..\" would change the URL path around it"
        );
        assert!(path.get(1).url.is_err());
        assert_eq!(path.get(2).url.as_ref().unwrap().path(), "/wiki/...");
        // In a query value a dot is just a dot.
        let query = Jobs::new(terms_from_args(&[".."]), t("http://h/w?q={}"));
        assert_eq!(query.get(0).url.as_ref().unwrap().query(), Some("q=.."));
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in [
            "http://h/search",
            "ftp://h/{}",
            "not a url {}",
            "http:///{}",
            "http://{}/x",
            "http://h:{}/x",
            "{}://h/x",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn template_errors_say_what_to_change() {
        let err = |s: &str| Template::parse(s).unwrap_err().to_string();
        assert!(
            err("localhost:8080/search?q={}").contains("start it with http:// or https://"),
            "{}",
            err("localhost:8080/search?q={}")
        );
        assert!(err("http://h/page#{}").contains("fragment"));
        assert!(err("http://h/page?q=x#a{}").contains("fragment"));
        assert!(err("http://{}/x").contains("not in the scheme or host"));
        // A password in the template is never printed, even in an error.
        let e = err("http://user:s3cret@h/search");
        assert!(!e.contains("s3cret") && e.contains("user:***@"), "{e}");
        assert!(Template::parse("http://h/p?q={}#top").is_ok());
    }

    #[test]
    fn unparsable_inputs_never_show_their_password() {
        let inputs = [
            "http://alice:s3cret@127.0.0.1:99999/x",
            "http://alice:s3cret@/x",
            "http://alice:s3cret@[::1/x",
            "https://alice:s3cret@xn--/x",
            "ftp://alice:s3cret@h/x",
        ];
        let jobs = Jobs::new(terms_from_args(&inputs), t("http://h/?q={}"));
        for i in 0..inputs.len() {
            let job = jobs.get(i);
            let shown = format!(
                "{} {:?} {:?}",
                job.input,
                job.url_shown(),
                job.url.as_ref().err()
            );
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(job.input.contains("alice:***@"), "{shown}");
        }
        // The term went through the template: the URL is sent with it, but shown masked.
        let ftp = jobs.get(4);
        assert!(ftp.url.as_ref().unwrap().as_str().contains("s3cret"));
        assert_eq!(
            ftp.url_shown().unwrap(),
            "http://h/?q=ftp%3A%2F%2Falice%3A%2A%2A%2A%40h%2Fx"
        );
    }

    #[test]
    fn a_url_longer_than_a_request_can_carry_is_an_error_row_with_its_line() {
        // 65,536 bytes: within the 64 KiB line limit, past what a request can carry.
        let long = format!("http://h/{}", "a".repeat(65_536 - 9));
        let input = format!("apple\n{long}\n");
        let terms = crate::input::terms_from_reader(input.as_bytes(), "urls.txt").unwrap();
        let jobs = Jobs::new(terms, t("http://h/?q={}"));
        let err = jobs.get(1).url.clone().unwrap_err();
        assert!(
            err.starts_with("line 2 of urls.txt: URL too long ("),
            "{err}"
        );
        // A term that only grows too long once encoded is caught the same way.
        let terms = terms_from_args(&["é".repeat(20_000)]);
        let err = Jobs::new(terms, t("http://h/?q={}"))
            .get(0)
            .url
            .clone()
            .unwrap_err();
        assert!(err.starts_with("argument 1: URL too long"), "{err}");
    }

    #[test]
    fn url_terms_are_used_unchanged_and_passwords_masked() {
        let jobs = jobs(&[
            "https://example.com/a b?x=1",
            "HTTP://user:secret@example.com/",
            "apple",
        ]);
        assert_eq!(
            jobs[0].url.as_ref().unwrap().as_str(),
            "https://example.com/a%20b?x=1"
        );
        assert_eq!(jobs[0].input, "https://example.com/a b?x=1");
        assert_eq!(jobs[1].input, "http://user:***@example.com/");
        assert_eq!(jobs[1].url.as_ref().unwrap().password(), Some("secret"));
        assert_eq!(jobs[2].url.as_ref().unwrap().as_str(), "http://h/?q=apple");
        assert_eq!(jobs.iter().map(|j| j.index).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn invalid_url_terms_name_their_origin() {
        let terms =
            crate::input::terms_from_reader(&b"a\n\n\n\n\n\nhttp://[oops/\n"[..], "urls.txt")
                .unwrap();
        let jobs = Jobs::new(terms, t("http://h/?q={}"));
        let job = jobs.get(1);
        let err = job.url.as_ref().unwrap_err();
        assert!(
            err.starts_with("line 7 of urls.txt: invalid URL: "),
            "{err}"
        );
        assert!(
            Jobs::new(terms_from_args(&["http://:80/x"]), t("http://h/?q={}"))
                .get(0)
                .url
                .is_err()
        );
    }
}
