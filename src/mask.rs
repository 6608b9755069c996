//! Credentials are sent, never shown: every URL or input that reaches an output goes through here.

use std::borrow::Cow;

use url::Url;

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

/// `text` with the password of every `scheme://user:password@` in it shown as `***`, whether or not
/// the URL parses (a URL with a bad port or host must not print its password in the error row).
/// Where the authority ends is unclear in a broken URL, so this errs on the side of masking: it
/// takes the last `@` before the next whitespace.
pub fn mask_userinfo(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut done = 0; // bytes of `text` already copied to `out`
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        let end = text[start..]
            .find(char::is_whitespace)
            .map_or(text.len(), |e| start + e);
        from = end.max(start);
        let Some(at) = text[start..end].rfind('@').map(|a| start + a) else {
            continue;
        };
        let Some(colon) = text[start..at].find(':').map(|c| start + c) else {
            continue;
        };
        out.push_str(&text[done..=colon]);
        out.push_str("***");
        done = at;
    }
    if done == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[done..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_text_that_does_not_parse() {
        for (text, shown) in [
            (
                "http://alice:s3cret@127.0.0.1:99999/x",
                "http://alice:***@127.0.0.1:99999/x",
            ),
            ("http://alice:s3cret@/x", "http://alice:***@/x"),
            ("http://alice:s3cret@[::1/x", "http://alice:***@[::1/x"),
            ("http://a:p/ss#w@host/", "http://a:***@host/"),
            (
                "see ftp://u:pw@h and https://v:pw2@k/",
                "see ftp://u:***@h and https://v:***@k/",
            ),
            ("http://alice@host/", "http://alice@host/"),
            ("plain term", "plain term"),
        ] {
            assert_eq!(mask_userinfo(text), shown, "{text}");
        }
    }
}
