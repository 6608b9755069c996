//! Turns terms into URLs: a template parsed once, rendered per term in one pass, and the `Job` list.

use std::sync::Arc;

use anyhow::{bail, Context};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use crate::input::Terms;

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
    /// Checks that `s` has a `{}` and renders to an http(s) URL with a host.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        if !s.contains(PLACEHOLDER) {
            bail!("template {s:?} has no {{}} placeholder for the term");
        }
        let parts: Vec<String> = s.split(PLACEHOLDER).map(str::to_string).collect();
        let in_path = !parts[0].contains(['?', '#']);
        let t = Template { parts, in_path };
        // The term may fill a path segment or a query value, never the scheme, host or port.
        let authority_closed = t.parts[0]
            .split_once("://")
            .and_then(|(_, rest)| rest.find(['/', '?', '#']))
            .is_some_and(|end| end > 0);
        if !authority_closed {
            bail!("template {s:?}: put {{}} in the path or query, not in the scheme or host");
        }
        let sample = t.render("x");
        let url =
            Url::parse(&sample).with_context(|| format!("template {s:?} is not a valid URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("template {s:?} must start with http:// or https://");
        }
        if url.host_str().is_none_or(str::is_empty) {
            bail!("template {s:?} has no host");
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

/// One page to fetch.
#[derive(Debug)]
pub struct Job {
    /// 0-based input position.
    pub index: usize,
    /// The term or URL as given (a password in it is masked).
    pub input: String,
    /// The URL to request, or a one-line reason why there is none.
    pub url: Result<Url, String>,
}

/// True for a term that is itself an http(s) URL (used unchanged).
fn is_url(term: &str) -> bool {
    let lower = term.get(..8).unwrap_or(term).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
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

    /// The job for input `index`. A bad term becomes a job whose `url` holds the error.
    pub fn get(&self, index: usize) -> Arc<Job> {
        let term = self.terms.get(index);
        let (input, url) = match term.text {
            Err(e) => (String::new(), Err(e.to_string())),
            Ok(t) if is_url(t) => {
                let url = Url::parse(t)
                    .map_err(|e| format!("{}: invalid URL: {e}", term.origin))
                    .and_then(|u| match u.host_str() {
                        Some(h) if !h.is_empty() => Ok(u),
                        _ => Err(format!("{}: invalid URL: no host", term.origin)),
                    });
                let input = match &url {
                    Ok(u) if u.password().is_some() => mask(u),
                    _ => t.to_string(),
                };
                (input, url)
            }
            Ok(t) => {
                let url = match self.template.refuses(t) {
                    Some(why) => Err(format!("{}: {why}", term.origin)),
                    None => Url::parse(&self.template.render(t))
                        .map_err(|e| format!("{}: invalid URL: {e}", term.origin)),
                };
                (t.to_string(), url)
            }
        };
        Arc::new(Job { index, input, url })
    }
}

/// The URL as text with any password replaced by `***`: credentials are sent, never shown.
pub fn mask(url: &Url) -> String {
    if url.password().is_none() {
        return url.as_str().to_string();
    }
    let mut shown = url.clone();
    // Cannot fail: the URL already has a password, so it has a host that can carry one.
    let _ = shown.set_password(Some("***"));
    shown.into()
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
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
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
    }
}
