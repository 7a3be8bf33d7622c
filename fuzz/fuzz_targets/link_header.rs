//! Fuzzes the response-header parsers: `parse_link` (RFC 8288 `Link`), `PageInfo` (`Link`,
//! `X-Next-Page`, `X-Total`...), `RateLimit` and `retry_after`. Any input must parse or be
//! skipped, never panic; every `next` link found must be one the header really contained.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use seatwatch_gitlab::headers::{PageInfo, parse_link, retry_after, retry_delay};
use seatwatch_gitlab::RateLimit;

const NAMES: [&str; 9] = [
    "link",
    "x-next-page",
    "x-total",
    "x-total-pages",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-observed",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for (rel, url) in parse_link(&text) {
        assert!(!rel.is_empty());
        assert!(text.contains(url.as_str()), "a URL the header did not contain");
    }

    // The same bytes split into header values, one per known header name.
    let mut headers = HeaderMap::new();
    for (i, part) in data.split(|b| *b == b'\n').enumerate() {
        if let Ok(value) = HeaderValue::from_bytes(part) {
            let name = HeaderName::from_static(NAMES[i % NAMES.len()]);
            headers.append(name, value);
        }
    }
    let info = PageInfo::from_headers(&headers);
    if let Some(next) = &info.next_link {
        let in_some_link = headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains(next.as_str()));
        assert!(in_some_link, "next link not taken from a Link header");
    }
    let _ = RateLimit::from_headers(&headers);
    for now in [0.0, 1_700_000_000.0, f64::MAX] {
        if let Some(wait) = retry_after(&headers, now) {
            let _ = retry_delay(3, Some(wait), None, now, 0.5);
        }
    }
});
