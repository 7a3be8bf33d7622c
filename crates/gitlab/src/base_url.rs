//! The GitLab base URL as the user gives it, normalised to the instance's web root and `/api/v4/`.
//!
//! Users paste all sorts of URLs: with or without a trailing slash, with `/api/v4` already on the
//! end, or with the relative path some self-managed instances are served under
//! (`https://host/gitlab`). All of these name the same API root. Plain `http://` is refused unless
//! the host is loopback or the caller opted in, because the token travels in a header.

use std::net::IpAddr;

use url::{Host, Url};

/// Why a GitLab URL was refused. Each message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error(
        "the GitLab URL is empty: set GITLAB_URL to your instance, e.g. https://gitlab.example.com"
    )]
    Empty,
    #[error(
        "the GitLab URL `{input}` has no scheme: write it as https://{input} (or http:// for a local test instance)"
    )]
    MissingScheme { input: String },
    #[error(
        "the GitLab URL `{input}` is not a valid URL ({reason}); write it as https://gitlab.example.com"
    )]
    Malformed { input: String, reason: String },
    #[error(
        "the GitLab URL uses `{scheme}://`; only https:// (or http:// for local instances) is supported"
    )]
    UnsupportedScheme { scheme: String },
    #[error("the GitLab URL `{input}` has no host name; write it as https://gitlab.example.com")]
    MissingHost { input: String },
    #[error(
        "the GitLab URL contains a user name or password; remove it: the token is configured separately (GITLAB_TOKEN, --token-file or --secret-id)"
    )]
    CredentialsInUrl,
    #[error(
        "refusing plain http:// for `{host}`: the token would travel unencrypted. Use https://, or set SEATWATCH_ALLOW_HTTP=1 if this network is trusted"
    )]
    InsecureHttp { host: String },
}

/// A validated GitLab location: the web root (`https://host/gitlab/`) and its API root
/// (`https://host/gitlab/api/v4/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    web_root: Url,
    api_root: Url,
}

impl BaseUrl {
    /// Parses and normalises what the user configured. `allow_http` is the caller's reading of
    /// `SEATWATCH_ALLOW_HTTP=1`; loopback hosts may use http:// without it.
    pub fn parse(input: &str, allow_http: bool) -> Result<BaseUrl, UrlError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(UrlError::Empty);
        }
        let mut url = parse_absolute(trimmed)?;
        let host = web_host(&url, trimmed)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::CredentialsInUrl);
        }
        if url.scheme() == "http" && !allow_http && !is_loopback(&host) {
            return Err(UrlError::InsecureHttp {
                host: host.to_string(),
            });
        }
        to_web_root(&mut url);
        let web_root = url;
        let api_root = web_root.join("api/v4/").map_err(|e| UrlError::Malformed {
            input: trimmed.to_string(),
            reason: e.to_string(),
        })?;
        Ok(BaseUrl { web_root, api_root })
    }

    /// `https://host/[relative/]api/v4/`, always ending with a slash so that `join` appends.
    pub fn api_root(&self) -> &Url {
        &self.api_root
    }

    /// `https://host/[relative/]`, the instance's web address.
    pub fn web_root(&self) -> &Url {
        &self.web_root
    }

    /// `gitlab.example.com`, `gitlab.example.com:8443/gitlab`: what identifies the instance in
    /// snapshots (the port only when it is not the scheme's default).
    pub fn host_and_path(&self) -> String {
        let mut out = self.host().to_string();
        if let Some(port) = self.web_root.port() {
            out.push(':');
            out.push_str(&port.to_string());
        }
        out.push_str(self.web_root.path().trim_end_matches('/'));
        out
    }

    pub fn is_https(&self) -> bool {
        self.web_root.scheme() == "https"
    }

    pub fn host(&self) -> &str {
        // Invariant: `parse` refuses URLs without a host.
        self.web_root.host_str().expect("BaseUrl always has a host")
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.web_root.as_str())
    }
}

/// `trimmed` as an absolute URL, or why it is not one.
fn parse_absolute(trimmed: &str) -> Result<Url, UrlError> {
    let url = match Url::parse(trimmed) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(UrlError::MissingScheme {
                input: trimmed.to_string(),
            });
        }
        Err(e) => {
            return Err(UrlError::Malformed {
                input: trimmed.to_string(),
                reason: e.to_string(),
            });
        }
    };
    // `gitlab.example.com:8443` parses as scheme `gitlab.example.com` with no host.
    if url.cannot_be_a_base() {
        return Err(UrlError::MissingScheme {
            input: trimmed.to_string(),
        });
    }
    Ok(url)
}

/// The host of an http(s) URL; any other scheme, or none, is refused.
fn web_host(url: &Url, trimmed: &str) -> Result<Host<String>, UrlError> {
    match url.scheme() {
        "https" | "http" => {}
        other => {
            return Err(UrlError::UnsupportedScheme {
                scheme: other.to_string(),
            });
        }
    }
    url.host()
        .map(|host| host.to_owned())
        .ok_or_else(|| UrlError::MissingHost {
            input: trimmed.to_string(),
        })
}

/// Cuts `url` down to the instance's web root: no query or fragment, no `/api/v4` on the end,
/// and one trailing slash so that `join` appends.
fn to_web_root(url: &mut Url) {
    url.set_query(None);
    url.set_fragment(None);
    let mut path = url.path().trim_end_matches('/').to_string();
    if let Some(stripped) = path.strip_suffix("/api/v4") {
        path = stripped.trim_end_matches('/').to_string();
    }
    url.set_path(&format!("{path}/"));
}

fn is_loopback(host: &Host<String>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<BaseUrl, UrlError> {
        BaseUrl::parse(input, false)
    }

    #[test]
    fn plain_host_gets_api_v4() {
        let base = parse("https://gitlab.example.com").expect("valid");
        assert_eq!(
            base.api_root().as_str(),
            "https://gitlab.example.com/api/v4/"
        );
        assert_eq!(base.web_root().as_str(), "https://gitlab.example.com/");
        assert_eq!(base.host_and_path(), "gitlab.example.com");
        assert_eq!(base.host(), "gitlab.example.com");
        assert!(base.is_https());
    }

    #[test]
    fn trailing_slashes_and_whitespace_are_ignored() {
        for input in [
            "https://gitlab.example.com/",
            "https://gitlab.example.com//",
            "  https://gitlab.example.com/ \n",
        ] {
            let base = parse(input).expect(input);
            assert_eq!(
                base.api_root().as_str(),
                "https://gitlab.example.com/api/v4/",
                "{input}"
            );
        }
    }

    #[test]
    fn url_already_ending_in_api_v4_is_not_doubled() {
        for input in [
            "https://gitlab.example.com/api/v4",
            "https://gitlab.example.com/api/v4/",
        ] {
            let base = parse(input).expect(input);
            assert_eq!(
                base.api_root().as_str(),
                "https://gitlab.example.com/api/v4/"
            );
            assert_eq!(base.web_root().as_str(), "https://gitlab.example.com/");
        }
    }

    #[test]
    fn relative_url_root_is_kept() {
        for input in [
            "https://host.example/gitlab",
            "https://host.example/gitlab/",
            "https://host.example/gitlab/api/v4/",
        ] {
            let base = parse(input).expect(input);
            assert_eq!(
                base.api_root().as_str(),
                "https://host.example/gitlab/api/v4/"
            );
            assert_eq!(base.web_root().as_str(), "https://host.example/gitlab/");
            assert_eq!(base.host_and_path(), "host.example/gitlab");
        }
    }

    #[test]
    fn non_default_port_is_part_of_host_and_path() {
        let base = parse("https://gitlab.example.com:8443/gitlab").expect("valid");
        assert_eq!(base.host_and_path(), "gitlab.example.com:8443/gitlab");
        let default_port = parse("https://gitlab.example.com:443").expect("valid");
        assert_eq!(default_port.host_and_path(), "gitlab.example.com");
    }

    #[test]
    fn query_and_fragment_are_dropped() {
        let base = parse("https://gitlab.example.com/?foo=bar#top").expect("valid");
        assert_eq!(
            base.api_root().as_str(),
            "https://gitlab.example.com/api/v4/"
        );
    }

    #[test]
    fn http_is_refused_for_remote_hosts_unless_allowed() {
        let err = parse("http://gitlab.example.com").expect_err("http refused");
        assert!(matches!(err, UrlError::InsecureHttp { .. }));
        assert!(err.to_string().contains("SEATWATCH_ALLOW_HTTP=1"));
        let allowed = BaseUrl::parse("http://gitlab.example.com", true).expect("opted in");
        assert!(!allowed.is_https());
        // private ranges are not loopback
        assert!(parse("http://10.0.0.5").is_err());
    }

    #[test]
    fn http_is_accepted_for_loopback() {
        for input in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:3000/",
            "http://[::1]:8080",
        ] {
            let base = parse(input).expect(input);
            assert!(!base.is_https());
        }
        assert_eq!(
            parse("http://127.0.0.1:8080")
                .expect("valid")
                .host_and_path(),
            "127.0.0.1:8080"
        );
    }

    #[test]
    fn malformed_urls_get_clear_errors() {
        assert_eq!(parse("  "), Err(UrlError::Empty));
        assert!(matches!(
            parse("gitlab.example.com"),
            Err(UrlError::MissingScheme { .. })
        ));
        assert!(matches!(
            parse("gitlab.example.com:8443"),
            Err(UrlError::MissingScheme { .. })
        ));
        assert!(matches!(
            parse("ftp://gitlab.example.com"),
            Err(UrlError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            parse("https://gitlab exa mple.com"),
            Err(UrlError::Malformed { .. })
        ));
        assert!(matches!(
            parse("https://"),
            Err(UrlError::Malformed { .. }) | Err(UrlError::MissingHost { .. })
        ));
        assert_eq!(
            parse("https://user:pw@gitlab.example.com"),
            Err(UrlError::CredentialsInUrl)
        );
        let missing = parse("gitlab.example.com").expect_err("no scheme");
        assert!(missing.to_string().contains("https://gitlab.example.com"));
    }
}
