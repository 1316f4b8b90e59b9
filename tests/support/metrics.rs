//! A server's Prometheus metrics (`MINDFLOW_METRICS_LISTEN`): where its log says they are
//! served, a scrape, and the value of a series.

use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};

use crate::Server;

/// The address the server's log says metrics are served on (waits up to 10 s for the line).
///
/// # Errors
/// When the line does not come.
pub async fn address(server: &Server) -> Result<String> {
    let started = Instant::now();
    loop {
        let log = server.log();
        if let Some(line) = log.lines().find(|l| l.contains("metrics are served"))
            && let Some(at) = line.find("127.0.0.1:")
        {
            let digits: String = line[at + "127.0.0.1:".len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            return Ok(format!("127.0.0.1:{digits}"));
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("no metrics address in the log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET http://ADDRESS/metrics`: the text, after checking the status and the Prometheus
/// text format's content type.
///
/// # Errors
/// When the scrape fails or answers anything else.
pub async fn scrape(http: &reqwest::Client, address: &str) -> Result<String> {
    let response = http.get(format!("http://{address}/metrics")).send().await?;
    ensure!(
        response.status() == 200,
        "metrics answered {}",
        response.status()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    ensure!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "metrics content type {content_type:?}"
    );
    Ok(response.text().await?)
}

/// The value of the sample whose line starts with `series` (0 when absent).
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

/// The sum of every sample of `metric` whose labels contain each of `labels` (`name="v"`).
pub fn total(text: &str, metric: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_the_matching_series_only() {
        let text = "# TYPE x_total counter\n\
                    x_total{route=\"/a\",status=\"200\"} 2\n\
                    x_total{route=\"/b\",status=\"200\"} 3\n\
                    x_total{route=\"/b\",status=\"429\"} 1\n\
                    x_total_other 9\n";
        assert!((total(text, "x_total", &["status=\"200\""]) - 5.0).abs() < f64::EPSILON);
        assert!((total(text, "x_total", &[]) - 6.0).abs() < f64::EPSILON);
        assert!((sample(text, "x_total{route=\"/b\",status=\"429\"}") - 1.0).abs() < f64::EPSILON);
    }
}
