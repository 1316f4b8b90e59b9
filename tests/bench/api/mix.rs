//! The realistic mix: a weighted draw of endpoints per request.

use super::endpoints::{Endpoint, mix64};

/// Endpoints with weights (per mille); request `seq` gets a deterministic, well-spread draw.
pub struct Mix {
    weights: Vec<(Endpoint, u64)>,
    total: u64,
}

impl Mix {
    /// 60% list and get reads, 15% stats and trends, 15% writes, 10% refresh.
    pub fn realistic() -> Self {
        Self::new(vec![
            (Endpoint::MoodList, 200),
            (Endpoint::MoodGet, 200),
            (Endpoint::JournalList, 100),
            (Endpoint::JournalGet, 100),
            (Endpoint::MoodStats, 75),
            (Endpoint::MoodTrends, 75),
            (Endpoint::MoodCreate, 100),
            (Endpoint::JournalCreate, 50),
            (Endpoint::Refresh, 100),
        ])
    }

    /// The scale-out benchmark's read-heavy mix: 90% reads of lists, single rows, stats and
    /// trends; 10% writes.
    pub fn read_heavy() -> Self {
        Self::new(vec![
            (Endpoint::MoodList, 250),
            (Endpoint::MoodGet, 200),
            (Endpoint::JournalList, 150),
            (Endpoint::JournalGet, 150),
            (Endpoint::MoodStats, 75),
            (Endpoint::MoodTrends, 75),
            (Endpoint::MoodCreate, 70),
            (Endpoint::JournalCreate, 30),
        ])
    }

    /// The scale-out benchmark's write-heavy mix: 70% writes of mood logs and journal
    /// entries (each journal entry sealed, analysed and indexed), 30% reads.
    pub fn write_heavy() -> Self {
        Self::new(vec![
            (Endpoint::MoodCreate, 500),
            (Endpoint::JournalCreate, 200),
            (Endpoint::MoodList, 150),
            (Endpoint::MoodGet, 100),
            (Endpoint::JournalList, 50),
        ])
    }

    fn new(weights: Vec<(Endpoint, u64)>) -> Self {
        let total = weights.iter().map(|(_, w)| w).sum::<u64>().max(1);
        Self { weights, total }
    }

    /// The endpoint of request `seq`.
    pub fn pick(&self, seq: u64) -> Endpoint {
        // A different stream from the one the endpoints use for ids.
        let mut draw = mix64(seq ^ 0x5EED_0FA1) % self.total;
        for (endpoint, weight) in &self.weights {
            if draw < *weight {
                return *endpoint;
            }
            draw -= weight;
        }
        Endpoint::MoodList
    }

    /// The endpoints of the mix, in its order.
    pub fn endpoints(&self) -> impl Iterator<Item = Endpoint> + '_ {
        self.weights.iter().map(|(endpoint, _)| *endpoint)
    }

    /// The weights, as printed in the header (`GET /mood/logs?limit=20 20%, …`).
    pub fn describe(&self) -> String {
        self.weights
            .iter()
            .map(|(endpoint, weight)| {
                format!(
                    "{} {:.1}%",
                    endpoint.label(),
                    100.0 * crate::float(*weight) / crate::float(self.total)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}
