//! A small blocking HTTP client over standard `wasi:http`.
//!
//! The host sends the request only if the manifest grants the step the URL's host (and port)
//! in `allow_hosts`; otherwise [`send`] fails with "HTTP request denied". Any other wasi-http
//! client crate works the same way.

use std::io::{Read, Write};

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};

/// A request to send with [`send`].
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    pub fn post(url: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Request {
            body: body.into(),
            ..Self::new("POST", url)
        }
    }

    pub fn put(url: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Request {
            body: body.into(),
            ..Self::new("PUT", url)
        }
    }

    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Request {
            method: method.to_string(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// The answer to a request.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send a request and wait for the whole response.
pub fn send(request: &Request) -> Result<Response, String> {
    let (scheme, authority, path) = split_url(&request.url)?;
    let mut headers: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    // Say the length up front: servers (and S3) want it rather than a chunked body.
    if !request.body.is_empty() && !headers.iter().any(|(n, _)| n == "content-length") {
        headers.push((
            "content-length".into(),
            request.body.len().to_string().into_bytes(),
        ));
    }
    let fields = Fields::from_list(&headers).map_err(|e| format!("bad header: {e:?}"))?;
    let outgoing = OutgoingRequest::new(fields);
    let method = match request.method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    };
    let bad = |what: &str| format!("{}: invalid {what}", request.url);
    outgoing.set_method(&method).map_err(|()| bad("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| bad("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| bad("host"))?;
    outgoing
        .set_path_with_query(Some(&path))
        .map_err(|()| bad("path"))?;

    let body = outgoing.body().map_err(|()| "request body taken twice")?;
    let future = outgoing_handler::handle(outgoing, None).map_err(|e| describe(&request.url, e))?;
    {
        let mut stream = body
            .write()
            .map_err(|()| "request body stream taken twice")?;
        // The host's output stream takes at most 4096 bytes per blocking write.
        for chunk in request.body.chunks(4096) {
            stream
                .write_all(chunk)
                .map_err(|e| format!("{}: sending the body: {e}", request.url))?;
        }
        stream
            .flush()
            .map_err(|e| format!("{}: {e}", request.url))?;
    }
    OutgoingBody::finish(body, None).map_err(|e| describe(&request.url, e))?;

    let response = loop {
        match future.get() {
            Some(Ok(Ok(response))) => break response,
            Some(Ok(Err(e))) => return Err(describe(&request.url, e)),
            Some(Err(())) => return Err(format!("{}: response taken twice", request.url)),
            None => future.subscribe().block(),
        }
    };
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response
        .consume()
        .map_err(|()| "response body taken twice")?;
    let mut body = Vec::new();
    {
        let mut stream = incoming
            .stream()
            .map_err(|()| "response body stream taken twice")?;
        stream
            .read_to_end(&mut body)
            .map_err(|e| format!("{}: reading the response: {e}", request.url))?;
    }
    let _trailers = IncomingBody::finish(incoming);
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn describe(url: &str, error: ErrorCode) -> String {
    match error {
        ErrorCode::HttpRequestDenied => format!(
            "{url}: HTTP request denied by brulee: the manifest does not grant this host \
             (add it to the step's allow_hosts)"
        ),
        other => format!("{url}: {other:?}"),
    }
}

/// `http://host:port/path?q` → (scheme, "host:port", "/path?q").
fn split_url(url: &str) -> Result<(Scheme, &str, String), String> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(format!(
            "{url}: only http:// and https:// URLs are supported"
        ));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok((scheme, authority, path))
}
