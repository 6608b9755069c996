//! Credentials are sent, never shown: every URL or input that reaches an output goes through here.

use std::borrow::Cow;

use url::Url;

/// The URL as text with its password shown as `***`, or, when it has a user name and no password,
/// the user name as `***` (`https://TOKEN@host/` is how tokens often travel): credentials are
/// sent, never shown.
pub fn mask(url: &Url) -> Cow<'_, str> {
    let has_password = url.password().is_some();
    if !has_password && url.username().is_empty() {
        return Cow::Borrowed(url.as_str());
    }
    let mut shown = url.clone();
    // Neither can fail: a URL with a user name or a password has a host that can carry them.
    let _ = match has_password {
        true => shown.set_password(Some("***")),
        false => shown.set_username("***"),
    };
    Cow::Owned(shown.into())
}

/// `text` with the password of every `scheme://user:password@` in it shown as `***` (and a lone
/// user name, `scheme://token@`, too), whether or not the URL parses (a URL with a bad port or host
/// must not print its password in the error row). Where the authority ends is unclear in a broken
/// URL, so this errs on the side of masking a password: it takes the last `@` before the next
/// whitespace. A lone user name has no `/`, `?` or `#` before its `@` (`http://h/a@b` has none).
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
            let user = &text[start..at];
            if !user.is_empty() && !user.contains(['/', '?', '#']) {
                out.push_str(&text[done..start]);
                out.push_str("***");
                done = at;
            }
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
            ("http://ghp_T0KEN@host/", "http://***@host/"),
            ("http://T0KEN@host:99999/", "http://***@host:99999/"),
            ("http://host/a@b", "http://host/a@b"),
            ("http://host?q=a@b", "http://host?q=a@b"),
            ("http://@host/", "http://@host/"),
            ("plain term", "plain term"),
        ] {
            assert_eq!(mask_userinfo(text), shown, "{text}");
        }
    }

    #[test]
    fn parsed_urls_show_neither_password_nor_lone_user_name() {
        for (text, shown) in [
            ("http://alice:s3cret@h/x", "http://alice:***@h/x"),
            ("https://ghp_T0KEN@h/x", "https://***@h/x"),
            ("http://h/a@b?q=c@d", "http://h/a@b?q=c@d"),
        ] {
            assert_eq!(mask(&Url::parse(text).unwrap()), shown, "{text}");
        }
    }
}
