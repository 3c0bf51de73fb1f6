//! Prometheus's HTTP query API (`/api/v1/query`, `/api/v1/query_range`), blocking and without a
//! client library: the suite checks the dashboards' queries and the api's request counts with it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a query returned nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Nothing answered at the address.
    #[error("Prometheus at {0} did not answer")]
    Unreachable(SocketAddr),
    /// Prometheus refused the query (a syntax error, an unknown function): its own words.
    #[error("Prometheus refused `{query}`: {message}")]
    Refused {
        /// The query.
        query: String,
        /// Prometheus's error.
        message: String,
    },
    /// The answer was not the API's JSON.
    #[error("Prometheus answered `{query}` with something other than its API's JSON: {detail}")]
    Malformed {
        /// The query.
        query: String,
        /// What was wrong.
        detail: String,
    },
}

/// One series of an answer: its labels and its samples (seconds since the epoch, value); an
/// instant query's has one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels, `__name__` among them when the query keeps it.
    pub labels: BTreeMap<String, String>,
    /// Its samples, oldest first.
    pub samples: Vec<(f64, f64)>,
}

/// A Prometheus server's query API.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    address: SocketAddr,
    timeout: Duration,
}

impl Client {
    /// The API at `address`, each request given `timeout`.
    pub fn new(address: SocketAddr, timeout: Duration) -> Client {
        Client { address, timeout }
    }

    /// `expr` evaluated at `at` (seconds since the epoch), or now.
    pub fn instant(&self, expr: &str, at: Option<f64>) -> Result<Vec<Series>, QueryError> {
        let mut params = vec![("query", expr.to_string())];
        if let Some(at) = at {
            params.push(("time", format!("{at:.3}")));
        }
        self.get("/api/v1/query", &params, expr)
    }

    /// `expr` evaluated every `step` seconds from `start` to `end`.
    pub fn range(
        &self,
        expr: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Series>, QueryError> {
        let params = [
            ("query", expr.to_string()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{step:.3}")),
        ];
        self.get("/api/v1/query_range", &params, expr)
    }

    /// The time of the newest sample of `up` for every target: what a caller waits on to know
    /// a scrape happened after some moment.
    pub fn last_scrape(&self) -> Result<Option<f64>, QueryError> {
        let series = self.instant("timestamp(up)", None)?;
        Ok(series
            .iter()
            .filter_map(|s| s.samples.first().map(|&(_, v)| v))
            .reduce(f64::min))
    }

    fn get(
        &self,
        path: &str,
        params: &[(&str, String)],
        expr: &str,
    ) -> Result<Vec<Series>, QueryError> {
        let query: String = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let (_, body) = cluster::probe::http_response(
            self.address,
            "GET",
            &format!("{path}?{query}"),
            "",
            self.timeout,
        )
        .ok_or(QueryError::Unreachable(self.address))?;
        parse(&body, expr)
    }
}

/// Percent-encodes `text` for a query string (everything but RFC 3986's unreserved bytes).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The series of an API answer (`vector`, `matrix` or `scalar`).
fn parse(body: &str, expr: &str) -> Result<Vec<Series>, QueryError> {
    let malformed = |detail: &str| QueryError::Malformed {
        query: expr.to_string(),
        detail: detail.to_string(),
    };
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| malformed(&e.to_string()))?;
    if json["status"] != "success" {
        return Err(QueryError::Refused {
            query: expr.to_string(),
            message: json["error"].as_str().unwrap_or(body).to_string(),
        });
    }
    let data = &json["data"];
    let sample = |pair: &serde_json::Value| -> Option<(f64, f64)> {
        let time = pair.get(0)?.as_f64()?;
        // Values come as strings ("NaN" and "+Inf" among them).
        let value = pair.get(1)?.as_str()?.parse::<f64>().ok()?;
        Some((time, value))
    };
    match data["resultType"].as_str() {
        Some("scalar") => Ok(vec![Series {
            labels: BTreeMap::new(),
            samples: sample(&data["result"]).into_iter().collect(),
        }]),
        Some(kind @ ("vector" | "matrix")) => data["result"]
            .as_array()
            .ok_or_else(|| malformed("no result list"))?
            .iter()
            .map(|item| {
                let labels = item["metric"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let samples = if kind == "vector" {
                    sample(&item["value"]).into_iter().collect()
                } else {
                    item["values"]
                        .as_array()
                        .map(|v| v.iter().filter_map(sample).collect())
                        .unwrap_or_default()
                };
                Ok(Series { labels, samples })
            })
            .collect(),
        _ => Err(malformed("an unknown result type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_answer_gives_labels_and_one_sample_each() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"job":"api","instance":"api1"},"value":[1700000000.5,"1"]},
            {"metric":{"job":"api","instance":"api2"},"value":[1700000000.5,"NaN"]}]}}"#;
        let series = parse(body, "up").expect("parsed");
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].labels["instance"], "api1");
        assert_eq!(series[0].samples, vec![(1700000000.5, 1.0)]);
        assert!(series[1].samples[0].1.is_nan());
    }

    #[test]
    fn a_matrix_answer_keeps_every_sample_in_order() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1,"2"],[3,"4.5"]]}]}}"#;
        let series = parse(body, "x").expect("parsed");
        assert_eq!(series[0].samples, vec![(1.0, 2.0), (3.0, 4.5)]);
    }

    #[test]
    fn a_refused_query_carries_prometheus_words_and_bad_json_says_so() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"parse error: unexpected"}"#;
        let e = parse(body, "rate(").unwrap_err().to_string();
        assert!(e.contains("rate(") && e.contains("parse error"), "{e}");
        let e = parse("<html>", "up").unwrap_err().to_string();
        assert!(e.contains("API's JSON"), "{e}");
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            encode(r#"sum by (job) (up{job="api"})"#),
            "sum%20by%20%28job%29%20%28up%7Bjob%3D%22api%22%7D%29"
        );
    }
}
