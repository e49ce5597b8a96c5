//! The OpenTelemetry instruments behind [`ActorMetrics`](super::ActorMetrics), with the `otel`
//! feature; without it, the same calls do nothing.

#[cfg(feature = "otel")]
pub(super) use self::otel::Instruments;

#[cfg(not(feature = "otel"))]
pub(super) use self::none::Instruments;

#[cfg(feature = "otel")]
mod otel {
    use std::time::Duration;

    use opentelemetry::KeyValue;
    use opentelemetry::metrics::{Counter, Histogram, UpDownCounter};

    use super::super::BOUNDS_US;

    /// The OpenTelemetry side of [`ActorMetrics`](crate::metrics::ActorMetrics).
    #[derive(Debug)]
    pub(in super::super) struct Instruments {
        actor: [KeyValue; 1],
        calls: Counter<u64>,
        errors: Counter<u64>,
        in_flight: UpDownCounter<i64>,
        duration: Histogram<f64>,
        callbacks: Counter<u64>,
        callback_duration: Histogram<f64>,
        restarts: Counter<u64>,
        recycles: Counter<u64>,
    }

    impl Instruments {
        pub(in super::super) fn new(actor: &str) -> Self {
            let meter = opentelemetry::global::meter("snake");
            let seconds: Vec<f64> = BOUNDS_US.iter().map(|&us| us as f64 / 1e6).collect();
            Self {
                actor: [KeyValue::new("snake.actor", actor.to_owned())],
                calls: meter.u64_counter("snake.calls").with_description("Calls sent to the Python child").build(),
                errors: meter
                    .u64_counter("snake.call.errors")
                    .with_description("Calls that failed, by error kind")
                    .build(),
                in_flight: meter
                    .i64_up_down_counter("snake.calls.in_flight")
                    .with_description("Calls sent and not yet finished")
                    .build(),
                duration: meter
                    .f64_histogram("snake.call.duration")
                    .with_description("Time from sending a call to its outcome")
                    .with_unit("s")
                    .with_boundaries(seconds.clone())
                    .build(),
                callbacks: meter
                    .u64_counter("snake.callbacks")
                    .with_description("Callbacks from the Python child served in Rust")
                    .build(),
                callback_duration: meter
                    .f64_histogram("snake.callback.duration")
                    .with_description("Time the Rust side took to serve a callback")
                    .with_unit("s")
                    .with_boundaries(seconds)
                    .build(),
                restarts: meter
                    .u64_counter("snake.restarts")
                    .with_description("Python workers replaced after they died, by the error they ended with")
                    .build(),
                recycles: meter
                    .u64_counter("snake.recycles")
                    .with_description("Python workers replaced gracefully, by reason")
                    .build(),
            }
        }

        pub(in super::super) fn call_started(&self) {
            self.calls.add(1, &self.actor);
            self.in_flight.add(1, &self.actor);
        }

        pub(in super::super) fn call_finished(&self, elapsed: Duration, error: Option<&'static str>) {
            if let Some(kind) = error {
                self.errors.add(1, &self.with_error(kind));
            }
            self.in_flight.add(-1, &self.actor);
            self.duration.record(elapsed.as_secs_f64(), &self.actor);
        }

        pub(in super::super) fn callback_served(&self, elapsed: Duration, error: Option<&'static str>) {
            match error {
                None => self.callbacks.add(1, &self.actor),
                Some(kind) => self.callbacks.add(1, &self.with_error(kind)),
            }
            self.callback_duration.record(elapsed.as_secs_f64(), &self.actor);
        }

        pub(in super::super) fn restarted(&self, reason: &'static str) {
            self.restarts.add(1, &self.with_error(reason));
        }

        pub(in super::super) fn recycled(&self, reason: &'static str) {
            self.recycles.add(1, &[self.actor[0].clone(), KeyValue::new("snake.recycle.reason", reason)]);
        }

        fn with_error(&self, kind: &'static str) -> [KeyValue; 2] {
            [self.actor[0].clone(), KeyValue::new("error.kind", kind)]
        }
    }
}

#[cfg(not(feature = "otel"))]
mod none {
    use std::time::Duration;

    /// No instruments: the crate was built without OpenTelemetry.
    #[derive(Debug)]
    pub(in super::super) struct Instruments;

    impl Instruments {
        pub(in super::super) fn new(_actor: &str) -> Self {
            Self
        }

        pub(in super::super) fn call_started(&self) {}

        pub(in super::super) fn call_finished(&self, _elapsed: Duration, _error: Option<&'static str>) {}

        pub(in super::super) fn callback_served(&self, _elapsed: Duration, _error: Option<&'static str>) {}

        pub(in super::super) fn restarted(&self, _reason: &'static str) {}

        pub(in super::super) fn recycled(&self, _reason: &'static str) {}
    }
}
