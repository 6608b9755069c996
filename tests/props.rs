//! Property tests: no input line and no term can make pagefetch panic, and a term can never change
//! the scheme, host or path of the template it fills.

use pagefetch::input::{terms_from_args, terms_from_reader};
use pagefetch::template::{Jobs, Template};
use proptest::prelude::*;
use url::Url;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_term_stays_in_its_slot(term in any::<String>()) {
        let t = Template::parse("https://example.com/search?q={}&lang=en").unwrap();
        let url = Url::parse(&t.render(&term)).expect("every rendering is a valid URL");
        prop_assert_eq!(url.scheme(), "https");
        prop_assert_eq!(url.host_str(), Some("example.com"));
        prop_assert_eq!(url.path(), "/search");
        prop_assert_eq!(url.fragment(), None);
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        prop_assert_eq!(pairs.len(), 2);
        prop_assert_eq!(&pairs[0].1, &term);
        prop_assert_eq!(&pairs[1], &("lang".to_string(), "en".to_string()));
    }

    #[test]
    fn a_path_term_stays_one_segment(term in prop_oneof![Just(".".to_string()), Just("..".to_string()), any::<String>()]) {
        // Through Jobs, as pagefetch does it: a term either fills its one segment or is an error row.
        let jobs = Jobs::new(terms_from_args(std::slice::from_ref(&term)), Template::parse("http://h.test/wiki/{}").unwrap());
        if jobs.is_empty() {
            return Ok(()); // a blank term is skipped, as on the command line
        }
        let job = jobs.get(0);
        if let Ok(url) = &job.url {
            prop_assert_eq!(url.host_str(), Some("h.test"));
            let segments: Vec<&str> = url.path_segments().unwrap().collect();
            prop_assert_eq!(segments.len(), 2);
            prop_assert_eq!(segments[0], "wiki");
            let decoded = percent_encoding::percent_decode_str(segments[1]).decode_utf8().unwrap();
            prop_assert_eq!(decoded, term.trim());
            prop_assert_eq!(url.query(), None);
        } else {
            prop_assert!(matches!(term.trim(), "." | ".."), "{:?}", job.url);
        }
    }

    #[test]
    fn any_bytes_parse_into_terms_without_panic(input in proptest::collection::vec(any::<u8>(), 0..4096)) {
        // Input that looks like UTF-16 or UTF-32 is refused as a whole; anything else is read.
        let terms = match terms_from_reader(input.as_slice(), "fuzz") {
            Ok(terms) => terms,
            Err(e) => {
                prop_assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
                return Ok(());
            }
        };
        let lines = input.split(|&b| b == b'\n').count();
        prop_assert!(terms.len() <= lines);
        let t = Template::parse("http://h.test/?q={}").unwrap();
        let jobs = Jobs::new(terms, t);
        for i in 0..jobs.len() {
            prop_assert_eq!(jobs.get(i).index, i);
        }
    }

    #[test]
    fn any_template_is_accepted_or_refused_without_panic(s in ".{0,80}") {
        if let Ok(t) = Template::parse(&s) {
            let url = Url::parse(&t.render("x y")).unwrap();
            prop_assert!(matches!(url.scheme(), "http" | "https"));
        }
    }
}
