//! The model's values as the WIT types (and back, for errors).

use crate::bindings::exports::mindflow::platform::adapter as wit;
use crate::fixture::{Exchange, Fixture};
use crate::model::{Batch, Day, Error, Notification, Sleep};

impl From<Day> for wit::DailyMetrics {
    fn from(d: Day) -> Self {
        Self {
            metric_date: d.metric_date,
            sleep_duration_minutes: d.sleep_duration_minutes,
            sleep_quality_score: d.sleep_quality_score,
            deep_sleep_minutes: d.deep_sleep_minutes,
            rem_sleep_minutes: d.rem_sleep_minutes,
            steps: d.steps,
            active_minutes: d.active_minutes,
            calories_burned: d.calories_burned,
            avg_heart_rate: d.avg_heart_rate,
            hrv_avg: d.hrv_avg,
            stress_score: d.stress_score,
            readiness_score: d.readiness_score,
        }
    }
}

impl From<Sleep> for wit::SleepSession {
    fn from(s: Sleep) -> Self {
        Self {
            external_id: s.external_id,
            start: s.start,
            end: s.end,
            metric_date: s.metric_date,
            asleep_minutes: s.asleep_minutes,
            deep_minutes: s.deep_minutes,
            rem_minutes: s.rem_minutes,
            awake_minutes: s.awake_minutes,
        }
    }
}

impl From<Batch> for wit::Batch {
    fn from(b: Batch) -> Self {
        Self {
            days: b.days.into_iter().map(Into::into).collect(),
            sleep: b.sleep.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Notification> for wit::Notification {
    fn from(n: Notification) -> Self {
        match n {
            Notification::Data(user, batch) => Self::Data((user, batch.into())),
            Notification::Fetch(user, start, end) => Self::Fetch((user, start, end)),
        }
    }
}

impl From<Error> for wit::AdapterError {
    fn from(e: Error) -> Self {
        match e {
            Error::Unauthorized => Self::Unauthorized,
            Error::RateLimited(seconds) => Self::RateLimited(seconds),
            Error::Provider(message) => Self::Provider(message),
            Error::InvalidInput(message) => Self::InvalidInput(message),
        }
    }
}

impl From<Exchange> for wit::Exchange {
    fn from(e: Exchange) -> Self {
        Self {
            method: e.method,
            url: e.url,
            status: e.response.status,
            headers: e.response.headers,
            body: e.response.body,
        }
    }
}

impl From<Fixture> for wit::Fixture {
    fn from(f: Fixture) -> Self {
        Self {
            exchanges: f.exchanges.into_iter().map(Into::into).collect(),
            fetch: f.fetch.map(|c| wit::FetchCase {
                start: c.start,
                end: c.end,
                expected: c.expected.into(),
            }),
            identify: f.identify,
            notification: f.notification.map(|c| wit::NotificationCase {
                body: c.body,
                expected: c.expected.into_iter().map(Into::into).collect(),
            }),
            upload: f.upload.map(|c| wit::UploadCase {
                filename: c.filename,
                content: c.content,
                expected: c.expected.into(),
            }),
        }
    }
}
